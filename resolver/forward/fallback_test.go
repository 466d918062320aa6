package forward_test

import (
	"context"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/forward"
)

// recursorStandIn answers everything it is asked with one A record and
// says it validated it.
type recursorStandIn struct{ asked []string }

func (r *recursorStandIn) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	m, _, err := r.ResolveSecurity(ctx, q)
	return m, err
}

func (r *recursorStandIn) ResolveSecurity(_ context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	r.asked = append(r.asked, q.Name)
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.Response = true
	rr, _ := dns.NewRR(q.Name + " 60 IN A 198.51.100.7")
	m.Answer = []dns.RR{rr}
	return m, resolver.SecuritySecure, nil
}

func TestForwarder_fallback(t *testing.T) {
	ad := dnstest.NewServer(t, dnstest.NewZone(t, `
school.internal.   3600 IN SOA dc1.school.internal. host.school.internal. 1 7200 900 1209600 300
dc1.school.internal. 300 IN A 10.20.0.10
`))
	rec := &recursorStandIn{}
	f := newForwarder(t, forward.Config{
		Conditional: []forward.Rule{{Domains: []string{"school.internal."}, Upstreams: []forward.Upstream{{Addr: ad}}}},
		Fallback:    rec,
	})
	m, sec, err := f.ResolveSecurity(context.Background(), resolver.Question{Name: "dc1.school.internal.", Type: dns.TypeA})
	if err != nil || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.20.0.10" || sec != resolver.SecurityUnchecked {
		t.Errorf("conditional domain: %v, %v, %v; want the AD server's answer, unchecked", m, sec, err)
	}
	m, sec, err = f.ResolveSecurity(context.Background(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA})
	if err != nil || len(m.Answer) != 1 || sec != resolver.SecuritySecure {
		t.Errorf("other names: %v, %v, %v; want the fallback's secure answer", m, sec, err)
	}
	if len(rec.asked) != 1 || rec.asked[0] != "www.example.org." {
		t.Errorf("fallback asked %v, want only www.example.org.", rec.asked)
	}
	if _, err := forward.New(forward.Config{}); err == nil {
		t.Error("a forwarder with neither upstreams nor a fallback was accepted")
	}
}
