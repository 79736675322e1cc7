package seed

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
//	GET  /backup      Authorization: Bearer v2.<recipient>.<donor>.<nonce>.<unix time>.<mac>
//
// mac is HMAC-SHA256(key, label, recipient, donor, nonce, unix time) with
// key = Key(secret). The donor accepts a token only once (the nonce is
// consumed by the first request that names it, whether that request then
// succeeds or not), only for itself, only within TokenSkew of its clock and
// only for a recipient of its own StatefulSet; a token seen on the wire is
// worth nothing to anyone else. The stream it then sends ends with a keyed
// MAC of the nonce and every byte (StreamMAC), which the recipient checks
// before it prepares anything: a stream altered in transit, even with a
// matching unkeyed checksum, is refused.

// keyLabel derives the key all seed MACs use from the shared secret: the
// secret itself (the replication password, or SEED_PASSWORD) keys nothing
// directly, so nothing computed here is worth anything elsewhere.
const keyLabel = "mysql-bootstrap seed key v2"

// tokenLabel and tokenVersion mark a token's MAC and its wire form.
const (
	tokenLabel   = "mysql-bootstrap seed token v2"
	tokenVersion = "v2"
)

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

// StreamMAC returns the keyed MAC of a stream for the request that named
// nonce: HMAC-SHA256(key, nonce || every byte of the stream). The donor
// sends it hex in the Seed-Mac trailer; the recipient computes it again.
func StreamMAC(key []byte, nonce string) hash.Hash {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonce))
	return m
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

// MAC returns the stream's MAC for this grant (StreamMAC).
func (g Grant) MAC() hash.Hash { return StreamMAC(g.key, g.Nonce) }

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
	t, ok := parseToken(bearer(r.Header.Get("Authorization")))
	if !ok {
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
