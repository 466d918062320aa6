package recursor

import (
	"strings"
	"testing"
)

func TestMinimised(t *testing.T) {
	const long = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.example.org."
	tests := []struct {
		name, known string
		steps       int
		want        string
	}{
		{name: "www.example.org.", known: ".", want: "org."},
		{name: "www.example.org.", known: "org.", want: "example.org."},
		{name: "www.example.org.", known: "example.org.", want: "www.example.org."},
		{name: long, known: "example.org.", steps: 3, want: "n.example.org."},
		// After four one-label steps, the remaining labels are spread
		// over the steps left of ten (RFC 9156 section 3).
		{name: long, known: "k.l.m.n.example.org.", steps: 4, want: "j.k.l.m.n.example.org."},
		{name: long, known: "example.org.", steps: 4, want: "m.n.example.org."},             // 14 labels left over 6 steps
		{name: long, known: "example.org.", steps: 8, want: "h.i.j.k.l.m.n.example.org."},   // 14 over 2
		{name: long, known: "n.example.org.", steps: 8, want: "h.i.j.k.l.m.n.example.org."}, // 13 over 2
		{name: long, known: "example.org.", steps: 9, want: long},
		{name: long, known: "example.org.", steps: 12, want: long},
	}
	for _, tt := range tests {
		if got := minimised(tt.name, tt.known, tt.steps); got != tt.want {
			t.Errorf("minimised(%q, %q, %d) = %q, want %q", tt.name, tt.known, tt.steps, got, tt.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name, owner, target string
		want                string
		wantOK              bool
	}{
		{"www.old.example.org.", "old.example.org.", "example.net.", "www.example.net.", true},
		{"a.b.old.example.org.", "old.example.org.", "NEW.Example.", "a.b.new.example.", true},
		{"www.old.example.org.", "old.example.org.", ".", "www.", true},
		{"www.example.", ".", "org.", "www.example.org.", true},
		// 4 labels of 63 octets: 257 octets on the wire, over the 255 limit.
		{strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".x.", "x.", strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".", "", false},
		{strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".x.", "x.", strings.Repeat("c", 63) + "." + strings.Repeat("d", 61) + ".", strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61) + ".", true},
	}
	for _, tt := range tests {
		got, ok := substitute(tt.name, tt.owner, tt.target)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("substitute(%q, %q, %q) = %q, %v; want %q, %v", tt.name, tt.owner, tt.target, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRandomCase(t *testing.T) {
	const name = "www.example.org."
	seen := map[string]bool{}
	for range 20 {
		got := randomCase(name)
		if !strings.EqualFold(got, name) {
			t.Fatalf("randomCase(%q) = %q, not the same name", name, got)
		}
		seen[got] = true
	}
	if len(seen) < 10 {
		t.Errorf("randomCase gave %d distinct spellings in 20 tries, want most different", len(seen))
	}
	if got := randomCase(`a\.b.\001.`); !strings.EqualFold(got, `a\.b.\001.`) {
		t.Errorf("randomCase changed escapes: %q", got)
	}
}
