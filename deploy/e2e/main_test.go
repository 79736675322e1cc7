// Package e2e runs the StatefulSet of deploy/kustomize/base as Docker
// containers (deploy/internal/podcluster) and breaks it: replicas started
// before their primary, the primary SIGKILLed under write load and
// rescheduled on a new address, a replica killed and restarted, a replica
// cut off the network, writes sent through the Service name, bad inputs.
// Every fault ends with the same invariant check: every acknowledged write
// on every pod, replicas equal to the primary, no errant GTIDs, replicas
// refusing writes.
//
// The fault cases run once per server image images/build.sh builds (MySQL
// 9.7, MariaDB 11.8, MariaDB 10.11), as subtests named by the flavour and
// version the image's server binary reports (TestFaults/mysql-9.7.4/...).
// The servers run their images' defaults: the first start of the mysql
// image loads its time zone tables with binary logging on, as the official
// image does.
//
// The tests need a Docker engine and the images images/build.sh builds
// (nothing is pulled); they are skipped under -short or when `docker info`
// fails. Variables:
//
//   - E2E_SERVERS: the local servers to run, by name (mysql-9.7,
//     mariadb-11.8, mariadb-10.11; comma-separated), default all;
//   - E2E_SERVER_IMAGE: run just this one server image instead (e.g.
//     mysql:8.4), with FLAVOR E2E_FLAVOR (default: from the image's name);
//   - E2E_SERVER_ENV: extra variables for the server containers,
//     "NAME=value NAME=value" (e.g. MYSQL_INITDB_SKIP_TZINFO=1 for a local
//     experiment; the committed tests run the images' defaults);
//   - E2E_BOOTSTRAP_IMAGE, E2E_PAUSE_IMAGE, E2E_CLIENT_IMAGE: other images;
//   - E2E_NO_BUILD=1: never run images/build.sh. Otherwise missing local
//     images, and a mysql-bootstrap:dev older than the sources, are
//     (re)built with it first.
package e2e

import (
	"context"
	"flag"
	"fmt"
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
	// servers are the server images the fault cases run against, and
	// images the other images (with the first server).
	servers []podcluster.Server
	images  podcluster.Images
	// serverEnv is E2E_SERVER_ENV.
	serverEnv map[string]string
)

func TestMain(m *testing.M) {
	flag.Parse()
	// No reaper (its image cannot be pulled): the harness removes what it
	// creates.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	var err error
	if servers, err = chooseServers(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(2)
	}
	if serverEnv, err = podcluster.ParseServerEnv(os.Getenv("E2E_SERVER_ENV")); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: E2E_SERVER_ENV: %v\n", err)
		os.Exit(2)
	}
	images = podcluster.DefaultImagesFor(servers[0])
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

// chooseServers reads E2E_SERVER_IMAGE, E2E_FLAVOR and E2E_SERVERS.
func chooseServers() ([]podcluster.Server, error) {
	if img := os.Getenv("E2E_SERVER_IMAGE"); img != "" {
		s := podcluster.LookupServer(img)
		if f := os.Getenv("E2E_FLAVOR"); f != "" {
			s.Flavor = f
		}
		return []podcluster.Server{s}, nil
	}
	names := os.Getenv("E2E_SERVERS")
	if names == "" {
		return podcluster.LocalServers, nil
	}
	out, err := podcluster.LocalServersNamed("E2E_SERVERS", names)
	if err != nil {
		return nil, fmt.Errorf("%w; use E2E_SERVER_IMAGE for another image", err)
	}
	if f := os.Getenv("E2E_FLAVOR"); f != "" {
		for i := range out {
			out[i].Flavor = f
		}
	}
	return out, nil
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

// ensureImages builds missing local images, and a mysql-bootstrap image
// older than the sources, with images/build.sh.
func ensureImages() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	refs := []string{images.Pause}
	for _, s := range servers {
		refs = append(refs, s.Image, podcluster.DefaultImagesFor(s).Client)
	}
	return podcluster.EnsureImages(ctx, root, images.Bootstrap, os.Getenv("E2E_NO_BUILD") == "1", refs...)
}
