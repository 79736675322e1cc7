package sqldialect

import "strings"

// HasReplicationGrant reports whether the SHOW GRANTS lines give the
// account what a replica needs on its source: REPLICATION SLAVE (MariaDB
// also spells it REPLICATION REPLICA) or ALL [PRIVILEGES], on *.*. Grants
// on a single database or table never count, since the privilege is global.
func HasReplicationGrant(grantLines []string) bool {
	for _, line := range grantLines {
		privs, object, ok := splitGrant(line)
		if !ok || object != "*.*" {
			continue
		}
		for _, p := range splitTopLevel(privs, ',') {
			switch strings.ToUpper(strings.Join(strings.Fields(p), " ")) {
			case "REPLICATION SLAVE", "REPLICATION REPLICA", "ALL", "ALL PRIVILEGES":
				return true
			}
		}
	}
	return false
}

// splitGrant splits "GRANT <privileges> ON <object> TO …" into its
// privilege list and object. Quoted names and column lists in parentheses
// are skipped over, so a name containing " ON " cannot fool it. Lines of
// another shape (role grants, which have no ON) give ok=false.
func splitGrant(line string) (privs, object string, ok bool) {
	s := strings.TrimSpace(line)
	if len(s) < 6 || !strings.EqualFold(s[:6], "GRANT ") {
		return "", "", false
	}
	s = s[6:]
	on := indexTopLevelWord(s, "ON")
	if on < 0 {
		return "", "", false
	}
	rest := strings.TrimLeft(s[on+2:], " \t\r\n")
	end := len(rest)
	scanTopLevel(rest, func(i int) bool {
		if isSpace(rest[i]) {
			end = i
			return true
		}
		return false
	})
	return s[:on], rest[:end], true
}

// indexTopLevelWord returns the index of the first occurrence of word
// (case-insensitive, delimited by white space) outside quotes and
// parentheses, or -1.
func indexTopLevelWord(s, word string) int {
	found := -1
	scanTopLevel(s, func(i int) bool {
		if i > 0 && isSpace(s[i-1]) && len(s)-i > len(word) &&
			strings.EqualFold(s[i:i+len(word)], word) && isSpace(s[i+len(word)]) {
			found = i
			return true
		}
		return false
	})
	return found
}

// splitTopLevel splits s at sep outside quotes and parentheses.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	start := 0
	scanTopLevel(s, func(i int) bool {
		if s[i] == sep {
			parts = append(parts, s[start:i])
			start = i + 1
		}
		return false
	})
	return append(parts, s[start:])
}

// scanTopLevel calls visit with the index of every byte of s that is
// outside backtick, single- or double-quoted strings and parentheses,
// until visit returns true. Doubled quotes and backslash escapes inside
// strings are honoured.
func scanTopLevel(s string, visit func(i int) bool) {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			switch {
			case c == '\\' && quote != '`':
				i++
			case c == quote && i+1 < len(s) && s[i+1] == quote:
				i++
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '`', '\'', '"':
			quote = c
			continue
		case '(':
			depth++
			continue
		case ')':
			if depth > 0 {
				depth--
			}
			continue
		}
		if depth == 0 && visit(i) {
			return
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
