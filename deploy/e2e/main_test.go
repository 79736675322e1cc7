// Package e2e runs the StatefulSet of deploy/kustomize/base as Docker
// containers (deploy/internal/podcluster) and breaks it: replicas started
// before their primary, the primary SIGKILLed under write load and
// rescheduled on a new address, a replica killed and restarted, a replica
// cut off the network, writes sent through the Service name, bad inputs.
// Every fault ends with the same invariant check: every acknowledged write
// on every pod, replicas equal to the primary, no errant GTIDs, replicas
// refusing writes.
//
// The tests need a Docker engine and the images images/build.sh builds
// (nothing is pulled); they are skipped under -short or when `docker info`
// fails. Images are chosen with E2E_SERVER_IMAGE, E2E_BOOTSTRAP_IMAGE,
// E2E_PAUSE_IMAGE and E2E_CLIENT_IMAGE; missing default images, or a
// mysql-bootstrap:dev older than the sources, are (re)built with
// images/build.sh unless E2E_NO_BUILD=1. E2E_FLAVOR sets FLAVOR (default
// mariadb).
package e2e

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

var (
	// skipReason is set when the tests cannot run here.
	skipReason string
	images     podcluster.Images
)

func TestMain(m *testing.M) {
	flag.Parse()
	// No reaper (its image cannot be pulled): the harness removes what it
	// creates.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	images = podcluster.DefaultImages()
	switch {
	case testing.Short():
		skipReason = "end-to-end tests start Docker containers: skipped under -short"
	default:
		if err := dockerInfo(); err != nil {
			skipReason = "end-to-end tests need a Docker engine, and `docker info` fails: " + err.Error()
		}
	}
	if skipReason == "" {
		if err := ensureImages(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// requireDocker skips t when the end-to-end tests cannot run here.
func requireDocker(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func dockerInfo() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := exec.LookPath("docker"); err != nil {
		// No CLI: ask the engine directly.
		return podcluster.Available(ctx)
	}
	out, err := exec.CommandContext(ctx, "docker", "info").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, lastLine(string(out)))
	}
	return nil
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// ensureImages builds missing images, and a mysql-bootstrap image older
// than the sources, with images/build.sh.
func ensureImages() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	build := filepath.Join(root, "images", "build.sh")
	noBuild := os.Getenv("E2E_NO_BUILD") == "1"

	missing := missingImages(ctx)
	var targets []string
	if len(missing) > 0 {
		targets = []string{"all"}
	} else if os.Getenv("E2E_BOOTSTRAP_IMAGE") == "" {
		created, _ := podcluster.ImageCreated(ctx, images.Bootstrap)
		if newest, file := newestSource(root); newest.After(created) {
			fmt.Fprintf(os.Stderr, "e2e: %s (built %s) is older than %s (%s): rebuilding it\n",
				images.Bootstrap, created.Format(time.RFC3339), file, newest.Format(time.RFC3339))
			targets = []string{"app"}
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
	fmt.Fprintf(os.Stderr, "e2e: running images/build.sh %s (missing: %s)\n", strings.Join(targets, " "), strings.Join(missing, ", "))
	cmd := exec.CommandContext(ctx, build, targets...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// build.sh's names for the images the tests use.
	cmd.Env = append(os.Environ(),
		"IMAGE="+images.Bootstrap, "MARIADB_IMAGE="+images.Server, "DEBIAN_IMAGE="+images.Pause)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("images/build.sh %s: %v", strings.Join(targets, " "), err)
	}
	if missing := missingImages(ctx); len(missing) > 0 {
		return fmt.Errorf("images still missing after images/build.sh: %s", strings.Join(missing, ", "))
	}
	return nil
}

func missingImages(ctx context.Context) []string {
	var missing []string
	seen := map[string]bool{}
	for _, ref := range []string{images.Server, images.Bootstrap, images.Pause, images.Client} {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if _, err := podcluster.ImageCreated(ctx, ref); err != nil {
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
