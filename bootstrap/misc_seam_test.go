package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sethvargo/go-envconfig"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/fakesql"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// server-stop turns offline_mode ON on MySQL, leaves MariaDB alone, and
// says what went wrong otherwise, without a password.
func TestPrepareStop(t *testing.T) {
	srv := fakesql.New(t)
	var addrs []string
	useFakeServers(t, func(c *mysql.Config) *fakesql.Server {
		addrs = append(addrs, c.User+"@"+c.Addr)
		return srv
	})
	ctx := context.Background()
	srv.On("SELECT VERSION()", fakesql.Row("9.7.4"))
	srv.On("SET GLOBAL offline_mode = ON", fakesql.OK())
	// The sessions offline_mode spares (root's) end too.
	srv.OnPrefix("SELECT PROCESSLIST_ID FROM performance_schema.threads", fakesql.Rows([]string{"ID"}, []any{int64(41)}))
	srv.On("KILL CONNECTION 41", fakesql.OK())
	if got := prepareStop(ctx, "127.0.0.1:3306", seamRootPW); !strings.HasPrefix(got, "offline_mode ON on MySQL 9.7.4") || strings.Contains(got, "failed") {
		t.Errorf("MySQL: %q", got)
	}
	if got := strings.Join(srv.Execs(), "|"); got != "SET GLOBAL offline_mode = ON|KILL CONNECTION 41" {
		t.Errorf("statements = %q", got)
	}
	if len(addrs) != 1 || addrs[0] != "root@127.0.0.1:3306" {
		t.Errorf("connected as %q", addrs)
	}
	srv.On("SET GLOBAL offline_mode = ON", fakesql.Fail(&mysql.MySQLError{Number: 1227, Message: "Access denied; you need SUPER"}))
	if got := prepareStop(ctx, "127.0.0.1:3306", seamRootPW); !strings.Contains(got, "failed (error 1227: Access denied; you need SUPER)") {
		t.Errorf("refused: %q", got)
	}
	srv.Reset()
	srv.On("SELECT VERSION()", fakesql.Row("11.8.3-MariaDB"))
	if got := prepareStop(ctx, "127.0.0.1:3306", seamRootPW); !strings.Contains(got, "MariaDB 11.8.3-MariaDB stops at once") || len(srv.Execs()) != 0 {
		t.Errorf("MariaDB: %q, %q", got, srv.Execs())
	}
	srv.SetConnectError(errors.New("dial tcp 127.0.0.1:3306: connect: connection refused"))
	if got := prepareStop(ctx, "127.0.0.1:3306", seamRootPW); !strings.Contains(got, "cannot be asked (") || strings.Contains(got, seamRootPW) {
		t.Errorf("down: %q", got)
	}

	// The command: a password, an address, a timeout.
	srv.SetConnectError(nil)
	srv.On("SELECT VERSION()", fakesql.Row("9.7.4"))
	srv.On("SET GLOBAL offline_mode = ON", fakesql.OK())
	var out, errOut bytes.Buffer
	env := map[string]string{"MYSQL_ROOT_PASSWORD": seamRootPW, "MYSQL_HOST": "127.0.0.9", "MYSQL_PORT": "3307"}
	err := runServerStop(ctx, []string{"--timeout", "3s"}, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)})
	if err != nil || !strings.Contains(out.String(), "server-stop: offline_mode ON") || addrs[len(addrs)-1] != "root@127.0.0.9:3307" {
		t.Errorf("server-stop = %v: %q (to %q)", err, out.String(), addrs)
	}
	out.Reset()
	err = runServerStop(ctx, nil, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(map[string]string{})})
	if err != nil || !strings.Contains(out.String(), "MYSQL_ROOT_PASSWORD") || !strings.Contains(out.String(), "stops as usual") {
		t.Errorf("without a password: %v %q", err, out.String())
	}
	for _, args := range [][]string{{"extra"}, {"--timeout", "0s"}} {
		if err := runServerStop(ctx, args, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(env)}); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestPrimaryOverrideCommand(t *testing.T) {
	dir := t.TempDir()
	env := func(pod string) Loader {
		return Loader{Lookuper: envconfig.MapLookuper(map[string]string{"POD_NAME": pod, "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql", "STATE_DIR": dir,
			"MYSQL_ROOT_PASSWORD": "root-pw", "REPLICATION_PASSWORD": "repl-pw"})}
	}
	ctx := context.Background()
	var out, errOut bytes.Buffer
	stdio := Stdio{Out: &out, Err: &errOut}
	if err := runPrimaryOverride(ctx, []string{"--seed-from", "mysql-2"}, stdio, env("mysql-0")); err != nil {
		t.Fatal(err)
	}
	of := &overrideFiles{dir: dir, secret: func() string { return "repl-pw" }}
	o, err := of.read(time.Now())
	if err != nil || o == nil || o.Action != decide.OverrideSeedFrom || o.From != "mysql-2" || o.Created.IsZero() {
		t.Errorf("override = %+v, %v", o, err)
	}
	if !strings.Contains(out.String(), "mysql-0 will replace its data with a copy of mysql-2's") {
		t.Errorf("out = %q", out.String())
	}
	if err := runPrimaryOverride(ctx, []string{"--use-own-data"}, stdio, env("mysql-0")); err != nil {
		t.Fatal(err)
	}
	if o, _ := of.read(time.Now()); o == nil || o.Action != decide.OverrideOwnData {
		t.Errorf("override = %+v", o)
	}
	for _, tc := range []struct {
		args []string
		pod  string
	}{
		{nil, "mysql-0"},
		{[]string{"--use-own-data", "--seed-from", "mysql-1"}, "mysql-0"},
		{[]string{"--use-own-data", "x"}, "mysql-0"},
		{[]string{"--use-own-data"}, "mysql-1"},
		{[]string{"--seed-from", "mysql-0"}, "mysql-0"},
		{[]string{"--seed-from", "other-1"}, "mysql-0"},
	} {
		if err := runPrimaryOverride(ctx, tc.args, stdio, env(tc.pod)); err == nil {
			t.Errorf("%s %q: no error", tc.pod, tc.args)
		}
	}
	// No STATE_DIR there: nothing is written.
	l := Loader{Lookuper: envconfig.MapLookuper(map[string]string{"POD_NAME": "mysql-0", "POD_NAMESPACE": "db", "SERVICE_NAME": "mysql", "STATE_DIR": filepath.Join(dir, "nope"),
		"MYSQL_ROOT_PASSWORD": "root-pw", "REPLICATION_PASSWORD": "repl-pw"})}
	if err := runPrimaryOverride(ctx, []string{"--use-own-data"}, stdio, l); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("no STATE_DIR: %v", err)
	}
	// An unreadable override is reported by the gatherer, not taken as none.
	if err := os.WriteFile(of.path(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gatherer{overrides: of}
	if o := g.override(time.Now()); o == nil || !strings.HasPrefix(o.Err, "read "+overrideFile+": ") {
		t.Errorf("bad override = %+v", o)
	}
	if o := (&gatherer{}).override(time.Now()); o != nil {
		t.Errorf("no override files: %+v", o)
	}
}

// Password files are read again at each pass; a file that cannot be used
// keeps the old password and says why.
func TestCredentialsRefresh(t *testing.T) {
	dir := t.TempDir()
	rootFile, replFile := filepath.Join(dir, "root"), filepath.Join(dir, "repl")
	write := func(f, v string) {
		t.Helper()
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(rootFile, "root-1\n")
	write(replFile, "repl-1\n")
	c := newCredentials(&Config{RootPassword: "root-1", RootPasswordFile: rootFile, ReplicationPassword: "repl-1", ReplicationPasswordFile: replFile})
	if r, p := c.refresh(); r || p {
		t.Errorf("unchanged files changed: %v %v", r, p)
	}
	fp1 := c.facts().ReplicationFP
	write(replFile, "repl-2\r\n")
	if r, p := c.refresh(); r || !p || c.replication.Get() != "repl-2" {
		t.Errorf("changed: %v %v %q", r, p, c.replication.Get())
	}
	if f := c.facts(); f.ReplicationFP == fp1 || f.ReplicationFP != PasswordTag("root-1", "repl-2") || f.Problems != nil {
		t.Errorf("facts = %+v", f)
	}
	write(replFile, "\n")
	os.Remove(rootFile)
	if r, p := c.refresh(); r || p || c.replication.Get() != "repl-2" || c.root.Get() != "root-1" {
		t.Errorf("bad files changed the passwords: %v %v", r, p)
	}
	f := c.facts()
	if !strings.Contains(f.Problems["REPLICATION_PASSWORD"], "is empty") || !strings.Contains(f.Problems["MYSQL_ROOT_PASSWORD"], "cannot be read") {
		t.Errorf("problems = %q", f.Problems)
	}
	for _, p := range f.Problems {
		if strings.Contains(p, "repl-2") || strings.Contains(p, "root-1") {
			t.Errorf("a password in %q", p)
		}
	}
	write(replFile, strings.Repeat("x", 100))
	c.refresh()
	if p := c.facts().Problems["REPLICATION_PASSWORD"]; !strings.Contains(p, "holds an invalid password") {
		t.Errorf("invalid password problem = %q", p)
	}
	// The tag is keyed by the root password: a new root password, a new
	// tag for the same replication password.
	write(rootFile, "root-2\n")
	if r, p := c.refresh(); !r || p || c.facts().ReplicationFP != PasswordTag("root-2", "repl-2") {
		t.Errorf("root changed: %v %v, tag %q", r, p, c.facts().ReplicationFP)
	}
}

func TestPasswordTag(t *testing.T) {
	if PasswordTag("root", "") != "" || len(PasswordTag("root", "a")) != 16 {
		t.Error("empty password or length")
	}
	a := PasswordTag("root-a", "repl")
	if a != PasswordTag("root-a", "repl") {
		t.Error("not deterministic: pods could not compare tags")
	}
	if a == PasswordTag("root-b", "repl") {
		t.Error("another deployment's root password gives the same tag: a tag could be checked without the root password")
	}
	if a == PasswordTag("root-a", "repl2") {
		t.Error("two passwords, one tag")
	}
}

func TestClientTLS(t *testing.T) {
	if c, err := clientTLS(&Config{}, "x"); c != nil || err != nil {
		t.Errorf("no CA: %v %v", c, err)
	}
	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "client", "mysql-1")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("not pem"), 0o600)
	c, err := clientTLS(&Config{TLSCAFile: ca.CertFile, TLSCertFile: cert, TLSKeyFile: key}, seamPrimaryHost+".")
	if err != nil || c.ServerName != seamPrimaryHost || len(c.Certificates) != 1 || c.RootCAs == nil {
		t.Errorf("clientTLS = %+v, %v", c, err)
	}
	for _, cfg := range []*Config{
		{TLSCAFile: filepath.Join(dir, "missing")},
		{TLSCAFile: bad},
		{TLSCAFile: ca.CertFile, TLSCertFile: bad, TLSKeyFile: bad},
	} {
		if _, err := clientTLS(cfg, "x"); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestStateStoreErrors(t *testing.T) {
	dir := t.TempDir()
	st := &stateStore{dir: dir}
	if _, ok, err := st.load(); ok || err != nil {
		t.Errorf("empty dir: %v %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.load(); err == nil {
		t.Error("a corrupt state file loaded")
	}
	if _, ok, err := (&stateStore{}).load(); ok || err != nil {
		t.Error("no dir")
	}
	if err := (&stateStore{}).save(savedState{}, time.Now()); err != nil {
		t.Error(err)
	}
}
