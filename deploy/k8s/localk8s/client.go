package localk8s

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Client is a small JSON client of the API server with one identity's
// certificate: enough for the provisioner, the waits and the tests,
// without client-go.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client as identity name (admin, provisioner, ...).
func (c *Cluster) NewClient(name string) (*Client, error) {
	cert, err := tls.LoadX509KeyPair(c.path("pki", name+".crt"), c.path("pki", name+".key"))
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", name, err)
	}
	caPEM, err := os.ReadFile(c.path("pki", "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("pki/ca.crt holds no certificate")
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{base: c.APIServer(), http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// StatusError is the API server's answer to a failed request.
type StatusError struct {
	Code   int
	Status metav1.Status
}

func (e *StatusError) Error() string {
	if e.Status.Message != "" {
		return fmt.Sprintf("%d %s: %s", e.Code, e.Status.Reason, e.Status.Message)
	}
	return fmt.Sprintf("HTTP %d", e.Code)
}

// IsNotFound reports whether err is the API server's 404.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// IsConflict reports whether err is the API server's 409.
func IsConflict(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusConflict
}

// Do sends body (JSON, or raw bytes with contentType) to path and decodes
// the answer into out (when non-nil).
func (k *Client) Do(ctx context.Context, method, path, contentType string, body, out any) error {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		r = bytes.NewReader(j)
		if contentType == "" {
			contentType = "application/json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, k.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		se := &StatusError{Code: resp.StatusCode}
		_ = json.Unmarshal(data, &se.Status)
		return fmt.Errorf("%s %s: %w", method, path, se)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// Get decodes the object at path into out.
func (k *Client) Get(ctx context.Context, path string, out any) error {
	return k.Do(ctx, http.MethodGet, path, "", nil, out)
}

// Create posts obj to path (a collection).
func (k *Client) Create(ctx context.Context, path string, obj, out any) error {
	return k.Do(ctx, http.MethodPost, path, "", obj, out)
}

// Delete deletes the object at path; a missing object is not an error.
func (k *Client) Delete(ctx context.Context, path string) error {
	if err := k.Do(ctx, http.MethodDelete, path, "", nil, nil); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}

// MergePatch applies a JSON merge patch to the object at path.
func (k *Client) MergePatch(ctx context.Context, path string, patch, out any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return k.Do(ctx, http.MethodPatch, path, "application/merge-patch+json", b, out)
}
