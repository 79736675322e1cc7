package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// server-stop is the server container's preStop hook:
//
//	lifecycle: {preStop: {exec: {command: ["/tools/mysql-bootstrap", "server-stop"]}}}
//
// MySQL shuts down slowly while replicas are connected: with binary log
// dump threads open it waits up to 8 s, a second at a time, for its other
// threads (the event scheduler among them) to end, then 2 s more for the
// dump threads. On the real cluster of the tests a primary pod took 11 s
// to stop and a new one could only start after that. Turning offline_mode
// ON first disconnects every client without CONNECTION_ADMIN (replicas
// included) and keeps them out, and the server then stops in about a
// second. MariaDB, which stops at once, is left alone. The hook never
// fails the pod's termination: whatever goes wrong is said in one line and
// the exit code is 0, and the kubelet sends SIGTERM as usual.

// stopTimeout bounds the whole hook by default.
const stopTimeout = 5 * time.Second

func runServerStop(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("server-stop", stdio)
	timeout := fs.Duration("timeout", stopTimeout, "how long the hook may take")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: server-stop takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout=%s is invalid: expected a positive duration such as 5s", ErrUsage, *timeout)
	}
	cfg, err := loadAliveConfig(loader)
	if err != nil {
		return err
	}
	l := loader.withDefaults()
	get := func(name string) string { v, _ := l.Lookuper.Lookup(name); return v }
	pw, problem := l.secret("MYSQL_ROOT_PASSWORD", get("MYSQL_ROOT_PASSWORD"), get("MYSQL_ROOT_PASSWORD_FILE"), true)
	if problem != "" {
		// The server container's variables are the image's: without the
		// root password there is nothing to do but let it stop as usual.
		fmt.Fprintln(stdio.Out, "server-stop: "+problem+"; the server stops as usual")
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintln(stdio.Out, "server-stop: "+prepareStop(ctx, cfg.Addr, pw))
	return nil
}

// prepareStop turns a MySQL server's offline_mode ON and says what it did.
func prepareStop(ctx context.Context, addr string, pw Secret) string {
	c := baseDSN()
	c.Net, c.Addr, c.User, c.Passwd = "tcp", addr, "root", pw.Reveal()
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 3*time.Second, 3*time.Second
	db := openDB(c)
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "the server at " + addr + " cannot be asked (" + sqldialect.OneLine(stopError(err)) + "); it stops as usual"
	}
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return "MariaDB " + version + " stops at once with replicas connected: nothing to do"
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL offline_mode = ON"); err != nil {
		return "SET GLOBAL offline_mode = ON failed (" + sqldialect.OneLine(stopError(err)) + "); the server stops as usual, waiting for its replicas' connections"
	}
	// offline_mode spares accounts with CONNECTION_ADMIN (root). Their
	// sessions end too: with SEMI_SYNC a commit of theirs left waiting for
	// the acknowledgement of replicas offline_mode just disconnected would
	// be answered OK by the shutdown (measured on MySQL 9.7), a write no
	// replica has.
	kills := ""
	if srv, err := sqldialect.ParseVersion(version); err == nil {
		if d, err := sqldialect.New(srv); err == nil {
			if err := killSessions(ctx, db, d.ClientSessionsQuery(SidecarAccountUser), d); err != nil {
				kills = "; ending the sessions offline_mode spares failed (" + sqldialect.OneLine(stopError(err)) + ")"
			}
		}
	}
	return "offline_mode ON on MySQL " + version + ": clients and replicas are disconnected, so the server stops without waiting for their connections" + kills
}

// stopError says what went wrong: the server's error number and message
// (neither statement here carries a secret, and the server never echoes a
// password), or the connection's error.
func stopError(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return "error " + strconv.Itoa(int(me.Number)) + ": " + me.Message
	}
	return err.Error()
}
