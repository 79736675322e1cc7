package decide

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the decision core free of I/O by its import
// graph: no package that reaches a network, a file or a process.
func TestPureImports(t *testing.T) {
	t.Parallel()
	allowed := map[string]bool{
		"fmt": true, "maps": true, "net/netip": true, "slices": true, "strings": true, "time": true,
		"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect": true,
		"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire":       true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %s: the decision core must stay pure (gather in bootstrap/observe.go, act in bootstrap/act.go)", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files read")
	}
}
