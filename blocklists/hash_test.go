package blocklists

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestHasher_distribution checks the keyed label hash on realistic names:
// no two distinct names share a key, the top bits (which place keys in
// the table) are evenly spread, and the chain over labels agrees with
// hashing the whole name.
func TestHasher_distribution(t *testing.T) {
	h := newHasher()
	rng := rand.New(rand.NewPCG(5, 6))
	seen := make(map[uint64]string)
	const buckets = 1024
	var counts [buckets]int
	var b []byte
	n := 0
	for n < 200_000 {
		b = synthName(b[:0], rng)
		name := string(b) + "."
		k := hashKey(h.name(name), 0)
		if prev, ok := seen[k]; ok {
			if prev != name {
				t.Fatalf("names %q and %q share key %#x", prev, name, k)
			}
			continue
		}
		seen[k] = name
		counts[k>>54]++
		n++
	}
	// Chi-square with 1023 degrees of freedom: mean 1023, sd about 45; a
	// bound of +8 sd fails only for a broken hash.
	want := float64(n) / buckets
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - want
		chi += d * d / want
	}
	if chi > 1023+8*45 {
		t.Errorf("top bits unevenly spread: chi-square %.0f over %d buckets", chi, buckets)
	}
	// Label boundaries matter: the same letters split differently differ.
	for _, pair := range [][2]string{{"ab.c.", "a.bc."}, {"a.b.", "ab."}, {"xx.", "x.x."}, {".", "a."},
		// Zero padding: the label's length tells these apart.
		{"a.", "a\x00."}, {"abcdefgh.", "abcdefgh\x00."}, {"\x00.", "."}, {"abcdefg.", "abcdefg\x00."}} {
		if h.name(pair[0]) == h.name(pair[1]) {
			t.Errorf("name(%q) == name(%q)", pair[0], pair[1])
		}
	}
	// Hashing a long label (the >16-byte path) and every length below it.
	for l := 0; l <= 63; l++ {
		a := strings.Repeat("a", l) + ".example."
		c := strings.Repeat("a", l) + "b.example."
		if l < 63 && h.name(a) == h.name(c) {
			t.Errorf("labels of length %d and %d collide", l, l+1)
		}
	}
}

func TestSet_Match_deepNames(t *testing.T) {
	s := buildSet(t, nil, testList{0, "l", Malware, false, Adblock, "||deep.example^\n|" + strings.Repeat("x.", 60) + "deep.example^\n"})
	for _, labels := range []int{1, 7, 8, 9, 20, 60, 119} {
		name := strings.Repeat("x.", labels) + "deep.example."
		got := s.Match(name, ^Mask(0), 0)
		want := "deep.example."
		wantKind := Subtree
		if labels == 60 {
			want, wantKind = name, Exact
		}
		if got.Action != Block || got.Suffix != want || got.Kind != wantKind {
			t.Errorf("Match(%d labels + deep.example.) = %+v, want block by %s (%v)", labels, got, want, wantKind)
		}
	}
	if got := s.Match(strings.Repeat("x.", 200)+"deep.example.", ^Mask(0), 0); got.Action != NoAction {
		t.Errorf("Match(over-long name) = %+v, want no match", got)
	}
}
