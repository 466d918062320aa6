package main

import (
	"slices"
	"testing"
	"time"

	"gatehouse/config"
)

// The dashboard's retentions apply at the next pruning, so changing them
// is no "needs a restart" warning; its other settings still are.
func TestRestartOnly_dashboardRetention(t *testing.T) {
	old := config.Default()
	cfg := config.Default()
	cfg.Dashboard.AccessLogRetention = 730 * 24 * time.Hour
	cfg.Dashboard.ClosedReviewRetention = 0
	if got := restartOnly(old, cfg); len(got) != 0 {
		t.Errorf("retention change: restart needed for %v, want none", got)
	}
	cfg.Dashboard.TLSCert, cfg.Dashboard.TLSKey = "/etc/gatehouse/c.pem", "/etc/gatehouse/k.pem"
	if got := restartOnly(old, cfg); !slices.Contains(got, "dashboard") {
		t.Errorf("TLS change: restart needed for %v, want dashboard", got)
	}
}
