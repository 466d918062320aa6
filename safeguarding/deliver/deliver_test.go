package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/safeguarding/deliver"
	"gatehouse/safeguarding/smtptest"
)

var msg = deliver.Message{
	Key: "c1-dsl-email-0", Kind: "alert", Priority: "critical",
	Subject: "Critical concern: Self harm\r\nBcc: evil@example.org",
	Facts:   []deliver.Fact{{Name: "Device", Value: "10.0.0.7 Y9-[IPAD](http://evil)-12 <b>"}, {Name: "Group", Value: "pupils"}},
	Body:    "A device in group pupils looked up a self-harm site.\nSecond line é.",
	Notice:  "A DNS lookup is an indicator, not proof.",
}

func TestSMTPStartTLS(t *testing.T) {
	srv := smtptest.New(t)
	s := &deliver.SMTP{Address: srv.Addr, From: "gatehouse@school.example", Username: "gh", Password: "pw", TLSServerName: "localhost", RootCAs: srv.RootCAs}
	if err := s.Send(context.Background(), "dsl@school.example", msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || !got[0].TLS || got[0].Auth != "gh" || got[0].To[0] != "dsl@school.example" {
		t.Fatalf("messages = %+v; want one over TLS, authenticated, to the DSL", got)
	}
	data := string(got[0].Data)
	head, body, _ := strings.Cut(data, "\r\n\r\n")
	if strings.Contains(head, "\r\nBcc:") {
		t.Errorf("a CR LF in the subject injected a header:\n%s", head)
	}
	for _, want := range []string{"Message-ID: <c1-dsl-email-0@gatehouse.invalid>", "Importance: high", "Content-Type: text/plain; charset=utf-8"} {
		if !strings.Contains(head, want) {
			t.Errorf("headers lack %q:\n%s", want, head)
		}
	}
	if !strings.Contains(body, "indicator, not proof") || !strings.Contains(body, "Second line =C3=A9.") {
		t.Errorf("body:\n%s", body)
	}
}

func TestSMTPRequiresStartTLS(t *testing.T) {
	srv := smtptest.New(t)
	srv.DisableTLS()
	s := &deliver.SMTP{Address: srv.Addr, From: "gatehouse@school.example", RootCAs: srv.RootCAs}
	err := s.Send(context.Background(), "dsl@school.example", msg)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v; want a STARTTLS error", err)
	}
	s.NoTLS = true
	if err := s.Send(context.Background(), "dsl@school.example", msg); err != nil {
		t.Fatalf("with NoTLS: %v", err)
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	srv := smtptest.New(t)
	s := &deliver.SMTP{Address: srv.Addr, From: "gatehouse@school.example"} // system roots do not trust the test cert
	if err := s.Send(context.Background(), "dsl@school.example", msg); err == nil {
		t.Fatal("sent to a server with an untrusted certificate")
	}
}

func TestSMTPTemporaryFailure(t *testing.T) {
	srv := smtptest.New(t)
	srv.FailNext(1)
	s := &deliver.SMTP{Address: srv.Addr, From: "g@school.example", RootCAs: srv.RootCAs, TLSServerName: "localhost"}
	if err := s.Send(context.Background(), "dsl@school.example", msg); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("first send = %v; want the 451", err)
	}
	if err := s.Send(context.Background(), "dsl@school.example", msg); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookFormats(t *testing.T) {
	type got struct {
		body []byte
		key  string
	}
	ch := make(chan got, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{b, r.Header.Get("Idempotency-Key")}
	}))
	defer srv.Close()
	for _, format := range []string{"json", "teams", "slack"} {
		w := &deliver.Webhook{Name: "w", URL: srv.URL + "/hook", Format: format}
		if err := w.Send(context.Background(), msg); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		g := <-ch
		if g.key != "c1-dsl-email-0" {
			t.Errorf("%s: Idempotency-Key %q", format, g.key)
		}
		var v map[string]any
		if err := json.Unmarshal(g.body, &v); err != nil {
			t.Fatalf("%s: %v: %s", format, err, g.body)
		}
		s := string(g.body)
		switch format {
		case "json":
			if v["key"] != "c1-dsl-email-0" || v["notice"] != msg.Notice {
				t.Errorf("json payload %s", s)
			}
		case "teams":
			att := v["attachments"].([]any)[0].(map[string]any)
			content := att["content"].(map[string]any)
			if att["contentType"] != "application/vnd.microsoft.card.adaptive" || content["type"] != "AdaptiveCard" {
				t.Errorf("teams payload %s", s)
			}
			fact := content["body"].([]any)[1].(map[string]any)["facts"].([]any)[0].(map[string]any)["value"]
			if want := `10.0.0.7 Y9-\[IPAD\]\(http://evil\)-12 \<b\>`; fact != want {
				t.Errorf("teams device fact %q, want markdown escaped %q", fact, want)
			}
			if !strings.Contains(s, "indicator, not proof") {
				t.Errorf("teams card lacks the notice: %s", s)
			}
		case "slack":
			text := v["blocks"].([]any)[0].(map[string]any)["text"].(map[string]any)["text"].(string)
			if !strings.Contains(text, "&lt;b&gt;") || strings.Contains(text, "<b>") {
				t.Errorf("slack payload does not escape <>: %s", s)
			}
		}
	}
}

func TestWebhookFailureHidesSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	url := srv.URL + "/webhookb2/SECRET-TOKEN"
	err := (&deliver.Webhook{Name: "dsl-teams", URL: url, Format: "teams"}).Send(context.Background(), msg)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Send = %v; want HTTP 503 without the URL's secret", err)
	}
	srv.Close()
	err = (&deliver.Webhook{Name: "dsl-teams", URL: url, Format: "teams"}).Send(context.Background(), msg)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("Send to a closed server = %v; want an error without the secret", err)
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := &deliver.Syslog{Network: "udp", Address: pc.LocalAddr().String()}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	line := string(buf[:n])
	if !strings.HasPrefix(line, "<130>1 ") || strings.ContainsAny(line, "\r\n") || !strings.Contains(line, "indicator, not proof") {
		t.Errorf("syslog line %q: want local0.crit, one line, with the notice", line)
	}
}

func TestSyslogTCPOctetCounting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	s := &deliver.Syslog{Network: "tcp", Address: ln.Addr().String()}
	m := msg
	m.Priority = "medium"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	frame := <-got
	n, line, ok := strings.Cut(frame, " ")
	if !ok || n != fmt.Sprint(len(line)) || !strings.HasPrefix(line, "<132>1 ") {
		t.Errorf("frame %q: want \"LEN <132>1 ...\" with LEN the line's length (local0.warning)", frame)
	}
}
