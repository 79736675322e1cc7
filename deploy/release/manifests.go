package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// placeholderImage is the image name the base kustomization gives
// mysql-bootstrap (deploy/kustomize/base/kustomization.yaml).
const placeholderImage = "ghcr.io/example/mysql-bootstrap"

// renderOverlays renders every overlay in dir with the mysql-bootstrap
// image replaced by image (name:tag@digest), as <out>/<prefix>-<overlay>.yaml.
func renderOverlays(dir, image, out, prefix string) error {
	name, tag, digest, err := splitImage(image)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := renderOverlay(filepath.Join(abs, e.Name()), types.Image{Name: placeholderImage, NewName: name, NewTag: tag, Digest: digest})
		if err != nil {
			return fmt.Errorf("overlay %s: %w", e.Name(), err)
		}
		if !bytes.Contains(b, []byte(image)) {
			return fmt.Errorf("overlay %s: the rendered manifests do not name %s (is the base's image still %s?)", e.Name(), image, placeholderImage)
		}
		header := fmt.Sprintf("# mysql-bootstrap %s: deploy/kustomize/overlays/%s with the image %s.\n# kubectl apply -f this file after replacing the Secret's passwords (deploy/README.md).\n", tag, e.Name(), image)
		if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("%s-%s.yaml", prefix, e.Name())), append([]byte(header), b...), 0o644); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("no overlay in %s", dir)
	}
	return nil
}

// renderOverlay builds a kustomization of one resource, the overlay, with
// an images entry, from a temporary directory: nothing is written into the
// repository.
func renderOverlay(overlay string, img types.Image) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "mysql-bootstrap-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	rel, err := filepath.Rel(tmp, overlay) // kustomize wants relative resources
	if err != nil {
		return nil, err
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\nimages:\n  - name: %s\n    newName: %s\n    newTag: %q\n    digest: %s\n",
		filepath.ToSlash(rel), img.Name, img.NewName, img.NewTag, img.Digest)
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		return nil, err
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), tmp)
	if err != nil {
		return nil, err
	}
	return rm.AsYaml()
}

// splitImage splits name:tag@sha256:hex.
func splitImage(ref string) (name, tag, digest string, err error) {
	rest, digest, ok := cutLast(ref, "@")
	if !ok || len(digest) != len("sha256:")+64 || digest[:7] != "sha256:" {
		return "", "", "", fmt.Errorf("image %q: want NAME:TAG@sha256:<64 hex digits>", ref)
	}
	name, tag, ok = cutLast(rest, ":")
	if !ok || bytes.ContainsRune([]byte(tag), '/') {
		return "", "", "", fmt.Errorf("image %q has no tag", ref)
	}
	return name, tag, digest, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := len(s) - len(sep)
	for ; i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}
