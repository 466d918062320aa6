package validator_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver/validator"
)

// logRecorder is a slog.Handler that keeps warnings.
type logRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (h *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warnings = append(h.warnings, r.Message)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

func (h *logRecorder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.warnings)
}

func TestValidator_clockWarning(t *testing.T) {
	// Signatures that expired a day ago, as a Raspberry Pi whose clock
	// runs a day fast would see every signature.
	start := time.Now()
	w := newWorld(t, worldOpts{example: dnstest.SignOptions{Inception: start.Add(-48 * time.Hour), Expiration: start.Add(-24 * time.Hour)}})
	logs := &logRecorder{}
	clock := start
	v, reg := newValidator(t, w, validator.Config{Logger: slog.New(logs), Now: func() time.Time { return clock }})
	ctx := t.Context()
	expired := func(n int) {
		t.Helper()
		for range n {
			clock = clock.Add(time.Second)
			if _, st, _ := v.Validate(ctx, q("www.example.org.", dns.TypeA)); st != validator.Bogus {
				t.Fatalf("status %s, want bogus", st)
			}
		}
	}
	fine := func(n int) {
		t.Helper()
		for range n {
			clock = clock.Add(time.Second)
			if _, st, _ := v.Validate(ctx, q("www.plain.org.", dns.TypeA)); st != validator.Insecure {
				t.Fatalf("status %s, want insecure", st)
			}
		}
	}

	// A few failures among many good answers: no warning.
	fine(20)
	expired(15)
	if n := logs.count(); n != 0 {
		t.Fatalf("%d warnings with time failures in the minority", n)
	}

	// A new minute where most answers fail for time reasons: one warning,
	// even when failures go on.
	clock = clock.Add(time.Minute)
	expired(30)
	if n := logs.count(); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	if w := logs.warnings[0]; !strings.Contains(w, "NTP") || !strings.Contains(w, "clock") {
		t.Errorf("warning %q does not point at the clock and NTP", w)
	}
	clock = clock.Add(2 * time.Minute)
	expired(30)
	if n := logs.count(); n != 1 {
		t.Fatalf("%d warnings within ten minutes, want 1", n)
	}
	// Ten minutes later it warns again.
	clock = clock.Add(10 * time.Minute)
	expired(30)
	if n := logs.count(); n != 2 {
		t.Fatalf("%d warnings after ten minutes, want 2", n)
	}
	if n := metric(t, reg, "clock_warnings_total", ""); n != 2 {
		t.Errorf("clock_warnings_total = %v, want 2", n)
	}
	if n := metric(t, reg, "bogus_total", "signature_expired"); n != 105 {
		t.Errorf("bogus_total{reason=signature_expired} = %v, want 105", n)
	}
}
