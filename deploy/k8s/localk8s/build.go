package localk8s

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// kubeCommands are the Kubernetes binaries built from
// deploy/k8s/build/kubernetes.
var kubeCommands = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}

// Build builds what is missing or stale in bin/ (the Kubernetes binaries,
// CoreDNS, the pause program) and the two images the cluster needs of its
// own (pause and CoreDNS) into images/. A stamp per group records its
// inputs, so an unchanged tree builds nothing.
func (c *Cluster) Build(ctx context.Context) error {
	if c.Repo == "" {
		return errors.New("localk8s build: run it inside the mysql-bootstrap checkout (no go.mod of module github.com/mysql-bootstrap/mysql-bootstrap above the working directory)")
	}
	if err := os.MkdirAll(c.path("bin"), 0o755); err != nil {
		return err
	}
	kubeLD := strings.Join([]string{
		"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + Version,
		"-X", "k8s.io/component-base/version.gitMajor=1",
		"-X", "k8s.io/component-base/version.gitMinor=34",
		"-X", "k8s.io/component-base/version.gitTreeState=clean",
		"-X", "k8s.io/client-go/pkg/version.gitVersion=" + Version,
	}, " ")
	var pkgs []string
	for _, cmd := range kubeCommands {
		pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+cmd)
	}
	k8sDir := filepath.Join(c.Repo, "deploy", "k8s")
	groups := []struct {
		name, dir, ldflags string
		pkgs, outputs      []string
		inputs             []string // directories whose go.mod, go.sum and Go files the build depends on
	}{
		{"kubernetes " + Version, filepath.Join(k8sDir, "build", "kubernetes"), kubeLD, pkgs, kubeCommands, nil},
		{"coredns " + corednsVersion, filepath.Join(k8sDir, "build", "coredns"), "-s -w", []string{"."}, []string{"coredns"}, nil},
		{"kube-router " + kubeRouterVersion, filepath.Join(k8sDir, "build", "kube-router"), "-s -w",
			[]string{"github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"}, []string{"kube-router"}, nil},
		{"pause", c.Repo, "-s -w", []string{"./deploy/k8s/pause"}, []string{"pause"}, []string{filepath.Join(k8sDir, "pause")}},
		{"localk8s", c.Repo, "-s -w", []string{"./deploy/k8s/cmd/localk8s"}, []string{"localk8s"},
			[]string{c.Repo, filepath.Join(k8sDir, "localk8s"), filepath.Join(k8sDir, "cmd", "localk8s")}},
	}
	for _, g := range groups {
		inputs := g.inputs
		if inputs == nil {
			inputs = []string{g.dir}
		}
		stamp, err := inputsStamp(g.ldflags, inputs...)
		if err != nil {
			return err
		}
		stampFile := c.path("bin", ".stamp-"+strings.Fields(g.name)[0])
		if old, err := os.ReadFile(stampFile); err == nil && string(old) == stamp && allExist(c, g.outputs) {
			continue
		}
		c.logf("building %s (%s) into %s", g.name, strings.Join(g.outputs, ", "), c.path("bin"))
		start := time.Now()
		out := c.path("bin") + string(filepath.Separator)
		if len(g.outputs) == 1 {
			out = c.Bin(g.outputs[0])
		}
		args := append([]string{"build", "-trimpath", "-ldflags", g.ldflags, "-o", out}, g.pkgs...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = g.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
		cmd.Stdout, cmd.Stderr = c.Log, c.Log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s in %s: %w", g.name, g.dir, err)
		}
		c.logf("built %s in %s", g.name, time.Since(start).Round(time.Second))
		if err := os.WriteFile(stampFile, []byte(stamp), 0o644); err != nil {
			return err
		}
	}
	// The cluster's own images, as docker-save archives for ctr import.
	if err := os.MkdirAll(c.path("images"), 0o755); err != nil {
		return err
	}
	// CoreDNS binds port 53: it runs as root, as its official image does.
	for _, im := range []struct{ bin, ref, user string }{{"pause", pauseImage, "65535:65535"}, {"coredns", corednsImage, ""}} {
		if err := writeImageArchive(c.Bin(im.bin), im.ref, im.user, c.path("images", im.bin+".tar")); err != nil {
			return fmt.Errorf("image %s: %w", im.ref, err)
		}
	}
	return nil
}

func allExist(c *Cluster, names []string) bool {
	for _, n := range names {
		if _, err := os.Stat(c.Bin(n)); err != nil {
			return false
		}
	}
	return true
}

// inputsStamp digests what a build depends on: the Go toolchain, the
// flags, and the module directory's go.mod, go.sum and Go files.
func inputsStamp(ldflags string, dirs ...string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s/%s\n%s\n", runtime.GOOS, runtime.GOARCH, ldflags)
	if v, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		fmt.Fprintf(h, "%s", v)
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || !(n == "go.mod" || n == "go.sum" || strings.HasSuffix(n, ".go")) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s/%s %x\n", filepath.Base(dir), n, sha256.Sum256(b))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeImageArchive writes a one-layer image holding binary as /NAME and
// running it, in the archive format of `docker save`, which `ctr images
// import` reads. No Docker is needed for the cluster's own images, and
// the archive is rewritten only when the binary changed.
func writeImageArchive(binary, ref, user, archive string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	name := filepath.Base(binary)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(bin)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer.Bytes())
	run := map[string]any{"Entrypoint": []string{"/" + name}}
	if user != "" {
		run["User"] = user
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config":       run,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(layerSum[:])}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := hex.EncodeToString(layerSum[:]) + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref}, "Layers": []string{layerName}}})
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(archive + ".config"); err == nil && string(old) == configName {
		if _, err := os.Stat(archive); err == nil {
			return nil
		}
	}
	var out bytes.Buffer
	aw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{configName, config}, {layerName, layer.Bytes()}, {"manifest.json", manifest}} {
		if dir := filepath.Dir(f.name); dir != "." {
			if err := aw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
				return err
			}
		}
		if err := aw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := aw.Write(f.data); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	if err := writeFileAtomic(archive, out.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(archive+".config", []byte(configName), 0o644)
}

// importArchive imports an image archive into the cluster's containerd.
func (c *Cluster) importArchive(ctx context.Context, r io.Reader) error {
	cmd := exec.CommandContext(ctx, "ctr", "-a", c.path("run", "containerd.sock"), "-n", "k8s.io", "images", "import", "-")
	cmd.Stdin = r
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import: %w: %s", err, tail(string(out), 5))
	}
	return nil
}
