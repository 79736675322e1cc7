package testkit

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// generatedMu serialises the rewrites of one test binary: the tests that
// keep README's tables run in parallel and rewrite the same file.
var generatedMu sync.Mutex

// GeneratedBlock keeps the text between begin and end in the file at path
// equal to content, a table generated from the code, so that the docs
// cannot drift from it. With update it rewrites the block instead of
// comparing; hint is the command that does so, named in the failure.
func GeneratedBlock(t testing.TB, path, begin, end, content string, update bool, hint string) {
	t.Helper()
	generatedMu.Lock()
	defer generatedMu.Unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated block (%q ... %q)", path, begin, end)
	}
	want := doc[:i+len(begin)] + content + doc[j:]
	if update {
		if want != doc {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if d := cmp.Diff(want, doc); d != "" {
		t.Errorf("%s's generated block %q is stale (-want +got); run %s:\n%s", path, strings.TrimSpace(begin), hint, d)
	}
}
