package deliver

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Syslog sends one RFC 5424 line per message to a collector over UDP or
// TCP (octet-counted framing, RFC 6587).
type Syslog struct {
	Network string // udp or tcp
	Address string // host:port
	// Facility is the syslog facility number (default 16, local0).
	Facility int
	Timeout  time.Duration // default 10s
}

// Send writes msg once.
func (s *Syslog) Send(ctx context.Context, msg Message) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, s.Network, s.Address)
	if err != nil {
		return fmt.Errorf("syslog %s %s: %w", s.Network, s.Address, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	line := s.Format(msg, time.Now())
	if s.Network == "tcp" {
		line = fmt.Sprintf("%d %s", len(line), line)
	}
	if _, err := conn.Write([]byte(line)); err != nil {
		return fmt.Errorf("syslog %s %s: %w", s.Network, s.Address, err)
	}
	return nil
}

// Format renders msg as one RFC 5424 line.
func (s *Syslog) Format(msg Message, now time.Time) string {
	fac := s.Facility
	if fac <= 0 {
		fac = 16
	}
	sev := 6 // informational
	switch msg.Priority {
	case "critical":
		sev = 2
	case "high":
		sev = 3
	case "medium":
		sev = 4
	case "low":
		sev = 5
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "-"
	}
	var b strings.Builder
	b.WriteString(msg.Subject)
	for _, f := range msg.Facts {
		b.WriteString("; " + f.Name + ": " + f.Value)
	}
	if msg.Notice != "" {
		b.WriteString(". " + msg.Notice)
	}
	msgid := messageID(msg.Key)
	if len(msgid) > 32 {
		msgid = msgid[:32]
	}
	if msgid == "" {
		msgid = "-"
	}
	return fmt.Sprintf("<%d>1 %s %s gatehouse %d %s - %s", fac*8+sev, now.UTC().Format(time.RFC3339Nano),
		strings.ReplaceAll(oneLine(host), " ", "-"), os.Getpid(), msgid, oneLine(b.String()))
}
