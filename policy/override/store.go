package override

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// FileName is the store's file in the state directory.
const FileName = "overrides.json"

// DefaultHistory is how long cancelled and expired overrides are kept after
// they ended, so "who allowed that last week, and why" can be answered.
const DefaultHistory = 30 * 24 * time.Hour

// maxFile bounds the store file read at start: a few thousand overrides
// are a few megabytes at most.
const maxFile = 16 << 20

// fileFormat is the JSON on disk. Version lets a later release change it.
type fileFormat struct {
	Version   int        `json:"version"`
	Overrides []Override `json:"overrides"`
}

// Store keeps overrides in a JSON file, rewritten atomically (temporary
// file, fsync, rename, fsync of the directory) on every change, so a crash
// or power cut leaves either the old or the new file, never half of one.
// It is safe for concurrent use.
type Store struct {
	path    string
	history time.Duration

	mu  sync.Mutex
	all []Override // in creation order; never modified in place once published
}

// Open reads the store in dir, creating nothing until the first change. A
// missing file is an empty store. A file that cannot be parsed is moved
// aside (FileName + ".corrupt") and Open returns an empty, usable store
// together with an error saying so: filtering must start even then, and the
// bad file is kept for a person to read.
func Open(dir string, history time.Duration, now time.Time) (*Store, error) {
	if history <= 0 {
		history = DefaultHistory
	}
	s := &Store{path: filepath.Join(dir, FileName), history: history}
	all, err := read(s.path)
	if errors.Is(err, errCorrupt) {
		aside := s.path + ".corrupt"
		if rerr := os.Rename(s.path, aside); rerr != nil {
			return nil, fmt.Errorf("%w (and moving it aside failed: %w)", err, rerr)
		}
		return s, fmt.Errorf("%w; moved to %s, starting with no overrides", err, aside)
	}
	if err != nil {
		return nil, err
	}
	s.all = prune(all, now, history)
	return s, nil
}

// Load reads the overrides stored in dir without changing anything there,
// for commands that only look (gatehouse explain). A missing file holds
// none.
func Load(dir string) ([]Override, error) {
	return read(filepath.Join(dir, FileName))
}

// errCorrupt marks a store file that exists but cannot be used.
var errCorrupt = errors.New("unusable store file")

func read(path string) ([]Override, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFile+1)); err != nil {
		return nil, fmt.Errorf("overrides: reading %s: %w", path, err)
	}
	all, err := parse(path, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", err, errCorrupt)
	}
	return all, nil
}

// parse reads a store file and checks every entry's shape.
func parse(path string, data []byte) ([]Override, error) {
	if len(data) > maxFile {
		return nil, fmt.Errorf("overrides: %s is larger than %d bytes", path, maxFile)
	}
	var ff fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ff); err != nil {
		return nil, fmt.Errorf("overrides: %s: %w", path, err)
	}
	if ff.Version != 1 {
		return nil, fmt.Errorf("overrides: %s: unknown version %d", path, ff.Version)
	}
	seen := make(map[string]bool, len(ff.Overrides))
	for i, o := range ff.Overrides {
		var why string
		switch {
		case o.ID == "" || seen[o.ID]:
			why = "missing or duplicate id"
		case o.Group == "":
			why = "no group"
		case o.Action != Allow && o.Action != Block:
			why = fmt.Sprintf("action %q", o.Action)
		case (o.Category == "") == (o.Domain == ""):
			why = "not exactly one of category and domain"
		case o.Until.IsZero() || o.Created.IsZero():
			why = "no created or until time"
		}
		if why != "" {
			return nil, fmt.Errorf("overrides: %s: entry %d: %s", path, i+1, why)
		}
		seen[o.ID] = true
	}
	return ff.Overrides, nil
}

// prune drops overrides that ended more than history before now.
func prune(all []Override, now time.Time, history time.Duration) []Override {
	return slices.DeleteFunc(slices.Clone(all), func(o Override) bool {
		return now.Sub(o.Ended()) > history
	})
}

// List returns every override the store holds: active ones and the recent
// history, oldest first. The slice is the caller's.
func (s *Store) List() []Override {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// Active returns the overrides in force at now, oldest first.
func (s *Store) Active(now time.Time) []Override {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Override
	for _, o := range s.all {
		if o.Active(now) {
			out = append(out, o)
		}
	}
	return out
}

// Add validates r against p at now, records it and returns the override.
// The file is written before Add returns: an override that was reported as
// created survives a restart.
func (s *Store) Add(r Request, p Policy, now time.Time) (Override, error) {
	r, err := Validate(r, p, now)
	if err != nil {
		return Override{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := Override{Group: r.Group, Action: r.Action, Category: r.Category, Domain: r.Domain,
		Until: r.Until.UTC(), Reason: r.Reason, CreatedBy: r.By, Created: now.UTC()}
	for {
		if o.ID, err = newID(); err != nil {
			return Override{}, err
		}
		if !slices.ContainsFunc(s.all, func(x Override) bool { return x.ID == o.ID }) {
			break
		}
	}
	next := append(prune(s.all, now, s.history), o)
	if err := s.write(next); err != nil {
		return Override{}, err
	}
	s.all = next
	return o, nil
}

// Cancel ends the override id at now, recording by. Cancelling one that has
// already ended is an error (it changes nothing).
func (s *Store) Cancel(id, by string, now time.Time) (Override, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := prune(s.all, now, s.history)
	i := slices.IndexFunc(next, func(o Override) bool { return o.ID == id })
	if i < 0 {
		return Override{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	o := next[i]
	switch {
	case !o.Cancelled.IsZero():
		return o, invalid("override %s was already cancelled by %s at %s", id, o.CancelledBy, o.Cancelled.Format(time.RFC3339))
	case !now.Before(o.Until):
		return o, invalid("override %s already expired at %s", id, o.Until.Format(time.RFC3339))
	}
	o.Cancelled, o.CancelledBy = now.UTC(), by
	next[i] = o
	if err := s.write(next); err != nil {
		return Override{}, err
	}
	s.all = next
	return o, nil
}

// write replaces the file with all, atomically and durably.
func (s *Store) write(all []Override) error {
	if all == nil {
		all = []Override{}
	}
	data, err := json.MarshalIndent(fileFormat{Version: 1, Overrides: all}, "", "  ")
	if err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("overrides: creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, FileName+".tmp*")
	if err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o640); err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("overrides: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("overrides: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("overrides: %w", err)
	}
	done = true
	// The rename is durable only once the directory entry is on disk.
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("overrides: syncing %s: %w", dir, err)
		}
	}
	return nil
}
