package sqldialect

import (
	"errors"
	"fmt"
	"testing"
)

// unquoteMySQL is an independent reading of a single-quoted literal by
// MySQL's rules (sql_mode without NO_BACKSLASH_ESCAPES): a backslash
// escapes the next character (\0 \b \n \r \t \Z are control characters,
// \% and \_ keep their backslash, anything else stands for itself), a
// doubled quote is one quote, and the first lone quote ends the literal,
// which must then be the end of the input.
func unquoteMySQL(lit string) (string, error) {
	if len(lit) < 2 || lit[0] != '\'' {
		return "", errors.New("does not start with a quote")
	}
	var out []byte
	for i := 1; i < len(lit); i++ {
		c := lit[i]
		switch c {
		case '\\':
			i++
			if i == len(lit) {
				return "", errors.New("backslash at the end")
			}
			switch e := lit[i]; e {
			case '0':
				out = append(out, 0)
			case 'b':
				out = append(out, '\b')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'Z':
				out = append(out, 0x1a)
			case '%', '_':
				out = append(out, '\\', e)
			default:
				out = append(out, e)
			}
		case '\'':
			if i+1 < len(lit) && lit[i+1] == '\'' {
				out = append(out, '\'')
				i++
				continue
			}
			if i != len(lit)-1 {
				return "", fmt.Errorf("literal ends at byte %d of %d", i, len(lit))
			}
			return string(out), nil
		default:
			out = append(out, c)
		}
	}
	return "", errors.New("unterminated literal")
}

// unquoteIdentifier reads a backtick-quoted identifier: a doubled backtick
// is one backtick and the first lone one ends it, at the end of the input.
func unquoteIdentifier(q string) (string, error) {
	if len(q) < 2 || q[0] != '`' {
		return "", errors.New("does not start with a backtick")
	}
	var out []byte
	for i := 1; i < len(q); i++ {
		if q[i] != '`' {
			out = append(out, q[i])
			continue
		}
		if i+1 < len(q) && q[i+1] == '`' {
			out = append(out, '`')
			i++
			continue
		}
		if i != len(q)-1 {
			return "", fmt.Errorf("identifier ends at byte %d of %d", i, len(q))
		}
		return string(out), nil
	}
	return "", errors.New("unterminated identifier")
}

func TestQuoteString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `''`},
		{"repl", `'repl'`},
		{"it's", `'it\'s'`},
		{`a\b`, `'a\\b'`},
		{"a\x00b\nc\rd\x1ae", `'a\0b\nc\rd\Ze'`},
		{`"%_` + "\t`", `'"%_` + "\t`'"},
		{"パスワード", `'パスワード'`},
	}
	for _, tc := range tests {
		if got := QuoteString(tc.in); got != tc.want {
			t.Errorf("QuoteString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestQuoteIdentifier(t *testing.T) {
	for in, want := range map[string]string{"db": "`db`", "a`b": "`a``b`", "": "``", "``": "``````"} {
		if got := QuoteIdentifier(in); got != want {
			t.Errorf("QuoteIdentifier(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestAccount(t *testing.T) {
	for _, tc := range []struct{ user, host, want string }{
		{"repl", "", `'repl'@'%'`},
		{"repl", "10.0.%", `'repl'@'10.0.%'`},
		{"o'brien", "%", `'o\'brien'@'%'`},
	} {
		if got := Account(tc.user, tc.host); got != tc.want {
			t.Errorf("Account(%q, %q) = %s, want %s", tc.user, tc.host, got, tc.want)
		}
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range []string{"", "repl", nastyPassword, `\`, `'`, `\'`, `''`, "\x00", "\x1a", `\%\_`, "\xff\xfe", "é'\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := QuoteString(s)
		got, err := unquoteMySQL(q)
		if err != nil {
			t.Fatalf("QuoteString(%q) = %s: %v", s, q, err)
		}
		if got != s {
			t.Fatalf("QuoteString(%q) = %s reads back as %q", s, q, got)
		}
	})
}

func FuzzQuoteIdentifier(f *testing.F) {
	for _, s := range []string{"", "db", "a`b", "`", "``", "a'b\"c", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := QuoteIdentifier(s)
		got, err := unquoteIdentifier(q)
		if err != nil {
			t.Fatalf("QuoteIdentifier(%q) = %s: %v", s, q, err)
		}
		if got != s {
			t.Fatalf("QuoteIdentifier(%q) = %s reads back as %q", s, q, got)
		}
	})
}
