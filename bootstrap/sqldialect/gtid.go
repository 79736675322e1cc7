package sqldialect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MariaDBGTID is one MariaDB global transaction ID, domain-server-sequence.
type MariaDBGTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

// String returns the GTID as MariaDB writes it, like "0-101-42".
func (g MariaDBGTID) String() string {
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq)
}

// ErrBadGTID is wrapped by the GTID parsers' errors.
var ErrBadGTID = errors.New("malformed MariaDB GTID list")

// ParseMariaDBGTIDList parses a MariaDB GTID list such as the value of
// gtid_binlog_state, gtid_slave_pos or Gtid_IO_Pos: comma-separated
// domain-server-sequence triples, with white space (newlines included)
// allowed around each. An empty or all-blank string is the empty list.
func ParseMariaDBGTIDList(s string) ([]MariaDBGTID, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	list := make([]MariaDBGTID, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		fields := strings.Split(p, "-")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%w %q: %q is not domain-server-sequence", ErrBadGTID, s, p)
		}
		domain, err1 := strconv.ParseUint(fields[0], 10, 32)
		server, err2 := strconv.ParseUint(fields[1], 10, 32)
		seq, err3 := strconv.ParseUint(fields[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil || !allDigits(fields[0]) || !allDigits(fields[1]) || !allDigits(fields[2]) {
			return nil, fmt.Errorf("%w %q: %q is not domain-server-sequence of unsigned numbers", ErrBadGTID, s, p)
		}
		list = append(list, MariaDBGTID{Domain: uint32(domain), ServerID: uint32(server), Seq: seq})
	}
	return list, nil
}

// allDigits rejects the "+1" that strconv.ParseUint would accept.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// MariaDBGTIDSubset reports whether every transaction in replicaState is
// also in primaryState, both in gtid_binlog_state form (see
// GTIDExecutedQuery): it is true when every (domain, server_id) in the
// replica appears in the primary with a sequence number at least as high.
// False means the replica has errant transactions (local writes the
// primary never had, or more than the primary kept). An empty replica state
// is a subset of anything.
func MariaDBGTIDSubset(replicaState, primaryState string) (bool, error) {
	replica, err := ParseMariaDBGTIDList(replicaState)
	if err != nil {
		return false, fmt.Errorf("replica GTID state: %w", err)
	}
	primary, err := ParseMariaDBGTIDList(primaryState)
	if err != nil {
		return false, fmt.Errorf("primary GTID state: %w", err)
	}
	type key struct{ domain, server uint32 }
	highest := make(map[key]uint64, len(primary))
	for _, g := range primary {
		k := key{g.Domain, g.ServerID}
		if seq, ok := highest[k]; !ok || g.Seq > seq {
			highest[k] = g.Seq
		}
	}
	for _, g := range replica {
		seq, ok := highest[key{g.Domain, g.ServerID}]
		if !ok || g.Seq > seq {
			return false, nil
		}
	}
	return true, nil
}
