// Command localk8s builds, starts and stops the local single-node
// Kubernetes of the end-to-end tests and make demo-k8s (package
// deploy/k8s/localk8s).
//
//	localk8s build            build the binaries and the cluster's own images (cached)
//	localk8s up               start the cluster (root); refused while one runs
//	localk8s down             stop it and remove what it created (root)
//	localk8s status           say what runs
//	localk8s load IMAGE...    copy Docker images into the cluster
//	localk8s kubectl ARGS...  kubectl as the cluster's administrator
//	localk8s provisioner      the local-volume provisioner (up starts it)
//
// K8S_DIR (default /var/lib/mysql-bootstrap-k8s) holds the cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/k8s/localk8s"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "localk8s:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "localk8s:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage: localk8s build|up|down|status|load IMAGE...|kubectl ARGS...|provisioner")

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	c, err := localk8s.New(os.Stderr)
	if err != nil {
		return err
	}
	switch args[0] {
	case "build":
		return c.Build(ctx)
	case "up":
		return c.Up(ctx)
	case "down":
		return c.Down(ctx)
	case "status":
		fmt.Print(c.Describe())
		if !c.Running() {
			return errors.New("not running")
		}
		return nil
	case "load":
		if len(args) < 2 {
			return errUsage
		}
		return c.LoadImages(ctx, args[1:]...)
	case "kubectl":
		cmd := exec.CommandContext(ctx, c.Bin("kubectl"), append([]string{"--kubeconfig", c.Kubeconfig()}, args[1:]...)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		return cmd.Run()
	case "provisioner":
		return c.Provision(ctx)
	}
	return fmt.Errorf("%w (unknown command %q)", errUsage, args[0])
}
