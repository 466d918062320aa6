package main

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServe_trustedForwarderNamesTheClient sends the same queries from a
// trusted forwarder (127.0.0.2) and from an ordinary client (127.0.0.1):
// only the forwarder's EDNS Client Subnet and dnsmasq add-mac options move
// the query into the staff group, which does not block gaming.
func TestServe_trustedForwarderNamesTheClient(t *testing.T) {
	o := newOverrideSite(t)
	o.serve(t)
	ask := func(from string, opts ...dns.EDNS0) string {
		t.Helper()
		r := askFrom(t, o.dns, from, opts...)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return dns.RcodeToString[r.Rcode]
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	ecs := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("10.9.1.5").To4()}
	rawMAC := &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}
	textMAC := &dns.EDNS0_LOCAL{Code: 65073, Data: []byte("aa:bb:cc:dd:ee:ff")}
	b64MAC := &dns.EDNS0_LOCAL{Code: 65073, Data: []byte("qrvM3e7/")}
	tests := []struct {
		name, from string
		opts       []dns.EDNS0
		want       string
	}{
		{"forwarder, no options: the forwarder itself, a pupil", "127.0.0.2", nil, "NXDOMAIN"},
		{"forwarder, ECS in the staff subnet", "127.0.0.2", []dns.EDNS0{ecs}, "192.0.2.80"},
		{"forwarder, add-mac", "127.0.0.2", []dns.EDNS0{rawMAC}, "192.0.2.80"},
		{"forwarder, add-mac=text", "127.0.0.2", []dns.EDNS0{textMAC}, "192.0.2.80"},
		{"forwarder, add-mac=base64", "127.0.0.2", []dns.EDNS0{b64MAC}, "192.0.2.80"},
		{"untrusted, ECS", "127.0.0.1", []dns.EDNS0{ecs}, "NXDOMAIN"},
		{"untrusted, add-mac", "127.0.0.1", []dns.EDNS0{rawMAC}, "NXDOMAIN"},
		{"untrusted, add-mac=base64", "127.0.0.1", []dns.EDNS0{b64MAC}, "NXDOMAIN"},
	}
	for _, tt := range tests {
		if got := ask(tt.from, tt.opts...); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// askFrom sends a query for www.example.org from the loopback address from
// with the EDNS options opts.
func askFrom(t *testing.T, server, from string, opts ...dns.EDNS0) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("www.example.org.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = opts
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query from %s: %v", from, err)
	}
	return r
}
