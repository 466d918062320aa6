package blocklists

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Source is one re-openable piece of list text. The Builder opens it to
// compile the list, and Set.Explain opens it again, later, to find the line
// an entry came from; so Open must return the same text each time it is
// called for as long as the Set is in use (a file that is replaced, not
// edited in place, is fine: Explain then reports the line as unknown).
type Source struct {
	// Name identifies the source in messages ("name:line"): a file path or
	// a URL.
	Name   string
	Format Format
	Open   func() (io.ReadCloser, error)
}

// FileSource is a list file on disk.
func FileSource(filename string, format Format) Source {
	return Source{Name: filename, Format: format, Open: func() (io.ReadCloser, error) { return os.Open(filename) }}
}

// BytesSource is list text in memory. b must not be modified afterwards.
func BytesSource(name string, b []byte, format Format) Source {
	return Source{Name: name, Format: format, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

// DirCategory is one category folder of a category directory.
type DirCategory struct {
	// Name is the folder name as the feed spells it (such as "adult" or
	// "gambling"); configuration maps it to a Category.
	Name string
	// Source is the folder's domains file.
	Source Source
}

var (
	errURLsFile  = fmt.Errorf("%w: urls file ignored (DNS filtering sees names, not URLs)", ErrUnsupported)
	errNoDomains = errors.New("category folder without a domains file")
)

// ReadCategoryDir lists the category folders under root, in the layout of
// the shared school category databases (squidGuard style, as in the
// Toulouse UT1 collection): one folder per category, each with a "domains"
// file of plain names and optionally a "urls" file, which is ignored with a
// note because a DNS filter cannot act on URLs. Folders without a domains
// file are reported as notes too. Symbolic links to folders (aliases in
// some feeds) are followed. The result is sorted by folder name.
func ReadCategoryDir(root string) ([]DirCategory, []*ParseError, error) {
	cats, notes, err := readCategoryDir(os.DirFS(root), func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) })
	if err != nil {
		return nil, nil, fmt.Errorf("reading category directory %s: %w", root, err)
	}
	return cats, notes, nil
}

// readCategoryDir does the work of ReadCategoryDir on fsys; display turns
// an fsys path into the name used in messages and Sources.
func readCategoryDir(fsys fs.FS, display func(string) string) ([]DirCategory, []*ParseError, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, err
	}
	var cats []DirCategory
	var notes []*ParseError
	for _, e := range ents {
		name := e.Name()
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := fs.Stat(fsys, name)
			if err != nil || !fi.IsDir() {
				continue
			}
		} else if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(name, "urls")); err == nil {
			notes = append(notes, &ParseError{Source: display(path.Join(name, "urls")), Err: errURLsFile})
		}
		dom := path.Join(name, "domains")
		fi, err := fs.Stat(fsys, dom)
		if err != nil || fi.IsDir() {
			notes = append(notes, &ParseError{Source: display(name), Err: errNoDomains})
			continue
		}
		cats = append(cats, DirCategory{Name: name, Source: Source{
			Name:   display(dom),
			Format: Domains,
			Open:   func() (io.ReadCloser, error) { return fsys.Open(dom) },
		}})
	}
	return cats, notes, nil
}
