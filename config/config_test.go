package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"0", 0, ""},
		{"0s", 0, ""},
		{"5s", 5 * time.Second, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"1500ms", 1500 * time.Millisecond, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"0d", 0, ""},
		{"", 0, "expected a duration"},
		{"fast", 0, `expected a duration like "5s", "90m" or "7d", got "fast"`},
		{"5", 0, "expected a duration"},
		{"1.5d", 0, "expected a duration"},
		{"d", 0, "expected a duration"},
		{"1h2d", 0, "expected a duration"},
		{"1d-1h", 0, "expected a duration"},
		{"+1d", 0, "expected a duration"},
		{"-5s", 0, "not negative"},
		{"-1d", 0, "not negative"},
		{"106752d", 0, "too long"},
		{"106751d24h", 0, "too long"},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseDuration(%q) error = %v, want %v", tc.in, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{5 * time.Second, "5s"},
		{90 * time.Second, "1m30s"},
		{10 * time.Minute, "10m"},
		{90 * time.Minute, "1h30m"},
		{24 * time.Hour, "24h"},
		{time.Hour + time.Second, "1h0m1s"},
		{1500 * time.Millisecond, "1.5s"},
		{time.Millisecond, "1ms"},
	}
	for _, tc := range tests {
		got := FormatDuration(tc.in)
		if got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := ParseDuration(got); err != nil || back != tc.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", tc.in, back, err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"10.1.2.3", "10.1.2.3/32"},
		{"::1", "::1/128"},
		{"fe80::1/10", "fe80::/10"},
		{"::ffff:10.1.0.0/112", "10.1.0.0/16"},
		{"::ffff:10.1.2.3", "10.1.2.3/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"10.0.0.0/33", ""},
		{"10.0.0", ""},
		{"fe80::1%eth0/64", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := ParsePrefix(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParsePrefix(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParseUpstreamAddr(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{"9.9.9.9", "9.9.9.9:0", ""},
		{"9.9.9.9:5353", "9.9.9.9:5353", ""},
		{"2620:fe::fe", "[2620:fe::fe]:0", ""},
		{"[2620:fe::fe]", "[2620:fe::fe]:0", ""},
		{"[2620:fe::fe]:853", "[2620:fe::fe]:853", ""},
		{"::ffff:9.9.9.9", "9.9.9.9:0", ""},
		{"9.9.9.9:0", "", "port must be"},
		{"9.9.9.9:99999", "", `"9.9.9.9:99999" is not a valid address: port must be a number from 1 to 65535`},
		{"9.9.9.9:+53", "", "port must be"},
		{"9.9.9.9:", "", "port must be"},
		{"dns.quad9.net", "", "is a host name"},
		{"dns.quad9.net:853", "", "is a host name"},
		{"9.9.9", "", "is not a valid address"},
		{"", "", "is not a valid address"},
		{"[::1", "", "is not a valid address"},
	}
	for _, tc := range tests {
		got, err := ParseUpstreamAddr(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseUpstreamAddr(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseUpstreamAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestListenAddr_text(t *testing.T) {
	tests := []struct {
		in      string
		want    ListenAddr
		wantErr string
	}{
		{":53", ListenAddr{Port: 53}, ""},
		{"127.0.0.1:5353", ListenAddr{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5353}, ""},
		{"[::1]:53", ListenAddr{Addr: netip.MustParseAddr("::1"), Port: 53}, ""},
		{"0.0.0.0:53", ListenAddr{Addr: netip.IPv4Unspecified(), Port: 53}, ""},
		{"10.0.0.1", ListenAddr{Addr: netip.MustParseAddr("10.0.0.1")}, ""},
		{"[fd00::1]", ListenAddr{Addr: netip.MustParseAddr("fd00::1")}, ""},
		{"", ListenAddr{}, "empty address"},
		{":0", ListenAddr{}, "port must be"},
		{":", ListenAddr{}, "port must be"},
		{"10.0.0.1:0", ListenAddr{}, "port must be"},
		{"localhost:53", ListenAddr{}, "is a host name"},
	}
	for _, tc := range tests {
		var got ListenAddr
		err := got.UnmarshalText([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("UnmarshalText(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("UnmarshalText(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		text, _ := got.MarshalText()
		var back ListenAddr
		if err := back.UnmarshalText(text); err != nil || back != got {
			t.Errorf("UnmarshalText(MarshalText(%+v) = %q) = %+v, %v", got, text, back, err)
		}
	}
}

func TestEnums_text(t *testing.T) {
	var p Protocol
	for _, want := range []Protocol{ProtocolUDP, ProtocolTCP, ProtocolTLS} {
		text, _ := want.MarshalText()
		if err := p.UnmarshalText(text); err != nil || p != want || want.String() != string(text) {
			t.Errorf("Protocol %q does not round-trip: %q, %v", want, p, err)
		}
	}
	if err := p.UnmarshalText([]byte("UDP")); err == nil {
		t.Error(`Protocol.UnmarshalText("UDP") succeeded; names are lower case`)
	}
	var m Mode
	if err := m.UnmarshalText([]byte("recursive")); err != nil || m != ModeRecursive {
		t.Errorf(`Mode.UnmarshalText("recursive") = %q, %v`, m, err)
	}
	var f LogFormat
	if err := f.UnmarshalText([]byte("json")); err != nil || f != LogJSON {
		t.Errorf(`LogFormat.UnmarshalText("json") = %q, %v`, f, err)
	}
	if got := ProtocolTLS.DefaultPort(); got != 853 {
		t.Errorf("ProtocolTLS.DefaultPort() = %d, want 853", got)
	}
	if got := ProtocolTCP.DefaultPort(); got != 53 {
		t.Errorf("ProtocolTCP.DefaultPort() = %d, want 53", got)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"upstreams", "timeout", "mode", "conditional", "queries_per_second", "burst"}
	tests := []struct{ in, want string }{
		{"upstream", "upstreams"},
		{"Upstreams", "upstreams"},
		{"timout", "timeout"},
		{"mdoe", "mode"},
		{"burts", "burst"},
		{"queries_per_sec", "queries_per_second"},
		{"conditionals", "conditional"},
		{"colour", ""},
		{"m", ""},
		{"forwarders", ""},
	}
	for _, tc := range tests {
		if got := closest(tc.in, known); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
