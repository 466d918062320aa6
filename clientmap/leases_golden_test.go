package clientmap

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London for the Windows exports, whatever the machine has
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// goldenNow is a few minutes after the real servers wrote the files in
// testdata/leases (see its README), so their leases are still active.
var goldenNow = time.Date(2026, 11, 22, 22, 20, 0, 0, time.UTC)

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// formatForFile maps a testdata file name to its format by prefix.
func formatForFile(name string) (LeaseFormat, bool) {
	for prefix, f := range map[string]LeaseFormat{
		"isc-":     FormatISC,
		"dnsmasq":  FormatDnsmasq,
		"kea-":     FormatKeaCSV,
		"windows-": FormatWindowsCSV,
	} {
		if strings.HasPrefix(name, prefix) {
			return f, true
		}
	}
	return "", false
}

// dumpLeases renders parse results for golden files and failure messages.
func dumpLeases(leases []Lease, errs []error) string {
	var b strings.Builder
	for _, l := range leases {
		mac, exp := "-", "never"
		if !l.MAC.IsZero() {
			mac = l.MAC.String()
		}
		if !l.Expires.IsZero() {
			exp = l.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s\t%s\t%q\t%s\n", l.Addr, mac, l.Hostname, exp)
	}
	for _, e := range errs {
		fmt.Fprintf(&b, "error: %v\n", e)
	}
	return b.String()
}

// TestParseLeases_golden parses every lease file in testdata/leases, real
// server output and hand-made edge cases alike, and compares the result
// with testdata/leases/golden/<file>.golden. Regenerate with -update and
// review the diff.
func TestParseLeases_golden(t *testing.T) {
	entries, err := os.ReadDir("testdata/leases")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		format, ok := formatForFile(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/leases", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			src := LeaseSource{Path: e.Name(), Format: format, Location: london(t)}
			leases, errs := src.Parse(strings.NewReader(string(data)), goldenNow)
			for _, l := range leases {
				if l.Source != e.Name() {
					t.Errorf("lease %v has Source %q, want %q", l.Addr, l.Source, e.Name())
				}
			}
			got := dumpLeases(leases, errs)
			golden := filepath.Join("testdata/leases/golden", e.Name()+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("ParseLeases(%s) differs from %s:\ngot:\n%s\nwant:\n%s", e.Name(), golden, got, want)
			}
		})
	}
	if n < 4 {
		t.Fatalf("found %d lease files in testdata/leases, want one per format at least", n)
	}
}
