package addrkey

import (
	"net/netip"
	"testing"
)

func TestRange(t *testing.T) {
	for _, tc := range []struct{ prefix, first, last string }{
		{"10.1.2.3/8", "10.0.0.0", "10.255.255.255"},
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.7"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"2001:db8::1/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8::/96", "2001:db8::", "2001:db8::ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		first, last := Range(netip.MustParsePrefix(tc.prefix))
		if want := Of(netip.MustParseAddr(tc.first)); first != want {
			t.Errorf("%s: first %v, want %v", tc.prefix, first, want)
		}
		// IPv4's /0 ends at the last IPv4-mapped address, not the last IPv6 one.
		wantLast := Of(netip.MustParseAddr(tc.last))
		if last != wantLast {
			t.Errorf("%s: last %v, want %v", tc.prefix, last, wantLast)
		}
	}
}

func TestOrder(t *testing.T) {
	addrs := []string{"0.0.0.0", "10.0.0.1", "255.255.255.255", "2001:db8::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"}
	for i := 1; i < len(addrs); i++ {
		a, b := Of(netip.MustParseAddr(addrs[i-1])), Of(netip.MustParseAddr(addrs[i]))
		if !a.Less(b) || b.Less(a) {
			t.Errorf("%s should sort before %s", addrs[i-1], addrs[i])
		}
	}
	if got := Of(netip.MustParseAddr("10.0.0.255")).Next(); got != Of(netip.MustParseAddr("10.0.1.0")) {
		t.Errorf("Next(10.0.0.255) = %v", got)
	}
	if got := (Key{0, ^uint64(0)}).Next(); got != (Key{1, 0}) {
		t.Errorf("Next carries into Hi: %v", got)
	}
}
