package seed

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 30, 15, 0, time.UTC)
	const secret = "repl-secret"
	tok := Token(secret, now)
	if strings.Contains(tok, secret) || len(tok) != 64 {
		t.Fatalf("Token = %q: want 64 hex digits without the secret", tok)
	}
	if again := Token(secret, now.Add(30*time.Second)); again != tok {
		t.Errorf("same minute, other token: %q, %q", tok, again)
	}
	cases := []struct {
		name   string
		secret string
		token  string
		want   bool
	}{
		{"same minute", secret, tok, true},
		{"previous minute", secret, Token(secret, now.Add(-time.Minute)), true},
		{"next minute", secret, Token(secret, now.Add(time.Minute)), true},
		{"two minutes old", secret, Token(secret, now.Add(-2*time.Minute)), false},
		{"two minutes ahead", secret, Token(secret, now.Add(2*time.Minute)), false},
		{"other secret", secret, Token("other", now), false},
		{"no secret on the donor", "", Token("", now), false},
		{"no token", secret, "", false},
		{"the secret itself", secret, secret, false},
		{"prefix of the token", secret, tok[:32], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := validToken(tc.secret, tc.token, now); got != tc.want {
				t.Errorf("validToken = %v, want %v", got, tc.want)
			}
		})
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
	d := &Donor{Secret: func() string { return secret }, MariaBackup: "/nonexistent/mariadb-backup"}
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	noSecret := httptest.NewServer((&Donor{MariaBackup: "/nonexistent/mariadb-backup"}).Handler())
	t.Cleanup(noSecret.Close)

	cases := []struct {
		name   string
		url    string
		method string
		auth   string
		want   int
	}{
		{"no token", srv.URL + "/backup", "GET", "", http.StatusUnauthorized},
		{"wrong secret", srv.URL + "/backup", "GET", "Bearer " + Token("other", time.Now()), http.StatusUnauthorized},
		{"stale token", srv.URL + "/backup", "GET", "Bearer " + Token(secret, time.Now().Add(-5*time.Minute)), http.StatusUnauthorized},
		{"secret as token", srv.URL + "/backup", "GET", "Bearer " + secret, http.StatusUnauthorized},
		{"basic auth", srv.URL + "/backup", "GET", "Basic " + secret, http.StatusUnauthorized},
		{"donor without secret", noSecret.URL + "/backup", "GET", "Bearer " + Token("", time.Now()), http.StatusUnauthorized},
		{"POST", srv.URL + "/backup", "POST", "Bearer " + Token(secret, time.Now()), http.StatusMethodNotAllowed},
		{"other path", srv.URL + "/", "GET", "Bearer " + Token(secret, time.Now()), http.StatusNotFound},
		// A valid token gets as far as starting the tool.
		{"valid token, no tool", srv.URL + "/backup", "GET", "Bearer " + Token(secret, time.Now()), http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
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
