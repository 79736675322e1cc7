package seed

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// tail keeps the last lines a tool wrote to stderr, bounded in count and
// length: mariadb-backup writes a line per file it copies, and only the
// last ones explain a failure.
type tail struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	max     int
}

const (
	tailLines   = 40
	tailLineLen = 512
)

func newTail() *tail { return &tail{max: tailLines} }

// Write implements io.Writer.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = appendBounded(t.partial, p)
			break
		}
		t.partial = appendBounded(t.partial, p[:i])
		t.push(string(t.partial))
		t.partial = t.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func appendBounded(dst, p []byte) []byte {
	if room := tailLineLen - len(dst); room < len(p) {
		if room <= 0 {
			return dst
		}
		p = p[:room]
	}
	return append(dst, p...)
}

func (t *tail) push(line string) {
	line = strings.TrimRight(line, "\r ")
	if line == "" {
		return
	}
	if len(t.lines) == t.max {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:t.max-1]
	}
	t.lines = append(t.lines, line)
}

// Lines returns the lines kept, oldest first, the unfinished one last.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
	}
	return out
}

// mariabackup prefixes its own lines with "[NN] YYYY-MM-DD hh:mm:ss ",
// the server code it embeds with "YYYY-MM-DD hh:mm:ss N [Level] ".
var (
	linePrefix  = regexp.MustCompile(`^(\[\d+\] )?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\d+ )?`)
	problemLine = regexp.MustCompile(`(?i)error|fatal|fail|denied|cannot|can't|unable|abort|wrapped|corrupt`)
)

// Reason returns the line that best explains a failure: the last one that
// sounds like a problem, else the last line; without timestamps, and with
// every secret replaced.
func (t *tail) Reason(secrets ...string) string {
	lines := t.Lines()
	pick := ""
	for i := len(lines) - 1; i >= 0; i-- {
		if problemLine.MatchString(lines[i]) {
			pick = lines[i]
			break
		}
	}
	if pick == "" && len(lines) > 0 {
		pick = lines[len(lines)-1]
	}
	return redact(linePrefix.ReplaceAllString(pick, ""), secrets...)
}

// redact makes s one line without any of secrets in it.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
