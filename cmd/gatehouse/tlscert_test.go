package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCertPair writes a self-signed certificate for 127.0.0.1 named cn
// and its key to certFile and keyFile, and returns the certificate.
func writeCertPair(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// The pair is re-read on reload; a broken pair (a half-written renewal,
// a key that does not match) keeps the one in use and is logged.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	a := writeCertPair(t, certFile, keyFile, "a.test")
	var logs bytes.Buffer
	c, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		got, err := c.tlsConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil || got == nil || got.Leaf == nil {
			t.Fatalf("GetCertificate = %v, %v", got, err)
		}
		return got.Leaf.Subject.CommonName
	}
	if served() != a.Subject.CommonName {
		t.Fatalf("serving %s, want a.test", served())
	}

	// A new certificate with the old key: mismatched, refused.
	writeCertPair(t, certFile, filepath.Join(dir, "other-key.pem"), "mismatch.test")
	c.reload()
	if served() != "a.test" || !strings.Contains(logs.String(), "keeping the one in use") {
		t.Errorf("after a mismatched pair: serving %s; log %s", served(), logs.String())
	}
	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ncut short"), 0o600)
	c.reload()
	if served() != "a.test" {
		t.Errorf("after a damaged certificate file: serving %s", served())
	}

	writeCertPair(t, certFile, keyFile, "b.test")
	c.reload()
	if served() != "b.test" || !strings.Contains(logs.String(), "dashboard TLS certificate loaded") {
		t.Errorf("after a renewal: serving %s; log %s", served(), logs.String())
	}

	if _, err := newCertReloader(filepath.Join(dir, "missing.pem"), keyFile, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("a missing certificate at start: %v, want an error naming it", err)
	}
	var none *certReloader
	none.reload() // no TLS: nothing to do, no panic
}
