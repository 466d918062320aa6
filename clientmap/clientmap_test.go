package clientmap

import (
	"net/netip"
	"testing"
)

func TestLookup_defaultGroup(t *testing.T) {
	m, err := New(Config{DefaultGroup: "guests"})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("10.20.3.4")
	if got := m.Lookup(a); got != (Client{Addr: a, Group: "guests", Rule: "default"}) {
		t.Errorf("Lookup = %+v", got)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("a map without a default group was accepted")
	}
}
