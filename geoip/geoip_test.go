package geoip_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/geoip"
	"gatehouse/internal/geoiptest"
)

func code(t *testing.T, s string) uint32 {
	t.Helper()
	v, err := geoip.CountryCode(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCountryCode(t *testing.T) {
	for _, s := range []string{"ru", "RU", "Kp"} {
		v, err := geoip.CountryCode(s)
		if err != nil || geoip.CountryString(v) != strings.ToUpper(s) {
			t.Errorf("CountryCode(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "R", "RUS", "R1", "é"} {
		if _, err := geoip.CountryCode(s); err == nil {
			t.Errorf("CountryCode(%q) accepted", s)
		}
	}
}

func TestLoad_country(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	geoiptest.WriteCountry(t, path, map[string]string{
		"198.51.100.0/25":   "RU",
		"198.51.100.128/25": "RU", // adjacent: merged
		"203.0.113.0/24":    "KP",
		"192.0.2.0/24":      "GB",
		"2001:db8:1::/48":   "RU",
		"2001:db8:2::/48":   "FR",
	})
	ix, err := geoip.Load(geoip.Country, path, []uint32{code(t, "RU"), code(t, "KP"), code(t, "RU")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr, want string
	}{
		{"198.51.100.1", "RU"},
		{"198.51.100.200", "RU"},
		{"::ffff:198.51.100.200", "RU"},
		{"203.0.113.255", "KP"},
		{"192.0.2.1", ""}, // GB: in the database, not wanted
		{"2001:db8:1:ffff::1", "RU"},
		{"2001:db8:2::1", ""},
		{"8.8.8.8", ""},
	} {
		v, ok := ix.Lookup(netip.MustParseAddr(tc.addr))
		if got := map[bool]string{true: geoip.CountryString(v)}[ok]; got != tc.want {
			t.Errorf("Lookup(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	info := ix.Info()
	if info.Type != "GeoLite2-Country" || info.Ranges != 3 || info.Networks < 5 || info.Path != path {
		t.Errorf("Info = %+v, want 3 ranges (the two RU halves merged)", info)
	}
	if n := testing.AllocsPerRun(100, func() { ix.Lookup(netip.MustParseAddr("198.51.100.1")) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}

	// The same file and values: the same Index, not read again.
	if again, err := geoip.Load(geoip.Country, path, []uint32{code(t, "KP"), code(t, "RU")}, ix); err != nil || again != ix {
		t.Errorf("reload of an unchanged file built a new index (%v)", err)
	}
	// Other values: read again.
	if other, err := geoip.Load(geoip.Country, path, []uint32{code(t, "GB")}, ix); err != nil || other == ix {
		t.Fatalf("changed values reused the index (%v)", err)
	} else if v, ok := other.Lookup(netip.MustParseAddr("192.0.2.9")); !ok || geoip.CountryString(v) != "GB" {
		t.Errorf("GB lookup = %v %v", v, ok)
	}
	// A replaced file: read again.
	geoiptest.WriteCountry(t, path, map[string]string{"192.0.2.0/24": "RU"})
	future := time.Now().Add(time.Hour)
	os.Chtimes(path, future, future)
	re, err := geoip.Load(geoip.Country, path, []uint32{code(t, "RU")}, ix)
	if err != nil || re == ix {
		t.Fatalf("replaced file: %v", err)
	}
	if _, ok := re.Lookup(netip.MustParseAddr("198.51.100.1")); ok {
		t.Error("replaced file still maps the old networks")
	}
	if _, ok := re.Lookup(netip.MustParseAddr("192.0.2.1")); !ok {
		t.Error("replaced file does not map its new network")
	}
}

func TestLoad_asn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteASN(t, path, map[string]uint32{"198.51.100.0/24": 64500, "2001:db8::/32": 64501, "203.0.113.0/24": 64502})
	ix, err := geoip.Load(geoip.ASN, path, []uint32{64500, 64501}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]uint32{"198.51.100.7": 64500, "2001:db8::1": 64501, "203.0.113.1": 0} {
		if v, _ := ix.Lookup(netip.MustParseAddr(addr)); v != want {
			t.Errorf("Lookup(%s) = %d, want %d", addr, v, want)
		}
	}
	// A country database is not an ASN database, and the reverse.
	cpath := filepath.Join(dir, "country.mmdb")
	geoiptest.WriteCountry(t, cpath, map[string]string{"192.0.2.0/24": "GB"})
	if _, err := geoip.Load(geoip.ASN, cpath, nil, nil); err == nil || !strings.Contains(err.Error(), `"GeoLite2-Country" database`) {
		t.Errorf("country file as ASN: %v", err)
	}
	if _, err := geoip.Load(geoip.Country, path, nil, nil); err == nil {
		t.Error("ASN file accepted as a country database")
	}
}

func TestLoad_badFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mmdb")
	geoiptest.WriteCountry(t, good, map[string]string{"192.0.2.0/24": "GB"})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("<html>not found</html>"),
		"truncated": data[:len(data)/2],
	} {
		p := filepath.Join(dir, name+".mmdb")
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := geoip.Load(geoip.Country, p, []uint32{code(t, "GB")}, nil)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := geoip.Load(geoip.Country, filepath.Join(dir, "missing.mmdb"), nil, nil); err == nil {
		t.Error("missing file accepted")
	}
}

// FuzzLoad: a hostile database file never panics the loader.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.mmdb")
	geoiptest.WriteCountry(f, good, map[string]string{"192.0.2.0/24": "GB", "2001:db8::/32": "RU"})
	seed, err := os.ReadFile(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.mmdb")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ix, err := geoip.Load(geoip.Country, p, []uint32{'G'<<8 | 'B', 'R'<<8 | 'U'}, nil)
		if err == nil {
			ix.Lookup(netip.MustParseAddr("192.0.2.1"))
		}
	})
}

// BenchmarkLoad is what a reload pays when the database file or the
// blocked countries change: a walk of every network. The database is
// synthetic: 100,000 IPv4 /24s and 20,000 IPv6 /48s spread over 200
// countries, two of them wanted.
func BenchmarkLoad(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	networks := map[string]string{}
	cc := func() string { n := r.IntN(200); return string([]byte{'A' + byte(n/26), 'A' + byte(n%26)}) }
	for len(networks) < 100_000 {
		networks[fmt.Sprintf("%d.%d.%d.0/24", 1+r.IntN(220), r.IntN(256), r.IntN(256))] = cc()
	}
	for len(networks) < 120_000 {
		networks[fmt.Sprintf("2001:db8:%x::/48", r.IntN(1<<16))] = cc()
	}
	path := filepath.Join(b.TempDir(), "country.mmdb")
	geoiptest.WriteCountry(b, path, networks)
	want := []uint32{'A'<<8 | 'B', 'G'<<8 | 'Q'}
	b.ReportAllocs()
	for b.Loop() {
		ix, err := geoip.Load(geoip.Country, path, want, nil)
		if err != nil || ix.Info().Ranges == 0 {
			b.Fatal(err)
		}
	}
}
