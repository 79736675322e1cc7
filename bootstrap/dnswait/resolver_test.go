package dnswait_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// newResolver returns a Resolver asking servers, without resolv.conf.
func newResolver(t *testing.T, queryTimeout time.Duration, servers ...string) *dnswait.Resolver {
	t.Helper()
	r, err := dnswait.NewResolver(dnswait.Options{Servers: servers, QueryTimeout: queryTimeout})
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	return r
}

// closedUDPPort returns a loopback address on which nothing listens.
func closedUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := pc.LocalAddr().String()
	pc.Close()
	return a
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// outcome is the part of a Result the table compares.
type outcome struct {
	Outcome dnswait.Outcome
	Addrs   []netip.Addr
	Name    string
	Server  string
}

func TestLookupOutcomes(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Set("four.test", addr("127.0.0.2"))
	s.Set("six.test", addr("::1"))
	s.Set("both.test", addr("127.0.0.3"), addr("::1"))
	s.SetCNAME("alias.test", "four.test")
	s.SetCNAME("dangling.test", "nowhere.test")
	s.Set("empty.test")
	s.SetRcode("broken.test", dns.RcodeServerFailure)
	s.SetRcode("refused.test", dns.RcodeRefused)
	s.Drop("silent.test", true)
	closed := closedUDPPort(t)
	s2 := testdns.Start(t, "127.0.0.1:0") // a server that fails where s answers
	s2.Drop("four.test", true)
	s2.SetRcode("six.test", dns.RcodeServerFailure)

	tests := []struct {
		name     string
		servers  []string
		lookup   string
		want     outcome
		inString string // Result.String() contains it
	}{
		{name: "A", lookup: "four.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}}, inString: "resolved to 127.0.0.2 by "},
		{name: "absolute name", lookup: "four.test.", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}}},
		{name: "AAAA only", lookup: "six.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("::1")}}},
		{name: "A preferred over AAAA", lookup: "both.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.3")}}},
		{name: "CNAME to A", lookup: "alias.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}}},
		{name: "CNAME to unknown name", lookup: "dangling.test", want: outcome{Outcome: dnswait.NoAddress}, inString: "no address records from "},
		{name: "NXDOMAIN", lookup: "missing.test", want: outcome{Outcome: dnswait.NXDomain}, inString: "NXDOMAIN from "},
		{name: "SERVFAIL", lookup: "broken.test", want: outcome{Outcome: dnswait.ServFail}, inString: "SERVFAIL from "},
		{name: "other rcode", lookup: "refused.test", want: outcome{Outcome: dnswait.OtherRcode}, inString: "REFUSED from "},
		{name: "no address records", lookup: "empty.test", want: outcome{Outcome: dnswait.NoAddress}, inString: "no address records"},
		{name: "timeout", lookup: "silent.test", want: outcome{Outcome: dnswait.Timeout}, inString: "timeout (no answer) from "},
		{name: "timeout from every server", servers: []string{"", ""}, lookup: "silent.test", want: outcome{Outcome: dnswait.Timeout}},
		{name: "second server answers after a timeout", servers: []string{"s2", ""}, lookup: "four.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}}},
		{name: "second server answers after SERVFAIL", servers: []string{"s2", ""}, lookup: "six.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("::1")}}},
		{name: "second server answers after a closed port", servers: []string{closed, ""}, lookup: "four.test", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}}},
		{name: "SERVFAIL is reported over a closed port", servers: []string{closed, ""}, lookup: "broken.test", want: outcome{Outcome: dnswait.ServFail}},
		{name: "IP address, no query", lookup: "127.0.0.9", want: outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.9")}, Name: "127.0.0.9", Server: "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servers := []string{s.Addr()}
			if tc.servers != nil {
				servers = nil
				for _, srv := range tc.servers {
					switch srv {
					case "":
						srv = s.Addr()
					case "s2":
						srv = s2.Addr()
					}
					servers = append(servers, srv)
				}
			}
			r := newResolver(t, 500*time.Millisecond, servers...)
			res, err := r.Lookup(testContext(t, 10*time.Second), tc.lookup)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tc.lookup, err)
			}
			want := tc.want
			if want.Name == "" {
				want.Name = dns.Fqdn(tc.lookup)
			}
			switch want.Server {
			case "":
				want.Server = s.Addr()
			case "-":
				want.Server = ""
			}
			got := outcome{Outcome: res.Outcome, Addrs: res.Addrs, Name: res.Name, Server: res.Server}
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tc.lookup, diff)
			}
			if !strings.Contains(res.String(), tc.inString) {
				t.Errorf("Result.String() = %q, want it to contain %q", res.String(), tc.inString)
			}
		})
	}
}

// TestLookupNoServer checks that a server that is not there is reported as
// a network error (Linux reports the ICMP port unreachable) or a timeout,
// never as an answer about the name.
func TestLookupNoServer(t *testing.T) {
	t.Parallel()
	r := newResolver(t, 500*time.Millisecond, closedUDPPort(t))
	res, err := r.Lookup(testContext(t, 10*time.Second), "anything.test")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	switch res.Outcome {
	case dnswait.NetworkError:
		if !strings.Contains(res.String(), "network error from ") || res.Err == nil {
			t.Errorf("network error result %q has no detail", res)
		}
	case dnswait.Timeout:
	default:
		t.Fatalf("Outcome = %v (%s), want network error or timeout", res.Outcome, res)
	}
	if len(res.Addrs) != 0 {
		t.Errorf("Addrs = %v, want none", res.Addrs)
	}
}

func TestLookupInvalidName(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	r := newResolver(t, time.Second, s.Addr())
	for _, name := range []string{"", ".", "a..b", "bad name.test", "under\\.score", strings.Repeat("x", 64) + ".test", strings.Repeat("abcdefghi.", 26) + "test"} {
		if _, err := r.Lookup(context.Background(), name); err == nil {
			t.Errorf("Lookup(%q) succeeded, want an invalid-name error", name)
		}
	}
	if n := s.TotalQueries(); n != 0 {
		t.Errorf("invalid names sent %d queries, want 0", n)
	}
	if err := dnswait.ValidateName("mysql-0.mysql.default.svc.cluster.local."); err != nil {
		t.Errorf("ValidateName of a valid name: %v", err)
	}
}

func TestLookupCancelled(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Drop("silent.test", true)
	r := newResolver(t, 30*time.Second, s.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Lookup(ctx, "silent.test")
	if err != context.Canceled {
		t.Fatalf("Lookup error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancelled Lookup took %s, want it to stop without waiting for the query timeout", d)
	}
}

func writeResolvConf(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const podResolvConf = `nameserver 10.96.0.10
search default.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
`

// TestSearchList checks the resolv.conf rules of a Kubernetes pod: a fully
// qualified name is asked as-is first, a short one through the search
// list, an absolute one never expanded.
func TestSearchList(t *testing.T) {
	t.Parallel()
	const fqdn = "mysql-0.mysql.default.svc.cluster.local."
	tests := []struct {
		name      string
		lookup    string
		set       string // name the record is at, "" for none
		want      outcome
		asked     map[string]int // queries per name the server must have seen
		wantTotal int            // total queries
	}{
		{
			name: "fully qualified name asked as-is first", lookup: "mysql-0.mysql.default.svc.cluster.local", set: fqdn,
			want:  outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}, Name: fqdn},
			asked: map[string]int{fqdn: 1}, wantTotal: 1,
		},
		{
			name: "short name expanded", lookup: "mysql-0.mysql", set: fqdn,
			want:  outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}, Name: fqdn},
			asked: map[string]int{fqdn: 1, "mysql-0.mysql.": 0}, wantTotal: 1,
		},
		{
			name: "second search domain", lookup: "mysql-0.mysql.default", set: fqdn,
			want:  outcome{Outcome: dnswait.Resolved, Addrs: []netip.Addr{addr("127.0.0.2")}, Name: fqdn},
			asked: map[string]int{"mysql-0.mysql.default.default.svc.cluster.local.": 1, fqdn: 1}, wantTotal: 2,
		},
		{
			name: "absolute name never expanded", lookup: fqdn,
			want:  outcome{Outcome: dnswait.NXDomain, Name: fqdn},
			asked: map[string]int{fqdn: 1}, wantTotal: 1,
		},
		{
			name: "missing fully qualified name reports its own answer", lookup: "mysql-0.mysql.default.svc.cluster.local",
			want:  outcome{Outcome: dnswait.NXDomain, Name: fqdn},
			asked: map[string]int{fqdn: 1, "mysql-0.mysql.default.svc.cluster.local.default.svc.cluster.local.": 1}, wantTotal: 4,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := testdns.Start(t, "127.0.0.1:0")
			if tc.set != "" {
				s.Set(tc.set, addr("127.0.0.2"))
			}
			r, err := dnswait.NewResolver(dnswait.Options{
				ResolvConf:   writeResolvConf(t, podResolvConf),
				Servers:      []string{s.Addr()},
				QueryTimeout: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Lookup(testContext(t, 10*time.Second), tc.lookup)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Server = s.Addr()
			got := outcome{Outcome: res.Outcome, Addrs: res.Addrs, Name: res.Name, Server: res.Server}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tc.lookup, diff)
			}
			for name, n := range tc.asked {
				if got := s.Queries(name); got != n {
					t.Errorf("queries for %s = %d, want %d", name, got, n)
				}
			}
			if got := s.TotalQueries(); got != tc.wantTotal {
				t.Errorf("total queries = %d, want %d", got, tc.wantTotal)
			}
		})
	}
}

func TestNewResolver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    dnswait.Options
		want    []string
		wantErr string
	}{
		{name: "servers from resolv.conf", opts: dnswait.Options{ResolvConf: writeResolvConf(t, podResolvConf+"nameserver fd00::10\n")}, want: []string{"10.96.0.10:53", "[fd00::10]:53"}},
		{name: "explicit servers", opts: dnswait.Options{Servers: []string{"127.0.0.1:5353", "127.0.0.2", "[::1]:53"}}, want: []string{"127.0.0.1:5353", "127.0.0.2:53", "[::1]:53"}},
		{name: "explicit servers replace the file's", opts: dnswait.Options{ResolvConf: writeResolvConf(t, podResolvConf), Servers: []string{"127.0.0.1:5353"}}, want: []string{"127.0.0.1:5353"}},
		{name: "no nameserver", opts: dnswait.Options{ResolvConf: writeResolvConf(t, "search x\n")}, wantErr: "no nameserver"},
		{name: "missing file", opts: dnswait.Options{ResolvConf: filepath.Join(t.TempDir(), "none")}, wantErr: "no such file"},
		{name: "bad server", opts: dnswait.Options{Servers: []string{"dns.example:53"}}, wantErr: `"dns.example:53"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := dnswait.NewResolver(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewResolver error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, r.Servers()); diff != "" {
				t.Errorf("Servers() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolvConfPort53 runs the path used in pods: servers from a
// resolv.conf, port 53. It needs to bind port 53 on a loopback address and
// is skipped where that is not allowed.
func TestResolvConfPort53(t *testing.T) {
	t.Parallel()
	s, err := testdns.Listen("127.0.83.53:53")
	if err != nil {
		t.Skipf("cannot serve DNS on port 53: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	s.Set("mysql-0.mysql.default.svc.cluster.local", addr("127.0.0.2"))
	r, err := dnswait.NewResolver(dnswait.Options{ResolvConf: writeResolvConf(t, strings.Replace(podResolvConf, "10.96.0.10", "127.0.83.53", 1))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Lookup(testContext(t, 10*time.Second), "mysql-0.mysql")
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != dnswait.Resolved || res.Server != "127.0.83.53:53" {
		t.Errorf("Lookup = %s, want resolved by 127.0.83.53:53", res)
	}
}
