package clientmap

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustMAC(t *testing.T, s string) MAC {
	t.Helper()
	m, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMap_Lookup_precedence(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m, err := New(Config{
		DefaultGroup: "guests",
		Rules: []Rule{
			{Group: "secondary", Subnets: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
			{Group: "sixth-form", Subnets: []netip.Prefix{netip.MustParsePrefix("10.20.30.0/24")}},
			{Group: "staff", Hostnames: []string{"STAFF-*"}, Subnets: []netip.Prefix{netip.MustParsePrefix("fd00:20::/32")}},
			{Group: "ipads", Hostnames: []string{"*-ipad"}},
			{Group: "tech", Addresses: []netip.Addr{netip.MustParseAddr("10.20.30.5")}, MACs: []MAC{mustMAC(t, "aa:bb:cc:00:00:01")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m = m.WithLeases(NewLeases([]Lease{
		{Addr: netip.MustParseAddr("10.20.1.9"), MAC: mustMAC(t, "aa:bb:cc:00:00:01"), Hostname: "Y9-LAPTOP", Source: "dhcpd.leases"},
		{Addr: netip.MustParseAddr("10.20.1.10"), Hostname: "Staff-Laptop-3", Source: "dhcpd.leases"},
		{Addr: netip.MustParseAddr("10.20.1.11"), Hostname: "staff-ipad", Source: "dhcpd.leases"},
		{Addr: netip.MustParseAddr("10.20.1.12"), Hostname: "Y9-IPAD", Source: "dhcpd.leases"},
		{Addr: netip.MustParseAddr("10.20.1.13"), Hostname: "STAFF-OLD", Expires: now.Add(-time.Minute), Source: "dhcpd.leases"},
	}))
	tests := []struct {
		addr      string
		wantGroup string
		wantRule  string
	}{
		{"10.20.30.5", "tech", "address 10.20.30.5"},          // device address beats a longer subnet
		{"::ffff:10.20.30.5", "tech", "address 10.20.30.5"},   // seen on a dual-stack socket
		{"10.20.1.9", "tech", "mac aa:bb:cc:00:00:01"},        // MAC from the lease beats the subnet
		{"10.20.1.10", "staff", "hostname STAFF-*"},           // hostname, case-insensitive, beats the subnet
		{"10.20.1.11", "staff", "hostname STAFF-*"},           // "staff-" is more literal than "-ipad"
		{"10.20.1.12", "ipads", "hostname *-ipad"},            //
		{"10.20.1.13", "secondary", "subnet 10.20.0.0/16"},    // expired lease: no hostname, so the subnet
		{"10.20.30.77", "sixth-form", "subnet 10.20.30.0/24"}, // longest prefix wins
		{"10.20.99.1", "secondary", "subnet 10.20.0.0/16"},    //
		{"fd00:20::5", "staff", "subnet fd00:20::/32"},        // IPv6
		{"192.168.1.1", "guests", "default"},                  // nothing matches
	}
	for _, tt := range tests {
		c := m.Lookup(netip.MustParseAddr(tt.addr), now)
		if c.Group != tt.wantGroup || c.Rule != tt.wantRule {
			t.Errorf("Lookup(%s) = %s by %q, want %s by %q", tt.addr, c.Group, c.Rule, tt.wantGroup, tt.wantRule)
		}
	}
	c := m.Lookup(netip.MustParseAddr("10.20.1.12"), now)
	if c.Hostname != "Y9-IPAD" || c.LeaseSource != "dhcpd.leases" || c.Addr != netip.MustParseAddr("10.20.1.12") {
		t.Errorf("identity = %+v, want the lease's hostname and source", c)
	}
	if c := m.Lookup(netip.MustParseAddr("10.20.1.9"), now); c.MACText != "aa:bb:cc:00:00:01" {
		t.Errorf("MACText = %q, want the lease's MAC as text", c.MACText)
	}
	if c := m.Lookup(netip.MustParseAddr("10.20.1.12"), now); c.MACText != "" {
		t.Errorf("MACText = %q for a lease without a MAC, want empty", c.MACText)
	}
}

func TestNew_rejectsConflicts(t *testing.T) {
	tests := map[string][]Rule{
		"address": {{Group: "a", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}, {Group: "b", Addresses: []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1")}}},
		"subnet":  {{Group: "a", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, {Group: "b", Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}}},
		"pattern": {{Group: "a", Hostnames: []string{"Y9-*"}}, {Group: "b", Hostnames: []string{"y9-*"}}},
	}
	for name, rules := range tests {
		if _, err := New(Config{DefaultGroup: "a", Rules: rules}); err == nil || !strings.Contains(err.Error(), "groups a and b") {
			t.Errorf("%s conflict: err = %v", name, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("a map without a default group was accepted")
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"staff-*", "STAFF-01", true},
		{"*-ipad", "y9-IPAD", true},
		{"*-ipad", "y9-ipad2", false},
		{"y*-ipad-*", "Y9-IPAD-12", true},
		{"*", "", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"exact", "EXACT", true},
		{"exact", "exactly", false},
		{"*a*a*a*a*a*a*b", strings.Repeat("a", 200), false}, // no exponential backtracking
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestMap_Lookup_noAlloc(t *testing.T) {
	m, err := New(Config{DefaultGroup: "guests", Rules: []Rule{
		{Group: "staff", Hostnames: []string{"STAFF-*"}, Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m = m.WithLeases(NewLeases([]Lease{{Addr: netip.MustParseAddr("10.1.2.3"), Hostname: "staff-7", MAC: mustMAC(t, "aa:bb:cc:dd:ee:01")}}))
	addr := netip.MustParseAddr("10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { m.Lookup(addr, now) }); n != 0 {
		t.Errorf("Lookup allocates %v times, want 0", n)
	}
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("staff-*", "STAFF-01")
	f.Add("*a*b", "aab")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		pattern = strings.ToLower(pattern)
		got := globMatch(pattern, name)
		// Reference: patterns without * match exactly (ASCII case-insensitive).
		if !strings.Contains(pattern, "*") && got != (pattern == asciiLower(name)) {
			t.Fatalf("globMatch(%q, %q) = %v", pattern, name, got)
		}
		if pattern == "*" && !got {
			t.Fatalf("* did not match %q", name)
		}
	})
}

func asciiLower(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = lower(b[i])
	}
	return string(b)
}

func TestMap_LookupForwarded(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m, err := New(Config{DefaultGroup: "guests", Rules: []Rule{
		{Group: "secondary", Subnets: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}},
		{Group: "staff", Hostnames: []string{"STAFF-*"}},
		{Group: "tech", MACs: []MAC{mustMAC(t, "aa:bb:cc:00:00:01")}},
		{Group: "router", Addresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m = m.WithLeases(NewLeases([]Lease{
		{Addr: netip.MustParseAddr("10.20.1.10"), MAC: mustMAC(t, "aa:bb:cc:00:00:10"), Hostname: "STAFF-LAPTOP", Source: "dhcpd.leases"},
	}))
	fwd := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name              string
		f                 Forwarded
		wantAddr          string
		wantGroup, rule   string
		wantHost, wantMAC string
	}{
		{"nothing said: the forwarder itself", Forwarded{}, "10.0.0.1", "router", "address 10.0.0.1", "", ""},
		{"ECS address with a lease", Forwarded{Addr: netip.MustParseAddr("10.20.1.10")}, "10.20.1.10", "staff", "hostname STAFF-*", "STAFF-LAPTOP", "aa:bb:cc:00:00:10"},
		{"ECS address without a lease", Forwarded{Addr: netip.MustParseAddr("10.20.7.7")}, "10.20.7.7", "secondary", "subnet 10.20.0.0/16", "", ""},
		{"ECS network address", Forwarded{Addr: netip.MustParseAddr("10.20.7.0")}, "10.20.7.0", "secondary", "subnet 10.20.0.0/16", "", ""},
		{"MAC only", Forwarded{MAC: mustMAC(t, "aa:bb:cc:00:00:01")}, "10.0.0.1", "tech", "mac aa:bb:cc:00:00:01", "", "aa:bb:cc:00:00:01"},
		{"MAC and address of the lease's device", Forwarded{Addr: netip.MustParseAddr("10.20.1.10"), MAC: mustMAC(t, "aa:bb:cc:00:00:10")}, "10.20.1.10", "staff", "hostname STAFF-*", "STAFF-LAPTOP", "aa:bb:cc:00:00:10"},
		// The lease belongs to another device: its hostname must not
		// place this one.
		{"MAC disagrees with the lease", Forwarded{Addr: netip.MustParseAddr("10.20.1.10"), MAC: mustMAC(t, "aa:bb:cc:00:00:01")}, "10.20.1.10", "tech", "mac aa:bb:cc:00:00:01", "", "aa:bb:cc:00:00:01"},
		{"IPv4-mapped ECS", Forwarded{Addr: netip.MustParseAddr("::ffff:10.20.7.7")}, "10.20.7.7", "secondary", "subnet 10.20.0.0/16", "", ""},
	}
	for _, tt := range tests {
		c := m.LookupForwarded(fwd, tt.f, now)
		mac := ""
		if !c.MAC.IsZero() {
			mac = c.MAC.String()
		}
		if c.Addr.String() != tt.wantAddr || c.Group != tt.wantGroup || c.Rule != tt.rule || c.Hostname != tt.wantHost || mac != tt.wantMAC || c.Forwarder != fwd {
			t.Errorf("%s: %+v\nwant addr %s group %s by %q host %q mac %q via %s", tt.name, c, tt.wantAddr, tt.wantGroup, tt.rule, tt.wantHost, tt.wantMAC, fwd)
		}
	}
	f := Forwarded{Addr: netip.MustParseAddr("10.20.1.10"), MAC: mustMAC(t, "aa:bb:cc:00:00:01")}
	if n := testing.AllocsPerRun(100, func() { m.LookupForwarded(fwd, f, now) }); n != 0 {
		t.Errorf("LookupForwarded allocates %v times, want 0", n)
	}
}
