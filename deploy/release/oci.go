package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Media types of the OCI image spec.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Image is mysql-bootstrap's image, as the Dockerfile builds it (FROM
// scratch: the static binary at /mysql-bootstrap, a CA bundle, numeric
// non-root user 65532, the binary as entrypoint), for several platforms.
type Image struct {
	Version   string
	Created   time.Time
	CACerts   []byte
	Labels    map[string]string
	Platforms []Platform
}

// Platform is one OS/architecture and its static binary.
type Platform struct {
	OS, Arch string
	Binary   []byte
}

// variant is the architecture variant registries and runtimes expect in
// an index (arm64 is v8).
func (p Platform) variant() string {
	if p.Arch == "arm64" {
		return "v8"
	}
	return ""
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platformJSON     `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platformJSON struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// blob is content addressed by its SHA-256.
type blob struct {
	media string
	data  []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor() descriptor {
	return descriptor{MediaType: b.media, Digest: b.digest(), Size: int64(len(b.data))}
}

// layer is the image's one layer: the files, uncompressed (the config's
// diff_id is its digest) and gzipped (the manifest's layer). Every header
// is fixed (owner 0, the given time) so the same inputs give the same
// bytes.
func (img Image) layer(p Platform) (tarball, gz []byte, err error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := img.Created
	entries := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/", 0o755, nil},
		{"etc/ssl/", 0o755, nil},
		{"etc/ssl/certs/", 0o755, nil},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, img.CACerts},
		{"mysql-bootstrap", 0o755, p.Binary},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX, Uname: "", Gname: ""}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		// PAX headers would carry atime/ctime records with the current time
		// if those were set; only ModTime is, and FormatPAX keeps it exact.
		if err := tw.WriteHeader(h); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), z.Bytes(), nil
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs and maps are marshalled
	}
	return b
}

// imageBlobs returns a platform's config, layer and manifest blobs.
func (img Image) imageBlobs(p Platform) (config, layer, manifest blob, err error) {
	tarball, gz, err := img.layer(p)
	if err != nil {
		return blob{}, blob{}, blob{}, err
	}
	diffID := blob{data: tarball}.digest()
	created := img.Created.Format(time.RFC3339)
	cfg := map[string]any{
		"created":      created,
		"architecture": p.Arch,
		"os":           p.OS,
		"config": map[string]any{
			"User":       "65532:65532",
			"Entrypoint": []string{"/mysql-bootstrap"},
			"Labels":     img.Labels,
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]string{{"created": created, "created_by": "make release (deploy/release): the static binary and a CA bundle, FROM scratch"}},
	}
	if v := p.variant(); v != "" {
		cfg["variant"] = v
	}
	config = blob{mediaConfig, marshal(cfg)}
	layer = blob{mediaLayer, gz}
	manifest = blob{mediaManifest, marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        config.descriptor(),
		"layers":        []descriptor{layer.descriptor()},
		"annotations":   map[string]string{"org.opencontainers.image.created": created},
	})}
	return config, layer, manifest, nil
}

// WriteLayout writes the image as an OCI image layout in a tar archive:
// oci-layout, index.json (naming the image index by the version), the
// blobs, and a Docker manifest.json so that `docker load` also takes it
// (one image per platform, tagged mysql-bootstrap:VERSION-ARCH). It
// returns the image index's digest.
func (img Image) WriteLayout(w io.Writer) (string, error) {
	if len(img.Platforms) == 0 {
		return "", fmt.Errorf("no platform")
	}
	var blobs []blob
	var manifests []descriptor
	type dockerImage struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var docker []dockerImage
	for _, p := range img.Platforms {
		config, layer, manifest, err := img.imageBlobs(p)
		if err != nil {
			return "", err
		}
		blobs = append(blobs, config, layer, manifest)
		d := manifest.descriptor()
		d.Platform = &platformJSON{Architecture: p.Arch, OS: p.OS, Variant: p.variant()}
		manifests = append(manifests, d)
		docker = append(docker, dockerImage{
			Config:   "blobs/sha256/" + config.digest()[len("sha256:"):],
			RepoTags: []string{fmt.Sprintf("mysql-bootstrap:%s-%s", img.Version, p.Arch)},
			Layers:   []string{"blobs/sha256/" + layer.digest()[len("sha256:"):]},
		})
	}
	index := blob{mediaIndex, marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests":     manifests,
		"annotations":   map[string]string{"org.opencontainers.image.created": img.Created.Format(time.RFC3339)},
	})}
	blobs = append(blobs, index)
	ref := index.descriptor()
	ref.Annotations = map[string]string{"org.opencontainers.image.ref.name": img.Version}
	top := marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaIndex, "manifests": []descriptor{ref}})

	tw := tar.NewWriter(w)
	seen := map[string]bool{}
	file := func(name string, data []byte) error {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: img.Created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: img.Created, Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return "", err
		}
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return "", err
	}
	if err := file("index.json", top); err != nil {
		return "", err
	}
	if err := file("manifest.json", marshal(docker)); err != nil {
		return "", err
	}
	slices.SortStableFunc(blobs, func(a, b blob) int {
		if a.digest() < b.digest() {
			return -1
		}
		return 1
	})
	for _, b := range blobs {
		name := "blobs/sha256/" + b.digest()[len("sha256:"):]
		if seen[name] {
			continue // two platforms' identical blobs are stored once
		}
		seen[name] = true
		if err := file(name, b.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return index.digest(), nil
}
