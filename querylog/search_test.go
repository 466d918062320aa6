package querylog

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixture is a small, varied log: the index in the slice names an entry
// in the table tests.
func fixture() []Entry {
	ip := netip.MustParseAddr
	mk := func(min int, client, mac, host, group, qname string, d Decision, cat string) Entry {
		return Entry{Time: t0.Add(time.Duration(min) * time.Minute), Client: ip(client), MAC: mac, Hostname: host,
			Group: group, ClientRule: "rule-" + group, QName: qname, QType: dns.TypeA, Proto: UDP,
			Decision: d, Category: cat, Rcode: dns.RcodeSuccess, Source: SourceCache, Duration: time.Millisecond}
	}
	return []Entry{
		0: mk(0, "10.20.3.4", "aa:bb:cc:00:00:01", "Y9-IPAD-12", "pupils", "www.example.org.", Allowed, ""),
		1: mk(5, "10.20.3.4", "aa:bb:cc:00:00:01", "Y9-IPAD-12", "pupils", "bad.example.org.", Blocked, "adult"),
		2: mk(10, "10.20.3.5", "aa:bb:cc:00:00:02", "Y9-IPAD-13", "pupils", "example.org.", Allowed, ""),
		3: mk(12, "10.20.3.5", "aa:bb:cc:00:00:02", "Y9-IPAD-13", "pupils", "www.google.com.", Rewritten, "safesearch"),
		4: mk(14, "10.30.0.9", "", "STAFF-LAPTOP-1", "staff", "notexample.org.", Allowed, ""),
		5: mk(15, "10.30.0.9", "", "STAFF-LAPTOP-1", "staff", "mask.icloud.com.", BypassAttempt, "private-relay"),
		6: mk(16, "10.40.0.2", "", "", "guests", "casino.example.net.", Blocked, "gambling"),
		7: mk(20, "2001:db8::7", "aa:bb:cc:00:00:07", "y9-ipad-99", "pupils", "WWW.Example.ORG.", Blocked, "adult"),
	}
}

func loadFixture(t testing.TB, l *Log) []Entry {
	t.Helper()
	return loadFixtureIn(t, l, "staged")
}

func TestSearch_filters(t *testing.T) {
	// Every search reads staged and merged entries alike (schema v4):
	// the fixture all staged, all merged, and split across the two.
	for _, layout := range []string{"staged", "merged", "split"} {
		t.Run(layout, func(t *testing.T) {
			l := openTest(t, Config{})
			loadFixtureIn(t, l, layout)
			testSearchFilters(t, l)
		})
	}
}

// loadFixtureIn loads the fixture staged, merged, or its first half
// merged and the rest staged.
func loadFixtureIn(t testing.TB, l *Log, layout string) []Entry {
	t.Helper()
	es := fixture()
	for i := range es {
		id, ok := l.EnqueueID(es[i])
		if !ok {
			t.Fatal("dropped")
		}
		es[i].ID = id
		if layout == "split" && i == len(es)/2-1 {
			mergeAll(t, l)
		}
	}
	flush(t, l)
	if layout == "merged" {
		mergeAll(t, l)
	}
	return es
}

func testSearchFilters(t *testing.T, l *Log) {
	tests := []struct {
		name string
		f    Filter
		want []int // fixture indexes, newest first
	}{
		{"all", Filter{}, []int{7, 6, 5, 4, 3, 2, 1, 0}},
		{"no such id", Filter{ID: 1}, nil},
		{"ip", Filter{Client: "10.20.3.4"}, []int{1, 0}},
		{"ipv6", Filter{Client: "2001:db8::7"}, []int{7}},
		{"ip mapped", Filter{Client: "::ffff:10.20.3.4"}, []int{1, 0}},
		{"mac", Filter{Client: "AA-BB-CC-00-00-02"}, []int{3, 2}},
		{"hostname any case", Filter{Client: "y9-ipad-12"}, []int{1, 0}},
		{"hostname prefix", Filter{Client: "Y9-IPAD-*"}, []int{7, 3, 2, 1, 0}},
		{"hostname prefix narrower", Filter{Client: "Y9-IPAD-1*"}, []int{3, 2, 1, 0}},
		{"hostname like chars literal", Filter{Client: "Y9_IPAD%*"}, nil},
		{"unknown client", Filter{Client: "nobody"}, nil},
		{"group", Filter{Group: "staff"}, []int{5, 4}},
		{"unknown group", Filter{Group: "nope"}, nil},
		{"domain exact", Filter{Domain: "example.org"}, []int{2}},
		{"domain exact case and dot", Filter{Domain: "WWW.EXAMPLE.ORG."}, []int{7, 0}},
		{"domain suffix star", Filter{Domain: "*.example.org"}, []int{7, 2, 1, 0}},
		{"domain suffix dot", Filter{Domain: ".example.org"}, []int{7, 2, 1, 0}},
		{"suffix is label-aligned", Filter{Domain: "*.ample.org"}, nil},
		{"domain suffix tld", Filter{Domain: "*.net"}, []int{6}},
		{"decision blocked", Filter{Decision: Blocked}, []int{7, 6, 1}},
		{"decision allowed", Filter{Decision: Allowed}, []int{4, 2, 0}},
		{"decision bypass", Filter{Decision: BypassAttempt}, []int{5}},
		{"category", Filter{Category: "adult"}, []int{7, 1}},
		{"time range", Filter{From: t0.Add(10 * time.Minute), To: t0.Add(15 * time.Minute)}, []int{4, 3, 2}},
		{"time from", Filter{From: t0.Add(16 * time.Minute)}, []int{7, 6}},
		{"time to", Filter{To: t0.Add(5*time.Minute + 1)}, []int{1, 0}},
		{"combined", Filter{Client: "Y9-IPAD-*", Decision: Blocked, From: t0, To: t0.Add(15 * time.Minute)}, []int{1}},
		{"combined domain and group", Filter{Domain: "*.example.org", Group: "pupils", Category: "adult"}, []int{7, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustSearch(t, l, tt.f)
			var got []int
			for _, e := range p.Entries {
				got = append(got, fixtureIndex(t, e))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Search(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

// fixtureIndex recovers the fixture index from the entry's minute.
func fixtureIndex(t testing.TB, e Entry) int {
	min := int(e.Time.Sub(t0) / time.Minute)
	for i, f := range fixture() {
		if int(f.Time.Sub(t0)/time.Minute) == min {
			return i
		}
	}
	t.Fatalf("entry %+v not from the fixture", e)
	return -1
}

func TestSearch_badInput(t *testing.T) {
	l := openTest(t, Config{})
	if _, err := l.Search(t.Context(), Filter{Cursor: "not-a-cursor"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: err = %v, want ErrBadCursor", err)
	}
	if _, err := l.Search(t.Context(), Filter{Decision: 200}); err == nil {
		t.Error("unknown decision accepted")
	}
}

func TestSearch_cursorPagingStableUnderInserts(t *testing.T) {
	l := openTest(t, Config{})
	var want []uint64
	for i := range 250 {
		e := fullEntry()
		e.Time = t0.Add(time.Duration(i) * time.Second)
		id, _ := l.EnqueueID(e)
		want = append(want, id)
	}
	flush(t, l)
	slices.Reverse(want)

	f := Filter{Client: "10.20.3.4", Limit: 40}
	var got []uint64
	for page := 0; ; page++ {
		p := mustSearch(t, l, f)
		for _, e := range p.Entries {
			got = append(got, e.ID)
		}
		// Newer entries for the same client arrive between pages.
		for range 7 {
			e := fullEntry()
			e.Time = time.Now()
			l.Enqueue(e)
		}
		flush(t, l)
		if p.Next == "" {
			break
		}
		if page > 20 {
			t.Fatal("paging does not end")
		}
		f.Cursor = p.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged %d ids, want the original %d newest first (first got %v)", len(got), len(want), got[:min(3, len(got))])
	}
}

// hostile are strings a pupil, a DHCP client or a list can put in front of
// the log: SQL, LIKE wildcards, markup, NUL, bidi overrides, invalid
// UTF-8, very long labels, spreadsheet formulas.
var hostile = []string{
	`'; DROP TABLE entries; --`,
	`%`, `_`, `\`, `%_\%`,
	`<script>alert(1)</script>`,
	"nul\x00byte",
	"rtl\u202eoverride\u202c",
	"bad\xff\xfeutf8",
	strings.Repeat("a", 300) + ".example.org.",
	`=HYPERLINK("http://x","y")`,
	`"quoted", with, commas` + "\nand newline",
	"",
}

func TestSearch_hostileStringsRoundTrip(t *testing.T) {
	l := openTest(t, Config{})
	var want []Entry
	for i, s := range hostile {
		e := fullEntry()
		e.Time = t0.Add(time.Duration(i) * time.Second)
		e.MAC, e.Hostname, e.Group, e.ClientRule = s, s, s, s
		e.QName, e.Category, e.List, e.Matched = s, s, s, s
		e.Answer = Text(s)
		if s == "" {
			e.Answer = nil
		}
		id, _ := l.EnqueueID(e)
		e.ID = id
		want = append(want, e)
	}
	flush(t, l)
	for i, s := range hostile {
		e := want[i]
		// Found by each string field, exactly and byte-exact.
		filters := []Filter{{Group: s}, {Category: s}}
		if s != "" {
			filters = append(filters, Filter{Client: s})
		}
		for _, f := range filters {
			if f.Group == "" && f.Category == "" && f.Client == "" {
				continue
			}
			f.From, f.To = e.Time, e.Time.Add(time.Second)
			p := mustSearch(t, l, f)
			if len(p.Entries) != 1 {
				t.Errorf("Search(%q) = %d entries, want 1", s, len(p.Entries))
				continue
			}
			if got := p.Entries[0]; !entriesEqual(got, e) {
				t.Errorf("hostile %q:\n got %+v\nwant %+v", s, got, e)
			}
		}
		// Domain search on the hostile name finds it (the names are
		// distinct after lower-casing).
		if s != "" {
			p := mustSearch(t, l, Filter{Domain: s, From: e.Time, To: e.Time.Add(time.Second)})
			if len(p.Entries) != 1 || p.Entries[0].QName != s {
				t.Errorf("Domain %q: %d entries", s, len(p.Entries))
			}
		}
	}
	// The table is still there and whole.
	if got := len(mustSearch(t, l, Filter{Limit: 1000}).Entries); got != len(hostile) {
		t.Errorf("%d entries after hostile input, want %d", got, len(hostile))
	}
	// Wildcards are literal in a hostname prefix search.
	if got := len(mustSearch(t, l, Filter{Client: "%*"}).Entries); got != 2 {
		t.Errorf(`Client "%%*" matched %d entries, want 2 ("%%" and "%%_\%%")`, got)
	}
}

func entriesEqual(a, b Entry) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Client == b.Client && a.MAC == b.MAC && a.Hostname == b.Hostname &&
		a.Group == b.Group && a.ClientRule == b.ClientRule && a.QName == b.QName && a.Category == b.Category &&
		a.List == b.List && a.Matched == b.Matched && summary(a.Answer) == summary(b.Answer) && a.Decision == b.Decision
}

func TestExport_golden(t *testing.T) {
	l := openTest(t, Config{})
	es := fixture()
	es[0].Answer = Text("A 192.0.2.1, A 192.0.2.2")
	es[1].Answer = Text("=cmd|' /C calc'!A0")
	es[1].Hostname = "+SUM(1,2)"
	es[3].Answer = Text("CNAME forcesafesearch.google.com.")
	es[6].MAC = "@evil"
	es[6].Matched = "<b>casino</b>"
	summer := fullEntry() // British Summer Time: local is UTC+1
	summer.Time = time.Date(2025, 7, 1, 8, 30, 0, 0, time.UTC)
	summer.Answer = Text("A 192.0.2.9")
	es = append(es, summer)
	for _, e := range es {
		l.Enqueue(e)
	}
	flush(t, l)
	for _, tc := range []struct {
		name string
		fn   func(context.Context, Filter, *bytes.Buffer) error
	}{
		{"export.csv", func(ctx context.Context, f Filter, b *bytes.Buffer) error { return l.ExportCSV(ctx, f, b) }},
		{"export.jsonl", func(ctx context.Context, f Filter, b *bytes.Buffer) error { return l.ExportJSONL(ctx, f, b) }},
	} {
		var b bytes.Buffer
		if err := tc.fn(t.Context(), Filter{}, &b); err != nil {
			t.Fatal(err)
		}
		// IDs depend on the wall clock only through ordering; mask them.
		checkRefs(t, b.String())
		got := maskIDs(b.String())
		golden(t, tc.name, got)
	}
}

// checkRefs checks that every exported entry's reference (the "ref" CSV
// column or JSON field) is Ref of its ID.
func checkRefs(t *testing.T, s string) {
	t.Helper()
	for i, ln := range strings.Split(s, "\n") {
		if i == 0 && strings.HasPrefix(ln, "id,") || ln == "" {
			continue
		}
		var id uint64
		var ref string
		if strings.HasPrefix(ln, "{") {
			var r Record
			if err := json.Unmarshal([]byte(ln), &r); err != nil {
				t.Fatal(err)
			}
			id, ref = r.ID, r.Ref
		} else {
			rec, err := csv.NewReader(strings.NewReader(ln)).Read()
			if err != nil || len(rec) != len(csvHeader) {
				t.Fatalf("line %d: %v, %d columns", i, err, len(rec))
			}
			id, _ = strconv.ParseUint(rec[0], 10, 64)
			ref = rec[slices.Index(csvHeader, "ref")]
		}
		if ref != Ref(id) || id == 0 {
			t.Errorf("line %d: ref %q for id %d, want %q", i, ref, id, Ref(id))
		}
	}
}

var refRE = regexp.MustCompile(`[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{5}`)

// maskIDs replaces entry IDs (the first CSV column or "id" field) by their
// rank and references by R, so golden files do not depend on the machine.
func maskIDs(s string) string {
	s = refRE.ReplaceAllString(s, "R")
	lines := strings.Split(s, "\n")
	for i, ln := range lines {
		if j := strings.Index(ln, `{"id":`); j == 0 {
			k := strings.Index(ln, ",")
			lines[i] = `{"id":N` + ln[k:]
		} else if i > 0 && ln != "" {
			k := strings.Index(ln, ",")
			lines[i] = "N" + ln[k:]
		}
	}
	return strings.Join(lines, "\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file:\n%s", name, got)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "a=b": "a=b", "": "",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTail_acrossProcesses(t *testing.T) {
	// The CLI tails from another process: a second, read-only handle on
	// the same file while the server's handle writes.
	w := openTest(t, Config{FlushInterval: 20 * time.Millisecond})
	w.Enqueue(fullEntry()) // before the tail starts: not shown
	flush(t, w)
	r, err := OpenReadOnly(w.cfg.Path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	defer r.Close()
	if r.Enqueue(fullEntry()) {
		t.Error("Enqueue on a read-only log succeeded")
	}
	if err := r.Hold(t.Context(), "x", "y", 1); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Hold on read-only: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var got []uint64
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		started := false
		done <- r.TailFunc(ctx, Filter{Decision: Blocked}, 0, func(e Entry) error {
			mu.Lock()
			got = append(got, e.ID)
			mu.Unlock()
			if !started {
				started = true
			}
			return nil
		})
	}()
	// TailFunc with after = 0 starts at the current last id; give it a
	// moment to read it before writing (the test asserts order and
	// filtering, not timing).
	go func() { time.Sleep(100 * time.Millisecond); close(ready) }()
	<-ready
	var want []uint64
	for i := range 30 {
		e := fullEntry()
		e.Time = time.Now()
		if i%3 == 0 {
			e.Decision = Allowed
		}
		id, _ := w.EnqueueID(e)
		if i%3 != 0 {
			want = append(want, id)
		}
		if i%10 == 9 {
			flush(t, w)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("TailFunc: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("tail got %v\nwant %v", got, want)
	}
	// Reports and searches work on the read-only handle too.
	if p := mustSearch(t, r, Filter{Decision: Blocked}); len(p.Entries) != len(want)+1 {
		t.Errorf("read-only search: %d entries, want %d", len(p.Entries), len(want)+1)
	}
}

func TestTail_channel(t *testing.T) {
	l := openTest(t, Config{FlushInterval: 10 * time.Millisecond})
	first, _ := l.EnqueueID(fullEntry())
	flush(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := l.Tail(ctx, Filter{}, first-1) // from an id: includes first
	second, _ := l.EnqueueID(fullEntry())
	for _, want := range []uint64{first, second} {
		select {
		case e := <-ch:
			if e.ID != want {
				t.Errorf("tail = %d, want %d", e.ID, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no tail entry")
		}
	}
	cancel()
	for range ch { // closed after cancel
	}
}

func TestSubscribe(t *testing.T) {
	l := openTest(t, Config{})
	fast, cancelFast := l.Subscribe(100)
	defer cancelFast()
	slow, cancelSlow := l.Subscribe(1)
	for range 5 {
		l.Enqueue(fullEntry())
	}
	flush(t, l) // must not block on the full slow subscriber
	if got := len(fast); got != 5 {
		t.Errorf("fast subscriber got %d, want 5", got)
	}
	if got := len(slow); got != 1 {
		t.Errorf("slow subscriber got %d, want 1 (the rest dropped)", got)
	}
	cancelSlow()
	cancelSlow() // idempotent
	if _, ok := <-slow; !ok {
		t.Error("buffered entry lost on cancel")
	}
	if _, ok := <-slow; ok {
		t.Error("channel open after cancel")
	}
}

func TestOpenReadOnly_afterWriterClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	w, err := Open(Config{Path: path, Location: time.UTC, Site: "Hill School"})
	if err != nil {
		t.Fatal(err)
	}
	w.Enqueue(fullEntry())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatalf("OpenReadOnly after the writer closed: %v", err)
	}
	defer r.Close()
	if got := len(mustSearch(t, r, Filter{}).Entries); got != 1 {
		t.Errorf("%d entries, want 1", got)
	}
	if r.loc.String() != "UTC" || r.cfg.Site != "Hill School" {
		t.Errorf("read-only location %v site %q, want the writer's UTC and Hill School", r.loc, r.cfg.Site)
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("OpenReadOnly of a missing file succeeded")
	}
}

// Searches by group (no index on it since schema v3) are narrowed to the
// days the group has entries in; that must never lose an entry.
func TestSearch_groupWindow(t *testing.T) {
	l := openTest(t, Config{})
	at := func(days float64, group string) Entry {
		e := fullEntry()
		e.Time = t0.Add(-time.Duration(days * 24 * float64(time.Hour)))
		e.Group = group
		return e
	}
	var visitors []uint64
	for _, e := range []Entry{at(40, "visitors"), at(39.99, "pupils"), at(20.01, "visitors"), at(1, "pupils"), at(0, "pupils")} {
		id, _ := l.EnqueueID(e)
		if e.Group == "visitors" {
			visitors = append([]uint64{id}, visitors...)
		}
	}
	flush(t, l)
	ids := func(f Filter) []uint64 {
		var got []uint64
		for _, e := range mustSearch(t, l, f).Entries {
			got = append(got, e.ID)
		}
		return got
	}
	if got := ids(Filter{Group: "visitors"}); !slices.Equal(got, visitors) {
		t.Errorf("group visitors: %v, want %v", got, visitors)
	}
	if got := ids(Filter{Group: "visitors", From: t0.Add(-30 * 24 * time.Hour), To: t0}); !slices.Equal(got, visitors[:1]) {
		t.Errorf("group visitors, last 30 days: %v, want %v", got, visitors[:1])
	}
	if got := ids(Filter{Group: "visitors", From: t0.Add(-10 * 24 * time.Hour)}); len(got) != 0 {
		t.Errorf("group visitors, last 10 days: %v, want none", got)
	}
	if got := ids(Filter{Group: "nobody"}); len(got) != 0 {
		t.Errorf("unknown group: %v", got)
	}
	if got := ids(Filter{Group: "pupils"}); len(got) != 3 {
		t.Errorf("group pupils: %d entries, want 3", len(got))
	}
	// Paging through a group crosses the narrowed window's edge intact.
	p := mustSearch(t, l, Filter{Group: "visitors", Limit: 1})
	if p.Next == "" {
		t.Fatal("no second page")
	}
	if got := ids(Filter{Group: "visitors", Limit: 1, Cursor: p.Next}); !slices.Equal(got, visitors[1:]) {
		t.Errorf("second page: %v, want %v", got, visitors[1:])
	}
}
