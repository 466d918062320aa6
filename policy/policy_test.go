package policy

import (
	"net/netip"
	"testing"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
)

func clients(t *testing.T) *clientmap.Map {
	t.Helper()
	m, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSnapshot_Allowed(t *testing.T) {
	s, err := New(Options{
		Allow:   []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("127.0.0.1/8")},
		Clients: clients(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"10.20.3.4", true},
		{"10.21.0.1", false},
		{"::ffff:10.20.3.4", true}, // IPv4 arriving on a dual-stack socket
		{"::ffff:8.8.8.8", false},
		{"fd12::1", true},
		{"2001:db8::1", false},
		{"127.9.9.9", true}, // the prefix was given unmasked
		{"192.0.2.1", false},
	}
	for _, tt := range tests {
		if got := s.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Allowed(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestSnapshot_AllowAny(t *testing.T) {
	s, err := New(Options{AllowAny: true, Clients: clients(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Allowed(netip.MustParseAddr("203.0.113.9")) {
		t.Error("AllowAny refused a client")
	}
}

func TestNew_rejects(t *testing.T) {
	if _, err := New(Options{Clients: clients(t)}); err == nil {
		t.Error("a snapshot that allows nobody was accepted")
	}
	if _, err := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err == nil {
		t.Error("a snapshot without a client map was accepted")
	}
}

func TestSnapshot_IdentifyAndDecide(t *testing.T) {
	s, err := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Clients: clients(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Identify(netip.MustParseAddr("::ffff:10.1.2.3"), time.Now())
	if c.Group != "pupils" || c.Rule != "default" || c.Addr != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("Identify = %+v, want the unmapped address in the default group", c)
	}
	if d := s.Decide(c, "www.example.org.", 1, time.Now()); d.Action != Pass {
		t.Errorf("Decide = %v, want pass with no rules", d)
	}
}

func TestCompile(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`version: 1
access:
  allow: [192.168.5.0/24]
groups:
  - name: staff
  - name: guests
default_group: guests
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(cfg, 7, time.Unix(100, 0), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Gen != 7 || !s.LoadedAt.Equal(time.Unix(100, 0)) {
		t.Errorf("Gen %d LoadedAt %v", s.Gen, s.LoadedAt)
	}
	if !s.Allowed(netip.MustParseAddr("192.168.5.9")) || s.Allowed(netip.MustParseAddr("127.0.0.1")) {
		t.Error("Compile did not carry access.allow")
	}
	if g := s.Identify(netip.MustParseAddr("192.168.5.9"), time.Now()).Group; g != "guests" {
		t.Errorf("group = %q, want the default_group guests", g)
	}
}

func TestDecide_noAlloc(t *testing.T) {
	s, err := New(Options{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Clients: clients(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("10.1.2.3")
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() {
		c := s.Identify(addr, now)
		s.Decide(c, "www.example.org.", 1, now)
	}); n != 0 {
		t.Errorf("Identify+Decide allocate %v times, want 0", n)
	}
}
