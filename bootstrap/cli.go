package bootstrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
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
		return fmt.Errorf("%w: a command is required: %s", ErrUsage, commandNames())
	}
	err := dispatch(ctx, args[0], args[1:], stdio, loader)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

// A command is a subcommand of the binary: commands lists them all, and
// dispatch, `mysql-bootstrap help` and each command's --help are made
// from that list.
type command struct {
	name    string
	aliases []string
	// summary is the one line `mysql-bootstrap help` shows.
	summary string
	// usage is what follows "mysql-bootstrap NAME" on its usage line.
	usage string
	// env says which environment variables the command reads.
	env string
	// ownArgs: the command reads its arguments without a flag set, so
	// dispatch answers its -h and --help.
	ownArgs bool
	run     func(ctx context.Context, args []string, stdio Stdio, loader Loader) error
}

// What the commands that load the whole configuration read.
const (
	envAll          = "every variable that `mysql-bootstrap help` lists is read and checked"
	envPodPasswords = envAll + "; MYSQL_ROOT_PASSWORD and REPLICATION_PASSWORD (or their _FILE) are required"
	envService      = envAll + "; the passwords may be unset"
	envIdentity     = envAll + "; the passwords and SERVICE_NAME may be unset"
)

// commands is the table of subcommands, in the order help lists them. It
// is a function, not a variable, because the commands' own flag sets look
// themselves up in it.
func commands() []command {
	return []command{
		{name: "identity", usage: "[--format json|env]", summary: "print the pod's identity",
			env: envIdentity, run: runIdentity},
		{name: "init", summary: "init container: write the server configuration (INIT_WAIT_FOR_PRIMARY: a new replica waits for the primary)",
			env: envPodPasswords, run: runInit},
		{name: "sidecar", summary: "sidecar: set up and keep the pod's role; serve /healthz /readyz /status /metrics",
			env: envPodPasswords, run: runSidecar},
		{name: "wait-dns", usage: "NAME [--timeout D] [--port P]", summary: "wait until NAME resolves (and P accepts connections)",
			env: "RESOLV_CONF and LOG_FORMAT only", run: runWaitDNS},
		{name: "peers", usage: "[--format table|json]", summary: "every pod of the StatefulSet, from the headless Service and their /status",
			env: envService, run: runPeers},
		{name: "primary-override", usage: "--use-own-data | --seed-from POD", summary: "a person's choice for a primary whose peers disagree (used once, within 1h)",
			env: envPodPasswords + " (the file is signed with the seed secret); STATE_DIR must exist (run it in the primary's sidecar container)", run: runPrimaryOverride},
		{name: "forget-peer", usage: "POD", summary: "forget a peer the primary's guard would wait for (a StatefulSet scaled down for good)",
			env: envPodPasswords + " (the file is signed with the seed secret); SERVICE_NAME may be unset; STATE_DIR must exist (run it in a sidecar container)", run: runForgetPeer},
		{name: "switchover", usage: "--to POD|any-ready-replica [--max-lag D] [--wait D] [--timeout D]", summary: "PRIMARY=kubernetes: move the primary to a ready replica (the holder's sidecar carries it out); run in any sidecar container",
			env: envService + "; needs PRIMARY=kubernetes and the pod's service account", run: runSwitchover},
		{name: "backup-server", summary: "MariaDB, in the server image: serve this pod's data to seeding peers on BACKUP_ADDR",
			env: envPodPasswords, run: runBackupServer},
		{name: "seed-exec", usage: "-- CMD ARGS...", summary: "MariaDB, in the server container: restore a requested copy, then run CMD",
			env: envAll + "; the passwords are required, SERVICE_NAME may be unset", ownArgs: true, run: runSeedExec},
		{name: "server-alive", usage: "[--timeout D]", summary: "server container's startup and liveness probe: the server greets on MYSQL_PORT (no login), or a copy is being restored",
			env: "MYSQL_HOST, MYSQL_PORT and STATE_DIR only", run: runServerAlive},
		{name: "server-stop", usage: "[--timeout D]", summary: "server container's preStop hook: MySQL's offline_mode ON, so that it stops without waiting for its replicas' connections",
			env: "MYSQL_HOST, MYSQL_PORT, STATE_DIR and MYSQL_ROOT_PASSWORD (or its _FILE) only", run: runServerStop},
		{name: "version", aliases: []string{"--version"}, summary: "print the version", env: "none", run: runVersion},
		{name: "help", aliases: []string{"-h", "--help", "-help"}, summary: "print this help: the commands, the exit codes and every environment variable",
			env: "none", run: runHelp},
	}
}

// lookupCommand returns the command named (or aliased) name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c, true
		}
	}
	return command{}, false
}

// commandNames lists the commands for an error message.
func commandNames() string {
	cs := commands()
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func dispatch(ctx context.Context, name string, rest []string, stdio Stdio, loader Loader) error {
	c, ok := lookupCommand(name)
	if !ok {
		return fmt.Errorf("%w: unknown command %q: expected %s (mysql-bootstrap help describes them)", ErrUsage, name, commandNames())
	}
	if c.ownArgs && len(rest) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, rest[0]) {
		commandHelp(stdio.Out, c, nil)
		return nil
	}
	return c.run(ctx, rest, stdio, loader)
}

func runVersion(_ context.Context, args []string, stdio Stdio, _ Loader) error {
	if err := noArgs("version", args, stdio); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Out, "mysql-bootstrap %s\n", Version)
	return nil
}

func runHelp(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	// help COMMAND is COMMAND --help.
	if len(args) == 1 && !strings.HasPrefix(args[0], "-") {
		return dispatch(ctx, args[0], []string{"--help"}, stdio, loader)
	}
	if err := noArgs("help", args, stdio); err != nil {
		return err
	}
	usage(stdio.Out)
	return nil
}

// noArgs parses the flags of a command that takes none (but --help).
func noArgs(name string, args []string, stdio Stdio) error {
	fs := newFlagSet(name, stdio)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", ErrUsage, name, fs.Args())
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `mysql-bootstrap gives MySQL and MariaDB pods of a StatefulSet their identity and replication.

Usage:
`)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace("mysql-bootstrap "+c.name+" "+c.usage), c.summary)
	}
	_ = tw.Flush()
	fmt.Fprint(w, `
mysql-bootstrap COMMAND --help describes one command: its flags and the variables it reads.

Exit codes: 0 ok, 1 failure, 2 invalid configuration or identity (nothing changed), 3 timed out waiting.

Environment:
`)
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, v := range Variables() {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Help)
	}
	_ = tw.Flush()
}

// commandHelp writes c's --help: what it does, its usage line, its flags
// (fs's, nil for none) and the variables it reads.
func commandHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "mysql-bootstrap %s: %s\n\nUsage:\n  %s\n", c.name, c.summary, strings.TrimSpace("mysql-bootstrap "+c.name+" "+c.usage))
	hasFlags := false
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	}
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	fmt.Fprintf(w, "\nEnvironment: %s.\n", c.env)
}

// newFlagSet returns the flag set of command name. Errors are returned as
// usage errors (in one line, by main) instead of printed and exited on;
// -h and --help print the command's help (commandHelp) to stdio.Out.
func newFlagSet(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("mysql-bootstrap "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, ok := lookupCommand(name)
	if !ok {
		c = command{name: name}
	}
	fs.Usage = func() { commandHelp(stdio.Out, c, fs) }
	return fs
}

// parseFlags parses args into fs; after --help it returns errHelpShown.
func parseFlags(fs *flag.FlagSet, args []string) error {
	// The flag package calls Usage for an error as well as for -h: only
	// -h shows the help.
	help := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = help
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help()
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
	cfg, id, err := loadIdentity(ctx, loader, Need{Service: true, Passwords: true})
	if err != nil {
		return nil, Identity{}, nil, err
	}
	return cfg, id, NewLogger(stdio.Err, cfg.LogFormat, cfg.LogLevel), nil
}

// loadIdentity loads the configuration (what need says is required) and
// the pod's identity from it.
func loadIdentity(ctx context.Context, loader Loader, need Need) (*Config, Identity, error) {
	cfg, err := loader.Load(ctx, need)
	if err != nil {
		return nil, Identity{}, err
	}
	id, err := NewIdentity(cfg)
	if err != nil {
		return nil, Identity{}, err
	}
	return cfg, id, nil
}
