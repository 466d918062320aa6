package blocklists

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadCategoryDir(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gambling/domains", "casino.example\n")
	write("gambling/urls", "casino.example/poker\n")
	write("adult/domains", "porn.example\n")
	write("adult/usage", "black\n")
	write("empty/urls", "x.example/y\n")
	write("README", "not a category\n")
	if err := os.Symlink("adult", filepath.Join(root, "porn")); err != nil {
		t.Fatal(err)
	}

	cats, notes, err := ReadCategoryDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cats {
		names = append(names, c.Name)
		if c.Source.Format != Domains || c.Source.Name != filepath.Join(root, c.Name, "domains") {
			t.Errorf("category %s: source %q format %v", c.Name, c.Source.Name, c.Source.Format)
		}
	}
	if want := []string{"adult", "gambling", "porn"}; !slices.Equal(names, want) {
		t.Errorf("categories = %q, want %q", names, want)
	}
	var got []string
	for _, n := range notes {
		got = append(got, strings.TrimPrefix(n.Error(), root+string(filepath.Separator)))
	}
	want := []string{
		filepath.Join("empty", "urls") + ": unsupported: urls file ignored (DNS filtering sees names, not URLs)",
		"empty: category folder without a domains file",
		filepath.Join("gambling", "urls") + ": unsupported: urls file ignored (DNS filtering sees names, not URLs)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("notes =\n%q\nwant\n%q", got, want)
	}
	// The source re-opens and parses.
	rc, err := cats[1].Source.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if string(b) != "casino.example\n" {
		t.Errorf("gambling domains = %q", b)
	}

	if _, _, err := ReadCategoryDir(filepath.Join(root, "missing")); err == nil {
		t.Error("ReadCategoryDir(missing) succeeded")
	}
}
