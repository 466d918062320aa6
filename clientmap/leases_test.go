package clientmap

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff}
	tests := []struct {
		in      string
		wantErr bool
	}{
		{in: "aa:bb:cc:0d:ee:ff"},
		{in: "AA-BB-CC-0D-EE-FF"},
		{in: "aabb.cc0d.eeff"},
		{in: "AABBCC0DEEFF"},
		{in: "aa:bb:cc:0d:ee", wantErr: true},
		{in: "aa:bb-cc:0d:ee:ff", wantErr: true},
		{in: "aa:bb:cc:0d:ee:fg", wantErr: true},
		{in: "aabbcc0deeffaa", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseMAC(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseMAC(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != want {
			t.Errorf("ParseMAC(%q) = %v, want %v", tt.in, got, want)
		}
	}
	if s := want.String(); s != "aa:bb:cc:0d:ee:ff" {
		t.Errorf("String() = %q", s)
	}
	if !(MAC{}).IsZero() || want.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestParseHexColon(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"01:aa:bb", []byte{1, 0xaa, 0xbb}, true},
		{"1:2:0:0:99:0:1", []byte{1, 2, 0, 0, 0x99, 0, 1}, true},
		{"0a-1B", []byte{0x0a, 0x1b}, true},
		{"ff", []byte{0xff}, true},
		{"", nil, false},
		{"aa::bb", nil, false},
		{":aa", nil, false},
		{"aa:", nil, false},
		{"abc:de", nil, false},
		{"zz", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseHexColon(tt.in)
		if ok != tt.ok || !bytes.Equal(got, tt.want) {
			t.Errorf("parseHexColon(%q) = %x, %v, want %x, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMACFromDUID(t *testing.T) {
	mac := MAC{2, 0, 0, 0x99, 0, 1}
	tests := []struct {
		name string
		duid []byte
		want MAC
	}{
		{"LLT ethernet", []byte{0, 1, 0, 1, 0x32, 0x96, 0x27, 0x3f, 2, 0, 0, 0x99, 0, 1}, mac},
		{"LL ethernet", []byte{0, 3, 0, 1, 2, 0, 0, 0x99, 0, 1}, mac},
		{"LL other hardware", []byte{0, 3, 0, 6, 2, 0, 0, 0x99, 0, 1}, MAC{}},
		{"EN", []byte{0, 2, 0, 0, 0xab, 0x11, 1, 2, 3, 4}, MAC{}},
		{"LLT too short", []byte{0, 1, 0, 1, 0x32}, MAC{}},
		{"empty", nil, MAC{}},
	}
	for _, tt := range tests {
		if got := macFromDUID(tt.duid); got != tt.want {
			t.Errorf("macFromDUID(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCleanHostname(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Y9-IPAD-12", "Y9-IPAD-12"},
		{"host.school.local.", "host.school.local."},
		{"café", "café"},
		{"O\"Brien PC", "O\"Brien PC"},
		{"*", ""},
		{"tab\there", ""},
		{"nul\x00", ""},
		{"esc\x1b[31m", ""},
		{"bad\xffutf8", ""},
		{"zero\u200bwidth", ""},
		{strings.Repeat("a", MaxHostnameLen), strings.Repeat("a", MaxHostnameLen)},
		{strings.Repeat("a", MaxHostnameLen+1), ""},
	}
	for _, tt := range tests {
		if got := cleanHostname(tt.in); got != tt.want {
			t.Errorf("cleanHostname(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseLeases_table covers small inline cases per format; whole files
// are in the golden test.
func TestParseLeases_table(t *testing.T) {
	tests := []struct {
		name     string
		format   LeaseFormat
		in       string
		want     string // dumpLeases of the leases, without errors
		wantErrs []string
	}{
		{
			name:   "isc later free block removes lease",
			format: FormatISC,
			in: "lease 10.0.0.1 { ends never; binding state active; hardware ethernet 02:00:00:00:00:01; }\n" +
				"lease 10.0.0.1 { ends never; binding state free; }\n",
			want: "",
		},
		{
			name:   "isc later active block replaces hostname",
			format: FormatISC,
			in: "lease 10.0.0.1 { ends never; binding state active; client-hostname \"A\"; }\n" +
				"lease 10.0.0.1 { ends never; binding state active; client-hostname \"B\"; }\n",
			want: "10.0.0.1\t-\t\"B\"\tnever\n",
		},
		{
			name:   "isc bad block is skipped without hiding the next",
			format: FormatISC,
			in: "lease 10.0.0.1 { ends 9 soon; binding state active; }\n" +
				"lease 10.0.0.2 { ends never; binding state active; }\n",
			want:     "10.0.0.2\t-\t\"\"\tnever\n",
			wantErrs: []string{"src:1: lease 10.0.0.1: ends: invalid time"},
		},
		{
			name:     "isc block missing its brace",
			format:   FormatISC,
			in:       "lease 10.0.0.1 ends never;\nlease 10.0.0.2 { ends never; binding state active; }\n",
			want:     "10.0.0.2\t-\t\"\"\tnever\n",
			wantErrs: []string{"src:1: lease 10.0.0.1: missing '{'"},
		},
		{
			name:     "isc truncated inside a string",
			format:   FormatISC,
			in:       "lease 10.0.0.1 { ends never; binding state active; client-hostname \"AB",
			wantErrs: []string{"src:1: lease 10.0.0.1: unterminated block", "src:1: unterminated string"},
		},
		{
			name:   "isc epoch times",
			format: FormatISC,
			in:     "lease 10.0.0.1 {\n starts epoch 1795385815; # Sun Nov 22 22:16:55 2026\n ends epoch 1795390000; # x\n binding state active;\n}\n",
			want:   "10.0.0.1\t-\t\"\"\t2026-11-22T23:26:40Z\n",
		},
		{
			name:   "dnsmasq CRLF",
			format: FormatDnsmasq,
			in:     "0 02:00:00:00:00:01 10.0.0.1 a *\r\n0 02:00:00:00:00:02 10.0.0.2 b *\r\n",
			want:   "10.0.0.1\t02:00:00:00:00:01\t\"a\"\tnever\n10.0.0.2\t02:00:00:00:00:02\t\"b\"\tnever\n",
		},
		{
			name:     "dnsmasq missing fields",
			format:   FormatDnsmasq,
			in:       "0 02:00:00:00:00:01\n",
			wantErrs: []string{"src:1: want 5 fields"},
		},
		{
			name:   "kea header only",
			format: FormatKeaCSV,
			in:     "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n",
		},
		{
			name:     "kea rows without a header",
			format:   FormatKeaCSV,
			in:       "10.0.0.1,02:00:00:00:00:01,,600,1795386600,1,0,0,x,0,\n",
			wantErrs: []string{"src:1: row before the header line"},
		},
		{
			name:     "kea header without expire",
			format:   FormatKeaCSV,
			in:       "address,hwaddr,valid_lifetime\n10.0.0.1,02:00:00:00:00:01,600\n",
			wantErrs: []string{"src:1: header lacks"},
		},
		{
			name:   "kea deletion then re-grant",
			format: FormatKeaCSV,
			in: "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n" +
				"10.0.0.1,02:00:00:00:00:01,,600,1795386600,1,0,0,a,0,\n" +
				"10.0.0.1,02:00:00:00:00:01,,0,1795386000,1,0,0,a,0,\n" +
				"10.0.0.1,02:00:00:00:00:02,,600,1795386900,1,0,0,b,0,\n",
			want: "10.0.0.1\t02:00:00:00:00:02\t\"b\"\t2026-11-22T22:35:00Z\n",
		},
		{
			name:   "windows without AddressState counts every row",
			format: FormatWindowsCSV,
			in:     "\"IPAddress\",\"ClientId\"\r\n\"10.0.0.1\",\"02-00-00-00-00-01\"\r\n",
			want:   "10.0.0.1\t02:00:00:00:00:01\t\"\"\tnever\n",
		},
		{
			name:     "windows without IPAddress",
			format:   FormatWindowsCSV,
			in:       "\"HostName\"\r\n\"x\"\r\n",
			wantErrs: []string{"src:1: header has no IPAddress column"},
		},
		{
			name:   "empty input",
			format: FormatISC,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leases, errs := ParseLeases(strings.NewReader(tt.in), "src", tt.format, goldenNow)
			if got := dumpLeases(leases, nil); got != tt.want {
				t.Errorf("leases:\ngot:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errors = %v, want %d matching %q", errs, len(tt.wantErrs), tt.wantErrs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.wantErrs[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, e, tt.wantErrs[i])
				}
				var pe *ParseError
				if !errors.As(e, &pe) || pe.Source != "src" {
					t.Errorf("error %d = %#v, want a *ParseError from src", i, e)
				}
			}
		})
	}
}

func TestParseLeases_errorsAreBounded(t *testing.T) {
	in := strings.Repeat("garbage\n", 1000)
	leases, errs := ParseLeases(strings.NewReader(in), "junk.leases", FormatDnsmasq, goldenNow)
	if len(leases) != 0 {
		t.Errorf("got %d leases from garbage", len(leases))
	}
	if len(errs) != maxParseErrors+1 {
		t.Fatalf("got %d errors, want %d", len(errs), maxParseErrors+1)
	}
	if got := errs[len(errs)-1].Error(); got != "junk.leases: 980 more bad records not shown" {
		t.Errorf("last error = %q", got)
	}
	if got := errs[0].Error(); !strings.HasPrefix(got, "junk.leases:1: ") {
		t.Errorf("first error = %q, want it to name junk.leases:1", got)
	}
}

func TestParseLeases_badSource(t *testing.T) {
	for _, src := range []LeaseSource{
		{Path: "x", Format: "bind"},
		{Path: "", Format: FormatISC},
		{Path: "x", Format: FormatWindowsCSV, DateOrder: "ymd"},
	} {
		if _, errs := src.Parse(strings.NewReader(""), goldenNow); len(errs) != 1 {
			t.Errorf("Parse with %+v: errors = %v, want one", src, errs)
		}
	}
}

func TestParseWindowsTime(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		in    string
		order DateOrder
		want  time.Time
		err   bool
	}{
		{"19/11/2026 20:40:01", DateOrderDMY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{"11/19/2026 8:40:01 PM", DateOrderMDY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{"11/19/2026 12:00:00 AM", DateOrderMDY, time.Date(2026, 11, 19, 0, 0, 0, 0, utc), false},
		{"11/19/2026 12:30:00 pm", DateOrderMDY, time.Date(2026, 11, 19, 12, 30, 0, 0, utc), false},
		{"01/02/2026 10:00:00", DateOrderDMY, time.Date(2026, 2, 1, 10, 0, 0, 0, utc), false},
		{"01/02/2026 10:00:00", DateOrderMDY, time.Date(2026, 1, 2, 10, 0, 0, 0, utc), false},
		{"19.11.2026 20:40", DateOrderDMY, time.Date(2026, 11, 19, 20, 40, 0, 0, utc), false},
		{"19-11-26 20:40:01", DateOrderDMY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{"2026-11-19 20:40:01", DateOrderMDY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{"2026-11-19T20:40:01", DateOrderDMY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{" 19/11/2026  20:40:01 ", DateOrderDMY, time.Date(2026, 11, 19, 20, 40, 1, 0, utc), false},
		{"19/11/2026 20:40:01", DateOrderMDY, time.Time{}, true},
		{"29/02/2027 10:00:00", DateOrderDMY, time.Time{}, true},
		{"19/11/2026 13:00:00 PM", DateOrderDMY, time.Time{}, true},
		{"19/11/2026 24:00:00", DateOrderDMY, time.Time{}, true},
		{"19/11/2026", DateOrderDMY, time.Time{}, true},
		{"19/11/2026 20:40:01 GMT", DateOrderDMY, time.Time{}, true},
		{"19/11/226 20:40:01", DateOrderDMY, time.Time{}, true},
		{"Thursday 19 November 2026", DateOrderDMY, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseWindowsTime(tt.in, tt.order, utc)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseWindowsTime(%q, %q) = %v, %v; want %v, error %v", tt.in, tt.order, got, err, tt.want, tt.err)
		}
	}
}

func TestDetectDateOrder(t *testing.T) {
	rows := func(dates ...string) []winRow {
		var r []winRow
		for i, d := range dates {
			r = append(r, winRow{line: i + 2, fields: []string{d}})
		}
		return r
	}
	tests := []struct {
		name  string
		dates []string
		want  DateOrder
	}{
		{"day above 12", []string{"01/02/2026 10:00:00", "19/11/2026 10:00:00"}, DateOrderDMY},
		{"month second above 12", []string{"01/02/2026 10:00:00", "11/19/2026 10:00:00"}, DateOrderMDY},
		{"ambiguous 24h defaults to UK order", []string{"01/02/2026 10:00:00", ""}, DateOrderDMY},
		{"ambiguous with AM/PM is US", []string{"01/02/2026 10:00:00 AM"}, DateOrderMDY},
		{"UK with am/pm still day first", []string{"19/11/2026 8:00:00 pm", "01/02/2026 8:00:00 am"}, DateOrderDMY},
		{"majority wins", []string{"13/01/2026 1:00:00", "14/01/2026 1:00:00", "01/13/2026 1:00:00"}, DateOrderDMY},
		{"year first says nothing", []string{"2026-12-01 10:00:00"}, DateOrderDMY},
		{"no dates", nil, DateOrderDMY},
	}
	for _, tt := range tests {
		if got := detectDateOrder(rows(tt.dates...), 0); got != tt.want {
			t.Errorf("detectDateOrder(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseLeases_windowsEncodings(t *testing.T) {
	text := "#TYPE Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/DHCP/DhcpServerv4Lease\r\n" +
		"\"IPAddress\",\"AddressState\",\"ClientId\",\"HostName\",\"LeaseExpiryTime\"\r\n" +
		"\"10.0.0.1\",\"Active\",\"02-00-00-00-00-01\",\"Café-PC\",\"23/11/2026 08:00:00\"\r\n"
	want := "10.0.0.1\t02:00:00:00:00:01\t\"Café-PC\"\t2026-11-23T08:00:00Z\n"
	u16 := func(s string, bom, bigEndian bool) []byte {
		var b []byte
		if bom {
			b = append(b, 0xFF, 0xFE)
			if bigEndian {
				b = []byte{0xFE, 0xFF}
			}
		}
		for _, u := range utf16.Encode([]rune(s)) {
			if bigEndian {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		return b
	}
	for name, data := range map[string][]byte{
		"utf-8":           []byte(text),
		"utf-8 bom":       append([]byte{0xEF, 0xBB, 0xBF}, text...),
		"utf-16le bom":    u16(text, true, false),
		"utf-16be bom":    u16(text, true, true),
		"utf-16le no bom": u16(text, false, false),
		"utf-16le cut":    u16(text, true, false)[:len(u16(text, true, false))-1],
	} {
		src := LeaseSource{Path: "w.csv", Format: FormatWindowsCSV, Location: time.UTC}
		leases, errs := src.Parse(bytes.NewReader(data), goldenNow)
		if name == "utf-16le cut" {
			// The last character (a line ending) is cut; the row still parses.
			errs = nil
		}
		if got := dumpLeases(leases, errs); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestParseLeases_windowsDateOrderOption(t *testing.T) {
	data, err := os.ReadFile("testdata/leases/windows-ps7-ambiguous.csv") // 01/12/2026 and 02/12/2026
	if err != nil {
		t.Fatal(err)
	}
	early := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		order DateOrder
		want  time.Time
	}{
		{DateOrderAuto, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
		{DateOrderDMY, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
		{DateOrderMDY, time.Date(2026, 1, 12, 8, 0, 0, 0, time.UTC)},
	} {
		src := LeaseSource{Path: "w.csv", Format: FormatWindowsCSV, DateOrder: tt.order, Location: time.UTC}
		leases, errs := src.Parse(bytes.NewReader(data), early)
		if len(errs) > 0 || len(leases) != 2 {
			t.Fatalf("order %q: %v", tt.order, dumpLeases(leases, errs))
		}
		if !leases[0].Expires.Equal(tt.want) {
			t.Errorf("order %q: expiry %v, want %v", tt.order, leases[0].Expires, tt.want)
		}
	}
}

func TestNewLeases_merge(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("10.0.0.2")
	c := netip.MustParseAddr("10.0.0.3")
	t1 := goldenNow.Add(time.Hour)
	t2 := goldenNow.Add(2 * time.Hour)
	src1 := []Lease{
		{Addr: a, Hostname: "a-early", Expires: t1, Source: "one"},
		{Addr: b, Hostname: "b-never", Source: "one"},
		{Addr: c, Hostname: "c-tie-first", Expires: t1, Source: "one"},
	}
	src2 := []Lease{
		{Addr: a, Hostname: "a-late", Expires: t2, Source: "two"},
		{Addr: b, Hostname: "b-late", Expires: t2, Source: "two"},
		{Addr: c, Hostname: "c-tie-second", Expires: t1, Source: "two"},
	}
	ls := NewLeases(src1, src2)
	if ls.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ls.Len())
	}
	for _, tt := range []struct {
		addr netip.Addr
		want string
	}{
		{a, "a-late"},       // later expiry wins
		{b, "b-never"},      // no expiry beats any
		{c, "c-tie-second"}, // tie: the later source
	} {
		got, ok := ls.Lookup(tt.addr, goldenNow)
		if !ok || got.Hostname != tt.want {
			t.Errorf("Lookup(%v) = %+v, %v; want %q", tt.addr, got, ok, tt.want)
		}
	}
	var order []string
	for l := range ls.All() {
		order = append(order, l.Addr.String())
	}
	if got := strings.Join(order, " "); got != "10.0.0.1 10.0.0.2 10.0.0.3" {
		t.Errorf("All() order = %s", got)
	}
	if src1[0].Hostname != "a-early" {
		t.Error("NewLeases modified its input")
	}
}

func TestLeases_Lookup(t *testing.T) {
	v4 := netip.MustParseAddr("10.0.0.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	ends := goldenNow.Add(time.Hour)
	ls := NewLeases([]Lease{
		{Addr: v4, MAC: MAC{2, 0, 0, 0, 0, 1}, Hostname: "four", Expires: ends},
		{Addr: v6, Hostname: "six"},
	})
	tests := []struct {
		name string
		addr netip.Addr
		now  time.Time
		want string
	}{
		{"v4", v4, goldenNow, "four"},
		{"v4-mapped v6", netip.MustParseAddr("::ffff:10.0.0.1"), goldenNow, "four"},
		{"just before expiry", v4, ends.Add(-time.Nanosecond), "four"},
		{"at expiry", v4, ends, ""},
		{"after expiry", v4, ends.Add(time.Hour), ""},
		{"v6 never expires", v6, goldenNow.Add(1000 * time.Hour), "six"},
		{"v6 with zone", netip.MustParseAddr("2001:db8::1%eth0"), goldenNow, "six"},
		{"unknown", netip.MustParseAddr("10.0.0.2"), goldenNow, ""},
		{"zero addr", netip.Addr{}, goldenNow, ""},
	}
	for _, tt := range tests {
		got, ok := ls.Lookup(tt.addr, tt.now)
		if ok != (tt.want != "") || got.Hostname != tt.want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", tt.name, got.Hostname, ok, tt.want)
		}
	}
	var nilLeases *Leases
	if _, ok := nilLeases.Lookup(v4, goldenNow); ok || nilLeases.Len() != 0 {
		t.Error("a nil *Leases is not empty")
	}
	for range nilLeases.All() {
		t.Error("a nil *Leases yields leases")
	}
}

func manyLeases(n int) ([]Lease, []netip.Addr) {
	leases := make([]Lease, n)
	addrs := make([]netip.Addr, n)
	for i := range leases {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		addrs[i] = a
		leases[i] = Lease{Addr: a, MAC: MAC{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
			Hostname: fmt.Sprintf("host-%d", i), Expires: goldenNow.Add(time.Hour), Source: "bench"}
	}
	return leases, addrs
}

func TestLeases_LookupAllocs(t *testing.T) {
	leases, addrs := manyLeases(100)
	ls := NewLeases(leases)
	mapped := netip.AddrFrom16(addrs[7].As16())
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := ls.Lookup(addrs[7], goldenNow); !ok {
			t.Fatal("miss")
		}
		if _, ok := ls.Lookup(mapped, goldenNow); !ok {
			t.Fatal("miss on v4-mapped")
		}
		ls.Lookup(netip.IPv6Loopback(), goldenNow)
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkLeases_Lookup(b *testing.B) {
	leases, addrs := manyLeases(5000)
	ls := NewLeases(leases)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ls.Lookup(addrs[i%len(addrs)], goldenNow)
		i++
	}
}

func TestCSVDelimiter(t *testing.T) {
	for _, tt := range []struct {
		text string
		want rune
	}{
		{"#TYPE x\r\n\"IPAddress\",\"HostName\"\r\n", ','},
		{"#TYPE x\r\n\"IPAddress\";\"HostName\";\"ClientId\"\r\n", ';'},
		{"IPAddress\tHostName\tClientId\n", '\t'},
		{"\"IP;Address\",\"Host;Name\"\n", ','}, // separators inside quotes do not count
		{"IPAddress\n", ','},                    // one column: the default
		{"#TYPE only\n", ','},
		{"", ','},
	} {
		if got := csvDelimiter([]byte(tt.text)); got != tt.want {
			t.Errorf("csvDelimiter(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
