package dnstest

import (
	"testing"

	"github.com/miekg/dns"
)

// RR parses one resource record in zone-file form, such as
// "example.org. 300 IN A 192.0.2.1", and fails the test if it does not parse.
func RR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("dnstest.RR(%q): %v", s, err)
	}
	if rr == nil {
		t.Fatalf("dnstest.RR(%q): no record", s)
	}
	return rr
}

// Msg returns a query for name (made fully qualified) and qtype with
// recursion desired, as a stub resolver would send it.
func Msg(t testing.TB, name string, qtype uint16) *dns.Msg {
	t.Helper()
	if _, ok := dns.IsDomainName(name); !ok {
		t.Fatalf("dnstest.Msg: bad name %q", name)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return m
}
