package kubetest_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube/kubetest"
)

func TestLeases(t *testing.T) {
	t.Parallel()
	s := kubetest.New(t)
	c := s.Client("ns1")
	ctx := context.Background()

	if _, err := c.GetLease(ctx, "mysql"); !errors.Is(err, kube.ErrNotFound) {
		t.Fatalf("GetLease before create: %v, want ErrNotFound", err)
	}
	created, err := c.CreateLease(ctx, &kube.Lease{Name: "mysql", HolderIdentity: "mysql-0", LeaseDurationSeconds: 10})
	if err != nil {
		t.Fatalf("CreateLease: %v", err)
	}
	if _, err := c.CreateLease(ctx, &kube.Lease{Name: "mysql"}); !errors.Is(err, kube.ErrConflict) {
		t.Errorf("second CreateLease: %v, want ErrConflict", err)
	}

	// Someone else writes in between: the update built on created is stale.
	s.SetLease(kube.Lease{Name: "mysql", HolderIdentity: "mysql-2", Annotations: map[string]string{"x/y": "z"}})
	stale := *created
	stale.HolderIdentity = "mysql-1"
	if _, err := c.UpdateLease(ctx, &stale); !errors.Is(err, kube.ErrConflict) {
		t.Errorf("UpdateLease at resourceVersion %s after SetLease: %v, want ErrConflict", stale.ResourceVersion, err)
	}

	l, err := c.GetLease(ctx, "mysql")
	if err != nil {
		t.Fatalf("GetLease: %v", err)
	}
	renew := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	l.HolderIdentity, l.RenewTime = "mysql-1", renew
	updated, err := c.UpdateLease(ctx, l)
	if err != nil {
		t.Fatalf("UpdateLease: %v", err)
	}
	if updated.ResourceVersion == l.ResourceVersion {
		t.Errorf("UpdateLease kept resourceVersion %s, want a new one", l.ResourceVersion)
	}
	stored, ok := s.Lease("mysql")
	want := &kube.Lease{Name: "mysql", ResourceVersion: updated.ResourceVersion, HolderIdentity: "mysql-1", RenewTime: renew, Annotations: map[string]string{"x/y": "z"}}
	if d := cmp.Diff(want, stored); !ok || d != "" {
		t.Errorf("stored Lease (-want +got):\n%s", d)
	}
}

func TestPodsAndEvents(t *testing.T) {
	t.Parallel()
	s := kubetest.New(t)
	s.AddPod("mysql-1", "uid-1")
	c := s.Client("ns1")
	ctx := context.Background()

	if err := c.PatchPodLabels(ctx, "mysql-1", map[string]*string{"role": new("primary"), "a": new("b")}); err != nil {
		t.Fatalf("PatchPodLabels: %v", err)
	}
	if err := c.PatchPodLabels(ctx, "mysql-1", map[string]*string{"role": new("replica"), "a": nil}); err != nil {
		t.Fatalf("PatchPodLabels: %v", err)
	}
	if d := cmp.Diff(map[string]string{"role": "replica"}, s.Labels("mysql-1")); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	p, err := c.GetPod(ctx, "mysql-1")
	if err != nil || p.UID != "uid-1" || p.Labels["role"] != "replica" {
		t.Errorf("GetPod: %+v, %v; want uid-1 with role replica", p, err)
	}
	if err := c.PatchPodLabels(ctx, "mysql-9", nil); !errors.Is(err, kube.ErrNotFound) {
		t.Errorf("PatchPodLabels on a missing pod: %v, want ErrNotFound", err)
	}

	e := kube.Event{Pod: "mysql-1", PodUID: "uid-1", Type: "Warning", Reason: "LeaseLost", Message: "lost it", Component: "mysql-bootstrap"}
	if err := c.CreateEvent(ctx, e); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	if d := cmp.Diff([]kube.Event{e}, s.Events()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestFailBlockAndToken(t *testing.T) {
	t.Parallel()
	s := kubetest.New(t)
	c := s.Client("ns1")
	c.Timeout = 100 * time.Millisecond
	ctx := context.Background()
	s.SetLease(kube.Lease{Name: "mysql"})

	s.Fail("GET", "/leases/mysql", 403)
	if _, err := c.GetLease(ctx, "mysql"); !errors.Is(err, kube.ErrForbidden) {
		t.Errorf("GetLease with an injected 403: %v, want ErrForbidden", err)
	}
	s.Fail("GET", "/leases/mysql", 0)
	if _, err := c.GetLease(ctx, "mysql"); err != nil {
		t.Errorf("GetLease after the failure is lifted: %v", err)
	}

	s.Block(true)
	start := time.Now()
	_, err := c.GetLease(ctx, "mysql")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("GetLease while blocked: %v after %v, want a timeout after about 100ms", err, time.Since(start))
	}
	s.Block(false)
	if _, err := c.GetLease(ctx, "mysql"); err != nil {
		t.Errorf("GetLease after Block(false): %v", err)
	}

	// A token the server does not accept: 401, and the next request reads the file again.
	good, err := os.ReadFile(s.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	writeToken := func(tok string) {
		t.Helper()
		if err := os.WriteFile(s.TokenFile(), []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("wrong-but-longer")
	var apiErr *kube.APIError
	if _, err := c.GetLease(ctx, "mysql"); !errors.As(err, &apiErr) || apiErr.Code != 401 {
		t.Errorf("GetLease with the wrong token: %v, want 401", err)
	}
	writeToken(string(good))
	if _, err := c.GetLease(ctx, "mysql"); err != nil {
		t.Errorf("GetLease with the token restored: %v", err)
	}
}
