package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// certReloader serves the dashboard's TLS certificate and re-reads the
// certificate and key files on SIGHUP and `gatehouse lists reload`, so a
// renewed certificate (certbot, an internal CA) needs no restart. A pair
// that fails to load leaves the one in use in force and is logged.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]
}

// newCertReloader loads the pair once: at start a bad pair is an error.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("dashboard TLS certificate %s: %w", c.certFile, err)
	}
	c.cur.Store(&pair)
	return nil
}

// reload re-reads the files; on failure the pair in use stays. Nil-safe
// (no TLS).
func (c *certReloader) reload() {
	if c == nil {
		return
	}
	old := c.cur.Load()
	if err := c.load(); err != nil {
		c.log.Error("reloading the dashboard's TLS certificate failed; keeping the one in use", "error", err)
		return
	}
	if cur := c.cur.Load(); old == nil || old.Leaf == nil || cur.Leaf == nil || !old.Leaf.Equal(cur.Leaf) {
		c.log.Info("dashboard TLS certificate loaded", "file", c.certFile, "not_after", cur.Leaf.NotAfter)
	}
}

// getCertificate is tls.Config.GetCertificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// tlsConfig is the dashboard listener's TLS configuration.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}
