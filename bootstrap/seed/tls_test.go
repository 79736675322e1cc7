package seed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// The donor's stable name, as the sidecar puts it in the URL, and another
// pod's, which a certificate of the same CA may name.
const (
	tlsDonorHost = "db-0.db.ns.svc.cluster.local"
	tlsOtherHost = "db-2.db.ns.svc.cluster.local"
)

// countingHandler counts the requests that got past TLS.
type countingHandler struct {
	h http.Handler
	n atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

// serveDonor serves h on a loopback port, over TLS with cfg when it is
// not nil (as backup-server does), and returns the address.
func serveDonor(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	// The handshakes the tests make fail are not news.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return addr
}

// routedClient reaches addr whatever host a URL names: the donor's stable
// name stays in the URL (and is what its certificate is checked for), as
// in a pod.
func routedClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		DisableCompression: true,
	}}
}

func caPool(t *testing.T, ca *testtls.CA) *tls.Config {
	t.Helper()
	b, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("no CA certificate")
	}
	return &tls.Config{RootCAs: pool}
}

func serverTLS(t *testing.T, certFile, keyFile string) *tls.Config {
	t.Helper()
	c, err := ServerTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRestoreOverTLS: with a CA, a copy is fetched only from a donor whose
// certificate the CA signed for the donor's stable name, over TLS 1.2 or
// later; anything else is refused before a request reaches the donor, and
// the data directory is left alone.
func TestRestoreOverTLS(t *testing.T) {
	t.Parallel()
	mbstream, mariaBackup := fakeTools(t)
	ca := testtls.NewCA(t)
	goodCert, goodKey := ca.Issue(t, "donor", tlsDonorHost)
	otherCert, otherKey := ca.Issue(t, "other", tlsOtherHost)
	ipCert, ipKey := ca.Issue(t, "ip", "127.0.0.1", "localhost")
	rogue := testtls.NewCA(t)
	rogueCert, rogueKey := rogue.Issue(t, "rogue", tlsDonorHost)
	tls11 := serverTLS(t, goodCert, goodKey)
	tls11.MaxVersion = tls.VersionTLS11

	restore := func(t *testing.T, addr, scheme string, clientTLS *tls.Config) (Result, error) {
		dir := t.TempDir()
		writeTree(t, dir, oldData)
		r := &Restore{DataDir: dir, DonorURL: scheme + "://" + tlsDonorHost + ":8081/backup", Secret: "x", Recipient: "db-1", DonorPod: "db-0",
			MBStream: mbstream, MariaBackup: mariaBackup, Log: discard(), Client: routedClient(addr), TLS: clientTLS}
		res, err := r.Run(t.Context())
		if err != nil {
			if d := cmp.Diff(oldData, readTree(t, dir)); d != "" {
				t.Errorf("a refused copy changed the data directory (-want +got):\n%s", d)
			}
		}
		return res, err
	}

	t.Run("verified", func(t *testing.T) {
		t.Parallel()
		h := &countingHandler{h: gated("x", "db-0", tarStream(t, newData))}
		addr := serveDonor(t, serverTLS(t, goodCert, goodKey), h)
		res, err := restore(t, addr, "https", caPool(t, ca))
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
		if res.GTID != "0-1-9" || h.n.Load() != 2 {
			t.Errorf("result %+v after %d requests, want GTID 0-1-9 after a nonce and a backup", res, h.n.Load())
		}
	})

	refused := []struct {
		name      string
		serverTLS *tls.Config // nil: plain http
		scheme    string
		wantIs    error
		want      string
	}{
		{"a certificate for another pod of the same CA", serverTLS(t, otherCert, otherKey), "https", ErrUntrusted, tlsDonorHost},
		{"a certificate for the donor's address, not its name", serverTLS(t, ipCert, ipKey), "https", ErrUntrusted, tlsDonorHost},
		{"a certificate of another CA", serverTLS(t, rogueCert, rogueKey), "https", ErrUntrusted, "unknown authority"},
		{"a plain-http donor behind an https URL", nil, "https", ErrUntrusted, "HTTP response to HTTPS client"},
		{"an http URL while a CA is set", serverTLS(t, goodCert, goodKey), "http", nil, "want https://"},
		{"an http URL to a plain donor while a CA is set", nil, "http", nil, "want https://"},
		{"TLS 1.1", tls11, "https", nil, "protocol version"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &countingHandler{h: gated("x", "db-0", tarStream(t, newData))}
			addr := serveDonor(t, tc.serverTLS, h)
			_, err := restore(t, addr, tc.scheme, caPool(t, ca))
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Run = %v, want %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %q, want it to mention %q", err, tc.want)
			}
			if n := h.n.Load(); n != 0 {
				t.Errorf("%d requests reached the donor, want none", n)
			}
		})
	}

	// Without a CA the copy is plain HTTP, as before.
	t.Run("no CA: plain http", func(t *testing.T) {
		t.Parallel()
		addr := serveDonor(t, nil, gated("x", "db-0", tarStream(t, newData)))
		if _, err := restore(t, addr, "http", nil); err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

// TestRestoreFollowsNoRedirect: a verified donor that redirects elsewhere
// (plain http, here) does not take the recipient with it.
func TestRestoreFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "donor", tlsDonorHost)
	plain := &countingHandler{h: gated("x", "db-0", tarStream(t, newData))}
	plainAddr := serveDonor(t, nil, plain)
	addr := serveDonor(t, serverTLS(t, cert, key), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+plainAddr+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	dir := t.TempDir()
	_, err := (&Restore{DataDir: dir, DonorURL: "https://" + tlsDonorHost + ":8081/backup", Secret: "x", Recipient: "db-1", DonorPod: "db-0",
		Client: routedClient(addr), TLS: caPool(t, ca)}).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Errorf("Run = %v, want the redirect refused", err)
	}
	if n := plain.n.Load(); n != 0 {
		t.Errorf("the redirect was followed: %d requests", n)
	}
}

// TestServerTLS: the donor's certificate is read again at every
// handshake (a renewed one serves the next copy); a key that does not
// match its certificate is an error at start.
func TestServerTLS(t *testing.T) {
	t.Parallel()
	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "donor", tlsDonorHost)
	otherCert, otherKey := ca.Issue(t, "other", tlsOtherHost)
	if _, err := ServerTLS(cert, otherKey); err == nil {
		t.Error("ServerTLS accepted a key of another certificate")
	}
	if _, err := ServerTLS("/nonexistent.crt", key); err == nil {
		t.Error("ServerTLS accepted a missing certificate")
	}
	if err := CertificateNames(cert, key, tlsDonorHost); err != nil {
		t.Errorf("CertificateNames(its own name) = %v", err)
	}
	if err := CertificateNames(cert, key, tlsOtherHost); err == nil {
		t.Error("CertificateNames(another name) = nil")
	}

	cfg := serverTLS(t, cert, key)
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want TLS 1.2", cfg.MinVersion)
	}
	addr := serveDonor(t, cfg, http.NotFoundHandler())
	handshake := func(name string) error {
		c := caPool(t, ca)
		c.ServerName = name
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, c)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := handshake(tlsDonorHost); err != nil {
		t.Fatalf("handshake = %v", err)
	}
	// A renewal rewrites the files in place.
	for _, f := range [][2]string{{otherCert, cert}, {otherKey, key}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := handshake(tlsOtherHost); err != nil {
		t.Errorf("after the renewal: handshake = %v, want the new certificate served", err)
	}
}
