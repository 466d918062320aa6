package deliver

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// SMTP sends email through one mail server.
type SMTP struct {
	// Address is the server's host:port (587 for submission with
	// STARTTLS is usual).
	Address string
	// From is the envelope and header sender.
	From string
	// Username and Password, when Username is set, authenticate with
	// PLAIN, which is only ever sent after STARTTLS (or to localhost).
	Username, Password string
	// NoTLS allows a server without STARTTLS: only for a relay on the same
	// host or a trusted segment. By default STARTTLS is required.
	NoTLS bool
	// TLSServerName is the name the certificate must have; default the
	// host part of Address.
	TLSServerName string
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// HelloName is what EHLO says (default "gatehouse").
	HelloName string
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
}

// Send delivers msg to one address. It never retries.
func (s *SMTP) Send(ctx context.Context, to string, msg Message) error {
	if err := s.send(ctx, to, msg); err != nil {
		return fmt.Errorf("email to %s via %s: %w", to, s.Address, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, to string, msg Message) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(s.Address)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Address)
	if err != nil {
		return err
	}
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	helo := s.HelloName
	if helo == "" {
		helo = "gatehouse"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		name := s.TLSServerName
		if name == "" {
			name = host
		}
		if err := c.StartTLS(&tls.Config{ServerName: name, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else if !s.NoTLS {
		return errors.New("the server does not offer STARTTLS (set no_tls only for a local relay)")
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("authenticating as %s: %w", s.Username, err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(FormatEmail(s.From, to, msg, time.Now())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// FormatEmail renders msg as an RFC 5322 message: UTF-8 plain text,
// quoted-printable, with the idempotency key as Message-ID.
func FormatEmail(from, to string, msg Message, now time.Time) []byte {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", oneLine(from))
	hdr("To", oneLine(to))
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(msg.Subject)))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+messageID(msg.Key)+"@gatehouse.invalid>")
	hdr("X-Gatehouse-Key", messageID(msg.Key))
	if msg.Priority == "critical" || msg.Priority == "high" {
		hdr("Importance", "high")
		hdr("X-Priority", "1")
	}
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := msg.Body
	if msg.Notice != "" {
		body += "\n\n" + msg.Notice + "\n"
	}
	qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// messageID keeps the characters a Message-ID may hold.
func messageID(key string) string {
	return strings.Map(func(r rune) rune {
		if r < 127 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._", r)) {
			return r
		}
		return '_'
	}, key)
}
