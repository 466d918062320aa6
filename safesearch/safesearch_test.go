package safesearch

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/miekg/dns"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func settings(t testing.TB, kv ...any) Settings {
	t.Helper()
	var s Settings
	for i := 0; i < len(kv); i += 2 {
		if err := s.Set(kv[i].(Provider), kv[i+1].(Mode)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestBuiltin_everyLineParses(t *testing.T) {
	sub, err := fs.Sub(builtinData, "data")
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(sub, "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(f, ".txt"))
		data, err := fs.ReadFile(sub, f)
		if err != nil {
			t.Fatal(err)
		}
		if _, errs := parseFile(Provider(strings.TrimSuffix(f, ".txt")), f, string(data)); len(errs) > 0 {
			t.Errorf("%s does not parse: %v", f, errs)
		}
	}
	// One file per provider, and no provider without its file.
	var want []string
	for _, p := range Providers() {
		want = append(want, string(p))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("data files %v, want one per provider %v", got, want)
	}
	tab := Builtin()
	perProvider := map[Provider]int{}
	for _, k := range tab.keys {
		perProvider[tab.rules[k.rule].Provider]++
	}
	// www.google.com plus Google's 187 country suffixes (and historical ones).
	if n := perProvider[Google]; n < 188 {
		t.Errorf("built-in table has %d Google names, want the full country list (>= 188)", n)
	}
	for _, p := range Providers() {
		if perProvider[p] == 0 {
			t.Errorf("provider %s has no entries", p)
		}
	}
	for _, k := range tab.keys {
		r := tab.rules[k.rule]
		if !dns.IsFqdn(k.name) || !isDomain(k.name) || k.name != dns.CanonicalName(k.name) {
			t.Errorf("%s: name %q is not a canonical FQDN", k.pos, k.name)
		}
		if r.Block != (r.Target == "") {
			t.Errorf("%s: block %v with target %q", k.pos, r.Block, r.Target)
		}
		for _, target := range []string{r.Target, r.ModerateTarget} {
			if target != "" && (!dns.IsFqdn(target) || !isDomain(target) || target != dns.CanonicalName(target)) {
				t.Errorf("%s: target %q is not a canonical FQDN", k.pos, target)
			}
		}
		if (r.ModerateTarget != "") != (r.Provider == YouTube) {
			t.Errorf("%s: %s rule with moderate target %q", k.pos, r.Provider, r.ModerateTarget)
		}
	}
}

func isDomain(s string) bool {
	n, ok := dns.IsDomainName(s)
	return ok && n >= 2
}

func TestTable_Lookup(t *testing.T) {
	tab := Builtin()
	const (
		google   = "forcesafesearch.google.com."
		ytStrict = "restrict.youtube.com."
		ytMod    = "restrictmoderate.youtube.com."
	)
	tests := []struct {
		name string
		want Rule
		ok   bool
	}{
		{"www.google.com.", Rule{Provider: Google, Target: google}, true},
		{"www.google.co.uk.", Rule{Provider: Google, Target: google}, true},
		{"www.google.com.au.", Rule{Provider: Google, Target: google}, true},
		{"www.google.co.za.", Rule{Provider: Google, Target: google}, true}, // in Google's list, not AdGuard Home's
		{"www.google.cat.", Rule{Provider: Google, Target: google}, true},
		{"www.google.tk.", Rule{Provider: Google, Target: google}, true}, // historical
		{"google.co.uk.", Rule{}, false},                                 // apex: not rewritten (exact entries)
		{"google.com.", Rule{}, false},
		{"mail.google.com.", Rule{}, false},
		{"x.www.google.com.", Rule{}, false}, // exact, not subtree
		{"www.google.example.", Rule{}, false},
		{"www.youtube.com.", Rule{Provider: YouTube, Target: ytStrict, ModerateTarget: ytMod}, true},
		{"m.youtube.com.", Rule{Provider: YouTube, Target: ytStrict, ModerateTarget: ytMod}, true},
		{"youtubei.googleapis.com.", Rule{Provider: YouTube, Target: ytStrict, ModerateTarget: ytMod}, true},
		{"youtube.googleapis.com.", Rule{Provider: YouTube, Target: ytStrict, ModerateTarget: ytMod}, true},
		{"www.youtube-nocookie.com.", Rule{Provider: YouTube, Target: ytStrict, ModerateTarget: ytMod}, true},
		{"youtube.com.", Rule{}, false},
		{"i.ytimg.com.", Rule{}, false},
		{"www.bing.com.", Rule{Provider: Bing, Target: "strict.bing.com."}, true},
		{"edgeservices.bing.com.", Rule{Provider: Bing, Target: "strict.bing.com."}, true},
		{"bing.com.", Rule{}, false},
		{"duckduckgo.com.", Rule{Provider: DuckDuckGo, Target: "safe.duckduckgo.com."}, true},
		{"start.duckduckgo.com.", Rule{Provider: DuckDuckGo, Target: "safe.duckduckgo.com."}, true},
		{"html.duckduckgo.com.", Rule{Provider: DuckDuckGo, Block: true}, true},
		{"safe.duckduckgo.com.", Rule{}, false}, // the target itself is never matched
		{"pixabay.com.", Rule{Provider: Pixabay, Target: "safesearch.pixabay.com."}, true},
		{"www.ecosia.org.", Rule{Provider: Ecosia, Target: "strict-safe-search.ecosia.org."}, true},
		{"search.brave.com.", Rule{Provider: Brave, Target: "forcesafe.search.brave.com."}, true},
		{"brave.com.", Rule{}, false},
		{"yandex.ru.", Rule{Provider: Yandex, Block: true}, true}, // subtree apex
		{"www.yandex.ru.", Rule{Provider: Yandex, Block: true}, true},
		{"a.b.yandex.com.tr.", Rule{Provider: Yandex, Block: true}, true},
		{"ya.ru.", Rule{Provider: Yandex, Block: true}, true},
		{"xn--d1acpjx3f.xn--p1ai.", Rule{Provider: Yandex, Block: true}, true},
		{"notyandex.ru.", Rule{}, false}, // label boundary
		{"yandex.ru.example.", Rule{}, false},
		{"search.yahoo.com.", Rule{Provider: Unsupported, Block: true}, true},
		{"uk.search.yahoo.com.", Rule{Provider: Unsupported, Block: true}, true},
		{"yahoo.com.", Rule{}, false},
		{"mail.yahoo.com.", Rule{}, false},
		{"www.qwant.com.", Rule{Provider: Unsupported, Block: true}, true},
		{"startpage.com.", Rule{Provider: Unsupported, Block: true}, true},
		{"search.aol.com.", Rule{Provider: Unsupported, Block: true}, true},
		{"WWW.GOOGLE.COM.", Rule{}, false}, // input must already be canonical
		{"www.google.com", Rule{}, false},  // ... and fully qualified
		{"example.org.", Rule{}, false},
		{"com.", Rule{}, false},
		{"ru.", Rule{}, false},
		{".", Rule{}, false},
		{"", Rule{}, false},
	}
	for _, tt := range tests {
		got, ok := tab.Lookup(tt.name)
		got.slot = 0
		if ok != tt.ok || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v, want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTable_Decide(t *testing.T) {
	tab := Builtin()
	pupils := tab.Defaults()
	secondary := settings(t, Google, On, YouTube, Moderate, Bing, On)
	staff := Settings{}
	tests := []struct {
		name   string
		qname  string
		s      Settings
		want   Result
		wantOK bool
	}{
		{"google rewritten for pupils", "www.google.co.uk.", pupils,
			Result{Action: Rewrite, Provider: Google, Mode: On, Target: "forcesafesearch.google.com.", Match: "www.google.co.uk."}, true},
		{"google left alone for staff", "www.google.co.uk.", staff, Result{}, false},
		{"youtube strict by default", "www.youtube.com.", pupils,
			Result{Action: Rewrite, Provider: YouTube, Mode: Strict, Target: "restrict.youtube.com.", Match: "www.youtube.com."}, true},
		{"youtube moderate for secondary", "m.youtube.com.", secondary,
			Result{Action: Rewrite, Provider: YouTube, Mode: Moderate, Target: "restrictmoderate.youtube.com.", Match: "m.youtube.com."}, true},
		{"youtube on means strict", "m.youtube.com.", settings(t, YouTube, On),
			Result{Action: Rewrite, Provider: YouTube, Mode: Strict, Target: "restrict.youtube.com.", Match: "m.youtube.com."}, true},
		{"yandex blocked for pupils", "www.yandex.ru.", pupils,
			Result{Action: Block, Provider: Yandex, Mode: On, Match: "yandex.ru."}, true},
		{"yandex allowed where off", "www.yandex.ru.", secondary, Result{}, false},
		{"safe search forced blocks yahoo", "uk.search.yahoo.com.", pupils,
			Result{Action: Block, Provider: Unsupported, Mode: On, Match: "search.yahoo.com."}, true},
		{"ecosia off by default", "www.ecosia.org.", pupils, Result{}, false},
		{"ecosia when a school turns it on", "www.ecosia.org.", settings(t, Ecosia, On),
			Result{Action: Rewrite, Provider: Ecosia, Mode: On, Target: "strict-safe-search.ecosia.org.", Match: "www.ecosia.org."}, true},
		{"ddg html front end blocked", "html.duckduckgo.com.", pupils,
			Result{Action: Block, Provider: DuckDuckGo, Mode: On, Match: "html.duckduckgo.com."}, true},
		{"one provider off does not leak into another", "www.bing.com.", settings(t, Google, On), Result{}, false},
		{"unknown name", "www.example.org.", pupils, Result{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tab.Decide(tt.qname, tt.s)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Decide(%q, %v) = %+v, %v, want %+v, %v", tt.qname, tt.s, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTable_Defaults(t *testing.T) {
	got := Builtin().Defaults().String()
	want := "google=on youtube=strict bing=on duckduckgo=on pixabay=on brave=on yandex=on unsupported=on"
	if got != want {
		t.Errorf("Defaults() = %q, want %q", got, want)
	}
	if s := (Settings{}).String(); s != "off" {
		t.Errorf("zero Settings = %q, want off", s)
	}
}

func TestSettings_Set(t *testing.T) {
	tests := []struct {
		p       Provider
		m       Mode
		want    Mode
		wantErr string
	}{
		{Google, On, On, ""},
		{Google, Off, Off, ""},
		{Google, Strict, Off, "want off or on"},
		{Google, Moderate, Off, "want off or on"},
		{YouTube, On, Strict, ""},
		{YouTube, Strict, Strict, ""},
		{YouTube, Moderate, Moderate, ""},
		{Yandex, On, On, ""},
		{Provider("altavista"), On, Off, "unknown provider"},
		{Google, Mode(9), Off, "want off or on"},
	}
	for _, tt := range tests {
		var s Settings
		err := s.Set(tt.p, tt.m)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Set(%s, %s) error = %v, want %q", tt.p, tt.m, err, tt.wantErr)
		}
		if got := s.Mode(tt.p); got != tt.want {
			t.Errorf("after Set(%s, %s), Mode = %s, want %s", tt.p, tt.m, got, tt.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Off, On, Strict, Moderate} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("Strict"); err == nil {
		t.Error("ParseMode accepted a non-canonical spelling")
	}
}

func TestBuild_errors(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  []string // each must appear in the error
	}{
		{"unknown provider", fstest.MapFS{"altavista.txt": {Data: []byte("www.altavista.com block\n")}},
			[]string{`altavista.txt: unknown provider "altavista"`}},
		{"bad line", fstest.MapFS{"bing.txt": {Data: []byte("# c\n\nwww.bing.com => strict.bing.com\n")}},
			[]string{"bing.txt:3: cannot parse"}},
		{"bad name", fstest.MapFS{"bing.txt": {Data: []byte("www.bi_ng.com -> strict.bing.com\n")}},
			[]string{"bing.txt:1:", `byte '_'`}},
		{"single label", fstest.MapFS{"bing.txt": {Data: []byte("bing -> strict.bing.com\n")}},
			[]string{"bing.txt:1:", "single label"}},
		{"subtree target", fstest.MapFS{"bing.txt": {Data: []byte("www.bing.com -> .strict.bing.com\n")}},
			[]string{"bing.txt:1:", "not a subtree"}},
		{"youtube needs two targets", fstest.MapFS{"youtube.txt": {Data: []byte("www.youtube.com -> restrict.youtube.com\n")}},
			[]string{"youtube.txt:1:", "target per mode"}},
		{"google has one target", fstest.MapFS{"google.txt": {Data: []byte("www.google.com -> strict=a.example moderate=b.example\n")}},
			[]string{"google.txt:1:", "one safe target"}},
		{"youtube keywords", fstest.MapFS{"youtube.txt": {Data: []byte("www.youtube.com -> moderate=a.example strict=b.example\n")}},
			[]string{"youtube.txt:1:", "strict=TARGET moderate=TARGET"}},
		{"duplicate across files", fstest.MapFS{
			"bing.txt":   {Data: []byte("www.bing.com -> strict.bing.com\n")},
			"google.txt": {Data: []byte("\nwww.bing.com -> forcesafesearch.google.com\n")},
		}, []string{"google.txt:2: www.bing.com. already listed at bing.txt:1"}},
		{"target loops", fstest.MapFS{"duckduckgo.txt": {Data: []byte(".duckduckgo.com -> safe.duckduckgo.com\n")}},
			[]string{"duckduckgo.txt:1: target safe.duckduckgo.com. is itself matched by the table entry duckduckgo.com."}},
		{"bad default", fstest.MapFS{"google.txt": {Data: []byte("@default moderate\n")}},
			[]string{"google.txt:1:", "want off or on"}},
		{"two defaults", fstest.MapFS{"google.txt": {Data: []byte("@default on\n@default off\n")}},
			[]string{"google.txt:2: second @default"}},
		{"unknown directive", fstest.MapFS{"google.txt": {Data: []byte("@target x.example\n")}},
			[]string{"google.txt:1: unknown directive"}},
		{"no files", fstest.MapFS{"README": {Data: []byte("x")}}, []string{"no *.txt files"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.files)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Build error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestBuild_manyErrorsBounded(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 50; i++ {
		b.WriteString("bad line here\n")
	}
	_, err := Build(fstest.MapFS{"bing.txt": {Data: []byte(b.String())}})
	if err == nil || !strings.Contains(err.Error(), "bing.txt:20:") || strings.Contains(err.Error(), "bing.txt:21:") ||
		!strings.Contains(err.Error(), "and 30 more errors") {
		t.Errorf("Build error = %v, want the first 20 lines and a count of the rest", err)
	}
}

func TestBuild_format(t *testing.T) {
	tab, err := Build(fstest.MapFS{
		"bing.txt": {Data: []byte("# Bing\n@default on\nWWW.Bing.com. -> Strict.Bing.COM # trailing comment\n\t.chat.bing.com\tblock\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := tab.Lookup("www.bing.com."); !ok || r.Target != "strict.bing.com." {
		t.Errorf("Lookup(www.bing.com.) = %+v, %v: case and trailing dot not folded", r, ok)
	}
	if r, ok := tab.Lookup("x.chat.bing.com."); !ok || !r.Block {
		t.Errorf("Lookup(x.chat.bing.com.) = %+v, %v, want the subtree block", r, ok)
	}
	if got := tab.Defaults().Mode(Bing); got != On {
		t.Errorf("@default on gave %s", got)
	}
}

func TestTable_mostSpecificWins(t *testing.T) {
	tab, err := Build(fstest.MapFS{
		"unsupported.txt": {Data: []byte(".qwant.com block\n")},
		"duckduckgo.txt":  {Data: []byte("api.qwant.com -> safeapi.example.net\n.x.api.qwant.com block\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Provider{
		"qwant.com.":         Unsupported,
		"www.qwant.com.":     Unsupported,
		"api.qwant.com.":     DuckDuckGo, // exact beats the parent subtree
		"y.x.api.qwant.com.": DuckDuckGo, // the longer subtree beats the shorter
		"y.api.qwant.com.":   Unsupported,
	} {
		if r, ok := tab.Lookup(name); !ok || r.Provider != want {
			t.Errorf("Lookup(%q) = %+v, %v, want provider %s", name, r, ok, want)
		}
	}
}

func TestGolden_builtin(t *testing.T) {
	got := dump(Builtin())
	path := filepath.Join("testdata", "builtin.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("built-in table differs from %s; review the change and run go test -run TestGolden -update\n%s", path, firstDiff(got, want))
	}
}

// dump writes the table as sorted lines: provider, name (leading dot for
// a subtree), and what happens to it.
func dump(t *Table) []byte {
	var lines []string
	for _, k := range t.keys {
		r := t.rules[k.rule]
		name := k.name
		if k.subtree {
			name = "." + name
		}
		what := "block"
		switch {
		case r.ModerateTarget != "":
			what = "strict=" + r.Target + " moderate=" + r.ModerateTarget
		case !r.Block:
			what = "-> " + r.Target
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s", r.Provider, name, what))
	}
	slices.Sort(lines)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# defaults: %s\n# entries: %d\n", t.Defaults(), t.Len())
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got  %q\n want %q", i+1, gl, wl)
		}
	}
	return ""
}

func TestTable_noAlloc(t *testing.T) {
	tab := Builtin()
	s := tab.Defaults()
	names := []string{"www.google.co.uk.", "a.b.c.www.yandex.ru.", "www.example.org.", "uk.search.yahoo.com."}
	if n := testing.AllocsPerRun(100, func() {
		for _, name := range names {
			tab.Lookup(name)
			tab.Decide(name, s)
		}
	}); n != 0 {
		t.Errorf("Lookup+Decide allocate %v times, want 0", n)
	}
}

func BenchmarkTable_Decide(b *testing.B) {
	tab := Builtin()
	s := tab.Defaults()
	for _, bc := range []struct{ name, qname string }{
		{"exact", "www.google.co.uk."},
		{"subtree", "images.search.yandex.ru."},
		{"miss", "cdn.assets.example-school.sch.uk."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab.Decide(bc.qname, s)
			}
		})
	}
}

func BenchmarkBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Builtin()
	}
}

func TestProviders_slots(t *testing.T) {
	ps := Providers()
	if len(ps) != numProviders {
		t.Fatalf("%d providers, numProviders = %d", len(ps), numProviders)
	}
	for i, p := range ps {
		if p.index() != i {
			t.Errorf("%s.index() = %d, want %d", p, p.index(), i)
		}
	}
}
