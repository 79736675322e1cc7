package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
	"github.com/sethvargo/go-envconfig"
)

func loader(env map[string]string) Loader {
	return Loader{
		Lookuper:      envconfig.MapLookuper(env),
		Hostname:      func() (string, error) { return "host-7", nil },
		NamespaceFile: "/nonexistent/namespace",
	}
}

func validEnv() map[string]string {
	return map[string]string{
		"POD_NAME":             "mysql-1",
		"SERVICE_NAME":         "mysql",
		"MYSQL_ROOT_PASSWORD":  "rootpw",
		"REPLICATION_PASSWORD": "replpw",
		"HOSTS_FILE":           "/nonexistent/hosts",
	}
}

// TestLoadFromHostsFile: SERVICE_NAME, POD_NAMESPACE and CLUSTER_DOMAIN come
// from the pod's stable name in the kubelet's hosts file when unset, so a
// renamed copy of the manifests (a kustomize namePrefix) needs no edits;
// what the environment sets wins.
func TestLoadFromHostsFile(t *testing.T) {
	t.Parallel()
	hosts := filepath.Join(t.TempDir(), "hosts")
	const kubelet = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n" +
		"10.244.0.7\ta-mysql-1.a-mysql.shop.svc.k8s.example\ta-mysql-1\n"
	if err := os.WriteFile(hosts, []byte(kubelet), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                       string
		set                        map[string]string
		service, namespace, domain string
	}{
		{name: "all from the hosts file", service: "a-mysql", namespace: "shop", domain: "k8s.example"},
		{name: "the environment wins", set: map[string]string{"SERVICE_NAME": "other", "POD_NAMESPACE": "ns2", "CLUSTER_DOMAIN": "cluster.local"},
			service: "other", namespace: "ns2", domain: "cluster.local"},
		{name: "another pod's line is not ours", set: map[string]string{"POD_NAME": "a-mysql-11", "SERVICE_NAME": "s"},
			service: "s", namespace: "default", domain: "cluster.local"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			delete(env, "SERVICE_NAME")
			env["POD_NAME"] = "a-mysql-1"
			env["HOSTS_FILE"] = hosts
			for k, v := range tc.set {
				env[k] = v
			}
			c, err := loader(env).Load(context.Background(), Need{Service: true})
			if err != nil {
				t.Fatal(err)
			}
			if c.ServiceName != tc.service || c.Namespace != tc.namespace || c.ClusterDomain != tc.domain {
				t.Errorf("service %q namespace %q domain %q, want %q %q %q", c.ServiceName, c.Namespace, c.ClusterDomain, tc.service, tc.namespace, tc.domain)
			}
			id, err := NewIdentity(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := "a-mysql-0." + tc.service + "." + tc.namespace + ".svc." + tc.domain; id.PrimaryHost != want {
				t.Errorf("primary host %q, want %q", id.PrimaryHost, want)
			}
		})
	}
}

// TestLoadRereadsHostsFile: the kubelet rewrites the hosts file in place
// whenever it starts one of the pod's containers; a read in that moment
// sees it empty. CI on a real cluster caught a sidecar exiting 2 with
// "SERVICE_NAME is required" for that. A file without the pod's line is
// read again for about two seconds; one that has it is read once.
func TestLoadRereadsHostsFile(t *testing.T) {
	t.Parallel()
	full := "127.0.0.1 localhost\n10.244.0.4 mysql-2.mysql.db.svc.cluster.local mysql-2\n"
	for _, tc := range []struct {
		name    string
		reads   []string // what successive reads return; the last repeats
		want    string   // the service found
		wantN   int      // reads made
		wantErr bool
	}{
		{name: "complete at once", reads: []string{full}, want: "mysql", wantN: 1},
		{name: "empty while rewritten", reads: []string{"", "# Kubernetes-managed hosts file.\n", full}, want: "mysql", wantN: 3},
		{name: "never names the pod", reads: []string{"127.0.0.1 localhost\n"}, wantN: hostsRereads + 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			delete(env, "SERVICE_NAME")
			env["POD_NAME"] = "mysql-2"
			env["HOSTS_FILE"] = "/kubelet/etc-hosts"
			l := loader(env)
			n := 0
			l.ReadFile = func(name string) ([]byte, error) {
				if name != "/kubelet/etc-hosts" {
					return os.ReadFile(name)
				}
				r := tc.reads[min(n, len(tc.reads)-1)]
				n++
				return []byte(r), nil
			}
			var slept time.Duration
			l.Sleep = func(d time.Duration) { slept += d }
			c, err := l.Load(context.Background(), Need{Service: true})
			if n != tc.wantN {
				t.Errorf("%d reads, want %d", n, tc.wantN)
			}
			if slept > 3*time.Second {
				t.Errorf("waited %s for the hosts file, want at most about 2s", slept)
			}
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SERVICE_NAME is required") {
					t.Errorf("err = %v, want SERVICE_NAME is required", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ServiceName != tc.want {
				t.Errorf("service %q, want %q", c.ServiceName, tc.want)
			}
		})
	}
}

func TestStableNameFromHosts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hosts, pod string
		want       stableName
		ok         bool
	}{
		{"10.0.0.1 mysql-0.mysql.default.svc.cluster.local mysql-0", "mysql-0", stableName{"mysql", "default", "cluster.local"}, true},
		{"10.0.0.1\tMYSQL-0.Mysql.Default.svc.cluster.local.\tmysql-0 # comment", "mysql-0", stableName{"mysql", "default", "cluster.local"}, true},
		{"# 10.0.0.1 mysql-0.mysql.default.svc.cluster.local", "mysql-0", stableName{}, false},
		{"10.0.0.1 mysql-0.mysql.default.cluster.local", "mysql-0", stableName{}, false},
		{"10.0.0.1 mysql-0.my_svc.default.svc.cluster.local", "mysql-0", stableName{}, false},
		{"10.0.0.1 mysql-10.mysql.default.svc.cluster.local", "mysql-1", stableName{}, false},
		{"mysql-0.mysql.default.svc.cluster.local", "mysql-0", stableName{}, false},
		{"10.0.0.1 mysql-0.mysql.default.svc.cluster.local", "", stableName{}, false},
	} {
		got, ok := stableNameFromHosts([]byte(tc.hosts), tc.pod)
		if got != tc.want || ok != tc.ok {
			t.Errorf("stableNameFromHosts(%q, %q) = %+v, %v; want %+v, %v", tc.hosts, tc.pod, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := loader(validEnv()).Load(context.Background(), Need{Service: true, Passwords: true})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		PodName: "mysql-1", PodNameFromHostname: false, Namespace: "default", ServiceName: "mysql", ClusterDomain: "cluster.local",
		ServerIDBase: 100, Flavor: FlavorAuto, MySQLHost: "127.0.0.1", MySQLPort: 3306,
		RootPassword: "rootpw", ReplicationUser: "replication", ReplicationPassword: "replpw",
		ConfigDir: "/etc/mysql/conf.d", ConfigFile: "50-mysql-bootstrap.cnf", DataDir: "/var/lib/mysql", StateDir: "/var/lib/mysql-bootstrap",
		WaitTimeout: 10 * time.Minute, ResolvConf: "/etc/resolv.conf", HTTPAddr: ":8080",
		ReconcileInterval: 5 * time.Second, MaxReplicationLag: 30 * time.Second, BinlogExpire: 168 * time.Hour, AutoReseed: true,
		SeedTimeout: 6 * time.Hour, SeedStallTimeout: 30 * time.Second, BackupAddr: ":8081", LogFormat: "json", LogLevel: "info",
		PrimaryMode: PrimaryOrdinal0, LeaseDuration: 10 * time.Second, LeaseRenewInterval: 2 * time.Second,
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
}

func TestLoadFallbacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := filepath.Join(dir, "namespace")
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(ns, []byte("prod\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	delete(env, "POD_NAME")
	env["REPLICATION_PASSWORD_FILE"] = pw
	l := loader(env)
	l.NamespaceFile = ns
	c, err := l.Load(context.Background(), Need{Service: true, Passwords: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.PodName != "host-7" || c.Namespace != "prod" || c.ReplicationPassword.Reveal() != "from-file" {
		t.Errorf("got pod %q namespace %q password-from-file %v", c.PodName, c.Namespace, c.ReplicationPassword.Reveal() == "from-file")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  map[string]string
		del  []string
		need Need
		want []string
	}{
		{name: "missing service", del: []string{"SERVICE_NAME"}, need: Need{Service: true}, want: []string{"SERVICE_NAME is required"}},
		{name: "missing replication password", del: []string{"REPLICATION_PASSWORD"}, need: Need{Passwords: true},
			want: []string{"REPLICATION_PASSWORD is required: set REPLICATION_PASSWORD or REPLICATION_PASSWORD_FILE"}},
		{name: "unreadable password file", set: map[string]string{"MYSQL_ROOT_PASSWORD_FILE": "/nonexistent/pw"}, need: Need{Passwords: true},
			want: []string{`MYSQL_ROOT_PASSWORD_FILE="/nonexistent/pw" cannot be read: no such file or directory`}},
		{name: "bad duration", set: map[string]string{"WAIT_TIMEOUT": "ten minutes"}, want: []string{`WAIT_TIMEOUT="ten minutes" is invalid: expected a duration`}},
		{name: "bad port", set: map[string]string{"MYSQL_PORT": "70000"}, want: []string{`MYSQL_PORT="70000" is invalid: expected a port from 1 to 65535`}},
		{name: "bad log format", set: map[string]string{"LOG_FORMAT": "xml"}, want: []string{`LOG_FORMAT="xml" is invalid: expected json or text`}},
		{name: "bad server id base", set: map[string]string{"SERVER_ID_BASE": "-1"}, want: []string{`SERVER_ID_BASE="-1" is invalid`}},
		{name: "bad flavor", set: map[string]string{"FLAVOR": "postgres"}, want: []string{`FLAVOR="postgres" is invalid: expected auto, mysql or mariadb`}},
		{name: "bad semi sync", set: map[string]string{"SEMI_SYNC": "yes please"}, want: []string{`SEMI_SYNC="yes please" is invalid: expected true or false`}},
		{name: "semi sync with flavor auto", set: map[string]string{"SEMI_SYNC": "true", "FLAVOR": "auto"}, want: []string{`FLAVOR="auto" is invalid: expected mysql or mariadb with SEMI_SYNC=true`}},
		{name: "bad http addr", set: map[string]string{"HTTP_ADDR": "8080"}, want: []string{`HTTP_ADDR="8080" is invalid`}},
		{name: "relative config dir", set: map[string]string{"CONFIG_DIR": "conf.d"}, want: []string{`CONFIG_DIR="conf.d" is invalid: expected an absolute path`}},
		{name: "bad service", set: map[string]string{"SERVICE_NAME": "My_Service"}, want: []string{`SERVICE_NAME="My_Service" is invalid`}},
		{name: "bad primary host", set: map[string]string{"PRIMARY_HOST": "bad host"}, want: []string{`PRIMARY_HOST="bad host" is invalid`}},
		{name: "bad primary mode", set: map[string]string{"PRIMARY": "raft"}, want: []string{`PRIMARY="raft" is invalid: expected ordinal-0 or kubernetes`}},
		{name: "lease too short", set: map[string]string{"LEASE_DURATION": "2s"}, want: []string{`LEASE_DURATION="2s" is invalid: expected whole seconds from 4s to 10m`}},
		{name: "lease fraction", set: map[string]string{"LEASE_DURATION": "10500ms"}, want: []string{`LEASE_DURATION="10500ms" is invalid`}},
		{name: "renew too slow", set: map[string]string{"LEASE_RENEW_INTERVAL": "3s"}, want: []string{`LEASE_RENEW_INTERVAL="3s" is invalid: expected at most LEASE_DURATION / 4 (2.5s)`}},
		{name: "renew not a duration", set: map[string]string{"LEASE_RENEW_INTERVAL": "often"}, want: []string{`LEASE_RENEW_INTERVAL="often" is invalid`}},
		{name: "bad failover", set: map[string]string{"FAILOVER": "yes"}, want: []string{`FAILOVER="yes" is invalid: expected off or auto`}},
		{name: "failover without the Lease", set: map[string]string{"FAILOVER": "auto", "SEMI_SYNC": "true", "FLAVOR": "mysql"},
			want: []string{`FAILOVER="auto" is invalid: expected off unless PRIMARY=kubernetes`}},
		{name: "failover without semi-sync", set: map[string]string{"FAILOVER": "auto", "PRIMARY": "kubernetes"},
			want: []string{`FAILOVER="auto" is invalid: expected off unless SEMI_SYNC=true: without semi-synchronous replication the primary acknowledges writes no replica has yet`}},
		{name: "primary host with the lease", set: map[string]string{"PRIMARY": "kubernetes", "PRIMARY_HOST": "db.example.com"},
			want: []string{"PRIMARY_HOST cannot be used with PRIMARY=kubernetes"}},
		{name: "quote in user", set: map[string]string{"REPLICATION_USER": "re'pl"}, want: []string{`REPLICATION_USER="re'pl" is invalid`}},
		{name: "every problem at once", set: map[string]string{"MYSQL_PORT": "x", "LOG_FORMAT": "xml", "MAX_REPLICATION_LAG": "0s"},
			want: []string{"MYSQL_PORT", "LOG_FORMAT", "MAX_REPLICATION_LAG"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			for _, k := range tc.del {
				delete(env, k)
			}
			_, err := loader(env).Load(context.Background(), tc.need)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalidConfig) || ExitCode(err) != ExitInvalid {
				t.Errorf("error %v is not classified as invalid configuration (exit 2)", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			for _, secret := range []string{"rootpw", "replpw"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error reveals a password: %q", msg)
				}
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	c, err := loader(validEnv()).Load(context.Background(), Need{Passwords: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.RootPassword)} {
		if strings.Contains(s, "rootpw") || strings.Contains(s, "replpw") {
			t.Errorf("formatted config reveals a password: %s", s)
		}
	}
}

func TestVariablesDocumented(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, v := range Variables() {
		if v.Name == "" || v.Help == "" || seen[v.Name] {
			t.Errorf("variable %+v: needs a unique name and help", v)
		}
		seen[v.Name] = true
	}
	for _, name := range []string{"POD_NAME", "SERVICE_NAME", "REPLICATION_PASSWORD_FILE", "MAX_REPLICATION_LAG", "LOG_FORMAT"} {
		if !seen[name] {
			t.Errorf("%s missing from Variables()", name)
		}
	}
}

const (
	varsBegin = "<!-- variables:begin (generated by go test ./bootstrap -run TestREADMEVariables -update) -->\n"
	varsEnd   = "<!-- variables:end -->"
)

// variablesTable renders Variables() as the README's Markdown table.
func variablesTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Variables() {
		def := "`" + v.Default + "`"
		if v.Default == "" {
			def = ""
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", "\\|"))
	}
	return b.String()
}

// TestREADMEVariables keeps the README's table of variables generated from
// the env struct, so the docs cannot drift from the code.
func TestREADMEVariables(t *testing.T) {
	t.Parallel()
	testkit.GeneratedBlock(t, "../README.md", varsBegin, varsEnd, variablesTable(), *update, "go test ./bootstrap -run TestREADMEVariables -update")
}
