package seed

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authFor asks the donor at base for a nonce and returns the
// Authorization header of a token for recipient and donor keyed by secret.
func authFor(t *testing.T, base, secret, recipient, donor string) string {
	t.Helper()
	return "Bearer " + Token(Key(secret), recipient, donor, nonceFrom(t, base), time.Now())
}

// nonceFrom asks the donor at base for a nonce.
func nonceFrom(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Post(base+"/seed/nonce", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !validNonce(string(b)) {
		t.Fatalf("POST /seed/nonce: %s %q", resp.Status, b)
	}
	return string(b)
}

// TestGate checks the donor's side of the tokens: a token is good once,
// for one donor, one recipient of its StatefulSet, one secret, within
// TokenSkew of the donor's clock and NonceTTL of its nonce.
func TestGate(t *testing.T) {
	t.Parallel()
	const secret = "seed-secret"
	now := time.Date(2026, 3, 1, 12, 30, 15, 0, time.UTC)
	clock := now
	g := &Gate{Pod: "db-0", Secret: func() string { return secret }, now: func() time.Time { return clock }}
	key := Key(secret)
	check := func(auth string) int {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/backup", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		_, status, why := g.Check(r)
		if strings.Contains(why, secret) || strings.Contains(why, hex.EncodeToString(key)) {
			t.Errorf("the reason %q shows the secret or the key", why)
		}
		return status
	}
	issue := func() string {
		t.Helper()
		n, err := g.Issue()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	tok := Token(key, "db-1", "db-0", issue(), now)
	if strings.Contains(tok, secret) || strings.Contains(tok, hex.EncodeToString(key)) {
		t.Fatalf("Token = %q shows the secret or the key", tok)
	}
	if got := check("Bearer " + tok); got != 0 {
		t.Fatalf("a good token: status %d", got)
	}
	if got := check("Bearer " + tok); got != http.StatusUnauthorized {
		t.Errorf("the same token again (replay): status %d, want 401", got)
	}

	cases := []struct {
		name string
		auth func(nonce string) string
		want int
	}{
		{"no token", func(string) string { return "" }, 401},
		{"basic auth", func(string) string { return "Basic " + secret }, 401},
		{"the secret itself", func(string) string { return "Bearer " + secret }, 401},
		{"other secret", func(n string) string { return "Bearer " + Token(Key("other"), "db-1", "db-0", n, now) }, 401},
		{"the secret unkeyed", func(n string) string { return "Bearer " + Token([]byte(secret), "db-1", "db-0", n, now) }, 401},
		{"for another donor", func(n string) string { return "Bearer " + Token(key, "db-1", "db-2", n, now) }, 401},
		{"another donor's name, this donor's MAC", func(n string) string {
			return "Bearer " + strings.Replace(Token(key, "db-1", "db-0", n, now), ".db-0.", ".db-2.", 1)
		}, 401},
		{"recipient changed after the MAC", func(n string) string {
			return "Bearer " + strings.Replace(Token(key, "db-1", "db-0", n, now), ".db-1.", ".db-2.", 1)
		}, 401},
		{"a nonce never issued", func(string) string { return "Bearer " + Token(key, "db-1", "db-0", strings.Repeat("ab", 16), now) }, 401},
		{"61 s old", func(n string) string { return "Bearer " + Token(key, "db-1", "db-0", n, now.Add(-61*time.Second)) }, 401},
		{"61 s ahead", func(n string) string { return "Bearer " + Token(key, "db-1", "db-0", n, now.Add(61*time.Second)) }, 401},
		{"59 s old", func(n string) string { return "Bearer " + Token(key, "db-1", "db-0", n, now.Add(-59*time.Second)) }, 0},
		{"recipient of another StatefulSet", func(n string) string { return "Bearer " + Token(key, "other-1", "db-0", n, now) }, 403},
		{"recipient of a longer StatefulSet name", func(n string) string { return "Bearer " + Token(key, "db-0-1", "db-0", n, now) }, 403},
		{"recipient not a pod name", func(n string) string { return "Bearer " + Token(key, "db", "db-0", n, now) }, 403},
		{"the donor itself", func(n string) string { return "Bearer " + Token(key, "db-0", "db-0", n, now) }, 403},
		{"another recipient of the StatefulSet", func(n string) string { return "Bearer " + Token(key, "db-12", "db-0", n, now) }, 0},
	}
	for _, tc := range cases {
		n := issue()
		if got := check(tc.auth(n)); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
		// Whatever the first answer, the nonce is spent if it was named.
		if got := check("Bearer " + Token(key, "db-1", "db-0", n, now)); got == 0 && strings.Contains(tc.auth(n), n) {
			t.Errorf("%s: the nonce still works after a request named it", tc.name)
		}
	}

	// A token of the earlier version, well made: refused, and the donor's
	// log says why.
	r := httptest.NewRequest(http.MethodGet, "/backup", nil)
	r.Header.Set("Authorization", "Bearer "+tokenV2(key, "db-1", "db-0", issue(), now))
	if _, status, why := g.Check(r); status != http.StatusUnauthorized || !strings.Contains(why, "earlier version (v2)") {
		t.Errorf("a v2 token: status %d (%q), want 401 naming the earlier version", status, why)
	}

	// A nonce expires after NonceTTL.
	n := issue()
	clock = now.Add(NonceTTL + time.Second)
	if got := check("Bearer " + Token(key, "db-1", "db-0", n, clock)); got != http.StatusUnauthorized {
		t.Errorf("an expired nonce: status %d, want 401", got)
	}
	clock = now

	// Without a secret, nothing passes.
	g2 := &Gate{Pod: "db-0"}
	n2, err := g2.Issue()
	if err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest(http.MethodGet, "/backup", nil)
	r.Header.Set("Authorization", "Bearer "+Token(Key(""), "db-1", "db-0", n2, time.Now()))
	if _, status, _ := g2.Check(r); status != http.StatusUnauthorized {
		t.Errorf("a donor without a secret: status %d, want 401", status)
	}
}

// TestNoncesBounded: a donor remembers at most maxNonces; once they have
// expired it issues again.
func TestNoncesBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	g := &Gate{Pod: "db-0", Secret: func() string { return "s" }, now: func() time.Time { return now }}
	seen := map[string]bool{}
	for i := range maxNonces {
		n, err := g.Issue()
		if err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
		if seen[n] || !validNonce(n) {
			t.Fatalf("nonce %d: %q (repeated or malformed)", i, n)
		}
		seen[n] = true
	}
	if _, err := g.Issue(); !errors.Is(err, errNoNonce) {
		t.Errorf("nonce %d: %v, want errNoNonce", maxNonces+1, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(g.ServeNonce))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("POST /seed/nonce with no nonce to spare: %s, want 503 with Retry-After", resp.Status)
	}
	now = now.Add(NonceTTL)
	if _, err := g.Issue(); err != nil {
		t.Errorf("once the others expired: %v", err)
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	key := Key("s")
	n := strings.Repeat("0f", 16)
	at := time.Unix(1_800_000_000, 0)
	tok, ok := parseToken(Token(key, "db-1", "db-0", n, at))
	if !ok || tok.recipient != "db-1" || tok.donor != "db-0" || tok.nonce != n || tok.unix != at.Unix() || len(tok.mac) != 64 {
		t.Fatalf("parseToken(Token(...)) = %+v %v", tok, ok)
	}
	v := tokenVersion
	for _, bad := range []string{"", "v1.db-1.db-0." + n + ".1." + tok.mac, v + ".db-1.db-0." + n + ".x." + tok.mac,
		v + ".db-1.db-0." + n[:30] + ".1." + tok.mac, v + ".db-1.db-0." + strings.ToUpper(n) + ".1." + tok.mac,
		v + "..db-0." + n + ".1." + tok.mac, v + ".db-1.db-0." + n + ".1." + tok.mac[:62], v + ".a.b.db-1.db-0." + n + ".1." + tok.mac,
		tokenV2(key, "db-1", "db-0", n, at)} {
		if _, ok := parseToken(bad); ok {
			t.Errorf("parseToken(%q) accepted it", bad)
		}
	}
}

// tokenV2 is a token as the previous version made it (its label, its
// version), whose stream MAC did not cover the trailers.
func tokenV2(key []byte, recipient, donor, nonce string, at time.Time) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{"mysql-bootstrap seed token v2", recipient, donor, nonce} {
		m.Write([]byte(f))
		m.Write([]byte{'\n'})
	}
	m.Write(strconv.AppendInt(nil, at.Unix(), 10))
	return strings.Join([]string{"v2", recipient, donor, nonce, strconv.FormatInt(at.Unix(), 10), hex.EncodeToString(m.Sum(nil))}, ".")
}

// TestStreamMAC pins the MAC's input, as written in StreamMAC's comment
// (donors and recipients of one version must agree byte for byte), and
// checks that moving bytes between the body and the fields, or between
// fields, changes it.
func TestStreamMAC(t *testing.T) {
	t.Parallel()
	key := Key("s")
	nonce := strings.Repeat("0f", 16)
	f := StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9,0-9-3", Replica: "false", Estimate: "100"}

	// The input spelled out.
	var in bytes.Buffer
	lenOf := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		in.Write(n[:])
		in.WriteString(s)
	}
	lenOf("mysql-bootstrap seed stream v3")
	lenOf(nonce)
	in.WriteString("hello")
	for _, kv := range [][2]string{{"Seed-Status", "ok"}, {"Seed-Error", ""}, {"Seed-Bytes", "5"},
		{"Seed-Gtid-Binlog-State", "0-1-9,0-9-3"}, {"Seed-Donor-Replica", "false"}, {"Seed-Estimate-Bytes", "100"}} {
		lenOf(kv[0])
		lenOf(kv[1])
	}
	in.Write([]byte{0, 0, 0, 0, 0, 0, 0, 5})
	want := hmac.New(sha256.New, key)
	want.Write(in.Bytes())

	m := NewStreamMAC(key, nonce)
	m.Write([]byte("hel"))
	m.Write([]byte("lo"))
	got := m.Seal(f)
	if !hmac.Equal(got, want.Sum(nil)) {
		t.Fatalf("Seal = %x, want %x", got, want.Sum(nil))
	}
	if again := m.Seal(f); !hmac.Equal(again, got) {
		t.Errorf("Seal changed the MAC: %x, then %x", got, again)
	}
	if sum, plain := m.Sum([]byte("x")), m.Seal(StreamFields{Status: "ok", Bytes: "5"}); string(sum) != "x"+string(plain) {
		t.Errorf("Sum = %x, want x followed by Seal of an ok stream of 5 bytes %x", sum, plain)
	}

	seal := func(body string, f StreamFields) string {
		m := NewStreamMAC(key, nonce)
		m.Write([]byte(body))
		return hex.EncodeToString(m.Seal(f))
	}
	variants := map[string]string{}
	for name, v := range map[string]struct {
		body string
		f    StreamFields
	}{
		"as sent":                       {"hello", f},
		"a byte of the body":            {"hellp", f},
		"a body byte moved to a field":  {"hell", StreamFields{Status: "ok", Bytes: "5", BinlogState: "o0-1-9,0-9-3", Replica: "false", Estimate: "100"}},
		"state in the error":            {"hello", StreamFields{Status: "ok", Error: "0-1-9,0-9-3", Bytes: "5", Replica: "false", Estimate: "100"}},
		"state split over two fields":   {"hello", StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9,", Replica: "0-9-3false", Estimate: "100"}},
		"state of one server_id":        {"hello", StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9", Replica: "false", Estimate: "100"}},
		"no state":                      {"hello", StreamFields{Status: "ok", Bytes: "5", Replica: "false", Estimate: "100"}},
		"failed":                        {"hello", StreamFields{Status: "failed", Bytes: "5", BinlogState: "0-1-9,0-9-3", Replica: "false", Estimate: "100"}},
		"another count":                 {"hello", StreamFields{Status: "ok", Bytes: "6", BinlogState: "0-1-9,0-9-3", Replica: "false", Estimate: "100"}},
		"another estimate":              {"hello", StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9,0-9-3", Replica: "false", Estimate: "10"}},
		"a replica":                     {"hello", StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9,0-9-3", Replica: "true", Estimate: "100"}},
		"the estimate's digit in state": {"hello", StreamFields{Status: "ok", Bytes: "5", BinlogState: "0-1-9,0-9-31", Replica: "false", Estimate: "00"}},
	} {
		mac := seal(v.body, v.f)
		if other, dup := variants[mac]; dup {
			t.Errorf("%q and %q have the same MAC", name, other)
		}
		variants[mac] = name
	}
	// The previous version's MAC (nonce and body only) is never this one.
	old := hmac.New(sha256.New, key)
	old.Write([]byte(nonce + "hello"))
	if name, dup := variants[hex.EncodeToString(old.Sum(nil))]; dup {
		t.Errorf("the v2 MAC of the stream equals %q's", name)
	}
}

// TestFieldValue: what the donor MACs is what the recipient reads, after
// net/http sent and parsed it as a trailer.
func TestFieldValue(t *testing.T) {
	t.Parallel()
	values := []string{"plain", "  padded\t", "two\nlines\r\n", "a\x00nul and \x7f del", "mariadb-backup: exit status 1: [ERROR] Access denied for user 'seed'", "ünïcode ✓", ""}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for i := range values {
			names = append(names, "Seed-Test-"+strconv.Itoa(i))
		}
		w.Header().Set("Trailer", strings.Join(names, ", "))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("body"))
		for i, v := range values {
			w.Header().Set(names[i], fieldValue(v))
		}
	}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		sent := fieldValue(v)
		if got := resp.Trailer.Get("Seed-Test-" + strconv.Itoa(i)); got != sent {
			t.Errorf("%q: sent and MACed as %q, read as %q", v, sent, got)
		}
		if fieldValue(sent) != sent {
			t.Errorf("fieldValue(%q) = %q is not its own fieldValue", v, sent)
		}
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer  abc ": "abc",
		"BEARER abc":   "abc",
		"Basic abc":    "",
		"Bearer":       "",
		"Bearer ":      "",
		"":             "",
	} {
		if got := bearer(in); got != want {
			t.Errorf("bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHandlerRefuses checks what the donor answers before it starts
// anything (no server needed: the tool is never run).
func TestHandlerRefuses(t *testing.T) {
	t.Parallel()
	const secret = "s3cret"
	d := &Donor{Pod: "db-0", Secret: func() string { return secret }, MariaBackup: "/nonexistent/mariadb-backup"}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	noSecret := httptest.NewServer((&Donor{Pod: "db-0", MariaBackup: "/nonexistent/mariadb-backup"}).Handler())
	t.Cleanup(noSecret.Close)
	tok := func(base, secret string) func() string {
		return func() string { return authFor(t, base, secret, "db-1", "db-0") }
	}

	cases := []struct {
		name   string
		url    string
		method string
		auth   func() string
		want   int
	}{
		{"no token", srv.URL + "/backup", "GET", nil, http.StatusUnauthorized},
		{"wrong secret", srv.URL + "/backup", "GET", tok(srv.URL, "other"), http.StatusUnauthorized},
		{"stale token", srv.URL + "/backup", "GET", func() string {
			return "Bearer " + Token(Key(secret), "db-1", "db-0", nonceFrom(t, srv.URL), time.Now().Add(-5*time.Minute))
		}, http.StatusUnauthorized},
		{"nonce of another donor", srv.URL + "/backup", "GET", func() string {
			return "Bearer " + Token(Key(secret), "db-1", "db-0", nonceFrom(t, noSecret.URL), time.Now())
		}, http.StatusUnauthorized},
		{"secret as token", srv.URL + "/backup", "GET", func() string { return "Bearer " + secret }, http.StatusUnauthorized},
		{"basic auth", srv.URL + "/backup", "GET", func() string { return "Basic " + secret }, http.StatusUnauthorized},
		{"donor without secret", noSecret.URL + "/backup", "GET", tok(noSecret.URL, ""), http.StatusUnauthorized},
		{"recipient of another StatefulSet", srv.URL + "/backup", "GET", func() string {
			return "Bearer " + Token(Key(secret), "other-1", "db-0", nonceFrom(t, srv.URL), time.Now())
		}, http.StatusForbidden},
		{"POST", srv.URL + "/backup", "POST", tok(srv.URL, secret), http.StatusMethodNotAllowed},
		{"GET nonce", srv.URL + "/seed/nonce", "GET", nil, http.StatusMethodNotAllowed},
		{"other path", srv.URL + "/", "GET", tok(srv.URL, secret), http.StatusNotFound},
		// A valid token gets as far as starting the tool.
		{"valid token, no tool", srv.URL + "/backup", "GET", tok(srv.URL, secret), http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, nil)
			if tc.auth != nil {
				req.Header.Set("Authorization", tc.auth())
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			// The answer says no more than its status.
			if resp.StatusCode == 401 || resp.StatusCode == 403 {
				if got := strings.TrimSpace(string(b)); got != http.StatusText(resp.StatusCode) {
					t.Errorf("body %q: want only %q", got, http.StatusText(resp.StatusCode))
				}
			}
		})
	}
}

func TestOptionValue(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`plain`:      `"plain"`,
		`a"b`:        `"a\"b"`,
		`a\b`:        `"a\\b"`,
		`it's #1 ;x`: `"it's #1 ;x"`,
		"two\nlines": `"two\nlines"`,
	} {
		if got := optionValue(in); got != want {
			t.Errorf("optionValue(%q) = %s, want %s", in, got, want)
		}
	}
}
