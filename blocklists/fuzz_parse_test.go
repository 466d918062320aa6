package blocklists

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzParse checks the parser invariants on any input: no panic, every
// entry canonical and of a known kind and action, every line number inside
// the input, and Children entries only where the format has wildcards.
func fuzzParse(f *testing.F, format Format) {
	if files, _ := filepath.Glob("testdata/lists/*.txt"); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"0.0.0.0 a.com b.com\n", "*.a.com\n", "||a.com^$important\n", "@@|b.org^|\n",
		"$ORIGIN rpz.\n@ SOA a. b. (1 2\n3 4 5)\n*.x CNAME *.\n", "\xEF\xBB\xBFa.com\r\n", "пример.рф\n",
		"0.0.0.0 xn--\n", "a.b.c.d.e.f.g\n", "\xFF\xFEa", "$ORIGIN \\.\na CNAME .\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := bytes.Count(in, []byte("\n")) + 1
		for e, err := range Parse(bytes.NewReader(in), "fuzz", format) {
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("non-ParseError from a bytes.Reader: %v", err)
				}
				if pe.Line < 1 || pe.Line > lines {
					t.Fatalf("issue line %d outside 1..%d: %v", pe.Line, lines, pe)
				}
				continue
			}
			if c, err := Canonical(e.Name); err != nil || c != e.Name {
				t.Fatalf("entry %q is not canonical: Canonical = %q, %v", e.Name, c, err)
			}
			if e.Kind > Children || e.Action == NoAction || e.Action > Allow {
				t.Fatalf("entry %+v has an invalid kind or action", e)
			}
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry line %d outside 1..%d", e.Line, lines)
			}
			if e.Action == NoData && format != RPZ && format != Auto {
				t.Fatalf("NoData entry from format %v", format)
			}
			if e.Kind == Exact && (format == Hosts || format == Domains) {
				t.Fatalf("Exact entry from format %v", format)
			}
		}
	})
}

func FuzzParse_hosts(f *testing.F)   { fuzzParse(f, Hosts) }
func FuzzParse_domains(f *testing.F) { fuzzParse(f, Domains) }
func FuzzParse_adblock(f *testing.F) { fuzzParse(f, Adblock) }
func FuzzParse_rpz(f *testing.F)     { fuzzParse(f, RPZ) }
func FuzzParse_auto(f *testing.F)    { fuzzParse(f, Auto) }

// FuzzCanonical: Canonical is idempotent and its output always valid.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"Example.COM.", "bücher.de", "a..b", "_x.y", "1.2.3.4", "ｅｘａｍｐｌｅ．com", "xn--zca.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Canonical(s)
		if err != nil {
			return
		}
		if c2, err := Canonical(c); err != nil || c2 != c {
			t.Fatalf("Canonical(%q) = %q, but Canonical(%q) = %q, %v", s, c, c, c2, err)
		}
		if validate([]byte(c[:len(c)-1])) != nil || c[len(c)-1] != '.' {
			t.Fatalf("Canonical(%q) = %q is not valid", s, c)
		}
	})
}
