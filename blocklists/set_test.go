package blocklists

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

type testList struct {
	id     ListID
	name   string
	cat    Category
	allow  bool
	format Format
	text   string
}

func (l testList) spec() ListSpec {
	return ListSpec{ID: l.id, Name: l.name, Category: l.cat, Allow: l.allow,
		Sources: []Source{BytesSource(l.name+".txt", []byte(l.text), l.format)}}
}

func buildSet(t testing.TB, prev *Set, lists ...testList) *Set {
	t.Helper()
	b := NewBuilder(prev)
	for _, l := range lists {
		if _, err := b.Add(l.spec()); err != nil {
			t.Fatalf("Add(%s): %v", l.name, err)
		}
	}
	s, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s
}

// precedenceLists are the lists of the precedence table test.
var precedenceLists = []testList{
	{0, "porn", Pornography, false, Adblock, "||bad.example^\n|exact.example^\n||*.kids.example^\n||ads.school.example^\n||same.example^\n"},
	{1, "iwf", IWF, false, Adblock, "||csam.example^\n||csam.school.example^\n@@||ok.csam.example^\n"},
	{2, "allow", Custom, true, Domains, "school.example\nok.bad.example\ncsam.example\n"},
	{3, "social", SocialMedia, false, Domains, "x.bad.example\nsame.example\n"},
	{4, "rpz", Malware, false, RPZ, "$ORIGIN rpz.\nnodata.example CNAME *.\nnx.example CNAME .\n*.nx.example CNAME .\npass.nx.example CNAME rpz-passthru.\n"},
	{5, "gambling", Gambling, false, Adblock, "||casino.example^\n@@||ok.casino.example^\n"},
}

// TestSet_Match_precedence has one case per row of the precedence table in
// Match's documentation, and the kind rules.
func TestSet_Match_precedence(t *testing.T) {
	s := buildSet(t, nil, precedenceLists...)
	all := MaskOf(0, 3, 4, 5)
	allow := MaskOf(2)
	tests := []struct {
		name         string
		query        string
		block, allow Mask
		want         Match
	}{
		// Row 1: locked lists block whatever else matches or is selected.
		{"1 locked beats a less specific allow", "x.csam.school.example.", all, allow,
			Match{Action: Block, List: 1, Lists: MaskOf(1), Category: IWF, Kind: Subtree, Suffix: "csam.school.example.", Locked: true}},
		{"1 locked beats an allow of the same name", "csam.example.", all, allow,
			Match{Action: Block, List: 1, Lists: MaskOf(1), Category: IWF, Kind: Subtree, Suffix: "csam.example.", Locked: true}},
		{"1 locked applies with no list selected", "csam.example.", 0, 0,
			Match{Action: Block, List: 1, Lists: MaskOf(1), Category: IWF, Kind: Subtree, Suffix: "csam.example.", Locked: true}},
		{"1 exceptions inside a locked list are ignored", "ok.csam.example.", 0, 0,
			Match{Action: Block, List: 1, Lists: MaskOf(1), Category: IWF, Kind: Subtree, Suffix: "csam.example.", Locked: true}},
		// Row 2: allow beats block at any depth.
		{"2 more specific allow", "a.ok.bad.example.", all, allow,
			Match{Action: Allow, List: 2, Lists: MaskOf(2), Category: Custom, Kind: Subtree, Suffix: "ok.bad.example."}},
		{"2 less specific allow", "ads.school.example.", all, allow,
			Match{Action: Allow, List: 2, Lists: MaskOf(2), Category: Custom, Kind: Subtree, Suffix: "school.example."}},
		{"2 exception inside a selected block list", "ok.casino.example.", all, 0,
			Match{Action: Allow, List: 5, Lists: MaskOf(5), Category: Gambling, Kind: Subtree, Suffix: "ok.casino.example."}},
		{"2 RPZ passthru", "pass.nx.example.", all, 0,
			Match{Action: Allow, List: 4, Lists: MaskOf(4), Category: Malware, Kind: Exact, Suffix: "pass.nx.example."}},
		// Row 3: otherwise the most specific selected block.
		{"3 allow list not selected", "a.ok.bad.example.", all, 0,
			Match{Action: Block, List: 0, Lists: MaskOf(0), Category: Pornography, Kind: Subtree, Suffix: "bad.example."}},
		{"3 most specific block explains", "y.x.bad.example.", all, 0,
			Match{Action: Block, List: 3, Lists: MaskOf(3), Category: SocialMedia, Kind: Subtree, Suffix: "x.bad.example."}},
		{"3 lowest list at the same suffix", "same.example.", all, 0,
			Match{Action: Block, List: 0, Lists: MaskOf(0, 3), Category: Pornography, Kind: Subtree, Suffix: "same.example."}},
		{"3 only selected lists count", "same.example.", MaskOf(3), 0,
			Match{Action: Block, List: 3, Lists: MaskOf(3), Category: SocialMedia, Kind: Subtree, Suffix: "same.example."}},
		{"3 NODATA", "nodata.example.", all, 0,
			Match{Action: NoData, List: 4, Lists: MaskOf(4), Category: Malware, Kind: Exact, Suffix: "nodata.example."}},
		{"3 exception of an unselected list does not apply", "ok.casino.example.", MaskOf(0), 0, Match{}},
		// Row 4: nothing matches.
		{"4 unlisted", "example.org.", all, allow, Match{}},
		{"4 block list not selected", "bad.example.", MaskOf(3), 0, Match{}},
		{"4 parent of a listed name", "example.", all, allow, Match{}},
		{"4 lookalike suffix", "notbad.example.", all, 0, Match{}},
		{"4 root", ".", all, allow, Match{}},
		{"4 empty", "", all, allow, Match{}},
		// Kinds.
		{"exact matches itself", "exact.example.", all, 0,
			Match{Action: Block, List: 0, Lists: MaskOf(0), Category: Pornography, Kind: Exact, Suffix: "exact.example."}},
		{"exact does not match below", "a.exact.example.", all, 0, Match{}},
		{"children match below", "a.b.kids.example.", all, 0,
			Match{Action: Block, List: 0, Lists: MaskOf(0), Category: Pornography, Kind: Children, Suffix: "kids.example."}},
		{"children do not match the name", "kids.example.", all, 0, Match{}},
		{"RPZ name and wildcard", "nx.example.", all, 0,
			Match{Action: Block, List: 4, Lists: MaskOf(4), Category: Malware, Kind: Exact, Suffix: "nx.example."}},
		{"RPZ wildcard", "a.nx.example.", all, 0,
			Match{Action: Block, List: 4, Lists: MaskOf(4), Category: Malware, Kind: Children, Suffix: "nx.example."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Match(tc.query, tc.block, tc.allow)
			if got != tc.want {
				t.Errorf("Match(%q, %#x, %#x) =\n  %+v\nwant\n  %+v", tc.query, tc.block, tc.allow, got, tc.want)
			}
			if got.Action != NoAction && !strings.HasSuffix(tc.query, got.Suffix) {
				t.Errorf("Suffix %q is not a suffix of %q", got.Suffix, tc.query)
			}
		})
	}
}

func TestSet_metadata(t *testing.T) {
	s := buildSet(t, nil, precedenceLists...)
	if got, want := s.LockedMask(), MaskOf(1); got != want {
		t.Errorf("LockedMask = %#x, want %#x", got, want)
	}
	if got, want := s.AllowMask(), MaskOf(2); got != want {
		t.Errorf("AllowMask = %#x, want %#x", got, want)
	}
	if got, want := s.CategoryMask(Pornography), MaskOf(0); got != want {
		t.Errorf("CategoryMask(pornography) = %#x, want %#x", got, want)
	}
	if got := s.CategoryMask(Custom); got != 0 {
		t.Errorf("CategoryMask(custom) = %#x, want 0 (allow lists are not block lists)", got)
	}
	if got, want := s.ListMask("social"), MaskOf(3); got != want {
		t.Errorf("ListMask(social) = %#x, want %#x", got, want)
	}
	infos := s.Lists()
	if len(infos) != len(precedenceLists) {
		t.Fatalf("Lists() has %d lists, want %d", len(infos), len(precedenceLists))
	}
	iwf, ok := s.List(1)
	if !ok || iwf.Name != "iwf" || iwf.Entries != 2 || iwf.Stats.Skipped != 1 || iwf.Formats[0] != Adblock {
		t.Errorf("List(1) = %+v, want iwf with 2 entries, 1 skipped exception", iwf)
	}
	if _, ok := s.List(40); ok {
		t.Error("List(40) found")
	}
	// 5+2+3+2+4+2 entries; "same.example" (porn, social) and
	// "csam.example" (iwf, allow) are one key each.
	if got, want := s.Len(), 16; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

func TestBuilder_errors(t *testing.T) {
	src := []Source{BytesSource("x", []byte("a.example\n"), Domains)}
	b := NewBuilder(nil)
	if _, err := b.Add(ListSpec{ID: 0, Name: "a", Category: Drugs, Sources: src}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec ListSpec
		want string
	}{
		{"duplicate id", ListSpec{ID: 0, Name: "b", Category: Drugs, Sources: src}, "already used"},
		{"duplicate name", ListSpec{ID: 1, Name: "a", Category: Drugs, Sources: src}, "name already used"},
		{"id out of range", ListSpec{ID: 64, Name: "c", Category: Drugs, Sources: src}, "out of range"},
		{"no name", ListSpec{ID: 2, Category: Drugs, Sources: src}, "no name"},
		{"no category", ListSpec{ID: 2, Name: "c", Sources: src}, "no valid category"},
		{"no sources", ListSpec{ID: 2, Name: "c", Category: Drugs}, "no sources"},
		{"nil open", ListSpec{ID: 2, Name: "c", Category: Drugs, Sources: []Source{{Name: "n"}}}, "cannot be opened"},
		{"missing file", ListSpec{ID: 2, Name: "c", Category: Drugs, Sources: []Source{FileSource(filepath.Join(t.TempDir(), "nope"), Auto)}}, "no such file"},
		{"keep without previous set", ListSpec{ID: 3, Name: "d", Category: Drugs, Sources: src}, "nothing to keep"},
	}
	for _, tc := range tests {
		var err error
		if strings.HasPrefix(tc.name, "keep") {
			_, err = b.Keep(tc.spec)
		} else {
			_, err = b.Add(tc.spec)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	for _, c := range []Category{IWF, CTIRU} {
		_, err := b.Add(ListSpec{ID: 5, Name: "allow-" + c.String(), Category: c, Allow: true, Sources: src})
		if !errors.Is(err, ErrLocked) {
			t.Errorf("allow list in %v: error %v, want ErrLocked", c, err)
		}
	}
	s, err := b.Build()
	if err != nil || len(s.Lists()) != 1 {
		t.Fatalf("Build after rejected specs: %v, %d lists; want the one good list", err, len(s.Lists()))
	}
	if _, err := b.Build(); err == nil {
		t.Error("second Build succeeded")
	}
	if _, err := b.Add(ListSpec{ID: 9, Name: "late", Category: Drugs, Sources: src}); err == nil {
		t.Error("Add after Build succeeded")
	}
}

func TestSet_empty(t *testing.T) {
	s, err := NewBuilder(nil).Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Match("a.b.example.", ^Mask(0), ^Mask(0)); got != (Match{}) {
		t.Errorf("empty set Match = %+v", got)
	}
	if s.Len() != 0 || len(s.Lists()) != 0 {
		t.Errorf("empty set has %d entries, %d lists", s.Len(), len(s.Lists()))
	}
}

// refEntry and refMatch are the naive reference matcher: a map from name
// to entries, evaluated straight from the documented rules.
type refEntry struct {
	kind Kind
	act  Action
	list ListID
}

type refSet struct {
	entries map[string][]refEntry
	cats    map[ListID]Category
	locked  Mask
}

func newRefSet(lists []testList) *refSet {
	r := &refSet{entries: map[string][]refEntry{}, cats: map[ListID]Category{}}
	for _, l := range lists {
		r.cats[l.id] = l.cat
		if l.cat.Locked() {
			r.locked |= MaskOf(l.id)
		}
		for e, err := range Parse(strings.NewReader(l.text), l.name, l.format) {
			if err != nil {
				continue
			}
			act := e.Action
			if l.allow {
				act = Allow
			} else if act == Allow && l.cat.Locked() {
				continue
			}
			r.entries[e.Name] = append(r.entries[e.Name], refEntry{e.Kind, act, l.id})
		}
	}
	return r
}

func (r *refSet) match(name string, block, allow Mask) Match {
	block |= r.locked
	var allowM, blockM Match
	labels := strings.SplitAfter(name, ".")
	for i := range labels {
		suffix := strings.Join(labels[i:], "")
		if suffix == "" || suffix == "." {
			break
		}
		for kind := Subtree; kind <= Children; kind++ {
			if kind == Exact && i != 0 || kind == Children && i == 0 {
				continue
			}
			var lockedM, allowsM, blocksM, nodataM Mask
			for _, e := range r.entries[suffix] {
				if e.kind != kind {
					continue
				}
				bit := MaskOf(e.list)
				switch {
				case e.act == Allow && (block|allow)&bit != 0:
					allowsM |= bit
				case e.act != Allow && r.locked&bit != 0:
					lockedM |= bit
				}
				if e.act != Allow && block&bit != 0 {
					blocksM |= bit
					if e.act == NoData {
						nodataM |= bit
					}
				}
			}
			if lockedM != 0 {
				id := lockedM.first()
				return Match{Action: Block, List: id, Lists: lockedM, Category: r.cats[id], Kind: kind, Suffix: suffix, Locked: true}
			}
			if allowsM != 0 && allowM.Action == NoAction {
				id := allowsM.first()
				allowM = Match{Action: Allow, List: id, Lists: allowsM, Category: r.cats[id], Kind: kind, Suffix: suffix}
			}
			if blocksM != 0 && blockM.Action == NoAction {
				id := blocksM.first()
				act := Block
				if nodataM.Has(id) {
					act = NoData
				}
				blockM = Match{Action: act, List: id, Lists: blocksM, Category: r.cats[id], Kind: kind, Suffix: suffix}
			}
		}
	}
	if allowM.Action != NoAction {
		return allowM
	}
	return blockM
}

// randomLists makes lists over a small vocabulary, so that names, parents
// and children collide across lists, kinds and actions.
func randomLists(rng *rand.Rand, nLists, nEntries int) ([]testList, []string) {
	words := []string{"a", "b", "c", "ads", "www", "cdn", "x-y", "_srv", "mail"}
	tlds := []string{"com", "org", "uk", "co.uk"}
	var names []string
	for range 60 {
		var parts []string
		for range 1 + rng.IntN(3) {
			parts = append(parts, words[rng.IntN(len(words))])
		}
		names = append(names, strings.Join(parts, ".")+"."+tlds[rng.IntN(len(tlds))])
	}
	cats := []Category{IWF, Pornography, Gambling, Custom, SocialMedia, Malware}
	var lists []testList
	for id := range nLists {
		l := testList{id: ListID(id), name: fmt.Sprintf("l%d", id), cat: cats[rng.IntN(len(cats))]}
		l.allow = !l.cat.Locked() && rng.IntN(5) == 0
		var b strings.Builder
		if rng.IntN(2) == 0 {
			l.format = Adblock
			for range nEntries {
				n := names[rng.IntN(len(names))]
				switch rng.IntN(6) {
				case 0:
					fmt.Fprintf(&b, "|%s^\n", n)
				case 1:
					fmt.Fprintf(&b, "||*.%s^\n", n)
				case 2:
					fmt.Fprintf(&b, "@@||%s^\n", n)
				default:
					fmt.Fprintf(&b, "||%s^\n", n)
				}
			}
		} else {
			l.format = RPZ
			b.WriteString("$ORIGIN rpz.\n")
			for range nEntries {
				n := names[rng.IntN(len(names))]
				if rng.IntN(3) == 0 {
					n = "*." + n
				}
				target := []string{".", ".", "*.", "rpz-passthru."}[rng.IntN(4)]
				fmt.Fprintf(&b, "%s CNAME %s\n", n, target)
			}
		}
		l.text = b.String()
		lists = append(lists, l)
	}
	var queries []string
	for _, n := range names {
		queries = append(queries, n+".", words[rng.IntN(len(words))]+"."+n+".", "q.r."+n+".", "zz"+n+".")
	}
	return lists, queries
}

// TestSet_Match_differential compares Match with the reference matcher on
// random lists, random masks and names in, under, above and beside them.
func TestSet_Match_differential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 40 {
		lists, queries := randomLists(rng, 1+rng.IntN(12), 1+rng.IntN(40))
		s := buildSet(t, nil, lists...)
		ref := newRefSet(lists)
		for range 20 {
			block, allow := Mask(rng.Uint64()), Mask(rng.Uint64())
			for _, q := range queries {
				got, want := s.Match(q, block, allow), ref.match(q, block, allow)
				if got != want {
					t.Fatalf("round %d: Match(%q, %#x, %#x) =\n  %+v\nreference\n  %+v\nlists: %+v", round, q, block, allow, got, want, lists)
				}
			}
		}
	}
}

// TestBuilder_reuse rebuilds with one list changed, one renumbered, one
// removed and one carried over by Keep, and checks that the result
// matches exactly like a fresh build of the same lists.
func TestBuilder_reuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lists, queries := randomLists(rng, 6, 30)
	prev := buildSet(t, nil, lists...)

	changed, _ := randomLists(rng, 1, 25)
	next := []testList{
		lists[0], // unchanged: reused
		{id: lists[1].id, name: lists[1].name, cat: lists[1].cat, allow: lists[1].allow, format: changed[0].format, text: changed[0].text},
		{id: 20, name: lists[2].name, cat: lists[2].cat, allow: lists[2].allow, format: lists[2].format, text: lists[2].text}, // renumbered
		lists[4],
		// lists[3] removed; lists[5] kept below
	}
	b := NewBuilder(prev)
	var reused []string
	for _, l := range next {
		info, err := b.Add(l.spec())
		if err != nil {
			t.Fatal(err)
		}
		if info.Reused {
			reused = append(reused, l.name)
		}
	}
	kept := lists[5]
	kept.id = 30
	// Keep does not read the sources: the refresh failed, the old entries stay.
	keptSpec := kept.spec()
	keptSpec.Sources = []Source{{Name: kept.name + ".txt", Format: kept.format, Open: func() (io.ReadCloser, error) {
		return nil, errors.New("download failed")
	}}}
	if _, err := b.Keep(keptSpec); err != nil {
		t.Fatal(err)
	}
	got, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	want := buildSet(t, nil, append(next, kept)...)
	if w := []string{lists[0].name, lists[2].name, lists[4].name}; !slices.Equal(reused, w) {
		t.Errorf("reused lists = %q, want %q", reused, w)
	}
	if got.Len() != want.Len() {
		t.Errorf("reused build has %d entries, fresh build %d", got.Len(), want.Len())
	}
	for range 30 {
		block, allow := Mask(rng.Uint64()), Mask(rng.Uint64())
		for _, q := range queries {
			if g, w := got.Match(q, block, allow), want.Match(q, block, allow); g != w {
				t.Fatalf("Match(%q, %#x, %#x): reused build %+v, fresh build %+v", q, block, allow, g, w)
			}
		}
	}
	info, _ := got.List(30)
	if !info.Reused || info.Name != kept.name {
		t.Errorf("kept list info = %+v", info)
	}
}

func TestSet_Explain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "porn.txt")
	if err := os.WriteFile(file, []byte("# porn\n||bad.example^\n\n||X.Bad.Example^\n|exact.example^\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lists := []ListSpec{
		{ID: 7, Name: "porn", Category: Pornography, Sources: []Source{FileSource(file, Auto)}},
		{ID: 2, Name: "allow", Category: Custom, Allow: true, Sources: []Source{
			BytesSource("allow-a.txt", []byte("other.example\n"), Domains),
			BytesSource("allow-b.txt", []byte("\n\nx.bad.example\n"), Domains),
		}},
		{ID: 1, Name: "iwf", Category: IWF, Sources: []Source{BytesSource("iwf.rpz", []byte("$ORIGIN iwf.\n*.bad.example CNAME .\n"), RPZ)}},
	}
	b := NewBuilder(nil)
	for _, l := range lists {
		if _, err := b.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.Explain("Y.X.BAD.example")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, strings.ReplaceAll(h.String(), dir+string(filepath.Separator), ""))
	}
	want := []string{
		"allow x.bad.example. (list allow, category custom, allow-b.txt:3)",
		"block x.bad.example. (list porn, category pornography, porn.txt:4)",
		"block bad.example. (list porn, category pornography, porn.txt:2)",
		"block *.bad.example. (list iwf, category iwf, iwf.rpz:2)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Explain =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !hits[3].Locked || hits[0].Locked {
		t.Errorf("Locked flags wrong: %+v", hits)
	}

	// The file changes after the build: the entry is still in the Set but
	// its line can no longer be found, and Explain says so.
	if err := os.WriteFile(file, []byte("||other.example^\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hits, err = s.Explain("exact.example")
	if err != nil || len(hits) != 1 || hits[0].Line != 0 || !strings.Contains(hits[0].String(), "source line unknown") {
		t.Errorf("Explain after the file changed = %+v, %v; want one hit without a line", hits, err)
	}
	// The file is gone: the error says which, the hits still come back.
	os.Remove(file)
	hits, err = s.Explain("exact.example")
	if err == nil || len(hits) != 1 {
		t.Errorf("Explain with the file gone = %+v, %v; want the hit and an error", hits, err)
	}
	if _, err := s.Explain("bad..name"); err == nil {
		t.Error("Explain(bad..name) succeeded")
	}
	if hits, err := s.Explain("unlisted.example"); err != nil || len(hits) != 0 {
		t.Errorf("Explain(unlisted) = %+v, %v", hits, err)
	}
}

func TestSet_Match_allocs(t *testing.T) {
	s := buildSet(t, nil, precedenceLists...)
	names := []string{"a.b.c.bad.example.", "a.ok.bad.example.", "x.csam.school.example.", "nothing.here.example.org.", "pass.nx.example."}
	allocs := testing.AllocsPerRun(100, func() {
		for _, n := range names {
			s.Match(n, ^Mask(0), ^Mask(0))
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %v times per run, want 0", allocs)
	}
}

// FuzzSet_Match builds a Set from fuzzed list text and checks Match
// against the reference matcher for a fuzzed query name.
func FuzzSet_Match(f *testing.F) {
	f.Add("||a.example^\n@@||b.a.example^\n|c.example^\n||*.d.example^\n", "x.b.a.example", uint64(1), uint64(0), false)
	f.Add("$ORIGIN rpz.\n*.e.example CNAME *.\ne.example CNAME rpz-passthru.\n", "q.e.example", uint64(3), uint64(2), true)
	f.Add("0.0.0.0 ads.example tracker.example\n", "ADS.example.", uint64(0), uint64(0), true)
	f.Fuzz(func(t *testing.T, text, query string, block, allow uint64, locked bool) {
		cat := Pornography
		if locked {
			cat = IWF
		}
		lists := []testList{
			{0, "fuzz", cat, false, Auto, text},
			{1, "fuzz-allow", Custom, true, Auto, text},
			{2, "fixed", Gambling, false, Adblock, "||example^\n@@||ok.example^\n"},
		}
		s := buildSet(t, nil, lists...)
		ref := newRefSet(lists)
		q, err := Canonical(query)
		if err != nil {
			// Not a valid name: Match must still not panic.
			s.Match(query, Mask(block), Mask(allow))
			return
		}
		if got, want := s.Match(q, Mask(block), Mask(allow)), ref.match(q, Mask(block), Mask(allow)); got != want {
			t.Fatalf("Match(%q, %#x, %#x) = %+v, reference %+v", q, block, allow, got, want)
		}
	})
}

// TestSet_concurrent runs lookups from several goroutines while a new Set
// is built from the one being read, as the reload loop does; with -race it
// catches any write to a published Set.
func TestSet_concurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	lists, queries := randomLists(rng, 8, 40)
	s := buildSet(t, nil, lists...)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				s.Match(queries[i%len(queries)], ^Mask(0), Mask(i))
				if i%97 == 0 {
					s.Explain(queries[i%len(queries)])
				}
			}
		}()
	}
	for range 5 {
		lists[0].text += "||more.example^\n"
		next := buildSet(t, s, lists...)
		if next.Len() != s.Len()+1 && next.Len() != s.Len() {
			t.Errorf("rebuild has %d entries, previous %d", next.Len(), s.Len())
		}
	}
	close(done)
	wg.Wait()
}

// TestSet_Match_deepDifferential compares Match with the reference matcher
// on names of 1 to 40 labels of 1 to 63 octets, so that labels start and
// end at every offset from Match's eight-byte words, long labels take
// several words, and names deeper than the eight suffixes Match hashes at
// a time are decided across batches (precedence included: entries of
// every sort sit at random depths in locked, block and allow lists).
func TestSet_Match_deepDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-_"
	label := func() string {
		n := 1 + rng.IntN(12)
		if rng.IntN(4) == 0 {
			n = 1 + rng.IntN(maxLabel)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	for round := range 30 {
		var names []string
		for len(names) < 30 {
			var parts []string
			depth := 1 + rng.IntN(40)
			size := 0
			for range depth {
				l := label()
				if size+len(l)+1 > maxName {
					break
				}
				parts = append(parts, l)
				size += len(l) + 1
			}
			parts = append(parts, "com")
			if size+4 > maxName+1 {
				continue
			}
			names = append(names, strings.Join(parts, "."))
		}
		cats := []Category{IWF, Pornography, Gambling, Custom}
		var lists []testList
		for id := range 6 {
			l := testList{id: ListID(id), name: fmt.Sprintf("l%d", id), cat: cats[id%len(cats)], format: Adblock}
			l.allow = id == 5
			var b strings.Builder
			for range 20 {
				n := names[rng.IntN(len(names))]
				labels := strings.Split(n, ".")
				suffix := strings.Join(labels[rng.IntN(len(labels)):], ".")
				switch rng.IntN(5) {
				case 0:
					fmt.Fprintf(&b, "|%s^\n", suffix)
				case 1:
					fmt.Fprintf(&b, "||*.%s^\n", suffix)
				case 2:
					fmt.Fprintf(&b, "@@||%s^\n", suffix)
				default:
					fmt.Fprintf(&b, "||%s^\n", suffix)
				}
			}
			l.text = b.String()
			lists = append(lists, l)
		}
		s := buildSet(t, nil, lists...)
		ref := newRefSet(lists)
		for _, n := range names {
			labels := strings.Split(n, ".")
			for i := range labels {
				q := strings.Join(labels[i:], ".") + "."
				for _, masks := range [][2]Mask{{^Mask(0), 0}, {^Mask(0), ^Mask(0)}, {Mask(rng.Uint64()), Mask(rng.Uint64())}} {
					if got, want := s.Match(q, masks[0], masks[1]), ref.match(q, masks[0], masks[1]); got != want {
						t.Fatalf("round %d: Match(%q, %#x, %#x) =\n  %+v\nreference\n  %+v", round, q, masks[0], masks[1], got, want)
					}
				}
			}
		}
	}
}

// TestSet_Match_labelBoundaries lists names whose labels have every length
// from 1 to 63 behind prefixes of every length from 0 to 16, so that each
// label ends at every offset from the start of the name and from the
// eight-byte words Match reads; the name itself, a name below it and
// names with the label one octet longer or shorter (unlisted) are looked up.
func TestSet_Match_labelBoundaries(t *testing.T) {
	var text strings.Builder
	type probe struct {
		name string
		hit  bool
	}
	var probes []probe
	for l := 1; l <= maxLabel; l++ {
		for pre := 0; pre <= 16; pre++ {
			prefix := ""
			if pre > 0 {
				prefix = strings.Repeat("p", pre) + "."
			}
			name := prefix + strings.Repeat("x", l) + ".example"
			fmt.Fprintf(&text, "|%s^\n", name)
			probes = append(probes, probe{name + ".", true}, probe{"a." + name + ".", false})
			if l < maxLabel {
				probes = append(probes, probe{prefix + strings.Repeat("x", l+1) + "y.example.", false})
			}
			if l > 1 {
				probes = append(probes, probe{prefix + strings.Repeat("x", l-1) + "y.example.", false})
			}
		}
	}
	s := buildSet(t, nil, testList{0, "l", Malware, false, Adblock, text.String()})
	for _, p := range probes {
		got := s.Match(p.name, ^Mask(0), 0)
		if (got.Action == Block) != p.hit || p.hit && (got.Suffix != p.name || got.Kind != Exact) {
			t.Errorf("Match(%q) = %+v, want hit %v", p.name, got, p.hit)
		}
	}
	// The same names without the trailing dot match the same way.
	for _, p := range probes {
		if got := s.Match(strings.TrimSuffix(p.name, "."), ^Mask(0), 0); (got.Action == Block) != p.hit {
			t.Errorf("Match(%q without dot) = %+v, want hit %v", p.name, got, p.hit)
		}
	}
}

// TestSet_Match_nonCanonical checks that names Match is not meant for
// (empty labels, bytes outside [a-z0-9_-], NUL bytes, short names, over-long
// names) never panic and match only what their canonical reading would.
func TestSet_Match_nonCanonical(t *testing.T) {
	s := buildSet(t, nil, testList{0, "l", Malware, false, Adblock, "||a.example^\n|b^\n"})
	for _, q := range []string{"", ".", "..", "a..example.", "a.example..", "A.EXAMPLE.",
		"a\x00.example.", "\x00a.example.", "a.example\x00.", "b\x00.", "\x00", "b.\x00", "\xff\xfe.example.",
		strings.Repeat(".", 255), strings.Repeat("a", 255), strings.Repeat("a.", 127), strings.Repeat("a.", 128)} {
		got := s.Match(q, ^Mask(0), 0)
		if got.Action != NoAction {
			t.Errorf("Match(%q) = %+v, want no match", q, got)
		}
	}
	for _, q := range []string{".a.example.", "x..a.example.", "\x00.a.example.", "..a.example."} {
		if got := s.Match(q, ^Mask(0), 0); got.Action != Block || got.Suffix != "a.example." {
			t.Errorf("Match(%q) = %+v, want block by a.example.", q, got)
		}
	}
}
