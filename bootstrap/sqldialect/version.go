package sqldialect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Flavor is the server family: MySQL or MariaDB. The zero value is unknown.
type Flavor int

const (
	// MySQL is Oracle MySQL (and compatible builds such as Percona Server).
	MySQL Flavor = iota + 1
	// MariaDB is MariaDB Server.
	MariaDB
)

// String returns "mysql", "mariadb" or "unknown"; it is the spelling used in
// file names and logs.
func (f Flavor) String() string {
	switch f {
	case MySQL:
		return "mysql"
	case MariaDB:
		return "mariadb"
	default:
		return "unknown"
	}
}

// name is the product's own spelling, for messages.
func (f Flavor) name() string {
	switch f {
	case MySQL:
		return "MySQL"
	case MariaDB:
		return "MariaDB"
	default:
		return "unknown server"
	}
}

// Server identifies a server by flavour and version, as reported by
// SELECT VERSION().
type Server struct {
	Flavor              Flavor
	Major, Minor, Patch int
	// Raw is the string ParseVersion was given, trimmed of spaces.
	Raw string
}

// String returns the product and version, like "MariaDB 10.11.19".
func (s Server) String() string {
	return fmt.Sprintf("%s %d.%d.%d", s.Flavor.name(), s.Major, s.Minor, s.Patch)
}

// AtLeast reports whether the server's version is major.minor.patch or later.
// It ignores the flavour: compare only versions of the same flavour.
func (s Server) AtLeast(major, minor, patch int) bool {
	if s.Major != major {
		return s.Major > major
	}
	if s.Minor != minor {
		return s.Minor > minor
	}
	return s.Patch >= patch
}

// ErrBadVersion is wrapped by ParseVersion's errors.
var ErrBadVersion = errors.New("unrecognised server version")

// mariaDBHandshakePrefix is what MariaDB 10.x+ puts in front of its version
// in the protocol handshake so that old clients do not mistake it for
// MySQL 10. SELECT VERSION() does not have it, but accept it anyway.
const mariaDBHandshakePrefix = "5.5.5-"

// ParseVersion parses the result of SELECT VERSION(), such as "8.0.36-log",
// "8.4.3", "10.11.19-MariaDB-0+deb12u1" or "11.4.2-MariaDB-ubu2404". The
// flavour is MariaDB when the text after the version numbers mentions
// "MariaDB", MySQL otherwise. A leading "5.5.5-" (the MariaDB handshake
// prefix) is stripped when a version follows it.
func ParseVersion(s string) (Server, error) {
	raw := strings.TrimSpace(s)
	v := raw
	if rest, ok := strings.CutPrefix(v, mariaDBHandshakePrefix); ok && rest != "" && isDigit(rest[0]) {
		v = rest
	}
	var nums [3]int
	for i := range nums {
		n := 0
		for n < len(v) && isDigit(v[n]) {
			n++
		}
		if n == 0 {
			return Server{}, fmt.Errorf("%w %q: want major.minor.patch", ErrBadVersion, s)
		}
		x, err := strconv.Atoi(v[:n])
		if err != nil || n > 9 {
			return Server{}, fmt.Errorf("%w %q: number %q out of range", ErrBadVersion, s, v[:n])
		}
		nums[i] = x
		v = v[n:]
		if i < 2 {
			if v == "" || v[0] != '.' {
				return Server{}, fmt.Errorf("%w %q: want major.minor.patch", ErrBadVersion, s)
			}
			v = v[1:]
		}
	}
	if v != "" && v[0] != '-' {
		return Server{}, fmt.Errorf("%w %q: unexpected %q after the version number", ErrBadVersion, s, v)
	}
	flavor := MySQL
	if strings.Contains(strings.ToLower(v), "mariadb") {
		flavor = MariaDB
	}
	return Server{Flavor: flavor, Major: nums[0], Minor: nums[1], Patch: nums[2], Raw: raw}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
