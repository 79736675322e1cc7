package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// TestInitRejectsBadInput runs the init container with broken settings:
// it must exit 2 with one line naming the variable, and leave the data
// and config volumes as they were.
func TestInitRejectsBadInput(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	cases := []struct {
		name     string
		hostname string
		set      map[string]string // "" removes the variable
		want     []string          // in the one line
	}{
		{
			name: "REPLICATION_PASSWORD missing",
			set:  map[string]string{"POD_NAME": "mysql-1", "REPLICATION_PASSWORD_FILE": ""},
			want: []string{"REPLICATION_PASSWORD is required"},
		},
		{
			name:     "hostname without an ordinal",
			hostname: "mysql",
			set:      map[string]string{"POD_NAME": ""},
			want:     []string{"POD_NAME", `"mysql" is not <statefulset>-<ordinal>`},
		},
		{
			name: "POD_NAME without an ordinal",
			set:  map[string]string{"POD_NAME": "mysql"},
			want: []string{"POD_NAME", `"mysql" is not <statefulset>-<ordinal>`},
		},
		{
			name: "unreadable REPLICATION_PASSWORD_FILE",
			set:  map[string]string{"POD_NAME": "mysql-2", "REPLICATION_PASSWORD_FILE": podcluster.UnreadableFile},
			want: []string{"REPLICATION_PASSWORD_FILE=", "cannot be read", "permission denied"},
		},
		{
			name: "missing MYSQL_ROOT_PASSWORD_FILE",
			set:  map[string]string{"POD_NAME": "mysql-0", "MYSQL_ROOT_PASSWORD_FILE": podcluster.CredentialsDir + "/no-such-file"},
			want: []string{"MYSQL_ROOT_PASSWORD_FILE=", "cannot be read", "no such file"},
		},
	}
	c := podcluster.New(t, podcluster.Options{Images: images, Pods: len(cases)})
	for i, tc := range cases {
		p := c.Pod(i)
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			volumes := []podcluster.Mount{
				{Volume: p.DataVolume, Target: "/data"},
				{Volume: p.ConfigVolume, Target: "/config"},
			}
			// What was on the claim before: one file of the server's.
			_, err := c.RunAsRoot(ctx, fmt.Sprintf("printf 'sentinel %d' >/data/sentinel && chown 999:999 /data/sentinel", i), volumes...)
			must(t, err)
			before, err := c.RunAsRoot(ctx, listing, volumes...)
			must(t, err)

			spec := p.InitSpec()
			for k, v := range tc.set {
				if v == "" {
					delete(spec.Env, k)
				} else {
					spec.Env[k] = v
				}
			}
			spec.Hostname = tc.hostname
			spec.NetworkMode = "none"
			res, err := c.Run(ctx, time.Minute, spec)
			must(t, err)
			out := strings.TrimSpace(res.Output())
			if res.Code != 2 {
				t.Errorf("init exited %d, want 2:\n%s", res.Code, out)
			}
			if strings.Count(out, "\n") != 0 || out == "" {
				t.Errorf("init should print one line, got:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("init's message lacks %q: %s", w, out)
				}
			}
			t.Logf("exit %d: %s", res.Code, out)

			after, err := c.RunAsRoot(ctx, listing, volumes...)
			must(t, err)
			if after != before {
				t.Errorf("volumes changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if want := "data: sentinel "; !strings.Contains(after, want) || strings.Count(after, "data: ") != 1 || strings.Contains(after, "config: ") {
				t.Errorf("want the sentinel alone in the data volume and an empty config volume, got:\n%s", after)
			}
		})
	}
}

// listing prints every file of /data and /config with its size, owner,
// mode and content digest.
const listing = `cd /data && find . -mindepth 1 -printf 'data: %P %s %u:%g %m\n' | sort && sha256sum ./* 2>/dev/null;
cd /config && find . -mindepth 1 -printf 'config: %P %s %u:%g %m\n' | sort; true`
