// Package kube is the small Kubernetes API client the sidecar needs when
// PRIMARY=kubernetes: get, create and update one Lease, read and patch the
// labels of its own pod, and post Events about it.
//
// It uses only the standard library. client-go would do the same in a few
// lines, but it adds megabytes to the binary and to the sidecar's resident
// memory, for informers and caches this sidecar has no use for.
//
// Every request is bounded by Client.Timeout on top of the caller's
// context. Errors are one line with the method, the path, the status code
// and the API's own message; the service account token never appears in
// them. Callers branch with errors.Is on ErrNotFound, ErrConflict and
// ErrForbidden, or errors.As on *APIError.
package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// ServiceAccountDir is where the kubelet mounts the pod's service account
// token, the cluster's CA certificate and the pod's namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// maxBody caps how much of a response body is read.
const maxBody = 1 << 20

// Client talks to the API server on behalf of one namespace. Its methods
// may be called from several goroutines.
type Client struct {
	// Timeout bounds each request, from sending it to reading the whole
	// answer, on top of the caller's context. Zero means DefaultTimeout.
	Timeout time.Duration

	base      string // https://host:port, no trailing slash
	namespace string
	tokenFile string
	http      *http.Client
	now       func() time.Time

	mu        sync.Mutex
	token     string
	tokenStat os.FileInfo // of the file token was read from; nil: read it again
}

// New returns a client for the API server at baseURL (scheme, host and
// port) acting in namespace, sending the token read from tokenFile (none
// if tokenFile is empty) through httpClient (http.DefaultClient if nil).
func New(baseURL, namespace, tokenFile string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{
		base:      strings.TrimSuffix(baseURL, "/"),
		namespace: namespace,
		tokenFile: tokenFile,
		http:      httpClient,
		now:       time.Now,
	}
}

// InCluster returns a client for the API server of the cluster the pod
// runs in, from the environment and the service account files the kubelet
// provides. An empty namespace means the pod's own, from the namespace
// file next to the token.
func InCluster(namespace string) (*Client, error) {
	return inCluster(namespace, os.Getenv, ServiceAccountDir)
}

func inCluster(namespace string, getenv func(string) string, dir string) (*Client, error) {
	host := strings.Trim(getenv("KUBERNETES_SERVICE_HOST"), "[]")
	port := getenv("KUBERNETES_SERVICE_PORT")
	switch {
	case host == "":
		return nil, noServiceAccount("KUBERNETES_SERVICE_HOST is not set")
	case port == "":
		return nil, noServiceAccount("KUBERNETES_SERVICE_PORT is not set")
	}
	tokenFile := filepath.Join(dir, "token")
	if _, err := os.Stat(tokenFile); err != nil {
		return nil, noServiceAccount(err.Error())
	}
	caFile := filepath.Join(dir, "ca.crt")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, noServiceAccount(err.Error())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("kubernetes API: %s holds no PEM certificate", caFile)
	}
	if namespace == "" {
		nsFile := filepath.Join(dir, "namespace")
		b, err := os.ReadFile(nsFile)
		if err != nil {
			return nil, noServiceAccount(err.Error())
		}
		if namespace = strings.TrimSpace(string(b)); namespace == "" {
			return nil, fmt.Errorf("kubernetes API: %s is empty, expected the pod's namespace", nsFile)
		}
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: DefaultTimeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	base := "https://" + net.JoinHostPort(host, port)
	return New(base, namespace, tokenFile, &http.Client{Transport: transport}), nil
}

func noServiceAccount(what string) error {
	return fmt.Errorf("kubernetes API: the pod has no service account token (%s); "+
		"PRIMARY=kubernetes needs automountServiceAccountToken: true and the ServiceAccount, Role and RoleBinding the manifests ship", what)
}

// Namespace is the namespace the client acts in.
func (c *Client) Namespace() string { return c.namespace }

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// bearer returns the token, read again only when its file changed: the
// kubelet rotates projected tokens by swapping the file under a symlink.
func (c *Client) bearer() (string, error) {
	if c.tokenFile == "" {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("service account token: %w", err)
	}
	if old := c.tokenStat; old != nil && os.SameFile(old, fi) && old.ModTime().Equal(fi.ModTime()) && old.Size() == fi.Size() {
		return c.token, nil
	}
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("service account token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("service account token %s is empty", c.tokenFile)
	}
	c.token, c.tokenStat = tok, fi
	return tok, nil
}

// forgetToken makes the next request read the token file again.
func (c *Client) forgetToken() {
	c.mu.Lock()
	c.tokenStat = nil
	c.mu.Unlock()
}

// do sends in (JSON, unless nil) and decodes a 2xx answer into out (unless nil).
func (c *Client) do(ctx context.Context, method, path, contentType string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("kubernetes API %s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	tok, err := c.bearer()
	if err != nil {
		return fmt.Errorf("kubernetes API %s %s: %w", method, path, err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("kubernetes API %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mysql-bootstrap")
	if in != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
	}
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats the URL
		}
		if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("kubernetes API %s %s: no answer within %v: %w", method, path, c.timeout(), context.DeadlineExceeded)
		}
		return fmt.Errorf("kubernetes API %s %s: %w", method, path, err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("kubernetes API %s %s: answer larger than %d bytes", method, path, maxBody)
	}
	if resp.StatusCode/100 != 2 {
		if resp.StatusCode == http.StatusUnauthorized {
			c.forgetToken()
		}
		return newAPIError(method, path, resp.StatusCode, data, tok)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("kubernetes API %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// Errors that APIError matches with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("forbidden")
)

// APIError is an answer from the API server outside 2xx.
type APIError struct {
	Method, Path string
	Code         int    // HTTP status code
	Reason       string // Status.reason, such as NotFound, AlreadyExists, Conflict
	Message      string // Status.message, on one line
}

// Error is one line: method, path, code, reason, the API's message and,
// for 401 and 403, what to check.
func (e *APIError) Error() string {
	s := fmt.Sprintf("kubernetes API %s %s: %d", e.Method, e.Path, e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	switch e.Code {
	case http.StatusUnauthorized:
		s += " (the service account token was rejected)"
	case http.StatusForbidden:
		s += " (the Role the manifests ship is missing, not bound to the pod's ServiceAccount, or lacks this verb)"
	}
	return s
}

// Is makes errors.Is match ErrNotFound on 404, ErrConflict on 409
// (AlreadyExists on create, a stale resourceVersion on update) and
// ErrForbidden on 403.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrConflict:
		return e.Code == http.StatusConflict
	case ErrForbidden:
		return e.Code == http.StatusForbidden
	}
	return false
}

// newAPIError reads the metav1.Status in body; the token is cut out of
// anything quoted from it, should a proxy echo the request.
func newAPIError(method, path string, code int, body []byte, token string) *APIError {
	e := &APIError{Method: method, Path: path, Code: code}
	var st struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) == nil && (st.Reason != "" || st.Message != "") {
		e.Reason, e.Message = st.Reason, st.Message
	} else {
		e.Message = string(body)
	}
	if token != "" {
		e.Reason = strings.ReplaceAll(e.Reason, token, "[token]")
		e.Message = strings.ReplaceAll(e.Message, token, "[token]")
	}
	e.Message = strings.Join(strings.Fields(e.Message), " ")
	if len(e.Message) > 512 {
		e.Message = truncate(e.Message, 512) + "..."
	}
	if e.Reason == "" {
		e.Reason = http.StatusText(code)
	}
	return e
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // s[n] continues a sequence
		n--
	}
	return s[:n]
}

func (c *Client) nsPath(prefix, resource, name string) string {
	p := prefix + "/namespaces/" + url.PathEscape(c.namespace) + "/" + resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}
