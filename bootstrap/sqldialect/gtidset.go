package sqldialect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GTIDSet is a set of transactions as either flavour reports it, with the
// set arithmetic the sidecar needs done in Go, so that decisions about
// errant transactions, purged logs and catching up need no server round
// trip and can be unit-tested.
//
//   - MySQL: a gtid_executed / gtid_purged value, "uuid:1-5:7,uuid2:1-3",
//     with 8.3's tags ("uuid:1-5:tag:1-2", the intervals after a tag belong
//     to it). Every transaction is a member.
//   - MariaDB: a gtid_binlog_state value, "0-100-42,0-101-3": the last
//     sequence number of every (domain, server_id). The set of a state is
//     taken as every sequence number up to the last one of each pair, which
//     is what a server that logged them holds (gtid_strict_mode keeps them
//     in order). A Gtid_IO_Pos or gtid_slave_pos value parses the same way.
//
// The zero value is the empty set of no particular flavour. A GTIDSet is
// immutable.
type GTIDSet struct {
	flavor Flavor
	// MySQL: intervals per source (uuid, tag), sorted, merged.
	mysql map[gtidSource][]gtidInterval
	// MariaDB: the highest sequence number per (domain, server_id).
	maria map[mariaKey]uint64
}

type gtidSource struct{ uuid, tag string }

type gtidInterval struct{ lo, hi uint64 } // inclusive

type mariaKey struct{ domain, server uint32 }

// ParseGTIDSet parses s as a GTID set of flavor f. Blank is the empty set.
func ParseGTIDSet(f Flavor, s string) (GTIDSet, error) {
	switch f {
	case MariaDB:
		list, err := ParseMariaDBGTIDList(s)
		if err != nil {
			return GTIDSet{}, err
		}
		g := GTIDSet{flavor: MariaDB, maria: map[mariaKey]uint64{}}
		for _, x := range list {
			k := mariaKey{x.Domain, x.ServerID}
			g.maria[k] = max(g.maria[k], x.Seq)
		}
		return g, nil
	case MySQL:
		return parseMySQLGTIDSet(s)
	}
	return GTIDSet{}, fmt.Errorf("%w: GTID set of unknown flavour %v", ErrBadGTID, f)
}

// MustParseGTIDSet is ParseGTIDSet for constants in tests; it panics on
// error.
func MustParseGTIDSet(f Flavor, s string) GTIDSet {
	g, err := ParseGTIDSet(f, s)
	if err != nil {
		panic(err)
	}
	return g
}

func parseMySQLGTIDSet(s string) (GTIDSet, error) {
	g := GTIDSet{flavor: MySQL, mysql: map[gtidSource][]gtidInterval{}}
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	if strings.TrimSpace(s) == "" {
		return g, nil
	}
	bad := func(part, why string) error {
		return fmt.Errorf("%w %q: %q %s", ErrBadGTID, s, part, why)
	}
	for _, block := range strings.Split(s, ",") {
		block = strings.TrimSpace(block)
		fields := strings.Split(block, ":")
		uuid := strings.ToLower(fields[0])
		if !isUUID(uuid) {
			return GTIDSet{}, bad(block, "does not start with a server UUID")
		}
		if len(fields) < 2 {
			return GTIDSet{}, bad(block, "has no interval")
		}
		src := gtidSource{uuid: uuid}
		sawInterval := false
		for _, f := range fields[1:] {
			if f == "" {
				return GTIDSet{}, bad(block, "has an empty field")
			}
			if !isDigit(f[0]) {
				if !isTag(f) {
					return GTIDSet{}, bad(block, "has an invalid tag "+strconv.Quote(f))
				}
				src.tag = strings.ToLower(f)
				continue
			}
			lo, hi, ok := parseInterval(f)
			if !ok {
				return GTIDSet{}, bad(block, "has an invalid interval "+strconv.Quote(f))
			}
			g.mysql[src] = addInterval(g.mysql[src], gtidInterval{lo, hi})
			sawInterval = true
		}
		if !sawInterval {
			return GTIDSet{}, bad(block, "has no interval")
		}
	}
	return g, nil
}

func parseInterval(f string) (lo, hi uint64, ok bool) {
	a, b, isRange := strings.Cut(f, "-")
	if !allDigits(a) || isRange && !allDigits(b) {
		return 0, 0, false
	}
	lo, err := strconv.ParseUint(a, 10, 63)
	if err != nil || lo == 0 {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.ParseUint(b, 10, 63); err != nil || hi < lo {
			return 0, 0, false
		}
	}
	return lo, hi, true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// isTag: a letter or underscore, then letters, digits and underscores, at
// most 32 characters (MySQL 8.3's rule for GTID tags).
func isTag(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z' || s[i] == '_' || i > 0 && isDigit(s[i])) {
			return false
		}
	}
	return true
}

// addInterval inserts iv into a sorted list of disjoint, non-adjacent
// intervals, merging as needed.
func addInterval(list []gtidInterval, iv gtidInterval) []gtidInterval {
	out := make([]gtidInterval, 0, len(list)+1)
	i := 0
	for ; i < len(list) && list[i].hi+1 < iv.lo; i++ {
		out = append(out, list[i])
	}
	for ; i < len(list) && list[i].lo <= iv.hi+1; i++ {
		iv.lo, iv.hi = min(iv.lo, list[i].lo), max(iv.hi, list[i].hi)
	}
	out = append(out, iv)
	return append(out, list[i:]...)
}

// subtractIntervals returns a minus b, both sorted and disjoint.
func subtractIntervals(a, b []gtidInterval) []gtidInterval {
	var out []gtidInterval
	j := 0
	for _, iv := range a {
		lo := iv.lo
		for j < len(b) && b[j].hi < lo {
			j++
		}
		k := j
		for ; k < len(b) && b[k].lo <= iv.hi; k++ {
			if b[k].lo > lo {
				out = append(out, gtidInterval{lo, b[k].lo - 1})
			}
			if b[k].hi >= iv.hi {
				lo = iv.hi + 1
				break
			}
			lo = b[k].hi + 1
		}
		if lo <= iv.hi {
			out = append(out, gtidInterval{lo, iv.hi})
		}
	}
	return out
}

// Flavor returns the flavour s was parsed as (zero for the zero set).
func (s GTIDSet) Flavor() Flavor { return s.flavor }

// IsEmpty reports whether s holds no transaction.
func (s GTIDSet) IsEmpty() bool { return len(s.mysql) == 0 && len(s.maria) == 0 }

// compatible reports whether s and o can be combined: same flavour, or one
// of them the zero set.
func (s GTIDSet) compatible(o GTIDSet) (Flavor, bool) {
	switch {
	case s.flavor == o.flavor:
		return s.flavor, true
	case s.IsEmpty() && s.flavor == 0:
		return o.flavor, true
	case o.IsEmpty() && o.flavor == 0:
		return s.flavor, true
	}
	return 0, false
}

// Contains reports whether every transaction of o is in s. Sets of
// different flavours contain each other only when the smaller is empty.
func (s GTIDSet) Contains(o GTIDSet) bool {
	return o.Minus(s).IsEmpty()
}

// Equal reports whether s and o hold the same transactions.
func (s GTIDSet) Equal(o GTIDSet) bool { return s.Contains(o) && o.Contains(s) }

// AppliedUpTo reports whether a server whose transactions are s has
// applied everything o holds, as replication orders it: for MySQL, s
// contains o; for MariaDB, in every domain of o, s has reached o's highest
// sequence number (under gtid_strict_mode a domain's numbers only grow, so
// every transaction of that domain up to it is in s, whichever server_id
// logged it, even when s's state names fewer server_ids). It says nothing
// of transactions s has that o lacks.
func (s GTIDSet) AppliedUpTo(o GTIDSet) bool {
	f, ok := s.compatible(o)
	if !ok {
		return o.IsEmpty()
	}
	if f != MariaDB {
		return s.Contains(o)
	}
	reached := map[uint32]uint64{}
	for k, seq := range s.maria {
		reached[k.domain] = max(reached[k.domain], seq)
	}
	for k, seq := range o.maria {
		if reached[k.domain] < seq {
			return false
		}
	}
	return true
}

// Minus returns the transactions of s that o lacks. For MariaDB that is,
// per (domain, server_id), the sequence numbers above o's last one,
// written as the state entry "domain-server-last" of s.
func (s GTIDSet) Minus(o GTIDSet) GTIDSet {
	f, ok := s.compatible(o)
	if !ok {
		return s
	}
	switch f {
	case MySQL:
		out := GTIDSet{flavor: MySQL, mysql: map[gtidSource][]gtidInterval{}}
		for src, ivs := range s.mysql {
			if rest := subtractIntervals(ivs, o.mysql[src]); len(rest) > 0 {
				out.mysql[src] = rest
			}
		}
		return out
	case MariaDB:
		out := GTIDSet{flavor: MariaDB, maria: map[mariaKey]uint64{}}
		for k, seq := range s.maria {
			if seq > o.maria[k] {
				out.maria[k] = seq
			}
		}
		return out
	}
	return GTIDSet{}
}

// Union returns the transactions in s or o (for MariaDB, the higher last
// sequence number of each pair). Sets of different flavours give s.
func (s GTIDSet) Union(o GTIDSet) GTIDSet {
	f, ok := s.compatible(o)
	if !ok {
		return s
	}
	switch f {
	case MySQL:
		out := GTIDSet{flavor: MySQL, mysql: map[gtidSource][]gtidInterval{}}
		for _, in := range []GTIDSet{s, o} {
			for src, ivs := range in.mysql {
				for _, iv := range ivs {
					out.mysql[src] = addInterval(out.mysql[src], iv)
				}
			}
		}
		return out
	case MariaDB:
		out := GTIDSet{flavor: MariaDB, maria: map[mariaKey]uint64{}}
		for _, in := range []GTIDSet{s, o} {
			for k, seq := range in.maria {
				out.maria[k] = max(out.maria[k], seq)
			}
		}
		return out
	}
	return GTIDSet{}
}

// Origins returns who wrote the transactions of s: MySQL server UUIDs
// (lowercase), MariaDB server_ids in decimal, sorted, without repeats.
func (s GTIDSet) Origins() []string {
	seen := map[string]bool{}
	for src := range s.mysql {
		seen[src.uuid] = true
	}
	for k := range s.maria {
		seen[strconv.FormatUint(uint64(k.server), 10)] = true
	}
	out := make([]string, 0, len(seen))
	for o := range seen {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Without returns s without the transactions written by origin (a MySQL
// server UUID, or a MariaDB server_id in decimal).
func (s GTIDSet) Without(origin string) GTIDSet {
	out := GTIDSet{flavor: s.flavor}
	if s.mysql != nil {
		out.mysql = map[gtidSource][]gtidInterval{}
		for src, ivs := range s.mysql {
			if !strings.EqualFold(src.uuid, origin) {
				out.mysql[src] = ivs
			}
		}
	}
	if s.maria != nil {
		out.maria = map[mariaKey]uint64{}
		for k, seq := range s.maria {
			if strconv.FormatUint(uint64(k.server), 10) != origin {
				out.maria[k] = seq
			}
		}
	}
	return out
}

// OnlyFrom reports whether every transaction of s was written by origin
// (a MySQL server UUID, or a MariaDB server_id in decimal).
func (s GTIDSet) OnlyFrom(origin string) bool {
	for _, o := range s.Origins() {
		if !strings.EqualFold(o, origin) {
			return false
		}
	}
	return true
}

// Count returns the number of transactions in s (for MariaDB, the sum of
// the last sequence numbers), saturating at the largest uint64.
func (s GTIDSet) Count() uint64 {
	var n uint64
	add := func(d uint64) {
		if n+d < n {
			n = ^uint64(0)
		} else {
			n += d
		}
	}
	for _, ivs := range s.mysql {
		for _, iv := range ivs {
			add(iv.hi - iv.lo + 1)
		}
	}
	for _, seq := range s.maria {
		add(seq)
	}
	return n
}

// CountNotIn returns how many transactions of s o lacks: for MariaDB the
// sequence numbers between o's last and s's last of each pair.
func (s GTIDSet) CountNotIn(o GTIDSet) uint64 {
	if s.flavor != MariaDB {
		return s.Minus(o).Count()
	}
	var n uint64
	for k, seq := range s.maria {
		if seq > o.maria[k] {
			n += seq - o.maria[k]
		}
	}
	return n
}

// String renders s in the server's own notation, in a stable order:
// sources by UUID with untagged intervals first, MariaDB entries by domain
// and server_id. The empty set is "".
func (s GTIDSet) String() string {
	var b strings.Builder
	if len(s.mysql) > 0 {
		srcs := make([]gtidSource, 0, len(s.mysql))
		for src := range s.mysql {
			srcs = append(srcs, src)
		}
		sort.Slice(srcs, func(i, j int) bool {
			if srcs[i].uuid != srcs[j].uuid {
				return srcs[i].uuid < srcs[j].uuid
			}
			return srcs[i].tag < srcs[j].tag
		})
		last := ""
		for _, src := range srcs {
			if src.uuid != last {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(src.uuid)
				last = src.uuid
			}
			if src.tag != "" {
				b.WriteString(":" + src.tag)
			}
			for _, iv := range s.mysql[src] {
				b.WriteString(":" + strconv.FormatUint(iv.lo, 10))
				if iv.hi != iv.lo {
					b.WriteString("-" + strconv.FormatUint(iv.hi, 10))
				}
			}
		}
	}
	if len(s.maria) > 0 {
		keys := make([]mariaKey, 0, len(s.maria))
		for k := range s.maria {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].domain != keys[j].domain {
				return keys[i].domain < keys[j].domain
			}
			return keys[i].server < keys[j].server
		})
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(MariaDBGTID{Domain: k.domain, ServerID: k.server, Seq: s.maria[k]}.String())
		}
	}
	return b.String()
}
