package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
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

func runIdentity(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("identity", stdio)
	format := fs.String("format", "json", "output format: json or env")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: identity takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *format != "json" && *format != "env" {
		return fmt.Errorf("%w: --format=%q is invalid: expected json or env", ErrUsage, *format)
	}
	cfg, err := loader.Load(ctx, Need{})
	if err != nil {
		return err
	}
	id, err := NewIdentity(cfg)
	if err != nil {
		return err
	}
	if *format == "env" {
		_, err = io.WriteString(stdio.Out, id.Env())
		return err
	}
	enc := json.NewEncoder(stdio.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(id)
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

func runInit(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "init", args, stdio, loader)
	if err != nil {
		return err
	}
	start := time.Now()
	log.Info("init", "pod", id.Pod, "role", id.Role, "server_id", id.ServerID, "pod_host", id.PodHost,
		"primary_host", id.PrimaryHost, "data_dir", cfg.DataDir, "data_dir_state", describeDataDir(cfg.DataDir), "version", Version)

	// A replica starts its server at once: with data it serves reads while
	// the primary is away; without, it is not ready until its sidecar has
	// connected it to the primary, whenever that answers. Looking the
	// primary's name up here, before its pod has an address, would only
	// get "no such name" cached by the cluster's DNS (30 s on a default
	// CoreDNS) for every later lookup of it. INIT_WAIT_FOR_PRIMARY asks for
	// the old wait: a replica without data waits for the primary's port.
	initialised := describeDataDir(cfg.DataDir) == dataDirInitialised
	waitForPrimary := cfg.InitWaitForPrimary && !id.IsPrimary() && !initialised

	// Resolve the waiter before writing anything so a broken resolv.conf is
	// reported before the server can start with half a setup.
	var waiter *dnswait.Waiter
	if waitForPrimary {
		if waiter, err = newWaiter(cfg.ResolvConf, log); err != nil {
			return err
		}
	}

	path := configPath(cfg)
	changed, err := atomicfile.WriteChanged(path, RenderServerConfig(id, ServerConfig{Flavor: cfg.Flavor, Port: cfg.MySQLPort, DataInitialised: initialised, BinlogExpire: cfg.BinlogExpire}), 0o644)
	if err != nil {
		return fmt.Errorf("write the server configuration into CONFIG_DIR: %w", err)
	}
	log.Info("server configuration written", "path", path, "changed", changed, "flavor", cfg.Flavor)
	if cfg.ToolsDir != "" {
		dst, err := installBinary(cfg.ToolsDir)
		if err != nil {
			return fmt.Errorf("copy mysql-bootstrap into TOOLS_DIR: %w", err)
		}
		log.Info("mysql-bootstrap copied for the pod's other containers", "path", dst)
	}

	if !waitForPrimary {
		switch {
		case id.IsPrimary():
		case initialised:
			log.Info("data directory holds data: not waiting for the primary", "data_dir", cfg.DataDir)
		default:
			log.Info("not waiting for the primary: the sidecar connects replication once it answers (INIT_WAIT_FOR_PRIMARY=true waits here)", "primary_host", id.PrimaryHost)
		}
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.WaitTimeout)
	defer cancel()
	addr, err := waiter.WaitReachable(wctx, id.PrimaryLookupName(), cfg.MySQLPort)
	if err != nil {
		return fmt.Errorf("wait for the primary: %w", err)
	}
	log.Info("primary is reachable", "primary_host", id.PrimaryHost, "address", addr.String(), "elapsed", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func newWaiter(resolvConf string, log *slog.Logger) (*dnswait.Waiter, error) {
	r, err := dnswait.NewResolver(dnswait.Options{ResolvConf: resolvConf})
	if err != nil {
		return nil, &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", resolvConf, err)}}
	}
	return &dnswait.Waiter{Resolver: r, Logger: log}, nil
}

func runWaitDNS(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("wait-dns", stdio)
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait")
	port := fs.Int("port", 0, "also wait until this TCP port accepts connections (0: DNS only)")
	// Let flags follow the name, as people type them.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%w: wait-dns takes one NAME, got extra %q", ErrUsage, fs.Args())
	}
	if name == "" {
		return fmt.Errorf("%w: wait-dns needs a NAME to wait for, e.g. mysql-0.mysql.default.svc.cluster.local", ErrUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout=%s is invalid: expected a positive duration such as 30s", ErrUsage, *timeout)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("%w: --port=%d is invalid: expected 1..65535, or 0 for DNS only", ErrUsage, *port)
	}
	// wait-dns serves any script: it reads only the two variables it uses.
	l := loader.withDefaults()
	resolvConf, _ := l.Lookuper.Lookup("RESOLV_CONF")
	if resolvConf == "" {
		resolvConf = dnswait.DefaultResolvConf
	}
	logFormat, _ := l.Lookuper.Lookup("LOG_FORMAT")
	log := NewLogger(stdio.Err, logFormat, "info")
	waiter, err := newWaiter(resolvConf, log)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *port > 0 {
		addr, err := waiter.WaitReachable(wctx, name, *port)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, addr.String())
		return nil
	}
	addrs, err := waiter.WaitResolve(wctx, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Fprintln(stdio.Out, a.String())
	}
	return nil
}
