package resolver

import (
	"testing"

	"github.com/miekg/dns"
)

func packQuery(t testing.TB, edit func(m *dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("Www.Example.ORG.", dns.TypeA)
	m.Id = 0x1234
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name     string
		pkt      []byte
		want     parseOutcome
		wantName string
		wantDO   bool
		wantCD   bool
		wantEDNS bool
		wantSize uint16
	}{
		{name: "plain", pkt: packQuery(t, nil), want: parsedOK, wantName: "www.example.org.", wantSize: 512},
		{name: "edns do", pkt: packQuery(t, func(m *dns.Msg) { m.SetEdns0(4096, true) }), want: parsedOK,
			wantName: "www.example.org.", wantDO: true, wantEDNS: true, wantSize: 4096},
		{name: "edns small size floors at 512", pkt: packQuery(t, func(m *dns.Msg) { m.SetEdns0(100, false) }), want: parsedOK,
			wantName: "www.example.org.", wantEDNS: true, wantSize: 512},
		{name: "cd", pkt: packQuery(t, func(m *dns.Msg) { m.CheckingDisabled = true }), want: parsedOK,
			wantName: "www.example.org.", wantCD: true, wantSize: 512},
		{name: "root", pkt: packQuery(t, func(m *dns.Msg) { m.Question[0].Name = "." }), want: parsedOK, wantName: ".", wantSize: 512},
		{name: "underscore", pkt: packQuery(t, func(m *dns.Msg) { m.Question[0].Name = "_dns.resolver.arpa." }), want: parsedOK,
			wantName: "_dns.resolver.arpa.", wantSize: 512},
		{name: "response is dropped", pkt: packQuery(t, func(m *dns.Msg) { m.Response = true }), want: parseDrop},
		{name: "short", pkt: []byte{1, 2, 3}, want: parseDrop},
		{name: "notify opcode", pkt: packQuery(t, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), want: parseSlow},
		{name: "two questions", pkt: packQuery(t, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), want: parseSlow},
		{name: "escaped byte", pkt: packQuery(t, func(m *dns.Msg) { m.Question[0].Name = `a\032b.example.` }), want: parseSlow},
		{name: "chaos class", pkt: packQuery(t, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), want: parseSlow},
		{name: "any type", pkt: packQuery(t, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeANY }), want: parseSlow},
		{name: "edns version 1", pkt: packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), want: parseSlow},
		{name: "trailing garbage", pkt: append(packQuery(t, nil), 0xde, 0xad), want: parseSlow},
		{name: "truncated question", pkt: packQuery(t, nil)[:20], want: parseSlow},
		{name: "answer record in query", pkt: packQuery(t, func(m *dns.Msg) {
			rr, _ := dns.NewRR("x. 1 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		}), want: parseSlow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wq wireQuery
			var scratch [256]byte
			got := parseQuery(tt.pkt, scratch[:], &wq)
			if got != tt.want {
				t.Fatalf("parseQuery = %d, want %d", got, tt.want)
			}
			if got != parsedOK {
				return
			}
			if wq.q.Name != tt.wantName || wq.q.DO != tt.wantDO || wq.q.CD != tt.wantCD || wq.edns != tt.wantEDNS || wq.udpSize != tt.wantSize {
				t.Errorf("parseQuery = %+v (edns %v size %d), want name %q do %v cd %v edns %v size %d",
					wq.q, wq.edns, wq.udpSize, tt.wantName, tt.wantDO, tt.wantCD, tt.wantEDNS, tt.wantSize)
			}
			if wq.id != 0x1234 {
				t.Errorf("id = %#x", wq.id)
			}
		})
	}
}

func TestParseQuery_noAlloc(t *testing.T) {
	pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, true) })
	var wq wireQuery
	var scratch [256]byte
	if n := testing.AllocsPerRun(100, func() { parseQuery(pkt, scratch[:], &wq) }); n != 0 {
		t.Errorf("parseQuery allocates %v times, want 0", n)
	}
}
