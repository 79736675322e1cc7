package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// markdownLink is [text](target) outside code; the target has no spaces.
var markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// slug is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces to hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a Markdown file's headings.
func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	as := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(line, "#") {
			as[slug(strings.TrimLeft(line, "#"))] = true
		}
	}
	return as
}

// TestDocLinks checks every relative link of the project's Markdown: the
// file exists, and the heading an anchor names exists (a renamed heading
// left links to "Never an empty primary" pointing nowhere).
func TestDocLinks(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	docs := []string{"README.md", "deploy/README.md", "deploy/compose/README.md", "images/README.md", "deploy/helm/mysql-bootstrap/README.md"}
	more, err := filepath.Glob(filepath.Join(root, "deploy", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		rel, _ := filepath.Rel(root, m)
		docs = append(docs, filepath.ToSlash(rel))
	}
	if len(more) < 2 {
		t.Fatalf("deploy/docs has %d Markdown files, want alerts.md and upgrade.md", len(more))
	}
	checked := 0
	for _, doc := range docs {
		path := filepath.Join(root, filepath.FromSlash(doc))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		inCode := false
		for n, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "```") {
				inCode = !inCode
			}
			if inCode {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				file, anchor, _ := strings.Cut(target, "#")
				dest := path
				if file != "" {
					dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s:%d links %s, which does not exist", doc, n+1, target)
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest)[anchor] {
					t.Errorf("%s:%d links %s: no heading of %s has the anchor #%s", doc, n+1, target, filepath.Base(dest), anchor)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links checked: the link pattern broke", checked)
	}
}

func TestSlug(t *testing.T) {
	t.Parallel()
	for heading, want := range map[string]string{
		" An empty primary":                               "an-empty-primary",
		" Any name, several clusters per namespace":       "any-name-several-clusters-per-namespace",
		" Replicas only: no `mysql-replicas` Service yet": "replicas-only-no-mysql-replicas-service-yet",
		" MySQLBootstrapNotReady":                         "mysqlbootstrapnotready",
		" Server: a new series":                           "server-a-new-series",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}
