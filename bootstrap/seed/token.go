package seed

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A copy is asked for in two requests to the donor's listener:
//
//	POST /seed/nonce  the donor answers a fresh random nonce (128 bits, hex)
//	                  that it remembers for NonceTTL
//	GET  /backup      Authorization: Bearer v3.<recipient>.<donor>.<nonce>.<unix time>.<mac>
//
// mac is HMAC-SHA256(key, label, recipient, donor, nonce, unix time) with
// key = Key(secret). The donor accepts a token only once (the nonce is
// consumed by the first request that names it, whether that request then
// succeeds or not), only for itself, only within TokenSkew of its clock and
// only for a recipient of its own StatefulSet; a token seen on the wire is
// worth nothing to anyone else. The stream it then sends ends with a keyed
// MAC of the nonce, every byte and every other field of the response the
// recipient acts on (StreamMAC, StreamFields), which the recipient checks
// before it uses any of them and before it prepares anything: a stream, a
// GTID state, a status or a byte count altered in transit, even with a
// matching unkeyed checksum, is refused.
//
// Versions: a v2 token's stream MAC covered the nonce and the body only,
// not the trailers (the donor's gtid_binlog_state among them). Tokens are
// v3 since the MAC covers them, so that a recipient and a donor of
// different versions refuse each other at the request (401, before a byte
// of data moves) rather than after a whole copy whose MAC cannot match.

// keyLabel derives the key all seed MACs use from the shared secret: the
// secret itself (the replication password, or SEED_PASSWORD) keys nothing
// directly, so nothing computed here is worth anything elsewhere.
const keyLabel = "mysql-bootstrap seed key v2"

// tokenLabel and tokenVersion mark a token's MAC and its wire form;
// olderTokens are the versions a donor names when it refuses one.
const (
	tokenLabel   = "mysql-bootstrap seed token v3"
	tokenVersion = "v3"
)

var olderTokens = []string{"v2"}

// streamLabel opens the input of every stream MAC (StreamMAC): a MAC of
// this version can equal no MAC of another (a v2 stream MAC's input
// began with the nonce's hex digits).
const streamLabel = "mysql-bootstrap seed stream v3"

// Limits of the donor's nonces and tokens.
const (
	// NonceTTL is how long an issued nonce may be used.
	NonceTTL = 60 * time.Second
	// TokenSkew is how far a token's time may be from the donor's clock.
	TokenSkew = 60 * time.Second
	// maxNonces bounds the nonces a donor remembers: past it, a request
	// for one more is answered 503 until some expire or are used.
	maxNonces = 256
	// nonceBytes is a nonce's size before hex encoding.
	nonceBytes = 16
)

// Key derives the key of every seed MAC from the shared secret:
// HMAC-SHA256(secret, "mysql-bootstrap seed key v2").
func Key(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(keyLabel))
	return m.Sum(nil)
}

// tokenMAC is the MAC of a token's fields, hex.
func tokenMAC(key []byte, recipient, donor, nonce string, unix int64) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{tokenLabel, recipient, donor, nonce} {
		m.Write([]byte(f))
		m.Write([]byte{'\n'})
	}
	m.Write(strconv.AppendInt(nil, unix, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// Token returns the bearer token that asks donor, once, for a copy for
// recipient (both pod names), with a nonce donor issued, at now.
func Token(key []byte, recipient, donor, nonce string, now time.Time) string {
	unix := now.Unix()
	return strings.Join([]string{tokenVersion, recipient, donor, nonce, strconv.FormatInt(unix, 10),
		tokenMAC(key, recipient, donor, nonce, unix)}, ".")
}

// token is a parsed bearer token.
type token struct {
	recipient, donor, nonce string
	unix                    int64
	mac                     string
}

// parseToken splits a bearer token; ok is false for anything that is not
// one (a pod name has no dot, nor has a nonce, a time or a MAC).
func parseToken(s string) (token, bool) {
	f := strings.Split(s, ".")
	if len(f) != 6 || f[0] != tokenVersion || f[1] == "" || f[2] == "" || !validNonce(f[3]) || len(f[5]) != 2*sha256.Size {
		return token{}, false
	}
	unix, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return token{}, false
	}
	return token{recipient: f[1], donor: f[2], nonce: f[3], unix: unix, mac: f[5]}, true
}

// StreamFields are the fields of a GET /backup response besides its body,
// as sent, that the stream's MAC covers: every trailer the recipient acts
// on, and the two headers it shows while the copy runs. A field not sent
// is "" (the recipient cannot tell one from the other: http.Header.Get).
type StreamFields struct {
	// Trailers: Seed-Status, Seed-Error, Seed-Bytes, Seed-Gtid-Binlog-State.
	Status, Error, Bytes, BinlogState string
	// Headers: Seed-Donor-Replica, Seed-Estimate-Bytes.
	Replica, Estimate string
}

// ResponseFields reads the fields from a response's header and trailer.
func ResponseFields(header, trailer http.Header) StreamFields {
	return StreamFields{
		Status: trailer.Get(TrailerStatus), Error: trailer.Get(TrailerError),
		Bytes: trailer.Get(TrailerBytes), BinlogState: trailer.Get(TrailerBinlogState),
		Replica: header.Get(HeaderReplica), Estimate: header.Get(HeaderEstimate),
	}
}

// named lists the fields in the order the MAC takes them.
func (f StreamFields) named() [6][2]string {
	return [6][2]string{
		{TrailerStatus, f.Status}, {TrailerError, f.Error}, {TrailerBytes, f.Bytes},
		{TrailerBinlogState, f.BinlogState}, {HeaderReplica, f.Replica}, {HeaderEstimate, f.Estimate},
	}
}

// setTrailers sets the trailers of f in h (a ResponseWriter's header once
// the body is written).
func (f StreamFields) setTrailers(h http.Header) {
	named := f.named()
	for _, kv := range named[:4] {
		h.Set(kv[0], kv[1])
	}
}

// fieldValue is s as a header or trailer value arrives: control
// characters become spaces (net/http turns CR and LF into spaces) and
// surrounding spaces go (the reader trims them). The donor sends and MACs
// this form, so what the recipient reads is what was MACed.
func fieldValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = ' '
		}
	}
	return strings.Trim(string(b), " ")
}

// StreamMAC is the keyed MAC of a GET /backup response: HMAC-SHA256 with
// key = Key(secret) of
//
//	len "mysql-bootstrap seed stream v3"  len nonce
//	every byte of the body
//	len name  len value   for each field of StreamFields, in a fixed order
//	the body's length
//
// where len x is x preceded by its length and every length (the body's
// too) is 8 bytes big-endian. The body's length closes the input, so the
// input reads back one way only: no two streams with their fields share
// it. The donor sends it hex in the Seed-Mac trailer (Seal); the recipient
// computes it again from what it received.
type StreamMAC struct {
	h hash.Hash
	n uint64
}

// NewStreamMAC starts the MAC of the stream for the request that named
// nonce.
func NewStreamMAC(key []byte, nonce string) *StreamMAC {
	m := &StreamMAC{h: hmac.New(sha256.New, key)}
	writeLen(m.h, streamLabel)
	writeLen(m.h, nonce)
	return m
}

// Write adds bytes of the body.
func (m *StreamMAC) Write(p []byte) (int, error) {
	m.n += uint64(len(p))
	return m.h.Write(p)
}

// Seal returns the MAC of the body written so far and of f. It does not
// change m.
func (m *StreamMAC) Seal(f StreamFields) []byte {
	c, err := m.h.(hash.Cloner).Clone()
	if err != nil {
		panic("seed: HMAC-SHA256 could not be cloned: " + err.Error()) // the standard library's always can
	}
	for _, kv := range f.named() {
		writeLen(c, kv[0])
		writeLen(c, kv[1])
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], m.n)
	c.Write(n[:])
	return c.Sum(nil)
}

// Sum appends to b the MAC of a complete stream that carries nothing but
// its body: Seal with Status "ok", Bytes the count written, every other
// field empty. A response with more to say (a failure, a GTID state, the
// headers Donor sends) must use Seal.
func (m *StreamMAC) Sum(b []byte) []byte {
	return append(b, m.Seal(StreamFields{Status: statusOK, Bytes: strconv.FormatUint(m.n, 10)})...)
}

// writeLen writes s preceded by its length, 8 bytes big-endian.
func writeLen(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// validNonce: 32 lowercase hex digits.
func validNonce(s string) bool {
	if len(s) != 2*nonceBytes {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// bearer returns the token of an Authorization header value, or "".
func bearer(h string) string {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return ""
	}
	return strings.TrimSpace(h[len(p):])
}

// podOf splits a StatefulSet pod name, <statefulset>-<ordinal>; ok is
// false for anything else.
func podOf(pod string) (statefulSet string, ok bool) {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 || i == len(pod)-1 || len(pod) > 63 {
		return "", false
	}
	digits := pod[i+1:]
	if len(digits) > 1 && digits[0] == '0' {
		return "", false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	for _, c := range []byte(pod[:i]) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "", false
		}
	}
	if pod[0] == '-' {
		return "", false
	}
	return pod[:i], true
}

// Gate is the donor's side of the tokens: it issues nonces and checks the
// token of a request for a copy. Its zero value is ready once Pod and
// Secret are set.
type Gate struct {
	// Pod is the donor's own pod name: a token must be for it, and its
	// recipient a pod of the same StatefulSet.
	Pod string
	// Secret returns the shared secret the key is derived from; without
	// one, no token is valid.
	Secret func() string

	now    func() time.Time
	mu     sync.Mutex
	nonces map[string]time.Time // issued, unused: when each expires
}

// Grant is what a valid token allows: one stream, for Recipient, whose
// MAC (Grant.MAC) is keyed as the token was.
type Grant struct {
	Recipient string
	Nonce     string
	key       []byte
}

// MAC starts the stream's MAC for this grant (StreamMAC).
func (g Grant) MAC() *StreamMAC { return NewStreamMAC(g.key, g.Nonce) }

// errNoNonce: the donor remembers too many nonces already.
var errNoNonce = errors.New("too many outstanding nonces")

func (g *Gate) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// purge forgets expired nonces; g.mu is held.
func (g *Gate) purge(now time.Time) {
	for n, exp := range g.nonces {
		if !now.Before(exp) {
			delete(g.nonces, n)
		}
	}
}

// Issue returns a new nonce, valid for NonceTTL.
func (g *Gate) Issue() (string, error) {
	b := make([]byte, nonceBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	n := hex.EncodeToString(b)
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.nonces == nil {
		g.nonces = map[string]time.Time{}
	}
	g.purge(now)
	if len(g.nonces) >= maxNonces {
		return "", errNoNonce
	}
	g.nonces[n] = now.Add(NonceTTL)
	return n, nil
}

// consume reports whether nonce was issued here, is unexpired and unused,
// and forgets it in any case.
func (g *Gate) consume(nonce string) bool {
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.nonces[nonce]
	delete(g.nonces, nonce)
	return ok && now.Before(exp)
}

// Check checks a request's token. On refusal it returns the status to
// answer (401, or 403 for a valid token whose recipient is not a pod of
// the donor's StatefulSet) and the reason, for the donor's log only: the
// requester learns nothing but the status.
func (g *Gate) Check(r *http.Request) (grant Grant, status int, reason string) {
	raw := bearer(r.Header.Get("Authorization"))
	t, ok := parseToken(raw)
	if !ok {
		for _, v := range olderTokens {
			if strings.HasPrefix(raw, v+".") {
				return Grant{}, http.StatusUnauthorized, "a token of an earlier version (" + v + "): the recipient runs an older mysql-bootstrap; copies between the two fail until both run this one"
			}
		}
		return Grant{}, http.StatusUnauthorized, "missing or malformed token"
	}
	// The nonce goes first, and goes whatever follows: a token is tried
	// once.
	if !g.consume(t.nonce) {
		return Grant{}, http.StatusUnauthorized, "nonce not issued here, already used or expired"
	}
	secret := call(g.Secret)
	if secret == "" {
		return Grant{}, http.StatusUnauthorized, "no secret to check tokens against"
	}
	if t.donor != g.Pod || g.Pod == "" {
		return Grant{}, http.StatusUnauthorized, "token for another donor"
	}
	if d := g.clock().Sub(time.Unix(t.unix, 0)); d > TokenSkew || d < -TokenSkew {
		return Grant{}, http.StatusUnauthorized, "token time more than " + TokenSkew.String() + " from this pod's clock"
	}
	key := Key(secret)
	if !hmac.Equal([]byte(tokenMAC(key, t.recipient, t.donor, t.nonce, t.unix)), []byte(t.mac)) {
		return Grant{}, http.StatusUnauthorized, "wrong MAC (another secret, or fields changed)"
	}
	own, ok := podOf(g.Pod)
	if sts, rok := podOf(t.recipient); !ok || !rok || sts != own || t.recipient == g.Pod {
		return Grant{}, http.StatusForbidden, "recipient " + strconv.Quote(t.recipient) + " is not another pod of this StatefulSet"
	}
	return Grant{Recipient: t.recipient, Nonce: t.nonce, key: key}, 0, ""
}

// ServeNonce answers POST /seed/nonce with a new nonce.
func (g *Gate) ServeNonce(w http.ResponseWriter, r *http.Request) {
	n, err := g.Issue()
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(NonceTTL/time.Second)))
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(n))
}
