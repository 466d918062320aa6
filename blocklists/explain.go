package blocklists

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Hit is one entry of one list that matches a name, as Explain finds it.
type Hit struct {
	List     ListID
	ListName string
	Category Category
	Locked   bool
	// Action is what the entry does: Block, NoData or Allow (every entry
	// of an allow list is Allow).
	Action Action
	Kind   Kind
	// Entry is the entry as listed, canonical: "example.com." or
	// "*.example.com.".
	Entry string
	// Source and Line say where the entry is: the first line of the list's
	// sources that produces it. Line is 0 when no line does (the source
	// changed since the Set was built, or cannot be read).
	Source string
	Line   int
}

func (h Hit) String() string {
	where := "source line unknown"
	if h.Line > 0 {
		where = fmt.Sprintf("%s:%d", h.Source, h.Line)
	}
	return fmt.Sprintf("%s %s (list %s, category %s, %s)", h.Action, h.Entry, h.ListName, h.Category, where)
}

// Explain returns every entry of every list that matches name, most
// specific first, each with the source line it came from. name may be in
// any case and Unicode. It re-reads the sources of the lists that match,
// so it is slow and meant for people (the explain command, the block
// page); Match is the query path. The error reports sources that could
// not be read; the hits are returned all the same.
func (s *Set) Explain(name string) ([]Hit, error) {
	cname, err := Canonical(name)
	if err != nil {
		return nil, err
	}
	type found struct {
		Hit
		off int
	}
	var hits []found
	for off := 0; off < len(cname); {
		suffix := cname[off:]
		if suffix == "." {
			break
		}
		t := hashKey(s.hash.name(suffix), 0)
		for p := int(s.home(t)) * bucketSlots; ; p++ {
			k, vi := s.slot(p)
			if k&^3 != t {
				if k > t {
					break
				}
				continue
			}
			kind := Kind(k & 3)
			if kind == Exact && off != 0 || kind == Children && off == 0 {
				continue
			}
			v := s.values[vi]
			for m := v.block | v.allow; m != 0; m &= m - 1 {
				id := m.first()
				l := s.lists[id]
				h := Hit{List: id, ListName: l.info.Name, Category: s.cats[id], Locked: s.locked.Has(id), Kind: kind, Entry: suffix}
				if kind == Children {
					h.Entry = "*." + suffix
				}
				if v.allow.Has(id) {
					h.Action = Allow
					hits = append(hits, found{h, off})
				}
				if v.block.Has(id) {
					h.Action = Block
					if v.nodata.Has(id) {
						h.Action = NoData
					}
					hits = append(hits, found{h, off})
				}
			}
		}
		i := strings.IndexByte(suffix, '.')
		if i < 0 {
			break
		}
		off += i + 1
	}
	slices.SortStableFunc(hits, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.List, b.List), cmp.Compare(a.Action, b.Action))
	})

	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = h.Hit
	}
	var errs []error
	for id := range MaxLists {
		if err := s.locate(ListID(id), out); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// locate fills in Source and Line for the hits of list id by parsing its
// sources again.
func (s *Set) locate(id ListID, hits []Hit) error {
	todo := 0
	for _, h := range hits {
		if h.List == id {
			todo++
		}
	}
	if todo == 0 {
		return nil
	}
	l := s.lists[id]
	for i, src := range l.sources {
		format := src.Format
		if i < len(l.info.Formats) {
			format = l.info.Formats[i]
		}
		rc, err := src.Open()
		if err != nil {
			return fmt.Errorf("explaining with list %q: opening %s: %w", l.info.Name, src.Name, err)
		}
		for e, err := range Parse(rc, src.Name, format) {
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					continue
				}
				rc.Close()
				return fmt.Errorf("explaining with list %q: %w", l.info.Name, err)
			}
			act := e.Action
			if l.info.Allow {
				act = Allow
			}
			for j := range hits {
				h := &hits[j]
				if h.List != id || h.Line != 0 || h.Kind != e.Kind || h.Action != act {
					continue
				}
				listed := h.Entry
				if h.Kind == Children {
					listed = listed[2:]
				}
				if listed == e.Name {
					h.Source, h.Line = src.Name, e.Line
					todo--
				}
			}
			if todo == 0 {
				break
			}
		}
		rc.Close()
		if todo == 0 {
			return nil
		}
	}
	return nil
}
