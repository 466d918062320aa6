package dnstest_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
)

var server1 = netip.MustParseAddrPort("192.0.2.1:53")

func newNet(t *testing.T, h dns.Handler) *dnstest.Net {
	t.Helper()
	n := dnstest.NewNet()
	n.Handle(server1.Addr().String(), h)
	return n
}

func TestNet_Exchange(t *testing.T) {
	zone := dnstest.NewZone(t, exampleZone)
	big := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		// A reply too big for 512 bytes, without setting TC itself.
		m := new(dns.Msg)
		m.SetReply(r)
		for i := range 30 {
			m.Answer = append(m.Answer, dnstest.RR(t, fmt.Sprintf("%s 300 IN A 192.0.2.%d", r.Question[0].Name, i)))
		}
		_ = w.WriteMsg(m)
	})
	tests := []struct {
		name      string
		h         dns.Handler
		edns      bool
		wantRcode int
		wantAns   int
		wantLog   []string
	}{
		{
			name: "zone answer", h: zone, edns: true, wantRcode: dns.RcodeSuccess, wantAns: 2,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A do"},
		},
		{
			name: "no edns", h: zone, wantRcode: dns.RcodeSuccess, wantAns: 2,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A noedns"},
		},
		{
			name: "truncated over udp, retried over tcp", h: dnstest.TruncateUDP(zone), edns: true, wantRcode: dns.RcodeSuccess, wantAns: 2,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A do", "192.0.2.1 tcp www.Example.org. A do"},
		},
		{
			name: "reply bigger than 512 bytes without edns goes to tcp", h: big, wantRcode: dns.RcodeSuccess, wantAns: 30,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A noedns", "192.0.2.1 tcp www.Example.org. A noedns"},
		},
		{
			name: "reply fits the edns buffer", h: big, edns: true, wantRcode: dns.RcodeSuccess, wantAns: 30,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A do"},
		},
		{
			name: "formerr to edns", h: dnstest.NoEDNS(zone), edns: true, wantRcode: dns.RcodeFormatError,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A do"},
		},
		{
			name: "no edns passes NoEDNS", h: dnstest.NoEDNS(zone), wantRcode: dns.RcodeSuccess, wantAns: 2,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A noedns"},
		},
		{
			name: "rcode", h: dnstest.Rcode(dns.RcodeRefused), edns: true, wantRcode: dns.RcodeRefused,
			wantLog: []string{"192.0.2.1 udp www.Example.org. A do"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNet(t, tt.h)
			q := dnstest.Msg(t, "www.Example.org.", dns.TypeA)
			q.Id = 4242
			if tt.edns {
				q.SetEdns0(1232, true)
			}
			before := q.Copy()
			r, err := n.Exchange(t.Context(), q, server1)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if r.Id != 4242 || r.Rcode != tt.wantRcode || len(r.Answer) != tt.wantAns {
				t.Errorf("reply id %d rcode %s with %d answers, want 4242 %s with %d",
					r.Id, dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.wantRcode], tt.wantAns)
			}
			if got := n.Lines(); !slices.Equal(got, tt.wantLog) {
				t.Errorf("log = %q, want %q", got, tt.wantLog)
			}
			if q.String() != before.String() {
				t.Errorf("Exchange modified the query:\n%v\nwant\n%v", q, before)
			}
		})
	}
}

func TestNet_Exchange_noReply(t *testing.T) {
	zone := dnstest.NewZone(t, exampleZone)
	tests := []struct {
		name string
		h    dns.Handler
	}{
		{name: "drop", h: dnstest.Drop()},
		{name: "wrong id", h: dnstest.Mangle(zone, func(_, r *dns.Msg) { r.Id++ })},
		{name: "not a response", h: dnstest.Mangle(zone, func(_, r *dns.Msg) { r.Response = false })},
		{name: "wrong question", h: dnstest.Mangle(zone, func(_, r *dns.Msg) { r.Question[0].Name = "evil.example." })},
		{name: "wrong type", h: dnstest.Mangle(zone, func(_, r *dns.Msg) { r.Question[0].Qtype = dns.TypeAAAA })},
		{name: "garbage", h: dns.HandlerFunc(func(w dns.ResponseWriter, _ *dns.Msg) { _, _ = w.Write([]byte{1, 2, 3}) })},
		{name: "slower than the deadline", h: dnstest.Delay(2*time.Second, zone)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t, tt.h)
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				start := time.Now()
				_, err := n.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), server1)
				if !errors.Is(err, dnstest.ErrNoReply) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Exchange error = %v, want ErrNoReply and DeadlineExceeded", err)
				}
				if waited := time.Since(start); waited != time.Second {
					t.Errorf("Exchange returned after %v (fake time), want the 1s deadline", waited)
				}
			})
		})
	}
}

func TestNet_Exchange_delay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNet(t, dnstest.Delay(300*time.Millisecond, dnstest.NewZone(t, exampleZone)))
		start := time.Now()
		r, err := n.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), server1)
		if err != nil || len(r.Answer) != 2 {
			t.Fatalf("Exchange = %v, %v; want the answer", r, err)
		}
		if waited := time.Since(start); waited != 300*time.Millisecond {
			t.Errorf("Exchange took %v (fake time), want 300ms", waited)
		}
	})
}

func TestNet_Exchange_noServer(t *testing.T) {
	n := dnstest.NewNet()
	_, err := n.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), server1)
	if !errors.Is(err, dnstest.ErrNoReply) {
		t.Errorf("Exchange error = %v, want ErrNoReply", err)
	}
	if got, want := n.Lines(), []string{"192.0.2.1 udp www.example.org. A noedns"}; !slices.Equal(got, want) {
		t.Errorf("log = %q, want %q", got, want)
	}
	n.Reset()
	if got := n.Log(); len(got) != 0 {
		t.Errorf("log after Reset = %v, want empty", got)
	}
}

func TestNet_Handle_replace(t *testing.T) {
	n := newNet(t, dnstest.Rcode(dns.RcodeRefused))
	n.Handle("192.0.2.1", dnstest.Rcode(dns.RcodeServerFailure))
	r, err := n.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), server1)
	if err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Errorf("Exchange = %v, %v; want SERVFAIL from the replacing handler", r, err)
	}
}

func TestMangle(t *testing.T) {
	zone := dnstest.NewZone(t, exampleZone)
	poison := dnstest.RR(t, "www.bank.test. 300 IN A 203.0.113.66")
	n := newNet(t, dnstest.Mangle(zone, func(q, r *dns.Msg) {
		if q.Question[0].Name != "www.example.org." {
			t.Errorf("Mangle got query for %s", q.Question[0].Name)
		}
		r.Extra = append(r.Extra, poison)
	}))
	r, err := n.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), server1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 2 || len(r.Extra) != 1 || r.Extra[0].String() != poison.String() {
		t.Errorf("reply = %v, want the zone's answer plus the added record", r)
	}
}

func TestIsTCP(t *testing.T) {
	var protos []bool
	n := newNet(t, dnstest.TruncateUDP(dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		protos = append(protos, dnstest.IsTCP(w))
		m := new(dns.Msg)
		_ = w.WriteMsg(m.SetReply(r))
	})))
	if _, err := n.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), server1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(protos, []bool{true}) {
		t.Errorf("inner handler saw IsTCP = %v, want [true] (UDP answered by TruncateUDP)", protos)
	}
}
