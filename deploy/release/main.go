// Command release is what make release (deploy/release/release.sh) runs in
// Go: it writes the multi-architecture image as an OCI image layout, and
// renders the kustomize overlays with the released image. Nothing is
// pushed or pulled: no registry is needed.
//
//	go run ./deploy/release image -version V -created UNIX -out FILE.tar \
//	    -ca-certs FILE linux/amd64=BINARY linux/arm64=BINARY
//	go run ./deploy/release manifests -image REF -out DIR
//
// image prints the image index's digest (sha256:...): the digest a
// registry serves once the layout is copied there unchanged.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: release image|manifests [flags]")
	}
	switch args[0] {
	case "image":
		fs := flag.NewFlagSet("image", flag.ContinueOnError)
		version := fs.String("version", "", "the image's version (org.opencontainers.image.version)")
		created := fs.Int64("created", 0, "creation time, Unix seconds (SOURCE_DATE_EPOCH: the commit's time, for reproducible bytes)")
		out := fs.String("out", "", "the OCI layout archive to write (.tar)")
		caCerts := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put at /etc/ssl/certs/ca-certificates.crt")
		source := fs.String("source", "https://github.com/mysql-bootstrap/mysql-bootstrap", "org.opencontainers.image.source")
		revision := fs.String("revision", "", "org.opencontainers.image.revision (the commit)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *version == "" || *out == "" || fs.NArg() == 0 {
			return errors.New("image: -version, -out and at least one OS/ARCH=BINARY are required")
		}
		certs, err := os.ReadFile(*caCerts)
		if err != nil {
			return err
		}
		img := Image{
			Version: *version, Created: time.Unix(*created, 0).UTC(), CACerts: certs,
			Labels: map[string]string{
				"org.opencontainers.image.title":       "mysql-bootstrap",
				"org.opencontainers.image.description": "Init container and sidecar that give MySQL/MariaDB StatefulSet pods their identity and replication",
				"org.opencontainers.image.source":      *source,
				"org.opencontainers.image.version":     *version,
			},
		}
		if *revision != "" {
			img.Labels["org.opencontainers.image.revision"] = *revision
		}
		for _, a := range fs.Args() {
			plat, bin, ok := strings.Cut(a, "=")
			osName, arch, ok2 := strings.Cut(plat, "/")
			if !ok || !ok2 {
				return fmt.Errorf("image: %q is not OS/ARCH=BINARY", a)
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				return err
			}
			img.Platforms = append(img.Platforms, Platform{OS: osName, Arch: arch, Binary: b})
		}
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		digest, err := img.WriteLayout(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, digest)
		return nil
	case "manifests":
		fs := flag.NewFlagSet("manifests", flag.ContinueOnError)
		image := fs.String("image", "", "the released mysql-bootstrap image, REGISTRY/mysql-bootstrap:TAG@sha256:...")
		out := fs.String("out", "", "directory for mysql-bootstrap-<flavour>.yaml")
		prefix := fs.String("prefix", "mysql-bootstrap", "file name prefix")
		overlays := fs.String("overlays", filepath.Join("deploy", "kustomize", "overlays"), "the overlays to render, one file each")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *image == "" || *out == "" {
			return errors.New("manifests: -image and -out are required")
		}
		return renderOverlays(*overlays, *image, *out, *prefix)
	}
	return fmt.Errorf("unknown command %q (image, manifests)", args[0])
}
