package sqldialect

import "strings"

// Grants is what SHOW GRANTS says of the replication account.
type Grants struct {
	// Replication: REPLICATION SLAVE (MariaDB also spells it REPLICATION
	// REPLICA) on *.*, granted directly. ALL PRIVILEGES does not count:
	// an account with it is not one this tool made.
	Replication bool
	// BackupAdmin: BACKUP_ADMIN on *.*, which a MySQL clone donor's
	// account needs; part of what this tool grants there, not extra.
	BackupAdmin bool
	// Extra lists every other privilege or role, as "PRIVILEGE ON object"
	// or "role `name`", in the order SHOW GRANTS gave them. USAGE and the
	// marker role (MarkerRole) are not extra. Passwords and hashes that
	// MariaDB shows in grant lines never appear here.
	Extra []string
}

// ClassifyGrants reads the lines of SHOW GRANTS FOR the replication
// account.
func ClassifyGrants(grantLines []string) Grants {
	var g Grants
	for _, line := range grantLines {
		privs, object, ok := splitGrant(line)
		if !ok {
			if role, ok := roleGrant(line); ok {
				if !strings.EqualFold(strings.Trim(role, "`'\""), MarkerRole) {
					g.Extra = append(g.Extra, "role "+role)
				}
				continue
			}
			g.Extra = append(g.Extra, "unrecognised grant")
			continue
		}
		for _, p := range splitTopLevel(privs, ',') {
			p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
			switch {
			case p == "USAGE":
			case (p == "REPLICATION SLAVE" || p == "REPLICATION REPLICA") && object == "*.*":
				g.Replication = true
			case p == "BACKUP_ADMIN" && object == "*.*":
				g.BackupAdmin = true
			default:
				g.Extra = append(g.Extra, p+" ON "+object)
			}
		}
	}
	return g
}

// roleGrant returns the role of "GRANT `role` TO …" (MariaDB) or
// "GRANT `role`@`%` TO …" (MySQL).
func roleGrant(line string) (string, bool) {
	s := strings.TrimSpace(line)
	if len(s) < 6 || !strings.EqualFold(s[:6], "GRANT ") {
		return "", false
	}
	s = s[6:]
	to := indexTopLevelWord(s, "TO")
	if to < 0 {
		return "", false
	}
	role := strings.TrimSpace(s[:to])
	if at := strings.Index(role, "@"); at > 0 {
		role = role[:at]
	}
	return role, role != ""
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
