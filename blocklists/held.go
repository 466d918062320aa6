package blocklists

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A held copy is a download the sanity checks rejected only because it
// has far fewer valid lines than the stored copy. A list can really
// shrink (a publisher drops dead domains), and no later download will
// ever pass the check against the stored copy, so the rejected download
// is kept aside until a technician accepts it (Store.AcceptHeld, which
// needs no network) or a later download passes the checks (DropHeld). It
// never filters anything while held. Beside the list's own files:
//
//	KEY.held.json         its metadata (Meta)
//	KEY.SHA256.held       its text
//
// Keys contain no '.', so "KEY.held" is never another list's key, and
// the text's suffix is not the stored copies' one, so prune and Clean
// leave it alone.
const heldSuffix = ".held"

// ErrNothingHeld is returned by Held and AcceptHeld when no rejected
// download of the list is kept.
var ErrNothingHeld = errors.New("no rejected download is held")

func (s *Store) heldPath(key, sum string) string {
	return filepath.Join(s.dir, key+"."+sum+heldSuffix)
}

// Hold keeps res, a download rejected as FetchError.Rejected, aside as the
// held copy of its list, replacing any earlier one. The Result's temporary
// file is consumed.
func (s *Store) Hold(res *Result) (err error) {
	defer res.Close()
	m := res.Meta
	key, err := storeKey(m.Name)
	if err != nil {
		return fmt.Errorf("holding list %q: %w", m.Name, err)
	}
	if err := m.check(); err != nil {
		return fmt.Errorf("holding list %q: %w", m.Name, err)
	}
	if res.file == "" {
		return fmt.Errorf("holding list %q: download already saved or closed", m.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.moveIn(res.file, s.heldPath(key, m.SHA256)); err != nil {
		return fmt.Errorf("holding list %q: %w", m.Name, err)
	}
	res.file = ""
	if err := s.writeMeta(key+heldSuffix, m); err != nil {
		return fmt.Errorf("holding list %q: %w", m.Name, err)
	}
	_ = s.pruneHeld(key, m.SHA256)
	return nil
}

// Held returns the metadata of the held copy of name; the error wraps
// ErrNothingHeld when there is none.
func (s *Store) Held(name string) (Meta, error) {
	key, err := storeKey(name)
	if err != nil {
		return Meta{}, fmt.Errorf("held copy of list %q: %w", name, err)
	}
	m, err := s.readMeta(key + heldSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{}, fmt.Errorf("list %q: %w", name, ErrNothingHeld)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("held copy of list %q: %w", name, err)
	}
	if m.Name != name {
		return Meta{}, fmt.Errorf("held copy of list %q: metadata is for list %q", name, m.Name)
	}
	fi, err := os.Stat(s.heldPath(key, m.SHA256))
	if err != nil {
		return Meta{}, fmt.Errorf("held copy of list %q: %w", name, err)
	}
	if fi.Size() != m.Bytes {
		return Meta{}, fmt.Errorf("held copy of list %q: %d bytes, metadata says %d", name, fi.Size(), m.Bytes)
	}
	return m, nil
}

// AcceptHeld makes the held copy of name the stored copy, as if its
// download had passed the checks, and returns its metadata. The error
// wraps ErrNothingHeld when there is none.
func (s *Store) AcceptHeld(name string) (Meta, error) {
	m, err := s.Held(name)
	if err != nil {
		return Meta{}, err
	}
	key, _ := storeKey(name) // Held succeeded
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.commit(m, s.heldPath(key, m.SHA256)); err != nil {
		return Meta{}, fmt.Errorf("accepting list %q: %w", name, err)
	}
	if err := s.dropHeld(key); err != nil {
		return m, fmt.Errorf("accepting list %q: it is in force, but %w", name, err)
	}
	return m, nil
}

// DropHeld forgets the held copy of name, if any: a later download passed
// the checks, or the list is no longer configured.
func (s *Store) DropHeld(name string) error {
	key, err := storeKey(name)
	if err != nil {
		return fmt.Errorf("dropping held list %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dropHeld(key); err != nil {
		return fmt.Errorf("dropping held list %q: %w", name, err)
	}
	return nil
}

// dropHeld removes key's held metadata, then its held text. s.mu is held.
func (s *Store) dropHeld(key string) error {
	if err := os.Remove(s.metaPath(key + heldSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.pruneHeld(key, "")
}

// pruneHeld removes key's held texts other than keep. s.mu is held.
func (s *Store) pruneHeld(key, keep string) error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		rest, ok := strings.CutSuffix(e.Name(), heldSuffix)
		if !ok {
			continue
		}
		k, sum, ok := strings.Cut(rest, ".")
		if !ok || k != key || !isHexDigest(sum) || sum == keep {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
