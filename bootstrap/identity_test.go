package bootstrap

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func TestParsePodName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pod     string
		sts     string
		ordinal uint64
		err     string
	}{
		{pod: "mysql-0", sts: "mysql", ordinal: 0},
		{pod: "mysql-1", sts: "mysql", ordinal: 1},
		{pod: "my-db-mysql-12", sts: "my-db-mysql", ordinal: 12},
		{pod: "a-4294967195", sts: "a", ordinal: 4294967195},
		{pod: "mysql", err: `"mysql" is not <statefulset>-<ordinal>`},
		{pod: "mysql-", err: `"mysql-" is not <statefulset>-<ordinal>`},
		{pod: "-1", err: `"-1" is not <statefulset>-<ordinal>`},
		{pod: "", err: `"" is not <statefulset>-<ordinal>`},
		{pod: "mysql-a", err: `ends in "a", expected a non-negative whole number`},
		{pod: "mysql-1a", err: `ends in "1a"`},
		{pod: "mysql-+1", err: `ends in "+1"`},
		{pod: "mysql-01", err: "leading zero"},
		{pod: "mysql-99999999999999999999999", err: "too large"},
		{pod: "MySQL-1", err: "not a valid pod name"},
		{pod: "my_db-1", err: "not a valid pod name"},
	}
	for _, tc := range tests {
		t.Run(tc.pod, func(t *testing.T) {
			sts, ord, err := wire.ParsePodName(tc.pod)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, wire.ErrNoOrdinal) {
					t.Fatalf("ParsePodName(%q) error = %v, want ErrNoOrdinal containing %q", tc.pod, err, tc.err)
				}
				return
			}
			if err != nil || sts != tc.sts || ord != tc.ordinal {
				t.Fatalf("ParsePodName(%q) = %q, %d, %v; want %q, %d", tc.pod, sts, ord, err, tc.sts, tc.ordinal)
			}
		})
	}
}

func baseConfig() *Config {
	return &Config{PodName: "mysql-2", Namespace: "db", ServiceName: "mysql", ClusterDomain: "cluster.local", ServerIDBase: 100}
}

func TestNewIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   Identity
		err    string
	}{
		{
			name: "replica",
			want: Identity{Pod: "mysql-2", StatefulSet: "mysql", Ordinal: 2, Role: wire.RoleReplica, ServerID: 102, Namespace: "db", Service: "mysql",
				PodHost: "mysql-2.mysql.db.svc.cluster.local", ServiceHost: "mysql.db.svc.cluster.local", PrimaryHost: "mysql-0.mysql.db.svc.cluster.local"},
		},
		{
			name:   "primary with dashes and a custom domain",
			mutate: func(c *Config) { c.PodName, c.ClusterDomain = "my-db-mysql-0", "k8s.example" },
			want: Identity{Pod: "my-db-mysql-0", StatefulSet: "my-db-mysql", Ordinal: 0, Role: wire.RolePrimary, ServerID: 100, Namespace: "db", Service: "mysql",
				PodHost: "my-db-mysql-0.mysql.db.svc.k8s.example", ServiceHost: "mysql.db.svc.k8s.example", PrimaryHost: "my-db-mysql-0.mysql.db.svc.k8s.example"},
		},
		{
			name:   "primary host override",
			mutate: func(c *Config) { c.PrimaryHost = "db-primary.example.com" },
			want: Identity{Pod: "mysql-2", StatefulSet: "mysql", Ordinal: 2, Role: wire.RoleReplica, ServerID: 102, Namespace: "db", Service: "mysql",
				PodHost: "mysql-2.mysql.db.svc.cluster.local", ServiceHost: "mysql.db.svc.cluster.local", PrimaryHost: "db-primary.example.com", primaryOverride: true},
		},
		{
			name:   "no service: names unknown",
			mutate: func(c *Config) { c.ServiceName = "" },
			want:   Identity{Pod: "mysql-2", StatefulSet: "mysql", Ordinal: 2, Role: wire.RoleReplica, ServerID: 102, Namespace: "db"},
		},
		{
			name:   "largest server_id",
			mutate: func(c *Config) { c.PodName, c.ServerIDBase = "mysql-5", wire.MaxServerID-5 },
			want: Identity{Pod: "mysql-5", StatefulSet: "mysql", Ordinal: 5, Role: wire.RoleReplica, ServerID: wire.MaxServerID, Namespace: "db", Service: "mysql",
				PodHost: "mysql-5.mysql.db.svc.cluster.local", ServiceHost: "mysql.db.svc.cluster.local", PrimaryHost: "mysql-0.mysql.db.svc.cluster.local"},
		},
		{name: "server_id 0", mutate: func(c *Config) { c.PodName, c.ServerIDBase = "mysql-0", 0 }, err: "= 0 is out of range: expected 1..4294967295"},
		{name: "server_id overflow", mutate: func(c *Config) { c.PodName, c.ServerIDBase = "mysql-6", wire.MaxServerID-5 }, err: "= 4294967296 is out of range"},
		{name: "ordinal overflow", mutate: func(c *Config) { c.PodName = "mysql-4294967296" }, err: "out of range"},
		{name: "no ordinal", mutate: func(c *Config) { c.PodName = "mysql" }, err: `POD_NAME: pod name has no ordinal: "mysql"`},
		{name: "hostname without ordinal", mutate: func(c *Config) { c.PodName, c.PodNameFromHostname = "mysql", true },
			err: `POD_NAME is not set and the hostname: pod name has no ordinal: "mysql" is not <statefulset>-<ordinal>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := baseConfig()
			if tc.mutate != nil {
				tc.mutate(c)
			}
			got, err := NewIdentity(c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidConfig) || ExitCode(err) != ExitInvalid {
					t.Fatalf("error = %v, want an invalid-configuration error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(Identity{})); d != "" {
				t.Errorf("identity (-want +got):\n%s", d)
			}
		})
	}
}

func TestIdentityEnv(t *testing.T) {
	t.Parallel()
	id, err := NewIdentity(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := `POD=mysql-2
STATEFULSET=mysql
ORDINAL=2
ROLE=replica
SERVER_ID=102
NAMESPACE=db
SERVICE=mysql
POD_HOST=mysql-2.mysql.db.svc.cluster.local
SERVICE_HOST=mysql.db.svc.cluster.local
PRIMARY_HOST=mysql-0.mysql.db.svc.cluster.local
`
	if d := cmp.Diff(want, id.Env()); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if got := shellQuote("it's $x"); got != `'it'\''s $x'` {
		t.Errorf("shellQuote = %s", got)
	}
}

// FuzzParsePodName checks that every accepted name round-trips and every
// rejected one says what was expected.
func FuzzParsePodName(f *testing.F) {
	for _, s := range []string{"mysql-0", "my-db-mysql-12", "mysql", "-", "a-01", "a-18446744073709551616", "x-1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pod string) {
		sts, ord, err := wire.ParsePodName(pod)
		if err != nil {
			if !errors.Is(err, wire.ErrNoOrdinal) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("bad error for %q: %v", pod, err)
			}
			return
		}
		if got := sts + "-" + uintString(ord); got != pod {
			t.Fatalf("ParsePodName(%q) = %q, %d: does not round-trip (%q)", pod, sts, ord, got)
		}
		if !wire.IsDNSLabel(pod) {
			t.Fatalf("accepted invalid name %q", pod)
		}
	})
}

func uintString(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}
