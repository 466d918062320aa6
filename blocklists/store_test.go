package blocklists

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "lists"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readSource(t *testing.T, src Source) string {
	t.Helper()
	rc, err := src.Open()
	if err != nil {
		t.Fatalf("opening %s: %v", src.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func putText(t *testing.T, s *Store, name, text string) Meta {
	t.Helper()
	m, _, err := s.Put(name, "https://lists.test/"+name, Auto, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dirFiles lists the files under dir, recursively, as slash paths.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStoreKey(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"ads", "ads"},
		{"ut1/adult", "ut1%2Fadult"},
		{"Ads", "%41ds"},
		{"../../etc/passwd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"},
		{"..", "%2E%2E"},
		{"a%2Fb", "a%252%46b"},
		{"nul\x00byte", "nul%00byte"},
		{"école", "%C3%A9cole"},
	}
	for _, tc := range tests {
		got, err := storeKey(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("storeKey(%q) = %q, %v, want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := storeKey(""); err == nil {
		t.Error("storeKey(\"\") succeeded")
	}

	// Long names are cut and keep a digest: distinct, bounded, and
	// never equal to the key of a short name.
	long1 := strings.Repeat("x", 400) + "1"
	long2 := strings.Repeat("x", 400) + "2"
	k1, _ := storeKey(long1)
	k2, _ := storeKey(long2)
	if k1 == k2 || len(k1) > maxKeyLen || len(k2) > maxKeyLen || !strings.Contains(k1, "~") {
		t.Errorf("long keys %q, %q: want distinct, at most %d bytes, with '~'", k1, k2, maxKeyLen)
	}
	short, _ := storeKey(k1)
	if short == k1 {
		t.Errorf("a name equal to a long key maps to the same key %q", k1)
	}
}

func TestStore_PutMetaSource(t *testing.T) {
	s := openTestStore(t)
	text := "# a list\nads.example\ntracker.example\nnot a name at all\n"
	m, changed, err := s.Put("ads", "https://user:secret@lists.test/ads.txt", Auto, strings.NewReader(text))
	if err != nil || !changed {
		t.Fatalf("Put = %v, %v, want changed", changed, err)
	}
	if m.ValidLines != 2 || m.InvalidLines != 1 || m.Bytes != int64(len(text)) || len(m.Version()) != 12 {
		t.Errorf("meta = %+v, want 2 valid, 1 invalid, %d bytes, a version", m, len(text))
	}
	got, err := s.Meta("ads")
	if err != nil || got.SHA256 != m.SHA256 || got.URL != m.URL {
		t.Errorf("Meta = %+v, %v, want %+v", got, err, m)
	}
	src, err := s.Source("ads", Domains)
	if err != nil {
		t.Fatal(err)
	}
	if src.Name != "https://user:xxxxx@lists.test/ads.txt" || src.Format != Domains {
		t.Errorf("Source name %q format %v: want the URL without its password, domains", src.Name, src.Format)
	}
	if got := readSource(t, src); got != text {
		t.Errorf("Source reads %q, want %q", got, text)
	}

	// The same text again changes nothing and keeps FetchedAt.
	m2, changed, err := s.Put("ads", m.URL, Auto, strings.NewReader(text))
	if err != nil || changed || !m2.FetchedAt.Equal(m.FetchedAt) {
		t.Errorf("Put same text = %+v, %v, %v; want unchanged, FetchedAt %v", m2, changed, err, m.FetchedAt)
	}

	if _, err := s.Meta("other"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Meta(other) error = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Source("other", Auto); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Source(other) error = %v, want fs.ErrNotExist", err)
	}
}

func TestStore_pathTraversal(t *testing.T) {
	root := t.TempDir()
	s, err := OpenStore(filepath.Join(root, "state", "lists"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"../../etc/passwd", "../escape", "ut1/adult", "/abs/path", ".", "..", ".hidden", "a\\b", "c:evil", strings.Repeat("../", 200)}
	for i, n := range names {
		text := strings.Repeat("x.example\n", i+1)
		putText(t, s, n, text)
		src, err := s.Source(n, Auto)
		if err != nil {
			t.Fatalf("Source(%q): %v", n, err)
		}
		if got := readSource(t, src); got != text {
			t.Errorf("Source(%q) reads %q, want %q", n, got, text)
		}
	}
	// Everything is a plain file directly inside the store's directory.
	for _, f := range dirFiles(t, root) {
		if !strings.HasPrefix(f, "state/lists/") && f != "state" && f != "state/lists" {
			t.Errorf("file %q outside the store", f)
		}
		if rest, ok := strings.CutPrefix(f, "state/lists/"); ok && (strings.Contains(rest, "/") || strings.HasPrefix(rest, ".")) {
			t.Errorf("file %q: want a plain, visible file directly in the store", f)
		}
	}
	if got := len(dirFiles(t, s.Dir())); got != 2*len(names) {
		t.Errorf("%d files in the store, want %d (a copy and metadata per list)", got, 2*len(names))
	}
}

// A crash can leave a temporary file (killed while writing) and a new copy
// that no metadata names yet (killed between the two renames). Neither
// replaces the old copy, and Clean removes both.
func TestStore_crashLeavesOldCopy(t *testing.T) {
	s := openTestStore(t)
	old := putText(t, s, "ads", "old.example\n")
	key, _ := storeKey("ads")
	newText := "new.example\n"
	newSum := "2b1a2f36cd4e9f3b6bd9a4ef3b5a0fc0ff4b8e3d35b6d1c4a1b3f1a8d3e5c7a9"
	mustWrite := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(s.Dir(), name), []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(tempPrefix+"123456", newText[:5])
	mustWrite(key+"."+newSum+listSuffix, newText)
	mustWrite(tempPrefix+"789", `{"name": "ads", "sha256": "`+newSum+`"`) // metadata cut short

	// Restart.
	s, err := OpenStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta("ads")
	if err != nil || m.SHA256 != old.SHA256 {
		t.Fatalf("Meta after crash = %+v, %v, want the old copy %s", m, err, old.SHA256)
	}
	src, err := s.Source("ads", Auto)
	if err != nil {
		t.Fatal(err)
	}
	if got := readSource(t, src); got != "old.example\n" {
		t.Errorf("Source after crash reads %q, want the old copy", got)
	}
	if err := s.Clean(); err != nil {
		t.Fatal(err)
	}
	want := []string{key + "." + old.SHA256 + listSuffix, key + metaSuffix}
	got := dirFiles(t, s.Dir())
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after Clean: files %q, want %q", got, want)
	}
	if got := readSource(t, src); got != "old.example\n" {
		t.Errorf("Source after Clean reads %q, want the old copy", got)
	}
}

// A Source keeps reading the copy it was made from after one newer copy
// is stored (a Set in use can still explain), and fails after two.
func TestStore_keepsPreviousCopy(t *testing.T) {
	s := openTestStore(t)
	putText(t, s, "ads", "one.example\n")
	src1, err := s.Source("ads", Auto)
	if err != nil {
		t.Fatal(err)
	}
	putText(t, s, "ads", "two.example\n")
	if got := readSource(t, src1); got != "one.example\n" {
		t.Errorf("first source after one update reads %q, want its own copy", got)
	}
	src2, _ := s.Source("ads", Auto)
	if got := readSource(t, src2); got != "two.example\n" {
		t.Errorf("second source reads %q", got)
	}
	putText(t, s, "ads", "three.example\n")
	if _, err := src1.Open(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("first source after two updates: Open error = %v, want fs.ErrNotExist", err)
	}
	if got := readSource(t, src2); got != "two.example\n" {
		t.Errorf("second source after one update reads %q", got)
	}
	if n := len(dirFiles(t, s.Dir())); n != 3 {
		t.Errorf("%d files, want 3 (two copies and the metadata)", n)
	}
}

func TestStore_damaged(t *testing.T) {
	s := openTestStore(t)
	m := putText(t, s, "ads", "ads.example\n")
	key, _ := storeKey("ads")
	metaPath := filepath.Join(s.Dir(), key+metaSuffix)
	good, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		meta string
		copy string // replaces the copy when set
	}{
		{"garbage", "\x00\x01not json", ""},
		{"other list", strings.Replace(string(good), `"name": "ads"`, `"name": "other"`, 1), ""},
		{"digest points elsewhere", strings.Replace(string(good), m.SHA256, strings.Repeat("0", 64), 1), ""},
		{"path in digest", strings.Replace(string(good), m.SHA256, "../../../../etc/passwd", 1), ""},
		{"unknown field", strings.Replace(string(good), "{", `{"path": "/etc/passwd",`, 1), ""},
		{"copy truncated", string(good), "ads."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(metaPath, []byte(tc.meta), 0o640); err != nil {
				t.Fatal(err)
			}
			if tc.copy != "" {
				if err := os.WriteFile(filepath.Join(s.Dir(), key+"."+m.SHA256+listSuffix), []byte(tc.copy), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Meta("ads"); err == nil {
				t.Error("Meta succeeded on a damaged copy")
			}
			if _, err := s.Source("ads", Auto); err == nil {
				t.Error("Source succeeded on a damaged copy")
			}
			// A new copy repairs it.
			putText(t, s, "ads", "ads.example\n")
			if _, err := s.Source("ads", Auto); err != nil {
				t.Errorf("after a new Put: %v", err)
			}
		})
	}
}

func TestStore_Remove(t *testing.T) {
	s := openTestStore(t)
	putText(t, s, "ut1/adult", "a.example\n")
	putText(t, s, "ut1/adult", "b.example\n")
	putText(t, s, "ads", "c.example\n")
	if err := s.Remove("ut1/adult"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Meta("ut1/adult"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Meta after Remove: %v, want fs.ErrNotExist", err)
	}
	if n := len(dirFiles(t, s.Dir())); n != 2 {
		t.Errorf("%d files after Remove, want the other list's 2", n)
	}
	if err := s.Remove("never-stored"); err != nil {
		t.Errorf("Remove(never-stored) = %v", err)
	}
}

// Gatehouse starts with no network from what the store holds: the Builder
// reads the stored copy and the Set matches its names.
func TestStore_startWithoutNetwork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lists")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put("iwf", "https://iwf.test/list", Domains, strings.NewReader("abuse.example\n")); err != nil {
		t.Fatal(err)
	}

	// A new process.
	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Clean(); err != nil {
		t.Fatal(err)
	}
	src, err := s.Source("iwf", Domains)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(nil)
	info, err := b.Add(ListSpec{ID: 0, Name: "iwf", Category: IWF, Sources: []Source{src}})
	if err != nil || info.Entries != 1 {
		t.Fatalf("Add = %+v, %v, want one entry", info, err)
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if m := set.Match("www.abuse.example.", 0, 0); m.Action != Block {
		t.Errorf("Match(www.abuse.example.) = %+v, want Block by the locked list", m)
	}
	hits, err := set.Explain("www.abuse.example.")
	if err != nil || len(hits) != 1 || hits[0].Source != "https://iwf.test/list" || hits[0].Line != 1 {
		t.Errorf("Explain = %+v, %v, want line 1 of https://iwf.test/list", hits, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := json.Marshal(Meta{Name: "ads", URL: "https://lists.test/ads", ETag: `"abc"`, SHA256: strings.Repeat("ab", 32), ValidLines: 3, Bytes: 40})
	f.Add(good)
	f.Add([]byte(`{"name": "../x", "sha256": "../../etc/passwd"}`))
	f.Add([]byte(`{"name": "a", "sha256": "` + strings.Repeat("0", 64) + `", "bytes": -1}`))
	f.Add([]byte(`{"name": "a", "etag": "x\r\nSet-Cookie: y", "sha256": "` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("decodeMeta accepted %+v: %v", m, err)
		}
		// The name maps to a key inside the directory, and the digest
		// is plain hex: no file name built from m can leave it.
		key, err := storeKey(m.Name)
		if err != nil {
			t.Fatalf("decodeMeta accepted name %q: %v", m.Name, err)
		}
		for _, p := range []string{key + metaSuffix, key + "." + m.SHA256 + listSuffix} {
			if strings.ContainsAny(p, `/\`) || strings.HasPrefix(p, ".") || filepath.Base(p) != p {
				t.Fatalf("file name %q from %+v", p, m)
			}
		}
		// It round-trips.
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := decodeMeta(again)
		if err != nil || !sameMeta(m, m2) {
			t.Fatalf("round trip: %+v, %v, want %+v", m2, err, m)
		}
	})
}

func sameMeta(a, b Meta) bool {
	ta, tb := a, b
	ta.FetchedAt, ta.CheckedAt, tb.FetchedAt, tb.CheckedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return ta == tb && a.FetchedAt.Equal(b.FetchedAt) && a.CheckedAt.Equal(b.CheckedAt)
}

// Writers in one process are serialised: whatever the interleaving, the
// metadata names a copy that exists and matches it.
func TestStore_concurrentWrites(t *testing.T) {
	s := openTestStore(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				text := strings.Repeat("x.example\n", 1+w*10+i)
				if _, _, err := s.Put("ads", "https://lists.test/ads", Auto, strings.NewReader(text)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	m, err := s.Meta("ads")
	if err != nil {
		t.Fatal(err)
	}
	got := storedText(t, s, "ads")
	if int64(len(got)) != m.Bytes || m.ValidLines != strings.Count(got, "\n") {
		t.Errorf("meta %+v does not describe the stored copy of %d bytes", m, len(got))
	}
}
