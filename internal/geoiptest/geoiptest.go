// Package geoiptest writes small MaxMind-format databases for tests, with
// the layout of GeoLite2 Country and ASN: tests of answer-side blocking
// build their own instead of shipping a real database.
package geoiptest

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// WriteCountry writes a Country database mapping each prefix to a
// two-letter code, to path.
func WriteCountry(t testing.TB, path string, networks map[string]string) {
	t.Helper()
	write(t, path, "GeoLite2-Country", func(code string) mmdbtype.Map {
		return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
	}, networks)
}

// WriteASN writes an ASN database mapping each prefix to its AS number, to
// path.
func WriteASN(t testing.TB, path string, networks map[string]uint32) {
	t.Helper()
	write(t, path, "GeoLite2-ASN", func(asn uint32) mmdbtype.Map {
		return mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(asn),
			"autonomous_system_organization": mmdbtype.String("Test Network"),
		}
	}, networks)
}

func write[V any](t testing.TB, path, dbType string, record func(V) mmdbtype.Map, networks map[string]V) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, v := range networks {
		prefix := netip.MustParsePrefix(p)
		n := &net.IPNet{IP: prefix.Addr().AsSlice(), Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen())}
		if err := tree.Insert(n, record(v)); err != nil {
			t.Fatalf("inserting %s: %v", p, err)
		}
	}
	// Write aside and rename, as a download tool does, so a watcher never
	// sees half a file.
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
