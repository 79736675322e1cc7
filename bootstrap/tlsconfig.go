package bootstrap

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// clientTLS builds the TLS configuration of the sidecar's own connections
// to serverName (the primary's or a peer's stable DNS name) from the
// REPLICATION_TLS_* files, read at every call so that renewed
// certificates are used by the next connection. It returns nil when no CA
// is configured: then the sidecar's connections are plain, as before.
func clientTLS(cfg *Config, serverName string) (*tls.Config, error) {
	if cfg.TLSCAFile == "" {
		return nil, nil
	}
	pool, err := caPool(cfg)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{
		RootCAs:    pool,
		ServerName: strings.TrimSuffix(serverName, "."),
		MinVersion: tls.VersionTLS12,
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("REPLICATION_TLS_CERT_FILE/REPLICATION_TLS_KEY_FILE: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// caPool reads REPLICATION_TLS_CA_FILE now (a renewed CA is used by the
// next connection).
func caPool(cfg *Config) (*x509.CertPool, error) {
	pem, err := os.ReadFile(cfg.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("REPLICATION_TLS_CA_FILE: %w", unwrapPathError(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("REPLICATION_TLS_CA_FILE=%q holds no PEM certificate", cfg.TLSCAFile)
	}
	return pool, nil
}
