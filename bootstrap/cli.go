package bootstrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
)

// Exit codes of the binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // anything else: the error says what failed and what to check
	ExitInvalid = 2 // invalid configuration, identity or arguments; nothing was changed
	ExitTimeout = 3 // a wait ran out of time
)

// ErrUsage marks a bad command line.
var ErrUsage = errors.New("usage")

// errHelpShown stops a subcommand after -h printed its usage: nothing else
// runs and the exit code is 0.
var errHelpShown = errors.New("help shown")

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return ExitOK
	case errors.Is(err, ErrInvalidConfig), errors.Is(err, ErrUsage):
		return ExitInvalid
	case errors.Is(err, dnswait.ErrWaitTimeout), errors.Is(err, ErrWaitTimeout):
		return ExitTimeout
	default:
		return ExitFailure
	}
}

// ErrWaitTimeout is returned when a wait other than a DNS wait (the local
// server, the primary's port) runs out of time.
var ErrWaitTimeout = dnswait.ErrWaitTimeout

// Version is the binary's version, stamped at build time by main.
var Version = "dev"

// Stdio is where a command writes.
type Stdio struct {
	Out io.Writer
	Err io.Writer
}

// Run runs the command line args (without the program name) and returns
// an error to be turned into an exit code with ExitCode.
func Run(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	if len(args) == 0 {
		usage(stdio.Err)
		return fmt.Errorf("%w: a command is required: identity, init, sidecar, wait-dns, peers, primary-override, forget-peer, backup-server, seed-exec, server-alive or version", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	err := dispatch(ctx, cmd, rest, stdio, loader)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, cmd string, rest []string, stdio Stdio, loader Loader) error {
	switch cmd {
	case "identity":
		return runIdentity(ctx, rest, stdio, loader)
	case "init":
		return runInit(ctx, rest, stdio, loader)
	case "sidecar":
		return runSidecar(ctx, rest, stdio, loader)
	case "wait-dns":
		return runWaitDNS(ctx, rest, stdio, loader)
	case "peers":
		return runPeers(ctx, rest, stdio, loader)
	case "primary-override":
		return runPrimaryOverride(ctx, rest, stdio, loader)
	case "forget-peer":
		return runForgetPeer(ctx, rest, stdio, loader)
	case "backup-server":
		return runBackupServer(ctx, rest, stdio, loader)
	case "seed-exec":
		return runSeedExec(ctx, rest, stdio, loader)
	case "server-alive":
		return runServerAlive(ctx, rest, stdio, loader)
	case "server-stop":
		return runServerStop(ctx, rest, stdio, loader)
	case "version", "--version":
		fmt.Fprintf(stdio.Out, "mysql-bootstrap %s\n", Version)
		return nil
	case "help", "-h", "--help", "-help":
		usage(stdio.Out)
		return nil
	default:
		usage(stdio.Err)
		return fmt.Errorf("%w: unknown command %q: expected identity, init, sidecar, wait-dns, peers, primary-override, forget-peer, backup-server, seed-exec, server-alive, server-stop or version", ErrUsage, cmd)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `mysql-bootstrap gives MySQL and MariaDB pods of a StatefulSet their identity and replication.

Usage:
  mysql-bootstrap identity [--format json|env]   print the pod's identity
  mysql-bootstrap init                           init container: write the server configuration (INIT_WAIT_FOR_PRIMARY: a new replica waits for the primary)
  mysql-bootstrap sidecar                        sidecar: set up and keep the pod's role; serve /healthz /readyz /status /metrics
  mysql-bootstrap wait-dns NAME [--timeout D] [--port P]   wait until NAME resolves (and P accepts connections)
  mysql-bootstrap peers [--format table|json]    every pod of the StatefulSet, from the headless Service and their /status
  mysql-bootstrap primary-override --use-own-data | --seed-from POD   a person's choice for a primary whose peers disagree (used once)
  mysql-bootstrap forget-peer POD                forget a peer the primary's guard would wait for (a StatefulSet scaled down for good)
  mysql-bootstrap backup-server                  MariaDB, in the server image: serve this pod's data to seeding peers on BACKUP_ADDR
  mysql-bootstrap seed-exec -- CMD ARGS...       MariaDB, in the server container: restore a requested copy, then run CMD
  mysql-bootstrap server-alive [--timeout D]     server container's startup and liveness probe: the server greets on MYSQL_PORT (no login), or a copy is being restored
  mysql-bootstrap server-stop [--timeout D]      server container's preStop hook: MySQL's offline_mode ON, so that it stops without waiting for its replicas' connections
  mysql-bootstrap version                        print the version

Exit codes: 0 ok, 1 failure, 2 invalid configuration or identity (nothing changed), 3 timed out waiting.

Environment:
`)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, v := range Variables() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
	}
	_ = tw.Flush()
}

// newFlagSet returns a flag set that reports errors as usage errors
// instead of exiting.
func newFlagSet(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("mysql-bootstrap "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		}
		return fmt.Errorf("%w: %s: %v", ErrUsage, fs.Name(), err)
	}
	return nil
}

// NewLogger returns the one logger of the process: JSON (or text) to w.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// loadPod parses the flags of a pod command (init, sidecar: none but -h)
// and its whole configuration, before anything is changed.
func loadPod(ctx context.Context, cmd string, args []string, stdio Stdio, loader Loader) (*Config, Identity, *slog.Logger, error) {
	fs := newFlagSet(cmd, stdio)
	if err := parseFlags(fs, args); err != nil {
		return nil, Identity{}, nil, err
	}
	if fs.NArg() > 0 {
		return nil, Identity{}, nil, fmt.Errorf("%w: %s takes no arguments, got %q", ErrUsage, cmd, fs.Args())
	}
	cfg, err := loader.Load(ctx, Need{Service: true, Passwords: true})
	if err != nil {
		return nil, Identity{}, nil, err
	}
	id, err := NewIdentity(cfg)
	if err != nil {
		return nil, Identity{}, nil, err
	}
	return cfg, id, NewLogger(stdio.Err, cfg.LogFormat, cfg.LogLevel), nil
}
