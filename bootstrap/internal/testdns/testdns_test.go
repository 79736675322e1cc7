package testdns_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testdns"
)

// exchange sends one question over network and fails the test on a
// transport error.
func exchange(t *testing.T, s *testdns.Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, err := tryExchange(s, network, name, qtype, 2*time.Second)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return resp
}

func tryExchange(s *testdns.Server, network, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	c := &dns.Client{Net: network, Timeout: timeout}
	resp, _, err := c.Exchange(m, s.Addr())
	return resp, err
}

// summary is the part of a response the tests compare.
type summary struct {
	Rcode  string
	Answer []string
	SOA    bool
}

func summarize(m *dns.Msg) summary {
	s := summary{Rcode: dns.RcodeToString[m.Rcode]}
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			s.Answer = append(s.Answer, "A "+rr.A.String())
		case *dns.AAAA:
			s.Answer = append(s.Answer, "AAAA "+rr.AAAA.String())
		case *dns.CNAME:
			s.Answer = append(s.Answer, "CNAME "+rr.Target)
		}
		if rr.Header().Ttl > 1 {
			s.Answer = append(s.Answer, "TTL too long")
		}
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok && soa.Minttl <= 1 && soa.Hdr.Ttl <= 1 {
			s.SOA = true
		}
	}
	return s
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Set("four.test", netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"))
	s.Set("Six.Test.", netip.MustParseAddr("::1"))
	s.Set("empty.test")
	s.SetCNAME("alias.test", "four.test.")
	s.SetCNAME("dangling.test", "nowhere.test")
	s.Set("broken.test", netip.MustParseAddr("127.0.0.4"))
	s.SetRcode("broken.test", dns.RcodeServerFailure)
	s.SetRcode("refused.test", dns.RcodeRefused)

	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  summary
	}{
		{"A", "four.test", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{"A 127.0.0.2", "A 127.0.0.3"}}},
		{"case-insensitive", "FOUR.test.", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{"A 127.0.0.2", "A 127.0.0.3"}}},
		{"AAAA", "six.test", dns.TypeAAAA, summary{Rcode: "NOERROR", Answer: []string{"AAAA ::1"}}},
		{"no A for an IPv6-only name", "six.test", dns.TypeA, summary{Rcode: "NOERROR", SOA: true}},
		{"name without records", "empty.test", dns.TypeA, summary{Rcode: "NOERROR", SOA: true}},
		{"CNAME chain", "alias.test", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{"CNAME four.test.", "A 127.0.0.2", "A 127.0.0.3"}}},
		{"CNAME to unknown name", "dangling.test", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{"CNAME nowhere.test."}}},
		{"unknown name", "missing.test", dns.TypeA, summary{Rcode: "NXDOMAIN", SOA: true}},
		{"SERVFAIL override", "broken.test", dns.TypeA, summary{Rcode: "SERVFAIL"}},
		{"REFUSED override of an unknown name", "refused.test", dns.TypeA, summary{Rcode: "REFUSED"}},
	}
	for _, tc := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				got := summarize(exchange(t, s, network, tc.qname, tc.qtype))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s %s (-want +got):\n%s", tc.qname, dns.TypeToString[tc.qtype], diff)
				}
			})
		}
	}
}

func TestChangesAndCounts(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	const name = "db.test"
	rcode := func() string { return dns.RcodeToString[exchange(t, s, "udp", name, dns.TypeA).Rcode] }

	if got := rcode(); got != "NXDOMAIN" {
		t.Fatalf("before Set: %s, want NXDOMAIN", got)
	}
	s.Set(name, netip.MustParseAddr("127.0.0.2"))
	if got := rcode(); got != "NOERROR" {
		t.Fatalf("after Set: %s, want NOERROR", got)
	}
	s.SetRcode(name, dns.RcodeServerFailure)
	if got := rcode(); got != "SERVFAIL" {
		t.Fatalf("after SetRcode: %s, want SERVFAIL", got)
	}
	s.SetRcode(name, dns.RcodeSuccess)
	if got := rcode(); got != "NOERROR" {
		t.Fatalf("after SetRcode(success): %s, want NOERROR", got)
	}
	s.Drop(name, true)
	if _, err := tryExchange(s, "udp", name, dns.TypeA, 200*time.Millisecond); err == nil {
		t.Fatal("dropped name answered")
	}
	s.Drop(name, false)
	if got := rcode(); got != "NOERROR" {
		t.Fatalf("after Drop(false): %s, want NOERROR", got)
	}
	s.Remove(name)
	if got := rcode(); got != "NXDOMAIN" {
		t.Fatalf("after Remove: %s, want NXDOMAIN", got)
	}
	exchange(t, s, "tcp", "DB.test.", dns.TypeAAAA)

	if got := s.Queries(name); got != 8 {
		t.Errorf("Queries(%q) = %d, want 8 (7 over UDP, including the dropped one, 1 over TCP)", name, got)
	}
	if got := s.Queries("other.test"); got != 0 {
		t.Errorf("Queries(other.test) = %d, want 0", got)
	}
	if got := s.TotalQueries(); got != 8 {
		t.Errorf("TotalQueries() = %d, want 8", got)
	}
}

// TestStubResolver checks that an ordinary stub resolver (Go's own, which
// sends A and AAAA at once with EDNS0 like glibc) gets usable answers.
func TestStubResolver(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	s.Set("primary.test", netip.MustParseAddr("127.0.0.2"))
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.Addr())
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.LookupHost(ctx, "primary.test.")
	if err != nil {
		t.Fatalf("LookupHost: %v", err)
	}
	if diff := cmp.Diff([]string{"127.0.0.2"}, got); diff != "" {
		t.Errorf("LookupHost (-want +got):\n%s", diff)
	}
	_, err = r.LookupHost(ctx, "missing.test.")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("LookupHost(missing) error = %v, want a not-found DNSError", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := testdns.Start(t, "127.0.0.1:0")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				s.Set("race.test", netip.AddrFrom4([4]byte{127, 0, byte(i), byte(j)}))
				s.SetRcode("race.test", dns.RcodeSuccess)
				_ = s.Queries("race.test")
			}
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := tryExchange(s, "udp", "race.test", dns.TypeA, 2*time.Second); err != nil {
					t.Errorf("query: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := s.Queries("race.test"); got != 80 {
		t.Errorf("Queries = %d, want 80", got)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	s, err := testdns.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("a.test", netip.MustParseAddr("127.0.0.2"))
	exchange(t, s, "udp", "a.test", dns.TypeA)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tryExchange(s, "tcp", "a.test", dns.TypeA, time.Second); err == nil {
		t.Error("closed server answered over TCP")
	}
	// The port is free again.
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Errorf("listen on the closed server's address: %v", err)
	} else {
		ln.Close()
	}
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"no-port", "127.0.0.1:notaport"} {
		if s, err := testdns.Listen(addr); err == nil {
			s.Close()
			t.Errorf("Listen(%q) succeeded, want an error", addr)
		}
	}
	s := testdns.Start(t, "127.0.0.1:0")
	if s2, err := testdns.Listen(s.Addr()); err == nil {
		s2.Close()
		t.Errorf("second Listen(%q) succeeded, want address in use", s.Addr())
	}
	if !slices.Contains([]string{"127.0.0.1"}, s.AddrPort().Addr().String()) || s.AddrPort().Port() == 0 {
		t.Errorf("AddrPort() = %v", s.AddrPort())
	}
}
