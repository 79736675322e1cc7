package kube

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

const testToken = "s3cr3t-token-value"

// request is what the test API server saw of one request.
type request struct {
	Method, Path, Auth, ContentType, Body string
}

// testAPI is an API server answering every request with answer.
type testAPI struct {
	mu   sync.Mutex
	reqs []request
}

func (a *testAPI) requests() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]request(nil), a.reqs...)
}

// newTestAPI starts a TLS server answering with answer, and a client for
// it in namespace ns1 whose token file holds testToken.
func newTestAPI(t *testing.T, answer func(request) (int, string)) (*Client, *testAPI) {
	t.Helper()
	a := &testAPI{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
		a.mu.Lock()
		a.reqs = append(a.reqs, req)
		a.mu.Unlock()
		code, body := answer(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, testToken+"\n")
	return New(srv.URL, "ns1", tokenFile, srv.Client()), a
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func statusBody(code int, reason, message string) string {
	b, _ := json.Marshal(map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
	return string(b)
}

const leasePath = "/apis/coordination.k8s.io/v1/namespaces/ns1/leases/mysql"

const storedLease = `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
 "metadata":{"name":"mysql","namespace":"ns1","resourceVersion":"41","uid":"u-1",
   "annotations":{"mysql-bootstrap/switchover":"mysql-2","someone.else/note":"keep me"}},
 "spec":{"holderIdentity":"mysql-0","leaseDurationSeconds":10,
   "acquireTime":"2026-01-02T03:04:05.000000Z","renewTime":"2026-01-02T03:04:09.123456Z",
   "leaseTransitions":3,"preferredHolder":"ignored"}}`

func TestGetUpdateLease(t *testing.T) {
	t.Parallel()
	c, api := newTestAPI(t, func(r request) (int, string) {
		if r.Method == "PUT" {
			return 200, strings.Replace(r.Body, `"resourceVersion":"41"`, `"resourceVersion":"42"`, 1)
		}
		return 200, storedLease
	})
	ctx := context.Background()
	l, err := c.GetLease(ctx, "mysql")
	if err != nil {
		t.Fatalf("GetLease: %v", err)
	}
	want := &Lease{
		Name: "mysql", ResourceVersion: "41", HolderIdentity: "mysql-0", LeaseDurationSeconds: 10,
		AcquireTime:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		RenewTime:        time.Date(2026, 1, 2, 3, 4, 9, 123456000, time.UTC),
		LeaseTransitions: 3,
		Annotations:      map[string]string{"mysql-bootstrap/switchover": "mysql-2", "someone.else/note": "keep me"},
	}
	if d := cmp.Diff(want, l); d != "" {
		t.Fatalf("GetLease (-want +got):\n%s", d)
	}

	l.HolderIdentity = "mysql-1"
	l.LeaseTransitions++
	l.AcquireTime = time.Date(2026, 1, 2, 4, 0, 0, 987654321, time.FixedZone("CET", 3600))
	l.RenewTime = l.AcquireTime
	delete(l.Annotations, "mysql-bootstrap/switchover")
	got, err := c.UpdateLease(ctx, l)
	if err != nil {
		t.Fatalf("UpdateLease: %v", err)
	}
	if got.ResourceVersion != "42" || got.HolderIdentity != "mysql-1" {
		t.Errorf("UpdateLease returned resourceVersion %q holder %q, want 42 mysql-1", got.ResourceVersion, got.HolderIdentity)
	}

	reqs := api.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2: %+v", len(reqs), reqs)
	}
	wantPut := request{
		Method: "PUT", Path: leasePath, Auth: "Bearer " + testToken, ContentType: "application/json",
		// MicroTime: UTC, six digits, truncated.
		Body: `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",` +
			`"metadata":{"name":"mysql","resourceVersion":"41","annotations":{"someone.else/note":"keep me"}},` +
			`"spec":{"holderIdentity":"mysql-1","leaseDurationSeconds":10,` +
			`"acquireTime":"2026-01-02T03:00:00.987654Z","renewTime":"2026-01-02T03:00:00.987654Z","leaseTransitions":4}}`,
	}
	if d := cmp.Diff(request{Method: "GET", Path: leasePath, Auth: "Bearer " + testToken}, reqs[0]); d != "" {
		t.Errorf("GET request (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantPut, reqs[1]); d != "" {
		t.Errorf("PUT request (-want +got):\n%s", d)
	}
}

func TestLeaseJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		lease Lease
		want  string
	}{
		{
			name:  "zero fields left out",
			lease: Lease{Name: "mysql"},
			want:  `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"mysql"},"spec":{}}`,
		},
		{
			name:  "renew time only, microseconds",
			lease: Lease{Name: "mysql", HolderIdentity: "mysql-0", RenewTime: time.Date(2026, 12, 31, 23, 59, 59, 1000, time.UTC)},
			want: `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"mysql"},` +
				`"spec":{"holderIdentity":"mysql-0","renewTime":"2026-12-31T23:59:59.000001Z"}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.lease)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
			var back Lease
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.lease, back); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestCreateLease(t *testing.T) {
	t.Parallel()
	var exists atomic.Bool
	c, api := newTestAPI(t, func(r request) (int, string) {
		if exists.Swap(true) {
			return 409, statusBody(409, "AlreadyExists", `leases.coordination.k8s.io "mysql" already exists`)
		}
		return 201, strings.Replace(r.Body, `"name":"mysql"`, `"name":"mysql","resourceVersion":"7"`, 1)
	})
	in := &Lease{Name: "mysql", HolderIdentity: "mysql-0", LeaseDurationSeconds: 10}
	got, err := c.CreateLease(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateLease: %v", err)
	}
	if got.ResourceVersion != "7" {
		t.Errorf("CreateLease: resourceVersion %q, want 7", got.ResourceVersion)
	}
	_, err = c.CreateLease(context.Background(), in)
	var apiErr *APIError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &apiErr) || apiErr.Reason != "AlreadyExists" {
		t.Errorf("second CreateLease: %v, want ErrConflict with reason AlreadyExists", err)
	}
	r := api.requests()[0]
	wantBody := `{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"mysql"},"spec":{"holderIdentity":"mysql-0","leaseDurationSeconds":10}}`
	if r.Method != "POST" || r.Path != "/apis/coordination.k8s.io/v1/namespaces/ns1/leases" || r.ContentType != "application/json" || r.Body != wantBody {
		t.Errorf("create request %+v, want POST to the collection with body %s", r, wantBody)
	}
	if _, err := c.CreateLease(context.Background(), got); err == nil {
		t.Errorf("CreateLease with resourceVersion %q: no error", got.ResourceVersion)
	}
	if _, err := c.UpdateLease(context.Background(), in); err == nil || len(api.requests()) != 2 {
		t.Errorf("UpdateLease without resourceVersion: %v after %d requests, want an error and no request", err, len(api.requests()))
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		code   int
		body   string
		is     error
		reason string
		substr string
	}{
		{"not found", 404, statusBody(404, "NotFound", `leases.coordination.k8s.io "mysql" not found`), ErrNotFound, "NotFound", `"mysql" not found`},
		{"stale update", 409, statusBody(409, "Conflict", "the object has been modified"), ErrConflict, "Conflict", "has been modified"},
		{"no role", 403, statusBody(403, "Forbidden", `User "system:serviceaccount:ns1:mysql" cannot update resource "leases"`), ErrForbidden, "Forbidden", "lacks this verb"},
		{"token rejected", 401, statusBody(401, "Unauthorized", "Unauthorized"), nil, "Unauthorized", "token was rejected"},
		{"proxy echoing the token", 502, "<html>\nBad gateway\nAuthorization: Bearer " + testToken + "\n</html>", nil, "Bad Gateway", "Bearer [token]"},
		{"status echoing the token", 400, statusBody(400, "BadRequest", "bad token "+testToken), nil, "BadRequest", "bad token [token]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestAPI(t, func(request) (int, string) { return tc.code, tc.body })
			l := &Lease{Name: "mysql", ResourceVersion: "41"}
			_, err := c.UpdateLease(context.Background(), l)
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("UpdateLease: %v, want an *APIError", err)
			}
			if apiErr.Code != tc.code || apiErr.Reason != tc.reason || apiErr.Method != "PUT" || apiErr.Path != leasePath {
				t.Errorf("APIError %+v, want PUT %s code %d reason %s", apiErr, leasePath, tc.code, tc.reason)
			}
			for _, s := range []error{ErrNotFound, ErrConflict, ErrForbidden} {
				if errors.Is(err, s) != (s == tc.is) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tc.is))
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.substr) || !strings.HasPrefix(msg, "kubernetes API PUT "+leasePath+": ") {
				t.Errorf("error %q, want it to start with the method and path and contain %q", msg, tc.substr)
			}
			if strings.Contains(msg, testToken) || strings.Contains(msg, "\n") {
				t.Errorf("error %q holds the token or a newline", msg)
			}
		})
	}
}

func TestTokenReread(t *testing.T) {
	t.Parallel()
	c, api := newTestAPI(t, func(request) (int, string) { return 200, storedLease })
	file := c.tokenFile
	auth := func() string {
		t.Helper()
		if _, err := c.GetLease(context.Background(), "mysql"); err != nil {
			t.Fatalf("GetLease: %v", err)
		}
		r := api.requests()
		return r[len(r)-1].Auth
	}
	writeFile(t, file, "token-A")
	past := time.Now().Add(-time.Hour)
	os.Chtimes(file, past, past)
	if got := auth(); got != "Bearer token-A" {
		t.Fatalf("Authorization %q, want Bearer token-A", got)
	}
	// Same file, size and mtime: the cached token is sent.
	writeFile(t, file, "token-B")
	os.Chtimes(file, past, past)
	if got := auth(); got != "Bearer token-A" {
		t.Errorf("unchanged stat: Authorization %q, want the cached Bearer token-A", got)
	}
	// A new mtime: read again.
	os.Chtimes(file, past.Add(time.Second), past.Add(time.Second))
	if got := auth(); got != "Bearer token-B" {
		t.Errorf("after mtime change: Authorization %q, want Bearer token-B", got)
	}
	// Rotation the kubelet's way: a new file renamed over the old one.
	tmp := file + ".new"
	writeFile(t, tmp, "token-C-longer\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if got := auth(); got != "Bearer token-C-longer" {
		t.Errorf("after rotation: Authorization %q, want Bearer token-C-longer", got)
	}
	writeFile(t, file, "  \n")
	if _, err := c.GetLease(context.Background(), "mysql"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token file: %v, want an error saying it is empty", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang, like an API server behind a dead route
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := New(srv.URL, "ns1", "", srv.Client())
	c.Timeout = 100 * time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.GetLease(ctx, "mysql")
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Errorf("GetLease from a hanging server: %v, want no answer within 100ms", err)
	}
	if elapsed < 100*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("GetLease returned after %v, want about 100ms", elapsed)
	}

	// The caller's own deadline is reported as the caller's.
	c.Timeout = time.Minute
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	_, err = c.GetLease(short, "mysql")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no answer within") {
		t.Errorf("GetLease past the caller's deadline: %v, want context deadline exceeded", err)
	}
}

func TestTransportErrorHasNoToken(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, testToken)
	c := New("https://"+addr, "ns1", tokenFile, &http.Client{})
	_, err = c.GetLease(context.Background(), "mysql")
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.HasPrefix(err.Error(), "kubernetes API GET "+leasePath+": ") {
		t.Errorf("GetLease from a closed port: %v, want an error naming the request and not the token", err)
	}
}

func TestPods(t *testing.T) {
	t.Parallel()
	c, api := newTestAPI(t, func(r request) (int, string) {
		return 200, `{"kind":"Pod","metadata":{"name":"mysql-1","uid":"uid-1","labels":{"app":"mysql","mysql-bootstrap/role":"replica"}},"spec":{}}`
	})
	ctx := context.Background()
	p, err := c.GetPod(ctx, "mysql-1")
	if err != nil {
		t.Fatalf("GetPod: %v", err)
	}
	want := &PodMeta{Name: "mysql-1", UID: "uid-1", Labels: map[string]string{"app": "mysql", "mysql-bootstrap/role": "replica"}}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("GetPod (-want +got):\n%s", d)
	}
	labels, err := c.GetPodLabels(ctx, "mysql-1")
	if err != nil || labels["mysql-bootstrap/role"] != "replica" {
		t.Errorf("GetPodLabels: %v, %v", labels, err)
	}
	if err := c.PatchPodLabels(ctx, "mysql-1", map[string]*string{"mysql-bootstrap/role": new("primary"), "old": nil}); err != nil {
		t.Fatalf("PatchPodLabels: %v", err)
	}
	got := api.requests()[2]
	wantPatch := request{
		Method: "PATCH", Path: "/api/v1/namespaces/ns1/pods/mysql-1", Auth: "Bearer " + testToken,
		ContentType: "application/merge-patch+json",
		Body:        `{"metadata":{"labels":{"mysql-bootstrap/role":"primary","old":null}}}`,
	}
	if d := cmp.Diff(wantPatch, got); d != "" {
		t.Errorf("patch request (-want +got):\n%s", d)
	}
}

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	c, api := newTestAPI(t, func(request) (int, string) { return 201, `{"kind":"Event"}` })
	c.now = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", -3600)) }
	long := "a" + strings.Repeat("é", 600) // 1201 bytes; byte 1024 is inside an é
	err := c.CreateEvent(context.Background(), Event{Pod: "mysql-1", PodUID: "uid-1", Reason: "LeaseAcquired", Message: long, Component: "mysql-bootstrap"})
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	r := api.requests()[0]
	if r.Method != "POST" || r.Path != "/api/v1/namespaces/ns1/events" || r.ContentType != "application/json" {
		t.Errorf("event request %s %s %s, want POST /api/v1/namespaces/ns1/events application/json", r.Method, r.Path, r.ContentType)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
		t.Fatal(err)
	}
	msg, _ := got["message"].(string)
	if len(msg) != 1023 || !utf8.ValidString(msg) || !strings.HasPrefix(long, msg) {
		t.Errorf("message of %d bytes (valid UTF-8: %v), want the first 1023 bytes", len(msg), utf8.ValidString(msg))
	}
	delete(got, "message")
	want := map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata":       map[string]any{"generateName": "mysql-1.", "namespace": "ns1"},
		"involvedObject": map[string]any{"kind": "Pod", "apiVersion": "v1", "namespace": "ns1", "name": "mysql-1", "uid": "uid-1"},
		"reason":         "LeaseAcquired", "type": "Normal",
		"source":             map[string]any{"component": "mysql-bootstrap"},
		"firstTimestamp":     "2026-03-04T06:06:07Z",
		"lastTimestamp":      "2026-03-04T06:06:07Z",
		"count":              1.0,
		"reportingComponent": "mysql-bootstrap",
		"reportingInstance":  "mysql-1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("event body (-want +got):\n%s", d)
	}
}

func TestInCluster(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, storedLease)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	type files map[string]string
	full := files{"token": testToken, "ca.crt": caPEM, "namespace": "ns1\n"}
	without := func(name string) files {
		f := files{}
		for k, v := range full {
			if k != name {
				f[k] = v
			}
		}
		return f
	}
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
	withoutEnv := func(name string) map[string]string {
		e := map[string]string{}
		for k, v := range env {
			if k != name {
				e[k] = v
			}
		}
		return e
	}
	const hint = "the pod has no service account token"
	for _, tc := range []struct {
		name      string
		namespace string
		env       map[string]string
		files     files
		wantErr   []string // substrings; none: success
	}{
		{"works", "", env, full, nil},
		{"namespace given, no namespace file", "other", env, without("namespace"), nil},
		{"no host", "", withoutEnv("KUBERNETES_SERVICE_HOST"), full, []string{hint, "KUBERNETES_SERVICE_HOST is not set"}},
		{"no port", "", withoutEnv("KUBERNETES_SERVICE_PORT"), full, []string{hint, "KUBERNETES_SERVICE_PORT is not set"}},
		{"no token", "", env, without("token"), []string{hint, "serviceaccount/token"}},
		{"no CA", "", env, without("ca.crt"), []string{hint, "ca.crt"}},
		{"no namespace file", "", env, without("namespace"), []string{hint, "namespace"}},
		{"CA not PEM", "", env, files{"token": "t", "ca.crt": "junk", "namespace": "ns1"}, []string{"ca.crt holds no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "serviceaccount")
			os.Mkdir(dir, 0o755)
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			c, err := inCluster(tc.namespace, func(k string) string { return tc.env[k] }, dir)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("inCluster: no error, want one containing %q", tc.wantErr)
				}
				msg := err.Error()
				for _, s := range append(tc.wantErr, "") {
					if !strings.Contains(msg, s) || strings.Contains(msg, "\n") {
						t.Errorf("error %q, want one line containing %q", msg, s)
					}
				}
				if strings.Contains(msg, hint) && !strings.Contains(msg, "PRIMARY=kubernetes needs automountServiceAccountToken: true and the ServiceAccount, Role and RoleBinding") {
					t.Errorf("error %q does not say what PRIMARY=kubernetes needs", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("inCluster: %v", err)
			}
			wantNS := tc.namespace
			if wantNS == "" {
				wantNS = "ns1"
			}
			if c.Namespace() != wantNS {
				t.Errorf("namespace %q, want %q", c.Namespace(), wantNS)
			}
			if tr := c.http.Transport.(*http.Transport); tr.MaxIdleConnsPerHost != 2 {
				t.Errorf("MaxIdleConnsPerHost %d, want 2", tr.MaxIdleConnsPerHost)
			}
			// Through the CA from ca.crt, to the test server.
			if _, err := c.GetLease(context.Background(), "mysql"); err != nil {
				t.Errorf("GetLease through the in-cluster client: %v", err)
			}
		})
	}

	t.Run("IPv6 host", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for name, content := range full {
			writeFile(t, filepath.Join(dir, name), content)
		}
		c, err := inCluster("", func(k string) string {
			return map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}[k]
		}, dir)
		if err != nil {
			t.Fatalf("inCluster: %v", err)
		}
		if c.base != "https://[fd00::1]:443" {
			t.Errorf("base URL %q, want https://[fd00::1]:443", c.base)
		}
	})
}
