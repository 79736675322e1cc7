package podcluster

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EnsureImages makes sure the images refs and the mysql-bootstrap image
// bootstrap exist, building with images/build.sh (under root, the
// checkout) those it builds: missing local images, and a local
// mysql-bootstrap image older than the sources. With noBuild it only
// reports what is missing. Nothing is pulled.
func EnsureImages(ctx context.Context, root, bootstrap string, noBuild bool, refs ...string) error {
	build := filepath.Join(root, "images", "build.sh")

	// build.sh targets for the images the tests use, when they are its own.
	target := map[string]string{
		"mysql-bootstrap:dev":             "app",
		"mysql-bootstrap/debian:bookworm": "debian-bookworm",
	}
	// Another local tag of the project image: IMAGE=<tag> images/build.sh app.
	localBootstrap := strings.HasPrefix(bootstrap, "mysql-bootstrap:")
	if localBootstrap {
		target[bootstrap] = "app"
	}
	for _, s := range LocalServers {
		target[s.Image] = s.Name
	}
	refs = append([]string{bootstrap}, refs...)
	missing := missingImages(ctx, refs)
	var targets, foreign []string
	for _, ref := range missing {
		if t := target[ref]; t != "" {
			targets = append(targets, t)
		} else {
			foreign = append(foreign, ref)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("images missing that images/build.sh does not build (nothing is pulled): %s", strings.Join(foreign, ", "))
	}
	if localBootstrap && !slices.Contains(targets, "app") {
		created, _ := ImageCreated(ctx, bootstrap)
		if newest, file := newestSource(root); newest.After(created) {
			fmt.Fprintf(os.Stderr, "images: %s (built %s) is older than %s (%s): rebuilding it\n",
				bootstrap, created.Format(time.RFC3339), file, newest.Format(time.RFC3339))
			targets = append(targets, "app")
		}
	}
	if len(targets) == 0 {
		return nil
	}
	if noBuild {
		if len(missing) > 0 {
			return fmt.Errorf("images missing and E2E_NO_BUILD=1: %s (build them with images/build.sh)", strings.Join(missing, ", "))
		}
		return nil
	}
	if _, err := os.Stat(build); err != nil {
		return fmt.Errorf("images missing: %s, and %s cannot build them: %v", strings.Join(missing, ", "), build, err)
	}
	fmt.Fprintf(os.Stderr, "images: running images/build.sh %s (missing: %s)\n", strings.Join(targets, " "), strings.Join(missing, ", "))
	cmd := exec.CommandContext(ctx, build, targets...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "IMAGE="+bootstrap)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("images/build.sh %s: %v", strings.Join(targets, " "), err)
	}
	if missing := missingImages(ctx, refs); len(missing) > 0 {
		return fmt.Errorf("images still missing after images/build.sh: %s", strings.Join(missing, ", "))
	}
	return nil
}

func missingImages(ctx context.Context, refs []string) []string {
	var missing []string
	seen := map[string]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if _, err := ImageCreated(ctx, ref); err != nil {
			missing = append(missing, ref)
		}
	}
	return missing
}

// newestSource returns the modification time of the newest input of the
// mysql-bootstrap image.
func newestSource(root string) (time.Time, string) {
	var newest time.Time
	var which string
	consider := func(path string) {
		if fi, err := os.Stat(path); err == nil && fi.ModTime().After(newest) {
			newest, which = fi.ModTime(), path
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "Dockerfile"} {
		consider(filepath.Join(root, f))
	}
	for _, dir := range []string{"cmd", "bootstrap"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				consider(path)
			}
			return nil
		})
	}
	rel, _ := filepath.Rel(root, which)
	return newest, rel
}
