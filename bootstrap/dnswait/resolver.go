// Package dnswait waits until a DNS name resolves, and then until a TCP port
// on the address it resolves to accepts connections.
//
// A StatefulSet pod learns its peers through the stable names of a headless
// Service (mysql-0.mysql.default.svc.cluster.local), which appear in DNS
// some time after the pod is created, and which cluster DNS may keep
// answering NXDOMAIN for a while (negative caching). The system resolver
// hides why a lookup failed; this package queries the servers of
// resolv.conf itself (through github.com/miekg/dns), so that it can tell
// NXDOMAIN, SERVFAIL, an empty answer, a timeout and an unreachable server
// apart, log each change, and say in its timeout error what to check.
//
// Names are expanded like the system resolver does (resolv.conf's search
// list and ndots), except that a name ending in a dot is never expanded.
// Callers that build a fully qualified name should add the trailing dot:
// with the ndots:5 of Kubernetes pods a name such as
// mysql-0.mysql.default.svc.cluster.local is queried as-is first anyway,
// but the dot spares the search-list queries when it does not resolve.
package dnswait

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultResolvConf is the resolv.conf read when Options names none.
const DefaultResolvConf = "/etc/resolv.conf"

// DefaultQueryTimeout is how long one query waits for an answer from one
// server when Options sets no QueryTimeout.
const DefaultQueryTimeout = time.Second

// Options configures a Resolver.
type Options struct {
	// ResolvConf is the resolv.conf file giving the servers, the search
	// list and ndots. Empty means DefaultResolvConf, unless Servers is set,
	// in which case no file is read (no search list, ndots 1).
	ResolvConf string
	// Servers, when set, replaces the file's name servers: "ip:port" or
	// "ip" (port 53), tried in order.
	Servers []string
	// QueryTimeout bounds one query to one server; 0 means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
}

// Resolver looks names up with the servers and rules of a resolv.conf. It
// keeps no cache: every Lookup asks the servers. It is safe for concurrent
// use.
type Resolver struct {
	servers []string // "ip:port"
	search  []string
	ndots   int
	timeout time.Duration
}

// NewResolver returns a Resolver configured by opts.
func NewResolver(opts Options) (*Resolver, error) {
	r := &Resolver{ndots: 1, timeout: opts.QueryTimeout}
	if r.timeout <= 0 {
		r.timeout = DefaultQueryTimeout
	}
	path := opts.ResolvConf
	if path == "" && len(opts.Servers) == 0 {
		path = DefaultResolvConf
	}
	if path != "" {
		cfg, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("read resolver configuration: %w", err)
		}
		r.search, r.ndots = cfg.Search, cfg.Ndots
		if len(opts.Servers) == 0 {
			for _, s := range cfg.Servers {
				if _, err := netip.ParseAddr(s); err != nil {
					return nil, fmt.Errorf("read resolver configuration %s: nameserver %q is not an IP address", path, s)
				}
				r.servers = append(r.servers, net.JoinHostPort(s, cfg.Port))
			}
			if len(r.servers) == 0 {
				return nil, fmt.Errorf("read resolver configuration %s: no nameserver lines", path)
			}
		}
	}
	for _, s := range opts.Servers {
		ap, err := parseServer(s)
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, ap.String())
	}
	return r, nil
}

func parseServer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53), nil
	}
	return netip.AddrPort{}, fmt.Errorf("DNS server %q: want ip:port or ip", s)
}

// Servers returns the servers the Resolver asks, in order, as "ip:port".
func (r *Resolver) Servers() []string { return append([]string(nil), r.servers...) }

// Outcome classifies the answer to a lookup.
type Outcome int

// The outcomes of a lookup. Only Resolved carries addresses; NXDomain and
// NoAddress are definite answers, the others mean no usable answer was had.
const (
	Resolved     Outcome = iota // address records found
	NXDomain                    // the name does not exist
	NoAddress                   // NOERROR, but no A or AAAA records
	ServFail                    // SERVFAIL
	OtherRcode                  // another error response code (Result.Rcode)
	Timeout                     // no answer within the query timeout
	NetworkError                // the query could not be sent or read (e.g. connection refused)
)

var outcomeNames = [...]string{
	Resolved:     "resolved",
	NXDomain:     "NXDOMAIN",
	NoAddress:    "no address records",
	ServFail:     "SERVFAIL",
	OtherRcode:   "error rcode",
	Timeout:      "timeout",
	NetworkError: "network error",
}

// String returns a short name for the outcome, such as "NXDOMAIN".
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// transient tells outcomes that say nothing about the name (the server
// failed) from answers about the name.
func (o Outcome) transient() bool { return o >= ServFail }

// Result is the outcome of one Lookup.
type Result struct {
	// Outcome classifies the answer.
	Outcome Outcome
	// Addrs holds the addresses found (IPv4, or IPv6 when the name has no
	// IPv4 address); empty unless Outcome is Resolved.
	Addrs []netip.Addr
	// Name is the absolute name queried that gave this result: the name
	// itself or a search-list expansion of it.
	Name string
	// Server is the server that answered (or failed to), "ip:port"; empty
	// when the name was an IP address.
	Server string
	// Rcode is the DNS response code, when a response arrived.
	Rcode int
	// Err is the network error, for Timeout and NetworkError.
	Err error
}

// String describes the result in a few words for logs and errors, e.g.
// "NXDOMAIN from 10.96.0.10:53" or "resolved to 10.1.2.3 by 10.96.0.10:53".
func (res Result) String() string {
	var s string
	switch res.Outcome {
	case Resolved:
		addrs := make([]string, len(res.Addrs))
		for i, a := range res.Addrs {
			addrs[i] = a.String()
		}
		s = "resolved to " + strings.Join(addrs, ",")
		if res.Server != "" {
			s += " by " + res.Server
		}
		return s
	case OtherRcode:
		s = rcodeName(res.Rcode) + " from " + res.Server
	case Timeout:
		s = "timeout (no answer) from " + res.Server
	case NetworkError:
		s = "network error from " + res.Server
		if res.Err != nil {
			s += ": " + res.Err.Error()
		}
	default:
		s = res.Outcome.String() + " from " + res.Server
	}
	return s
}

func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// ValidateName reports whether name can be looked up: non-empty, labels of
// 1 to 63 letters, digits, '-' or '_', at most 253 characters.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("empty DNS name")
	}
	if _, ok := dns.IsDomainName(name); !ok || len(strings.TrimSuffix(name, ".")) > 253 {
		return fmt.Errorf("invalid DNS name %q", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return fmt.Errorf("invalid DNS name %q: empty label", name)
		}
		if len(label) > 63 {
			return fmt.Errorf("invalid DNS name %q: label %q is longer than 63 characters", name, label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("invalid DNS name %q: label %q has character %q", name, label, c)
			}
		}
	}
	return nil
}

// Lookup makes one attempt to resolve name: it queries the absolute names
// resolv.conf's rules give for it (name itself when it ends in a dot), in
// order, until one resolves; for each it asks A, then AAAA when there is no
// A record, following CNAMEs in the answer, and moves to the next server on
// a timeout, a network error or an error response code.
//
// A DNS failure is not an error: it is reported in Result.Outcome. When no
// name resolves, the Result is the most telling failure: a failed server
// before a definite answer, the first name tried before later ones. The
// error is non-nil only for an invalid name or when ctx ends first.
//
// An IP address is returned as Resolved without a query.
func (r *Resolver) Lookup(ctx context.Context, name string) (Result, error) {
	if a, err := netip.ParseAddr(strings.TrimSuffix(name, ".")); err == nil {
		return Result{Outcome: Resolved, Addrs: []netip.Addr{a.Unmap()}, Name: name}, nil
	}
	if err := ValidateName(name); err != nil {
		return Result{}, err
	}
	cfg := dns.ClientConfig{Search: r.search, Ndots: r.ndots}
	var best Result
	for i, candidate := range cfg.NameList(name) {
		res, err := r.lookupName(ctx, candidate)
		if err != nil {
			return Result{}, err
		}
		if res.Outcome == Resolved {
			return res, nil
		}
		if i == 0 || res.Outcome.transient() && !best.Outcome.transient() {
			best = res
		}
	}
	return best, nil
}

// lookupName resolves one absolute name, server after server.
func (r *Resolver) lookupName(ctx context.Context, fqdn string) (Result, error) {
	var best Result
	for i, server := range r.servers {
		res, err := r.lookupAt(ctx, fqdn, server)
		if err != nil {
			return Result{}, err
		}
		if !res.Outcome.transient() {
			return res, nil
		}
		// Prefer a server's answer (SERVFAIL) over silence (timeout) over
		// a failure to talk to it at all, when saying why nothing worked.
		if i == 0 || failureRank(res.Outcome) < failureRank(best.Outcome) {
			best = res
		}
	}
	return best, nil
}

func failureRank(o Outcome) int {
	switch o {
	case ServFail, OtherRcode:
		return 0
	case Timeout:
		return 1
	}
	return 2
}

// lookupAt resolves fqdn at one server: A, then AAAA when the name exists
// but has no A records.
func (r *Resolver) lookupAt(ctx context.Context, fqdn, server string) (Result, error) {
	res, err := r.query(ctx, fqdn, dns.TypeA, server)
	if err != nil || res.Outcome != NoAddress {
		return res, err
	}
	res6, err := r.query(ctx, fqdn, dns.TypeAAAA, server)
	if err != nil {
		return Result{}, err
	}
	if res6.Outcome == NXDomain {
		return res, nil // inconsistent; the A answer said the name exists
	}
	return res6, nil
}

// query sends one question to one server and classifies the response.
func (r *Resolver) query(ctx context.Context, fqdn string, qtype uint16, server string) (Result, error) {
	res := Result{Name: fqdn, Server: server}
	msg := new(dns.Msg)
	msg.SetQuestion(fqdn, qtype)
	msg.RecursionDesired = true

	resp, err := r.exchange(ctx, msg, server, "udp")
	if err == nil && resp.Truncated {
		resp, err = r.exchange(ctx, msg, server, "tcp")
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		res.Err = err
		res.Outcome = NetworkError
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			res.Outcome = Timeout
		}
		return res, nil
	}
	res.Rcode = resp.Rcode
	switch resp.Rcode {
	case dns.RcodeSuccess:
		res.Addrs = addresses(resp, fqdn, qtype)
		res.Outcome = NoAddress
		if len(res.Addrs) > 0 {
			res.Outcome = Resolved
		}
	case dns.RcodeNameError:
		res.Outcome = NXDomain
	case dns.RcodeServerFailure:
		res.Outcome = ServFail
	default:
		res.Outcome = OtherRcode
	}
	return res, nil
}

// exchange is one round trip. It closes the connection when ctx is
// cancelled, so that cancellation does not wait for the query timeout.
func (r *Resolver) exchange(ctx context.Context, msg *dns.Msg, server, network string) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(qctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(qctx, func() { _ = conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(qctx, msg, conn)
	if err != nil {
		if qctx.Err() != nil && ctx.Err() == nil {
			// The query's own timeout closed the connection.
			return nil, fmt.Errorf("no answer within %s: %w", r.timeout, context.DeadlineExceeded)
		}
		return nil, err
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, msg.Question[0].Name) || resp.Question[0].Qtype != msg.Question[0].Qtype {
		return nil, errors.New("response does not match the question")
	}
	return resp, nil
}

// addresses returns the records of type qtype for fqdn in the answer,
// following the CNAME chain the answer holds.
func addresses(resp *dns.Msg, fqdn string, qtype uint16) []netip.Addr {
	target := dns.CanonicalName(fqdn)
	// A chain cannot be longer than the answer; the bound stops CNAME loops.
	for range len(resp.Answer) {
		next := ""
		for _, rr := range resp.Answer {
			if c, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(c.Hdr.Name) == target {
				next = dns.CanonicalName(c.Target)
				break
			}
		}
		if next == "" {
			break
		}
		target = next
	}
	var addrs []netip.Addr
	for _, rr := range resp.Answer {
		if dns.CanonicalName(rr.Header().Name) != target || rr.Header().Rrtype != qtype {
			continue
		}
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, a.Unmap())
		}
	}
	return addrs
}
