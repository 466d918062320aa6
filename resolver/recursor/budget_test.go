package recursor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// An NXNSAttack: a zone delegated to 100 name server names without glue,
// each in a victim's zone and nonexistent.
func TestRecursor_Resolve_nxns(t *testing.T) {
	org := orgZone
	for i := range 100 {
		org += fmt.Sprintf("attack.org. 86400 IN NS ns%d.victim.net.\n", i)
	}
	victim := `
victim.net.     3600 IN SOA ns.victim.net. hostmaster.victim.net. 1 7200 900 1209600 300
victim.net.     3600 IN NS  ns.victim.net.
ns.victim.net.  3600 IN A   203.0.113.30
`
	net := netZone + "victim.net. 86400 IN NS ns.victim.net.\nns.victim.net. 86400 IN A 203.0.113.30\n"
	w := newWorld(t)
	w["198.51.100.1"] = dnstest.NewZone(t, org)
	w["198.51.100.11"] = dnstest.NewZone(t, net)
	w["203.0.113.30"] = dnstest.NewZone(t, victim)
	n := w.net()
	reg := newRegistry(t)
	r := newRecursor(t, n, func(c *recursor.Config) { c.Metrics = reg.m })

	_, err := r.Resolve(t.Context(), question("www.attack.org.", dns.TypeA))
	if got := budgetKind(err); got != "glueless" {
		t.Fatalf("Resolve error = %v, want the glueless budget exceeded", err)
	}
	var ext *resolver.ExtendedError
	if errors.As(err, &ext); ext.Code != dns.ExtendedErrorCodeOther || ext.Text != "resolution budget exceeded: glueless" {
		t.Errorf("extended error = %d %q, want Other, \"resolution budget exceeded: glueless\"", ext.Code, ext.Text)
	}
	victimQueries := 0
	for _, e := range n.Log() {
		if e.Server.Addr().String() == "203.0.113.30" {
			victimQueries++
		}
	}
	// Lookups go in batches of three: the budget of 8 allows 3, 3 and 2.
	if victimQueries != 8 {
		t.Errorf("victim got %d queries, want 8", victimQueries)
	}
	// Priming, root, org (over UDP, then TCP: 100 NS records do not
	// fit), the first batch of lookups (root, net, victim each) and five
	// lookups straight to the victim.
	if total := len(n.Log()); total > 4+3*3+5 {
		t.Errorf("%d exchanges in all, want at most 18:\n%s", total, strings.Join(n.Lines(), "\n"))
	}
	reg.want(t, `gatehouse_recursor_budget_exceeded_total{kind="glueless"} 1`)
}

func TestRecursor_Resolve_budgets(t *testing.T) {
	tests := []struct {
		name     string
		budget   recursor.Budget
		qname    string
		wantKind string
		wantLog  int // exchanges made
	}{
		{name: "queries", budget: recursor.Budget{MaxQueries: 3}, qname: "www.example.org.", wantKind: "queries", wantLog: 3},
		{name: "referrals", budget: recursor.Budget{MaxReferrals: 1}, qname: "www.example.org.", wantKind: "referrals", wantLog: 3},
		{name: "cnames", budget: recursor.Budget{MaxCNAMEs: 1}, qname: "chain.example.net.", wantKind: "cnames", wantLog: 7},
		{name: "cnames enough", budget: recursor.Budget{MaxCNAMEs: 2}, qname: "chain.example.net.", wantLog: 7},
		{name: "queries enough", budget: recursor.Budget{MaxQueries: 4}, qname: "www.example.org.", wantLog: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newWorld(t).net()
			r := newRecursor(t, n, func(c *recursor.Config) { c.Budget = tt.budget })
			_, err := r.Resolve(t.Context(), question(tt.qname, dns.TypeA))
			if got := budgetKind(err); got != tt.wantKind {
				t.Errorf("Resolve error = %v, want budget %q exceeded", err, tt.wantKind)
			}
			if got := len(n.Log()); got != tt.wantLog {
				t.Errorf("%d exchanges, want %d:\n%s", got, tt.wantLog, strings.Join(n.Lines(), "\n"))
			}
		})
	}
}

func TestRecursor_Resolve_deadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w["203.0.113.1"] = dnstest.Drop()
		w["203.0.113.2"] = dnstest.Drop()
		r := newRecursor(t, w.net(), func(c *recursor.Config) { c.Budget.MaxTime = 500 * time.Millisecond })
		start := time.Now()
		_, err := r.Resolve(t.Context(), question("www.example.org.", dns.TypeA))
		if got := budgetKind(err); got != "time" {
			t.Errorf("Resolve error = %v, want the time budget exceeded", err)
		}
		if took := time.Since(start); took != 500*time.Millisecond {
			t.Errorf("Resolve took %v, want the 500ms budget", took)
		}

		// The caller's own deadline is the caller's error, not a budget.
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err = r.Resolve(ctx, question("www.example.org.", dns.TypeA))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, recursor.ErrBudget) {
			t.Errorf("Resolve with a 300ms context = %v, want DeadlineExceeded, not a budget error", err)
		}
	})
}

func TestRecursor_Resolve_loops(t *testing.T) {
	selfRef := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		// Refers every query back to loop.org itself.
		m := new(dns.Msg)
		m.SetReply(q)
		m.Ns = []dns.RR{dnstest.RR(t, "loop.org. 3600 IN NS ns.loop.org.")}
		m.Extra = []dns.RR{dnstest.RR(t, "ns.loop.org. 3600 IN A 203.0.113.40")}
		_ = w.WriteMsg(m)
	})
	org := orgZone + `
loop.org.    86400 IN NS ns.loop.org.
ns.loop.org. 86400 IN A  203.0.113.40
a.org.       86400 IN NS ns.b.org.
b.org.       86400 IN NS ns.a.org.
`
	exOrg := exampleOrgZone + `
self1.example.org. 300 IN CNAME self2.example.org.
self2.example.org. 300 IN CNAME self1.example.org.
`
	tests := []struct {
		name    string
		qname   string
		wantErr error
		wantLog int
	}{
		{name: "cname loop across zones", qname: "loop1.example.org.", wantErr: recursor.ErrLoop, wantLog: 7},
		{name: "cname loop in a zone", qname: "self1.example.org.", wantErr: recursor.ErrLoop, wantLog: 4},
		{name: "zone delegating to itself", qname: "www.loop.org.", wantErr: resolver.ErrNoUpstream, wantLog: 4},
		// a.org's server is named in b.org, whose server is named in
		// a.org: neither can be found.
		{name: "glueless cycle", qname: "www.a.org.", wantErr: resolver.ErrNoUpstream, wantLog: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w["198.51.100.1"] = dnstest.NewZone(t, org)
			w["203.0.113.1"] = dnstest.NewZone(t, exOrg)
			w["203.0.113.40"] = selfRef
			n := w.net()
			r := newRecursor(t, n)
			_, err := r.Resolve(t.Context(), question(tt.qname, dns.TypeA))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Resolve error = %v, want %v", err, tt.wantErr)
			}
			if got := len(n.Log()); got != tt.wantLog {
				t.Errorf("%d exchanges, want %d:\n%s", got, tt.wantLog, strings.Join(n.Lines(), "\n"))
			}
		})
	}
}
