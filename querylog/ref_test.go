package querylog

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRef(t *testing.T) {
	for _, tc := range []struct {
		id   uint64
		want string
	}{
		{0, "0000-0000-00000"},
		{1, "0000-0000-00001"},
		{31, "0000-0000-0000Z"},
		{32, "0000-0000-00010"},
		{math.MaxUint64, "FZZZ-ZZZZ-ZZZZZ"},
		{0x0123456789ABCDEF, "028T-5CY4-TQKFF"},
	} {
		if got := Ref(tc.id); got != tc.want {
			t.Errorf("Ref(%d) = %q, want %q", tc.id, got, tc.want)
		}
	}
	// A real ID (a millisecond time in the high bits) reads as 13 symbols
	// where the decimal form has 19 digits.
	id := idAt(time.Date(2026, 11, 23, 9, 15, 0, 0, time.UTC)) | 12345
	r := Ref(uint64(id))
	if len(strings.ReplaceAll(r, "-", "")) != 13 || strings.ContainsAny(r, "ILOU") {
		t.Errorf("Ref(%d) = %q", id, r)
	}
}

func TestParseRef(t *testing.T) {
	const id = 0x0123456789ABCDEF
	for _, tc := range []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{"028T-5CY4-TQKFF", id, ""},
		{"028t5cy4tqkff", id, ""},     // lower case, no hyphens
		{" 028T 5CY4 TQKFF ", id, ""}, // spaces as read out
		{"O28T-5CY4-TQKFF", id, ""},   // O for 0
		{"0000-0000-0000l", 1, ""},    // l for 1
		{"0000-0000-0000I", 1, ""},    // I for 1
		{"81985529216486895", id, ""}, // the decimal ID (older references)
		{"FZZZ-ZZZZ-ZZZZZ", math.MaxUint64, ""},
		{"G000-0000-00000", 0, "out of range"},
		{"0000-0000-0000U", 0, "not one of its symbols"},
		{"0000-0000-0000*", 0, "not one of its symbols"},
		{"0000-0000-0000", 0, "want 13"},
		{"", 0, "want 13"},
		{"www.example.org", 0, "want 13"},
		{"99999999999999999999", 0, "want 13"}, // over 64 bits in decimal
		{strings.Repeat("0", 65), 0, "too long"},
	} {
		got, err := ParseRef(tc.in)
		if tc.wantErr != "" {
			if err == nil || !errors.Is(err, ErrBadRef) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRef(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRef(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"028T-5CY4-TQKFF", "FZZZ-ZZZZ-ZZZZZ", "G000-0000-00000", "1852", "o28t 5cy4 tqkff", "81985529216486895", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrBadRef) {
				t.Fatalf("ParseRef(%q): error %v does not wrap ErrBadRef", s, err)
			}
			return
		}
		// Whatever was accepted names one ID, whose reference names it too.
		back, err := ParseRef(Ref(id))
		if err != nil || back != id {
			t.Fatalf("ParseRef(Ref(%d)) = %d, %v", id, back, err)
		}
	})
}

func FuzzRefRoundTrip(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, id uint64) {
		r := Ref(id)
		if len(r) != 15 || strings.ContainsAny(r, "ILOU") {
			t.Fatalf("Ref(%d) = %q", id, r)
		}
		for _, in := range []string{r, strings.ToLower(r), strings.ReplaceAll(r, "-", "")} {
			if got, err := ParseRef(in); err != nil || got != id {
				t.Fatalf("ParseRef(%q) = %d, %v; want %d", in, got, err, id)
			}
		}
	})
}

// A technician finds the entry a pupil's reference names.
func TestSearch_byRef(t *testing.T) {
	l := openTest(t, Config{})
	loadFixture(t, l)
	all, err := l.Search(t.Context(), Filter{})
	if err != nil || len(all.Entries) < 3 {
		t.Fatalf("Search = %d entries, %v", len(all.Entries), err)
	}
	want := all.Entries[2]
	id, err := ParseRef(strings.ToLower(Ref(want.ID)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Search(t.Context(), Filter{ID: id})
	if err != nil || len(p.Entries) != 1 || p.Entries[0].ID != want.ID || p.Entries[0].QName != want.QName {
		t.Fatalf("Search by ref = %+v, %v; want entry %d", p.Entries, err, want.ID)
	}
	// With other filters, all must hold.
	if p, _ := l.Search(t.Context(), Filter{ID: id, Domain: "no-such.example"}); len(p.Entries) != 0 {
		t.Errorf("ID and a domain that does not match: %d entries", len(p.Entries))
	}
}
