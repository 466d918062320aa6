package dnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// NewServer starts a DNS server on 127.0.0.1 serving h over UDP and TCP on
// the same port, waits until both listeners are serving, and shuts them down
// when the test ends. It returns the address to query.
func NewServer(t testing.TB, h dns.Handler) netip.AddrPort {
	t.Helper()
	pc, l := listenPair(t)
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	serve(t, &dns.Server{PacketConn: pc, Handler: h})
	serve(t, &dns.Server{Listener: l, Handler: h})
	return netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
}

// listenPair opens a UDP socket and a TCP listener on the same loopback port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: listening on udp: %v", err)
		}
		l, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		lastErr = err // the TCP port is taken: try another UDP port
		pc.Close()
	}
	t.Fatalf("dnstest: no free port for udp and tcp: %v", lastErr)
	return nil, nil
}

// serve runs srv (whose PacketConn or Listener is set) until the test ends.
func serve(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	done := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("dnstest: starting server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("dnstest: shutting down server: %v", err)
		}
		<-done
	})
}

// TLSServerName is the name in the certificate of servers from NewTLSServer.
const TLSServerName = "dns.test"

// NewTLSServer starts a DNS over TLS server (RFC 7858) on 127.0.0.1 serving
// h, with a freshly generated self-signed certificate for TLSServerName and
// 127.0.0.1. It returns the address, a pool holding that certificate for
// clients to trust, and the server name to verify.
func NewTLSServer(t testing.TB, h dns.Handler) (netip.AddrPort, *x509.CertPool, string) {
	t.Helper()
	cert, pool := selfSigned(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: listening on tcp: %v", err)
	}
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	serve(t, &dns.Server{Net: "tcp-tls", Listener: tls.NewListener(l, conf), Handler: h})
	return netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), pool, TLSServerName
}

// selfSigned makes an ECDSA certificate valid for TLSServerName and
// 127.0.0.1, and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("dnstest: generating key: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: TLSServerName},
		DNSNames:              []string{TLSServerName},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("dnstest: creating certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("dnstest: parsing certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
