package bootstrap

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderServerConfigGolden(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"mysql-0", "mysql-1"} {
		for _, flavor := range []Flavor{FlavorAuto, FlavorMySQL, FlavorMariaDB} {
			for _, initialised := range []bool{false, true} {
				name := fmt.Sprintf("%s-%s", flavor, map[string]string{"mysql-0": "primary", "mysql-1": "replica"}[role])
				if initialised {
					name += "-with-data"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					c := baseConfig()
					c.PodName = role
					id, err := NewIdentity(c)
					if err != nil {
						t.Fatal(err)
					}
					sc := ServerConfig{Flavor: flavor, Port: 3306, DataInitialised: initialised, BinlogExpire: 7 * 24 * time.Hour}
					got := RenderServerConfig(id, sc)
					golden(t, filepath.Join("testdata", "servercnf", name+".cnf"), got)
					if again := RenderServerConfig(id, sc); string(again) != string(got) {
						t.Error("rendering is not deterministic")
					}
				})
			}
		}
	}
	for _, flavor := range []Flavor{FlavorMySQL, FlavorMariaDB} {
		name := fmt.Sprintf("%s-semi-sync-replica", flavor)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := baseConfig()
			c.PodName = "mysql-1"
			id, err := NewIdentity(c)
			if err != nil {
				t.Fatal(err)
			}
			sc := ServerConfig{Flavor: flavor, Port: 3306, BinlogExpire: 7 * 24 * time.Hour, SemiSync: true}
			golden(t, filepath.Join("testdata", "servercnf", name+".cnf"), RenderServerConfig(id, sc))
		})
	}
	// FLAVOR=auto with SEMI_SYNC is refused by Load; were it rendered,
	// nothing of semi-sync would be written (every option is explicit).
	c := baseConfig()
	c.PodName = "mysql-1"
	id, err := NewIdentity(c)
	if err != nil {
		t.Fatal(err)
	}
	sc := ServerConfig{Flavor: FlavorAuto, Port: 3306, BinlogExpire: 7 * 24 * time.Hour}
	plain := RenderServerConfig(id, sc)
	sc.SemiSync = true
	if got := RenderServerConfig(id, sc); string(got) != string(plain) {
		t.Errorf("FLAVOR=auto with SemiSync rendered semi-sync options:\n%s", got)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./bootstrap -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got; rerun with -update if intended):\n%s", path, d)
	}
}
