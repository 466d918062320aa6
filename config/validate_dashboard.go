package config

import (
	"fmt"
	"time"
)

// dashboard checks the dashboard section and the block page listeners.
func (v *validator) dashboard(c *Config) {
	d := &c.Dashboard
	if (d.TLSCert == "") != (d.TLSKey == "") {
		path := "dashboard.tls_key"
		if d.TLSCert == "" {
			path = "dashboard.tls_cert"
		}
		v.errorf(path, "tls_cert and tls_key go together: give both PEM files, or neither for plain HTTP")
	}
	for _, r := range []struct {
		path string
		d    time.Duration
	}{{"dashboard.access_log_retention", d.AccessLogRetention}, {"dashboard.closed_review_retention", d.ClosedReviewRetention}} {
		if r.d < 0 || r.d%(24*time.Hour) != 0 {
			v.errorf(r.path, "must be whole days, like \"365d\", or 0s to keep for ever, got %s", FormatDuration(r.d))
		}
	}
	if c.Listen.DashboardRedirect != nil && (d.TLSCert == "" || c.Listen.HTTP == nil) {
		v.errorf("listen.dashboard_redirect", "redirects to the HTTPS dashboard, so it needs listen.http and dashboard.tls_cert")
	}
	if d.TLSCert != "" && c.Listen.HTTP == nil {
		v.errorf("dashboard.tls_cert", "is set but listen.http is off, so nothing would use it")
	}
	// The block page and redirect listeners must not share a TCP port with each other,
	// the dashboard or DNS over TCP.
	type tcpUse struct {
		path string
		addr ListenAddr
	}
	var used []tcpUse
	for i, a := range c.Listen.DNS {
		used = append(used, tcpUse{fmt.Sprintf("listen.dns[%d]", i), a})
	}
	if c.Listen.HTTP != nil {
		used = append(used, tcpUse{"listen.http", *c.Listen.HTTP})
	}
	for _, l := range []struct {
		path string
		addr *ListenAddr
	}{{"listen.block_page", c.Listen.BlockPage}, {"listen.block_page_https", c.Listen.BlockPageHTTPS}, {"listen.dashboard_redirect", c.Listen.DashboardRedirect}} {
		if l.addr == nil || v.isBad(l.path) {
			continue
		}
		for _, u := range used {
			if u.addr.Port == l.addr.Port && overlaps(u.addr, *l.addr) && !v.isBad(u.path) {
				v.errorf(l.path, "%s clashes with %s (%s): both need TCP port %d", l.addr, u.path, u.addr, l.addr.Port)
				break
			}
		}
		used = append(used, tcpUse{l.path, *l.addr})
	}
}
