package recursor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// TestRecursor_AllowLoopback checks both sides of the switch: a private
// hierarchy on one machine (glue on 127.0.0.0/8) resolves only with
// AllowLoopback, and without it no exchange goes to a loopback address.
func TestRecursor_AllowLoopback(t *testing.T) {
	w := newWorld(t)
	w["198.51.100.1"] = dnstest.NewZone(t, strings.ReplaceAll(orgZone, "203.0.113.1", "127.0.0.53"))
	w["198.51.100.2"] = w["198.51.100.1"]
	w["127.0.0.53"] = w["203.0.113.1"]
	for _, allow := range []bool{false, true} {
		n := w.net()
		r := newRecursor(t, n, func(c *recursor.Config) { c.AllowLoopback = allow })
		m, err := r.Resolve(context.Background(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA})
		usedLoopback := false
		for _, e := range n.Log() {
			usedLoopback = usedLoopback || e.Server.Addr().IsLoopback()
		}
		if allow && (err != nil || len(m.Answer) == 0 || !usedLoopback) {
			t.Errorf("AllowLoopback: answer %v, err %v, used loopback %v; want the answer from 127.0.0.53", m, err, usedLoopback)
		}
		if !allow && usedLoopback {
			t.Errorf("without AllowLoopback an exchange went to loopback")
		}
	}
}
