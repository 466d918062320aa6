// Package smtptest is an in-process SMTP server for tests: it listens on
// 127.0.0.1:0, speaks EHLO, STARTTLS (with a certificate made at start),
// AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT, records every message
// it accepts, and can refuse the next messages to test retries.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session had switched to TLS
	Auth string // the user that authenticated, if any
}

// Server is a running test SMTP server.
type Server struct {
	Addr string // host:port
	// RootCAs trusts the server's certificate (its name is "localhost"
	// and 127.0.0.1).
	RootCAs *x509.CertPool
	// CertPEM is the same certificate as PEM, for a CA file.
	CertPEM []byte

	ln     net.Listener
	tlsCfg *tls.Config

	mu       sync.Mutex
	msgs     []Message
	failNext int
	noTLS    bool
	changed  chan struct{}
	wg       sync.WaitGroup
}

// New starts a server that closes when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, pool := makeCert(t)
	s := &Server{Addr: ln.Addr().String(), RootCAs: pool, ln: ln, changed: make(chan struct{}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		tlsCfg:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// FailNext makes the server refuse the next n messages with a temporary
// error (451) at the end of DATA.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// DisableTLS stops the server offering STARTTLS.
func (s *Server) DisableTLS() {
	s.mu.Lock()
	s.noTLS = true
	s.mu.Unlock()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits up to timeout for at least n messages and returns them.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, ch := len(s.msgs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("smtptest: %d messages after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	reply := func(line string) { c.Write([]byte(line + "\r\n")) }
	reply("220 localhost smtptest ready")
	var msg Message
	isTLS := false
	auth := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			s.mu.Lock()
			offerTLS := !s.noTLS && !isTLS
			s.mu.Unlock()
			c.Write([]byte("250-localhost\r\n"))
			if offerTLS {
				c.Write([]byte("250-STARTTLS\r\n"))
			}
			if isTLS {
				c.Write([]byte("250-AUTH PLAIN\r\n"))
			}
			reply("250 8BITMIME")
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(c, s.tlsCfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, isTLS = tc, bufio.NewReader(tc), true
			msg = Message{}
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !isTLS || !strings.EqualFold(mech, "PLAIN") {
				reply("504 unsupported")
				continue
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := bytes.Split(b, []byte{0})
			if err != nil || len(parts) != 3 {
				reply("535 bad credentials")
				continue
			}
			auth = string(parts[1])
			reply("235 ok")
		case "MAIL":
			msg = Message{From: addrOf(arg), TLS: isTLS, Auth: auth}
			reply("250 ok")
		case "RCPT":
			msg.To = append(msg.To, addrOf(arg))
			reply("250 ok")
		case "DATA":
			if len(msg.To) == 0 {
				reply("503 no recipients")
				continue
			}
			reply("354 end with .")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				l = strings.TrimPrefix(l, ".")
				data.WriteString(l)
			}
			msg.Data = data.Bytes()
			s.mu.Lock()
			if s.failNext > 0 {
				s.failNext--
				s.mu.Unlock()
				reply("451 try again later")
				continue
			}
			s.msgs = append(s.msgs, msg)
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			reply("250 accepted")
		case "RSET":
			msg = Message{}
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// addrOf reads "FROM:<a@b>" or "TO:<a@b> SIZE=..." as a@b.
func addrOf(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j >= 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}

func makeCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IP(netip.MustParseAddr("127.0.0.1").AsSlice())},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
