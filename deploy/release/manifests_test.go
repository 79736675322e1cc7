package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderOverlays renders the real overlays with a released image: one
// file per overlay, every mysql-bootstrap container on the image by tag
// and digest, no placeholder left.
func TestRenderOverlays(t *testing.T) {
	t.Parallel()
	image := "registry.example/team/mysql-bootstrap:v1.2.3@sha256:" + strings.Repeat("ab", 32)
	out := t.TempDir()
	if err := renderOverlays(filepath.Join("..", "kustomize", "overlays"), image, out, "mysql-bootstrap-v1.2.3"); err != nil {
		t.Fatal(err)
	}
	for _, flavor := range []string{"mysql", "mariadb"} {
		b, err := os.ReadFile(filepath.Join(out, "mysql-bootstrap-v1.2.3-"+flavor+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if n := strings.Count(s, "image: "+image+"\n"); n != 2 {
			t.Errorf("%s: %d containers run %s, want init and sidecar", flavor, n, image)
		}
		// The release bundle ships what the overlay does, the policy too.
		if !strings.Contains(s, "\nkind: NetworkPolicy\n") {
			t.Errorf("%s has no NetworkPolicy: the base's networkpolicy.yaml is missing from the release", flavor)
		}
		if strings.Contains(s, placeholderImage+":") {
			t.Errorf("%s still names the placeholder %s", flavor, placeholderImage)
		}
	}
	if err := renderOverlays(filepath.Join("..", "kustomize", "overlays"), "mysql-bootstrap:v1", out, "x"); err == nil {
		t.Error("an image without a digest was accepted")
	}
}
