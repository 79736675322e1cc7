// Command mysql-bootstrap gives MySQL and MariaDB pods of a Kubernetes
// StatefulSet their identity and their replication: run it as the init
// container (`init`) and as a sidecar (`sidecar`). `mysql-bootstrap help`
// lists the commands and every environment variable.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	bootstrap.Version = version
	err := bootstrap.Run(ctx, os.Args[1:], bootstrap.Stdio{Out: os.Stdout, Err: os.Stderr}, bootstrap.Loader{})
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mysql-bootstrap: %v\n", err)
	}
	os.Exit(bootstrap.ExitCode(err))
}
