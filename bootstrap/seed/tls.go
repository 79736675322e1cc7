package seed

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The stream over TLS. With a CA configured the donor serves its listener
// with the pod's own server certificate (ServerTLS) and the recipient
// verifies it against the CA for the donor's stable name (Restore.TLS),
// before it sends the token or reads a byte of the body. Without a CA the
// stream is plain HTTP: the token and the keyed MAC still keep a copy from
// being fetched with a sniffed header or altered in transit, but anyone on
// the path can read the data.

// ErrUntrusted: the donor did not prove to be the pod the URL names: its
// certificate does not verify against the CA for the donor's stable name,
// or it does not speak TLS at all. Nothing was sent but the TLS handshake.
var ErrUntrusted = errors.New("donor not verified")

// ServerTLS returns the donor's TLS configuration: TLS 1.2 or later, with
// the certificate and key in certFile and keyFile, read again at every
// handshake so that a renewed certificate (cert-manager rewrites the
// Secret's files in place) serves the next copy without a restart. It
// reads them once now, so that a missing file or a key that does not match
// its certificate is an error at start.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("seed TLS certificate: %w", err)
			}
			return &c, nil
		},
	}, nil
}

// CertificateNames reports whether the certificate in certFile is valid
// for host (a DNS name): a donor whose certificate does not name its
// stable name is refused by every recipient.
func CertificateNames(certFile, keyFile, host string) error {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return err
	}
	return leaf.VerifyHostname(host)
}

// client returns the HTTP client of one restore from the donor at host (the
// URL's host name, the donor's stable name): r.Client, or the default,
// that never follows a redirect; with r.TLS, its transport verifies the
// donor's certificate for host against r.TLS.RootCAs, with TLS 1.2 or
// later.
func (r *Restore) client(host string) (*http.Client, error) {
	base := r.Client
	if base == nil {
		base = defaultClient
	}
	c := *base
	// A redirect is never part of the protocol: following one could take
	// the token, or the recipient, somewhere the URL did not name.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r.TLS == nil {
		return &c, nil
	}
	var tr *http.Transport
	switch t := base.Transport.(type) {
	case nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, fmt.Errorf("the client's transport %T cannot be given the CA", base.Transport)
	}
	cfg := r.TLS.Clone()
	cfg.ServerName = host
	cfg.InsecureSkipVerify = false
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	tr.TLSClientConfig = cfg
	c.Transport = tr
	return &c, nil
}

// untrusted classifies an error of a request to the donor: a certificate
// that does not verify, or a listener that does not speak TLS, wraps
// ErrUntrusted.
func untrusted(err error) error {
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	var hostname x509.HostnameError
	var authority x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	// net/http turns a plain-HTTP answer to the handshake into an error
	// of its own, with no type to tell it by.
	if errors.As(err, &verify) || errors.As(err, &header) || errors.As(err, &hostname) ||
		errors.As(err, &authority) || errors.As(err, &invalid) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	return err
}
