// Package testserver starts real MariaDB (or MySQL) servers for tests: one
// mariadbd process per "pod", each bound to its own loopback address on
// port 3306 with its own datadir and its own /etc/resolv.conf (a private
// mount namespace), so that the server resolves the pods' stable names
// through a DNS server the test controls.
//
// It needs root (for the mount namespace and port 53 of the test DNS
// server) and Debian's mariadb-server; Available says why not otherwise.
// Setting MYSQLD to a MySQL 8.x mysqld binary runs the same tests against
// MySQL instead.
package testserver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Passwords of the accounts every test server has. Tests only.
const (
	RootPassword = "root-secret-'\"\\pw"
	AppUser      = "app"
	AppPassword  = "app-secret"
	AppDatabase  = "app"
)

// Flavor is the kind of server binary in use.
type Flavor string

// Flavors.
const (
	MariaDB Flavor = "mariadb"
	MySQL   Flavor = "mysql"
)

type binaries struct {
	flavor  Flavor
	server  string
	install string // mariadb-install-db; empty for MySQL
}

func findBinaries() (binaries, error) {
	if p := os.Getenv("MYSQLD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return binaries{}, fmt.Errorf("MYSQLD=%q: %v", p, err)
		}
		return binaries{flavor: MySQL, server: p}, nil
	}
	server, err := exec.LookPath("mariadbd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mariadbd", "/usr/libexec/mariadbd"} {
			if _, serr := os.Stat(p); serr == nil {
				server, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return binaries{}, errors.New("mariadbd not found (apt-get install mariadb-server, or set MYSQLD to a MySQL server binary)")
	}
	install, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		return binaries{}, errors.New("mariadb-install-db not found (apt-get install mariadb-server)")
	}
	return binaries{flavor: MariaDB, server: server, install: install}, nil
}

// Available reports why real servers cannot be started here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("integration tests need root (private mount namespaces for /etc/resolv.conf, port 53 for the test DNS server)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return errors.New("unshare not found (util-linux)")
	}
	_, err := findBinaries()
	return err
}

// ServerFlavor is the flavour of the servers Start starts.
func ServerFlavor() Flavor {
	b, _ := findBinaries()
	return b.flavor
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

const setupSQL = `FLUSH PRIVILEGES;
SET sql_log_bin = 0;
CREATE USER 'root'@'%%' IDENTIFIED BY %[1]s;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY %[1]s;
CREATE DATABASE %[2]s;
CREATE USER '%[3]s'@'%%' IDENTIFIED BY '%[4]s';
GRANT ALL PRIVILEGES ON %[2]s.* TO '%[3]s'@'%%';
`

// quote is enough for the constants above; the code under test has its own
// escaping, which is what the tests check.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// template initialises one datadir per test binary; servers copy it, which
// is faster than initialising each and gives every pod the same accounts
// without binary-logging them (as the official images do).
func template(b binaries) (string, error) {
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mysql-bootstrap-template-")
		if err != nil {
			templateErr = err
			return
		}
		data := filepath.Join(dir, "data")
		sqlFile := filepath.Join(dir, "setup.sql")
		setup := fmt.Sprintf(setupSQL, quote(RootPassword), AppDatabase, AppUser, AppPassword)
		if b.flavor == MariaDB {
			// mariadb-install-db also creates password-less root accounts
			// for 127.0.0.1, ::1 and the hostname, which would win over
			// root@'%'.
			setup = "FLUSH PRIVILEGES;\nDELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n" + setup
		}
		if err := os.WriteFile(sqlFile, []byte(setup), 0o600); err != nil {
			templateErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var out []byte
		if b.flavor == MariaDB {
			out, err = exec.CommandContext(ctx, b.install, "--no-defaults", "--datadir="+data, "--user=root",
				"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
			if err == nil {
				cmd := exec.CommandContext(ctx, b.server, "--no-defaults", "--bootstrap", "--datadir="+data, "--user=root",
					"--skip-networking")
				f, ferr := os.Open(sqlFile)
				if ferr != nil {
					templateErr = ferr
					return
				}
				defer f.Close()
				cmd.Stdin = f
				out, err = cmd.CombinedOutput()
			}
		} else {
			out, err = exec.CommandContext(ctx, b.server, "--no-defaults", "--initialize-insecure", "--datadir="+data,
				"--user=root", "--init-file="+sqlFile).CombinedOutput()
		}
		if err != nil {
			templateErr = fmt.Errorf("initialise a datadir: %v: %s", err, lastLines(out, 10))
			return
		}
		templateDir = data
	})
	return templateDir, templateErr
}

// Server is one running (or stopped) database server.
type Server struct {
	t       testing.TB
	b       binaries
	Dir     string // holds data/, conf.d/, state/, my.cnf, error.log
	DataDir string // absent until the first start, as in a new pod
	ConfDir string // what CONFIG_DIR points at: the server includes it
	// StateDir is a directory for the sidecar's STATE_DIR.
	StateDir string
	tmpl     string
	tls      struct{ ca, cert, key string }
	Addr     string // loopback address, port 3306
	resolv   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// New prepares a server with an empty configuration directory, without
// starting it; its first start copies the template datadir. resolvConf is bind-mounted
// over /etc/resolv.conf for the server process.
func New(t testing.TB, addr, resolvConf string) *Server {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no real server: %v", err)
	}
	b, _ := findBinaries()
	tmpl, err := template(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	dir := t.TempDir()
	s := &Server{t: t, b: b, tmpl: tmpl, Dir: dir, DataDir: filepath.Join(dir, "data"), ConfDir: filepath.Join(dir, "conf.d"),
		StateDir: filepath.Join(dir, "state"), Addr: addr, resolv: resolvConf}
	for _, d := range []string{s.ConfDir, s.StateDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { s.Kill() })
	return s
}

func (s *Server) writeMyCnf() (string, error) {
	cnf := fmt.Sprintf(`[mysqld]
datadir = %s
socket = %s
pid_file = %s
port = 3306
bind_address = %s
user = root
log_error = %s
innodb_buffer_pool_size = 32M
performance_schema = OFF
`, s.DataDir, filepath.Join(s.Dir, "mysqld.sock"), filepath.Join(s.Dir, "mysqld.pid"), s.Addr, filepath.Join(s.Dir, "error.log"))
	if s.b.flavor == MySQL {
		cnf += "mysqlx = OFF\n"
	} else {
		cnf += "innodb_log_file_size = 16M\n"
	}
	if s.tls.cert != "" {
		cnf += fmt.Sprintf("ssl_ca = %s\nssl_cert = %s\nssl_key = %s\n", s.tls.ca, s.tls.cert, s.tls.key)
	}
	cnf += "!includedir " + s.ConfDir + "\n"
	p := filepath.Join(s.Dir, "my.cnf")
	return p, os.WriteFile(p, []byte(cnf), 0o644)
}

// SetTLS makes the server offer TLS with the certificate and key (PEM
// files), trusting ca for clients' certificates, from its next start.
func (s *Server) SetTLS(ca, cert, key string) {
	s.tls.ca, s.tls.cert, s.tls.key = ca, cert, key
}

// Start starts the server on its address and waits until root can log in.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("start server on %s: %v\n%s", s.Addr, err, s.ErrorLog(30))
	}
}

// StartAt moves the server to another loopback address and starts it: a
// rescheduled pod keeps its name and data but not its IP.
func (s *Server) StartAt(addr string) {
	s.t.Helper()
	s.Addr = addr
	s.Start()
}

func (s *Server) start() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("already running")
	}
	if _, err := os.Stat(s.DataDir); os.IsNotExist(err) {
		// A first start initialises the datadir, here from the template.
		if out, err := exec.Command("cp", "-a", s.tmpl, s.DataDir).CombinedOutput(); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("copy datadir: %v: %s", err, out)
		}
		// MySQL keeps its server_uuid in auto.cnf: every copy would share
		// the template's, and replication refuses equal UUIDs. The server
		// makes a new one when the file is missing.
		if err := os.Remove(filepath.Join(s.DataDir, "auto.cnf")); err != nil && !os.IsNotExist(err) {
			s.mu.Unlock()
			return err
		}
	}
	cnf, err := s.writeMyCnf()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	// unshare without --fork execs the server: its pid is ours to signal.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
		`mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`, "sh", s.resolv, s.b.server, "--defaults-file="+cnf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Unlock()

	deadline := time.Now().Add(90 * time.Second)
	db := s.Root()
	defer db.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("server exited: %s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after 90s: %v", err)
		}
	}
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 60*time.Second) }

// Kill stops the server with SIGKILL, as a node failure would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 30*time.Second) }

func (s *Server) signal(sig syscall.Signal, wait time.Duration) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// DSN returns a connection config for user on this server.
func (s *Server) DSN(user, password string) *mysql.Config {
	c := mysql.NewConfig()
	c.User, c.Passwd = user, password
	c.Net, c.Addr = "tcp", s.Addr+":3306"
	c.Timeout, c.ReadTimeout, c.WriteTimeout = 2*time.Second, 10*time.Second, 10*time.Second
	return c
}

// Login connects as user with password and reports the server's answer.
func (s *Server) Login(user, password string) error {
	db := s.open(s.DSN(user, password))
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// Root opens a pool to the server as root.
func (s *Server) Root() *sql.DB { return s.open(s.DSN("root", RootPassword)) }

// App opens a pool to the server as the unprivileged application user, the
// one whose writes a replica must refuse.
func (s *Server) App() *sql.DB {
	c := s.DSN(AppUser, AppPassword)
	c.DBName = AppDatabase
	return s.open(c)
}

func (s *Server) open(c *mysql.Config) *sql.DB {
	conn, err := mysql.NewConnector(c)
	if err != nil {
		s.t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	return db
}

// ErrorLog returns the last n lines of the server's error log.
func (s *Server) ErrorLog(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return lastLines(b, n)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
