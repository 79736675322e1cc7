package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func testImage() Image {
	return Image{
		Version: "v1.2.3", Created: time.Unix(1700000000, 0).UTC(), CACerts: []byte("-----BEGIN CERTIFICATE-----\n"),
		Labels: map[string]string{"org.opencontainers.image.version": "v1.2.3"},
		Platforms: []Platform{
			{OS: "linux", Arch: "amd64", Binary: []byte("\x7fELF amd64 binary")},
			{OS: "linux", Arch: "arm64", Binary: []byte("\x7fELF arm64 binary")},
		},
	}
}

// readTar returns an archive's regular files by name.
func readTar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
			if h.Uid != 0 || h.Gid != 0 {
				t.Errorf("%s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
			}
		}
	}
}

// TestLayout reads the layout back as a registry tool would: every
// descriptor's digest and size match its blob, the index lists both
// platforms, each image runs the binary as uid 65532 from a layer holding
// it at /mysql-bootstrap, and docker load's manifest.json points at
// existing files.
func TestLayout(t *testing.T) {
	t.Parallel()
	img := testImage()
	var buf bytes.Buffer
	digest, err := img.WriteLayout(&buf)
	if err != nil {
		t.Fatal(err)
	}
	files := readTar(t, buf.Bytes())
	get := func(d descriptor) []byte {
		t.Helper()
		b, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
		if !ok {
			t.Fatalf("blob %s is missing", d.Digest)
		}
		sum := sha256.Sum256(b)
		if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(b)) != d.Size {
			t.Fatalf("blob %s: content does not match its descriptor (size %d, want %d)", d.Digest, len(b), d.Size)
		}
		return b
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var top struct{ Manifests []descriptor }
	if err := json.Unmarshal(files["index.json"], &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, files["index.json"])
	}
	if top.Manifests[0].Digest != digest || top.Manifests[0].MediaType != mediaIndex {
		t.Errorf("index.json names %+v, want the image index %s", top.Manifests[0], digest)
	}
	if top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Errorf("index.json does not name the version: %v", top.Manifests[0].Annotations)
	}
	var index struct{ Manifests []descriptor }
	if err := json.Unmarshal(get(top.Manifests[0]), &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 2 {
		t.Fatalf("the index lists %d images, want 2", len(index.Manifests))
	}
	for i, p := range img.Platforms {
		d := index.Manifests[i]
		if d.Platform == nil || d.Platform.OS != p.OS || d.Platform.Architecture != p.Arch {
			t.Errorf("image %d platform %+v, want %s/%s", i, d.Platform, p.OS, p.Arch)
		}
		var m struct {
			Config descriptor
			Layers []descriptor
		}
		if err := json.Unmarshal(get(d), &m); err != nil || len(m.Layers) != 1 {
			t.Fatalf("manifest %s: %v", d.Digest, err)
		}
		var cfg struct {
			Architecture, OS string
			Config           struct {
				User       string
				Entrypoint []string
			}
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			}
		}
		if err := json.Unmarshal(get(m.Config), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != p.Arch || cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/mysql-bootstrap" {
			t.Errorf("config %+v", cfg)
		}
		zr, err := gzip.NewReader(bytes.NewReader(get(m.Layers[0])))
		if err != nil {
			t.Fatal(err)
		}
		layer, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(layer)
		if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("diff_ids %v do not name the uncompressed layer", cfg.RootFS.DiffIDs)
		}
		tr := tar.NewReader(bytes.NewReader(layer))
		found := false
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if h.Name == "mysql-bootstrap" {
				b, _ := io.ReadAll(tr)
				found = bytes.Equal(b, p.Binary) && h.Mode == 0o755
			}
		}
		if !found {
			t.Errorf("%s layer has no executable /mysql-bootstrap with the binary", p.Arch)
		}
	}
	var docker []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &docker); err != nil || len(docker) != 2 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	for _, d := range docker {
		for _, f := range append([]string{d.Config}, d.Layers...) {
			if _, ok := files[f]; !ok {
				t.Errorf("manifest.json names %s, which the archive lacks", f)
			}
		}
	}
}

// TestLayoutIsReproducible: the same inputs give the same bytes, so the
// digest in the released manifests can be rebuilt and checked.
func TestLayoutIsReproducible(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	da, err := testImage().WriteLayout(&a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := testImage().WriteLayout(&b)
	if err != nil {
		t.Fatal(err)
	}
	if da != db || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two writes differ: %s and %s", da, db)
	}
	other := testImage()
	other.Platforms[1].Binary = []byte("another binary")
	var c bytes.Buffer
	if dc, _ := other.WriteLayout(&c); dc == da {
		t.Errorf("another binary gives the same digest %s", dc)
	}
}

func TestSplitImage(t *testing.T) {
	t.Parallel()
	d := "sha256:" + strings.Repeat("a", 64)
	name, tag, digest, err := splitImage("registry.example:5000/team/mysql-bootstrap:v1.0.0@" + d)
	if err != nil || name != "registry.example:5000/team/mysql-bootstrap" || tag != "v1.0.0" || digest != d {
		t.Errorf("got %q %q %q %v", name, tag, digest, err)
	}
	for _, bad := range []string{"mysql-bootstrap:v1", "registry.example:5000/mysql-bootstrap@" + d, "x:v1@sha256:abc"} {
		if _, _, _, err := splitImage(bad); err == nil {
			t.Errorf("splitImage(%q) accepted it", bad)
		}
	}
}
