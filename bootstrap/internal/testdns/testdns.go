// Package testdns is a small, real DNS server for tests: it serves A, AAAA
// and CNAME records that a test sets and changes while it runs, can answer a
// chosen response code (SERVFAIL, REFUSED...) or nothing at all for a name,
// and counts the queries it receives.
//
// It serves UDP and TCP on the same port, so it can stand in for the cluster
// DNS of a pod: ordinary glibc stub resolvers (mariadbd, mysqld, the mysql
// client) can be pointed at it on port 53 through a resolv.conf, and the
// bootstrap code can be pointed at it on any port.
//
// Unknown names are answered NXDOMAIN with an SOA record (negative TTL 1 s)
// in the authority section; answers carry TTL 0, so that resolvers and
// caches in front of the server do not hide a change for long.
package testdns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// maxCNAMEChain bounds how many CNAMEs the server follows inside its own
// records, so that a loop set by a test cannot hang a query.
const maxCNAMEChain = 8

// Server is a running DNS server. All methods are safe for concurrent use.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	names   map[string]*entry // key: canonical name (lower case, trailing dot)
	queries map[string]int    // key: canonical name
}

// entry is what a test has set for one name.
type entry struct {
	addrs  []netip.Addr
	cname  string // canonical target, "" when none
	exists bool   // set by Set or SetCNAME: NOERROR instead of NXDOMAIN
	rcode  int    // response code override, dns.RcodeSuccess when none
	drop   bool   // never answer
}

// Start starts a server listening on addr (UDP and TCP on the same port;
// "127.0.0.1:0" picks a free port) and closes it when the test ends. It
// fails the test if the server cannot start.
func Start(t testing.TB, addr string) *Server {
	t.Helper()
	s, err := Listen(addr)
	if err != nil {
		t.Fatalf("testdns: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Listen starts a server listening on addr, UDP and TCP on the same port.
// With port 0 a free port is chosen. The caller must Close it; tests should
// prefer Start. Listen is meant for a TestMain or a helper binary.
func Listen(addr string) (*Server, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	// With port 0 the UDP port the kernel picks may be taken for TCP by
	// someone else: try a few times before giving up.
	tries := 1
	if port == "0" {
		tries = 10
	}
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		bound := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", bound)
		if err != nil {
			_ = pc.Close()
			if i+1 < tries {
				continue
			}
			return nil, fmt.Errorf("listen tcp %s: %w", bound, err)
		}
		return serve(bound, pc, ln)
	}
}

func serve(bound string, pc net.PacketConn, ln net.Listener) (*Server, error) {
	s := &Server{
		addr:    bound,
		names:   make(map[string]*entry),
		queries: make(map[string]int),
	}
	udpStarted := make(chan struct{})
	tcpStarted := make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: func() { close(udpStarted) }}
	s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: func() { close(tcpStarted) }}
	udpDone := make(chan error, 1)
	tcpDone := make(chan error, 1)
	go func() { udpDone <- s.udp.ActivateAndServe() }()
	go func() { tcpDone <- s.tcp.ActivateAndServe() }()

	// Wait until both serve, so that Close never races the start (miekg/dns
	// refuses to shut down a server that has not started yet).
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for _, started := range []chan struct{}{udpStarted, tcpStarted} {
		select {
		case <-started:
		case err := <-udpDone:
			_ = pc.Close()
			_ = ln.Close()
			return nil, fmt.Errorf("serve udp %s: %w", bound, err)
		case err := <-tcpDone:
			_ = pc.Close()
			_ = ln.Close()
			return nil, fmt.Errorf("serve tcp %s: %w", bound, err)
		case <-timer.C:
			_ = pc.Close()
			_ = ln.Close()
			return nil, fmt.Errorf("serve %s: did not start within 10s", bound)
		}
	}
	return s, nil
}

// Close stops the server. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
	})
	return s.closeErr
}

// Addr returns the address the server listens on, as "ip:port".
func (s *Server) Addr() string { return s.addr }

// AddrPort returns the address the server listens on.
func (s *Server) AddrPort() netip.AddrPort { return netip.MustParseAddrPort(s.addr) }

// Set makes name exist with exactly the given addresses (A records for IPv4,
// AAAA for IPv6), replacing earlier ones and any CNAME. With no addresses the
// name exists but has no address records (NOERROR with an empty answer).
// name may carry a trailing dot or not and is case-insensitive.
func (s *Server) Set(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(name)
	e.exists = true
	e.cname = ""
	e.addrs = make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		e.addrs[i] = a.Unmap()
	}
}

// SetCNAME makes name an alias for target, replacing any addresses it had.
// The answer holds the CNAME and, when target is set on this server, the
// target's records (as a recursive resolver would answer).
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entry(name)
	e.exists = true
	e.addrs = nil
	e.cname = canonical(target)
}

// Remove forgets everything set for name (records, response code, drop), so
// that it is answered NXDOMAIN again. Its query count is kept.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, canonical(name))
}

// SetRcode makes the server answer every query for name with rcode (for
// example dns.RcodeServerFailure) and no records. dns.RcodeSuccess removes
// the override, so the name answers from its records again.
func (s *Server) SetRcode(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(name).rcode = rcode
}

// Drop makes the server ignore queries for name while drop is true, so that
// clients time out. Dropped queries are still counted.
func (s *Server) Drop(name string, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entry(name).drop = drop
}

// Queries returns how many queries (any type, UDP or TCP) the server has
// received for name.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[canonical(name)]
}

// TotalQueries returns how many queries the server has received in all.
func (s *Server) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.queries {
		n += c
	}
	return n
}

// entry returns the entry for name, creating it. s.mu must be held.
func (s *Server) entry(name string) *entry {
	key := canonical(name)
	e := s.names[key]
	if e == nil {
		e = &entry{}
		s.names[key] = e
	}
	return e
}

func canonical(name string) string { return dns.CanonicalName(name) }

// soa is the authority record sent with negative answers; its minimum (the
// negative-caching TTL) is 1 s so caches forget a missing name quickly.
func soa() dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1},
		Ns:      "ns.testdns.",
		Mbox:    "hostmaster.testdns.",
		Serial:  1,
		Refresh: 60,
		Retry:   10,
		Expire:  600,
		Minttl:  1,
	}
}

// ServeDNS answers one query. It implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp, ok := s.answer(req)
	if !ok {
		return // dropped: the client times out
	}
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(dns.DefaultMsgSize, false)
	}
	if _, isUDP := w.LocalAddr().(*net.UDPAddr); isUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

// answer builds the response to req; ok is false when it must be dropped.
func (s *Server) answer(req *dns.Msg) (resp *dns.Msg, ok bool) {
	resp = new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	if req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		resp.Rcode = dns.RcodeNotImplemented
		return resp, true
	}
	q := req.Question[0]
	name := canonical(q.Name)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[name]++
	e := s.names[name]
	switch {
	case e != nil && e.drop:
		return nil, false
	case e != nil && e.rcode != dns.RcodeSuccess:
		resp.Rcode = e.rcode
		return resp, true
	case e == nil || !e.exists:
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{soa()}
		return resp, true
	case q.Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
		return resp, true
	}

	// Follow CNAMEs inside our own data, then add the records of the type
	// asked for at the end of the chain.
	owner := q.Name // keep the client's spelling, as servers do
	for range maxCNAMEChain {
		if e.cname == "" || q.Qtype == dns.TypeCNAME {
			break
		}
		resp.Answer = append(resp.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 0},
			Target: e.cname,
		})
		owner = e.cname
		e = s.names[e.cname]
		if e == nil || !e.exists || e.drop || e.rcode != dns.RcodeSuccess {
			return resp, true // target unknown here: the answer is the chain alone
		}
	}
	for _, a := range e.addrs {
		hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: 0}
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeA
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeAAAA
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	if q.Qtype == dns.TypeCNAME && e.cname != "" {
		resp.Answer = append(resp.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 0},
			Target: e.cname,
		})
	}
	if len(resp.Answer) == 0 {
		resp.Ns = []dns.RR{soa()} // NODATA: the name exists, no records of this type
	}
	return resp, true
}
