package seed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// tokenLabel binds a token to its use: the same secret (the replication
// password) must not yield something that works anywhere else.
const tokenLabel = "mysql-bootstrap seed backup v1"

// Token returns the bearer token that authorises a backup request at now:
// HMAC-SHA256, keyed by secret, of a fixed label and the current minute
// since the Unix epoch. The secret itself never travels; a token stays
// valid for one to three minutes (the donor accepts the adjacent minutes
// too, for clock skew and for a request made at the turn of a minute).
func Token(secret string, now time.Time) string {
	return tokenAt(secret, minuteOf(now))
}

func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

func tokenAt(secret string, minute int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(tokenLabel))
	m.Write([]byte{'\n'})
	m.Write(strconv.AppendInt(nil, minute, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// validToken reports whether got is the token of secret for now's minute
// or an adjacent one. Every candidate is compared, in constant time, so
// that the answer's timing says nothing about which one (if any) matched.
func validToken(secret, got string, now time.Time) bool {
	if secret == "" || got == "" {
		return false
	}
	ok := 0
	m := minuteOf(now)
	for d := int64(-1); d <= 1; d++ {
		if hmac.Equal([]byte(tokenAt(secret, m+d)), []byte(got)) {
			ok++
		}
	}
	return ok > 0
}

// bearer returns the token of an Authorization header value, or "".
func bearer(h string) string {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return ""
	}
	return strings.TrimSpace(h[len(p):])
}
