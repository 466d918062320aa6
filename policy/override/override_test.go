package override

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/blocklists"
)

// fakePolicy knows two groups and one locked-listed domain.
type fakePolicy struct{}

func (fakePolicy) HasGroup(name string) bool { return name == "year-9" || name == "staff" }
func (fakePolicy) LockedListed(domain string) (string, bool) {
	for d := domain; d != ""; {
		if d == "bad.example." {
			return "iwf-list", true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return "", false
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func req() Request {
	return Request{Group: "year-9", Action: Allow, Category: "streaming", Until: t0.Add(time.Hour), Reason: "media lesson", By: "alice"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Request)
		wantErr error // nil: valid
		check   func(*testing.T, Request)
	}{
		{name: "category", edit: func(*Request) {}},
		{name: "category normalised", edit: func(r *Request) { r.Category = " Gaming " },
			check: func(t *testing.T, r Request) {
				if r.Category != "gaming" {
					t.Errorf("category %q", r.Category)
				}
			}},
		{name: "domain canonical", edit: func(r *Request) { r.Category, r.Domain = "", "WWW.YouTube.com." },
			check: func(t *testing.T, r Request) {
				if r.Domain != "www.youtube.com" {
					t.Errorf("domain %q", r.Domain)
				}
			}},
		{name: "unicode domain to punycode", edit: func(r *Request) { r.Category, r.Domain = "", "bücher.example" },
			check: func(t *testing.T, r Request) {
				if r.Domain != "xn--bcher-kva.example" {
					t.Errorf("domain %q", r.Domain)
				}
			}},
		{name: "unknown group", edit: func(r *Request) { r.Group = "year-10" }, wantErr: ErrInvalid},
		{name: "no group", edit: func(r *Request) { r.Group = " " }, wantErr: ErrInvalid},
		{name: "bad action", edit: func(r *Request) { r.Action = "permit" }, wantErr: ErrInvalid},
		{name: "both", edit: func(r *Request) { r.Domain = "example.com" }, wantErr: ErrInvalid},
		{name: "neither", edit: func(r *Request) { r.Category = "" }, wantErr: ErrInvalid},
		{name: "no reason", edit: func(r *Request) { r.Reason = "  " }, wantErr: ErrInvalid},
		{name: "multi-line reason", edit: func(r *Request) { r.Reason = "a\nb" }, wantErr: ErrInvalid},
		{name: "long reason", edit: func(r *Request) { r.Reason = strings.Repeat("x", MaxReason+1) }, wantErr: ErrInvalid},
		{name: "nobody", edit: func(r *Request) { r.By = "" }, wantErr: ErrInvalid},
		{name: "no until", edit: func(r *Request) { r.Until = time.Time{} }, wantErr: ErrInvalid},
		{name: "past", edit: func(r *Request) { r.Until = t0 }, wantErr: ErrInvalid},
		{name: "too long", edit: func(r *Request) { r.Until = t0.Add(MaxDuration + time.Minute) }, wantErr: ErrInvalid},
		{name: "just under the bound", edit: func(r *Request) { r.Until = t0.Add(MaxDuration) }},
		{name: "unknown category", edit: func(r *Request) { r.Category = "youtube" }, wantErr: ErrInvalid},
		{name: "locked category allow", edit: func(r *Request) { r.Category = "iwf" }, wantErr: blocklists.ErrLocked},
		{name: "locked category block", edit: func(r *Request) { r.Category, r.Action = "ctiru", Block }, wantErr: blocklists.ErrLocked},
		{name: "allow a locked-listed domain", edit: func(r *Request) { r.Category, r.Domain = "", "bad.example" }, wantErr: blocklists.ErrLocked},
		{name: "allow a name under a locked-listed domain", edit: func(r *Request) { r.Category, r.Domain = "", "x.bad.example" }, wantErr: blocklists.ErrLocked},
		{name: "block a locked-listed domain is harmless", edit: func(r *Request) { r.Category, r.Domain, r.Action = "", "bad.example", Block }},
		{name: "wildcard domain", edit: func(r *Request) { r.Category, r.Domain = "", "*.example.com" }, wantErr: ErrInvalid},
		{name: "bad domain", edit: func(r *Request) { r.Category, r.Domain = "", "exa mple.com" }, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req()
			tt.edit(&r)
			got, err := Validate(r, fakePolicy{}, t0)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if tt.check != nil {
					tt.check(t, got)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseUntil(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip(err)
	}
	// 10:00 UTC is 10:00 GMT in November; 2026-03-29 is the spring change.
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, london)
	tests := []struct {
		in   string
		now  time.Time
		want time.Time
		err  bool
	}{
		{in: "14:30", now: now, want: time.Date(2026, 11, 23, 14, 30, 0, 0, london)},
		{in: "09:30", now: now, err: true},
		{in: "10:00", now: now, err: true},
		{in: "2h", now: now, want: now.Add(2 * time.Hour)},
		{in: "1h30m", now: now, want: now.Add(90 * time.Minute)},
		{in: "-1h", now: now, err: true},
		{in: "today", now: now, want: time.Date(2026, 11, 24, 0, 0, 0, 0, london)},
		{in: "TODAY", now: now, want: time.Date(2026, 11, 24, 0, 0, 0, 0, london)},
		{in: "tomorrow", now: now, want: time.Date(2026, 11, 25, 0, 0, 0, 0, london)},
		{in: "2026-11-24 08:40", now: now, want: time.Date(2026, 11, 24, 8, 40, 0, 0, london)},
		{in: "2026-11-24T08:40:00Z", now: now, want: time.Date(2026, 11, 24, 8, 40, 0, 0, time.UTC)},
		// 23:30 UTC on 28 March is still the 28th in London (GMT); today
		// ends at local midnight, 24h later than it started even though
		// the clocks change that night.
		{in: "today", now: time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC), want: time.Date(2026, 3, 29, 0, 0, 0, 0, london)},
		// 10:00 BST on the 29th is 09:00 UTC; "14:30" is 13:30 UTC.
		{in: "14:30", now: time.Date(2026, 3, 29, 9, 0, 0, 0, time.UTC), want: time.Date(2026, 3, 29, 13, 30, 0, 0, time.UTC)},
		{in: "", now: now, err: true},
		{in: "half past two", now: now, err: true},
		{in: "25:00", now: now, err: true},
	}
	for _, tt := range tests {
		got, err := ParseUntil(tt.in, tt.now, london)
		if tt.err {
			if err == nil {
				t.Errorf("ParseUntil(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestStore_survivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Add(req(), fakePolicy{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	r := req()
	r.Category, r.Domain, r.Action = "", "www.youtube.com", Block
	b, err := s.Add(r, fakePolicy{}, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != idLen || a.ID == b.ID || strings.Trim(a.ID, idAlphabet) != "" {
		t.Fatalf("ids %q %q", a.ID, b.ID)
	}
	if _, err := s.Cancel(a.ID, "bob", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(a.ID, "bob", t0.Add(3*time.Minute)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := s.Cancel("nosuch", "bob", t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	s2, err := Open(dir, 0, t0.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	all := s2.List()
	if len(all) != 2 || all[0].ID != a.ID || all[0].CancelledBy != "bob" || all[1] != b {
		t.Fatalf("after reopen: %+v", all)
	}
	act := s2.Active(t0.Add(5 * time.Minute))
	if len(act) != 1 || act[0].ID != b.ID {
		t.Fatalf("active after reopen: %+v", act)
	}
	if act := s2.Active(b.Until); len(act) != 0 {
		t.Fatalf("active at expiry: %+v", act)
	}
	if _, err := s2.Cancel(b.ID, "bob", b.Until); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cancel expired: %v", err)
	}
}

func TestStore_historyPruned(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 24*time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Add(req(), fakePolicy{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Ended at t0+1h; still listed a day later, gone after that.
	later := t0.Add(time.Hour + 24*time.Hour)
	s2, _ := Open(dir, 24*time.Hour, later)
	if l := s2.List(); len(l) != 1 || l[0].ID != old.ID {
		t.Fatalf("history within a day: %+v", l)
	}
	s3, _ := Open(dir, 24*time.Hour, later.Add(time.Minute))
	if l := s3.List(); len(l) != 0 {
		t.Fatalf("history after a day: %+v", l)
	}
	r := req()
	r.Until = later.Add(2 * time.Hour)
	if _, err := s3.Add(r, fakePolicy{}, later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	s4, _ := Open(dir, 24*time.Hour, later.Add(time.Minute))
	if l := s4.List(); len(l) != 1 || l[0].ID == old.ID {
		t.Fatalf("written store still holds pruned history: %+v", l)
	}
}

func TestStore_corruptFileMovedAside(t *testing.T) {
	for name, data := range map[string]string{
		"truncated":   `{"version":1,"overrides":[{"id":"abc"`,
		"version":     `{"version":7,"overrides":[]}`,
		"unknown":     `{"version":1,"overrides":[],"extra":1}`,
		"no target":   `{"version":1,"overrides":[{"id":"a","group":"g","action":"allow","until":"2026-11-23T11:00:00Z","created":"2026-11-23T10:00:00Z"}]}`,
		"duplicate":   `{"version":1,"overrides":[{"id":"a","group":"g","action":"allow","domain":"x.com","until":"2026-11-23T11:00:00Z","created":"2026-11-23T10:00:00Z"},{"id":"a","group":"g","action":"allow","domain":"x.com","until":"2026-11-23T11:00:00Z","created":"2026-11-23T10:00:00Z"}]}`,
		"bad action":  `{"version":1,"overrides":[{"id":"a","group":"g","action":"permit","domain":"x.com","until":"2026-11-23T11:00:00Z","created":"2026-11-23T10:00:00Z"}]}`,
		"not json":    "\x00\x01",
		"empty file":  "",
		"json string": `"hello"`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, 0, t0)
			if err == nil || s == nil {
				t.Fatalf("Open = %v, %v; want a usable store and an error", s, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if got, _ := os.ReadFile(path + ".corrupt"); string(got) != data {
				t.Errorf("corrupt file not kept aside")
			}
			if _, err := s.Add(req(), fakePolicy{}, t0); err != nil {
				t.Fatalf("store unusable after a corrupt file: %v", err)
			}
		})
	}
}

func TestStore_concurrentAdds(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Add(req(), fakePolicy{}, t0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s2, err := Open(dir, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s2.List()); n != 20 {
		t.Fatalf("%d overrides on disk, want 20", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"overrides":[{"id":"a","group":"g","action":"allow","domain":"x.com","until":"2026-11-23T11:00:00Z","created":"2026-11-23T10:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"overrides":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		all, err := parse("fuzz", data)
		if err != nil {
			return
		}
		for _, o := range all {
			if o.ID == "" || (o.Category == "") == (o.Domain == "") || (o.Action != Allow && o.Action != Block) {
				t.Fatalf("parse accepted %+v", o)
			}
		}
	})
}
