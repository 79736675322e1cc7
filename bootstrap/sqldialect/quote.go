package sqldialect

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// QuoteString returns s as a single-quoted SQL string literal. Backslash,
// single quote, NUL, newline, carriage return and Ctrl-Z (0x1A) are escaped
// with a backslash, as mysql_real_escape_string does; every other byte is
// copied unchanged, so any password survives the round trip exactly.
//
// The result is only correct when the session's sql_mode lacks
// NO_BACKSLASH_ESCAPES and the connection character set is ASCII-safe
// (utf8mb4); see the package documentation.
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteIdentifier returns s as a backtick-quoted identifier, doubling any
// backtick inside. Quoting is safe for any input; whether the server accepts
// the name (MySQL identifiers cannot contain NUL, nor end in a space) is for
// the caller to know.
func QuoteIdentifier(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// DefaultHost is the account host used when a host is left empty: any host.
const DefaultHost = "%"

// Account returns the quoted account name 'user'@'host' for CREATE USER,
// GRANT and SHOW GRANTS. An empty host means DefaultHost. Account only
// quotes; the statement builders also validate the parts.
func Account(user, host string) string {
	if host == "" {
		host = DefaultHost
	}
	return QuoteString(user) + "@" + QuoteString(host)
}

// ErrInvalidArgument is wrapped by every error about an unusable name,
// password or option, so callers can tell a configuration problem from a
// server one.
var ErrInvalidArgument = errors.New("invalid argument")

// Limits the servers impose; checking them here turns a confusing server
// error (or, for some servers, silent truncation) into a clear one.
const (
	// maxHostLen is MySQL's (8.0.17+) and recent MariaDB's limit on host
	// names in accounts and SOURCE_HOST.
	maxHostLen = 255
	// maxHostLenOldMySQL is the limit before MySQL 8.0.17.
	maxHostLenOldMySQL = 60
	// maxMySQLUserLen is MySQL 8's limit on user names, in characters.
	maxMySQLUserLen = 32
	// maxReplicationPasswordLen is MySQL's limit on SOURCE_PASSWORD, in
	// characters (ER_CHANGE_MASTER_PASSWORD_LENGTH). MariaDB stores the
	// password in a fixed buffer of maxReplicationPasswordBytes bytes.
	maxReplicationPasswordLen   = 32
	maxReplicationPasswordBytes = 96
)

// checkName validates a user or host name: valid UTF-8 and no control
// characters. Quoting would carry anything safely, but names like these are
// always a configuration mistake, and NUL cannot be stored in a name at all.
func checkName(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalidArgument, what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s %q contains control character %U", ErrInvalidArgument, what, s, r)
		}
	}
	return nil
}

// checkPassword validates a password: valid UTF-8 and no NUL. Every other
// character, quotes, backslashes and newlines included, is allowed. The
// value is never put in the error.
func checkPassword(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: password is not valid UTF-8", ErrInvalidArgument)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: password contains a NUL character", ErrInvalidArgument)
	}
	if n := utf8.RuneCountInString(p); n > maxReplicationPasswordLen || len(p) > maxReplicationPasswordBytes {
		return fmt.Errorf("%w: replication password is %d characters (%d bytes): servers accept at most %d characters (%d bytes)",
			ErrInvalidArgument, n, len(p), maxReplicationPasswordLen, maxReplicationPasswordBytes)
	}
	return nil
}

// CheckReplicationPassword reports why a replication password cannot be
// used (invalid UTF-8, a NUL, longer than the servers accept), without
// revealing it, so configuration can be refused before anything changes.
func CheckReplicationPassword(p string) error { return checkPassword(p) }
