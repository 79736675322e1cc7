// Package integration runs the black-box integration tests of
// bootstrap/integration (one server process per pod on its own loopback
// address, a DNS server the test controls) inside each server image that
// images/build.sh builds: MySQL 9.7, MariaDB 11.8 and MariaDB 10.11. On the
// host, `go test ./bootstrap/integration` runs them against the host's
// MariaDB only.
//
// The test binary and mysql-bootstrap are built on the host (static, no
// cgo) and run as root in a container of the server image (with CAP_SYS_ADMIN), with
// no network but its own loopback (the tests need root for private mount
// namespaces and port 53). MySQL runs with MYSQLD=/usr/sbin/mysqld. Each
// run is a subtest named by the flavour and version the image's binary
// reports (TestBootstrapIntegration/mysql-9.7.4).
//
// Skipped under -short or without a Docker engine. INTEGRATION_SERVERS
// (comma-separated names: mysql-9.7, mariadb-11.8, mariadb-10.11) picks
// servers; missing images are built with images/build.sh unless
// E2E_NO_BUILD=1.
package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// runTimeout bounds one server's run of the integration tests.
const runTimeout = 10 * time.Minute

func TestBootstrapIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the integration tests in containers: skipped under -short")
	}
	ctx := context.Background()
	if err := podcluster.Available(ctx); err != nil {
		t.Skipf("needs a Docker engine: %v", err)
	}
	servers, err := chooseServers()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureServerImages(ctx, root, servers); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build(t, root, "test", "-c", "-o", filepath.Join(bin, "integration.test"), "./bootstrap/integration")
	build(t, root, "build", "-o", filepath.Join(bin, "mysql-bootstrap"), "./cmd/mysql-bootstrap")

	for _, srv := range servers {
		v, err := podcluster.ImageServerVersion(ctx, srv.Image)
		name := v.String()
		if err != nil {
			t.Errorf("%s: %v", srv.Name, err)
			name = srv.Name
		}
		// One after another: each run starts three servers on two cores.
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			code, out, err := runInImage(ctx, srv, bin)
			if err != nil {
				t.Fatalf("%s: %v\n%s", srv.Image, err, podcluster.Tail(out, 80))
			}
			t.Logf("%s (%s): exit %d in %s; results:\n%s", srv.Image, v.Line, code, time.Since(start).Round(time.Second), results(out))
			switch {
			case code != 0:
				t.Errorf("the integration tests failed on %s:\n%s", v.Line, podcluster.Tail(out, 150))
			case !strings.Contains(out, "--- PASS: TestCluster"):
				t.Errorf("TestCluster did not pass on %s (skipped?):\n%s", v.Line, podcluster.Tail(out, 40))
			}
		})
	}
}

func chooseServers() ([]podcluster.Server, error) {
	names := os.Getenv("INTEGRATION_SERVERS")
	if names == "" {
		return podcluster.LocalServers, nil
	}
	var out []podcluster.Server
	for _, n := range strings.FieldsFunc(names, func(r rune) bool { return r == ',' || r == ' ' }) {
		s := podcluster.LookupServer(n)
		if !s.Local {
			return nil, fmt.Errorf("INTEGRATION_SERVERS: %q is not one of the local servers (mysql-9.7, mariadb-11.8, mariadb-10.11)", n)
		}
		out = append(out, s)
	}
	return out, nil
}

// build runs `go <args>` in root for a static linux binary.
func build(t *testing.T, root string, args ...string) {
	t.Helper()
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ensureServerImages builds the missing server images with images/build.sh.
func ensureServerImages(ctx context.Context, root string, servers []podcluster.Server) error {
	var targets []string
	for _, s := range servers {
		if _, err := podcluster.ImageCreated(ctx, s.Image); err != nil {
			targets = append(targets, s.Name)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	if os.Getenv("E2E_NO_BUILD") == "1" {
		return fmt.Errorf("server images missing and E2E_NO_BUILD=1: build them with images/build.sh %s", strings.Join(targets, " "))
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	fmt.Fprintf(os.Stderr, "integration: running images/build.sh %s\n", strings.Join(targets, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(root, "images", "build.sh"), targets...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("images/build.sh %s: %v", strings.Join(targets, " "), err)
	}
	return nil
}

// runInImage runs the integration test binary from bin in a network-less
// container (CAP_SYS_ADMIN) of srv's image and returns its exit code and
// output. The container is removed afterwards.
func runInImage(ctx context.Context, srv podcluster.Server, bin string) (int, string, error) {
	cli, err := podcluster.NewDockerClient()
	if err != nil {
		return -1, "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, runTimeout+time.Minute)
	defer cancel()
	env := []string{"MYSQL_BOOTSTRAP_BIN=/t/mysql-bootstrap", "GOTRACEBACK=all"}
	if srv.Flavor == "mysql" {
		env = append(env, "MYSQLD=/usr/sbin/mysqld")
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      srv.Image,
			Entrypoint: []string{"/t/integration.test"},
			Cmd:        []string{"-test.v", "-test.count=1", "-test.timeout=" + runTimeout.String()},
			Env:        env,
			User:       "0:0",
			WorkingDir: "/tmp",
			Labels:     map[string]string{podcluster.LabelRun: "integration"},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			// unshare --mount and mount --bind for each server's private
			// /etc/resolv.conf. Not --privileged: not every engine may
			// grant every capability (Docker inside a container cannot).
			CapAdd: []string{"SYS_ADMIN"},
			Mounts: []mount.Mount{{Type: mount.TypeBind, Source: bin, Target: "/t", ReadOnly: true}},
		},
	})
	if err != nil {
		return -1, "", err
	}
	id := created.ID
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), time.Minute)
		defer rcancel()
		_, _ = cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return -1, "", err
	}
	w := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	code := -1
	select {
	case r := <-w.Result:
		code = int(r.StatusCode)
	case err = <-w.Error:
	case <-ctx.Done():
		err = ctx.Err()
	}
	out := podcluster.ContainerOutput(cli, id)
	if err != nil {
		return code, out, fmt.Errorf("waiting for the tests: %w", err)
	}
	return code, out, nil
}

var resultRE = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): .*$|^(ok|FAIL|PASS)\b.*$`)

// results is the test binary's verdict lines.
func results(out string) string {
	return strings.Join(resultRE.FindAllString(out, -1), "\n")
}
