package localk8s

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// LoadImages copies images from the Docker engine into the cluster's
// containerd (docker save | ctr images import), skipping those whose
// Docker image ID containerd holds already under the same name. Pods then
// find them without any registry, with imagePullPolicy IfNotPresent (any
// tag but latest) or Never.
func (c *Cluster) LoadImages(ctx context.Context, refs ...string) error {
	have, err := c.imageIDs(ctx)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
		if err != nil {
			return fmt.Errorf("docker image %s: not found (build it first: images/build.sh)", ref)
		}
		id := strings.TrimSpace(string(out))
		name := normalizeRef(ref)
		if have[name] == id {
			continue
		}
		start := time.Now()
		save := exec.CommandContext(ctx, "docker", "save", ref)
		pr, err := save.StdoutPipe()
		if err != nil {
			return err
		}
		var stderr strings.Builder
		save.Stderr = &stderr
		if err := save.Start(); err != nil {
			return err
		}
		importErr := c.importArchive(ctx, pr)
		if importErr != nil {
			_, _ = io.Copy(io.Discard, pr)
		}
		if err := save.Wait(); err != nil {
			return fmt.Errorf("docker save %s: %w: %s", ref, err, stderr.String())
		}
		if importErr != nil {
			return fmt.Errorf("load %s: %w", ref, importErr)
		}
		if _, err := run(ctx, "ctr", "-a", c.path("run", "containerd.sock"), "-n", "k8s.io", "images", "label", name, labelDockerID+"="+id); err != nil {
			return err
		}
		c.logf("loaded %s into the cluster in %s", ref, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// labelDockerID is the containerd image label that records the Docker
// image ID an image was loaded from.
const labelDockerID = "mysql-bootstrap.dev/docker-id"

// imageIDs maps containerd's image names to the Docker image ID recorded
// when they were loaded.
func (c *Cluster) imageIDs(ctx context.Context) (map[string]string, error) {
	out, err := run(ctx, "ctr", "-a", c.path("run", "containerd.sock"), "-n", "k8s.io", "images", "list")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for i, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		for _, l := range strings.Split(f[len(f)-1], ",") {
			if id, ok := strings.CutPrefix(l, labelDockerID+"="); ok {
				m[f[0]] = id
			}
		}
	}
	return m, nil
}

// normalizeRef spells a Docker reference the way containerd names it:
// docker.io/library/mysql-bootstrap:dev for mysql-bootstrap:dev.
func normalizeRef(ref string) string {
	name, tag := ref, "latest"
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		name, tag = ref[:i], ref[i+1:]
	}
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return name + ":" + tag
}
