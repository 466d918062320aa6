package blocklists

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Store keeps the last good copy of every downloaded list in one
// directory (state_dir/lists), so Gatehouse starts and filters with no
// network. For a list it holds two files, named from the list name
// escaped for the filesystem (see storeKey):
//
//	KEY.json          metadata (Meta): URL, validators, digest, counts
//	KEY.SHA256.list   the list text, named by its content digest
//
// The metadata file is the commit point: a new copy is written under its
// own digest, then the metadata is replaced by rename, so a crash at any
// moment leaves either the old copy or the new one in force, never a mix.
// The copy before the current one is kept until the next change, so a Set
// built from it can still explain its matches while its successor is
// being built. Every write goes to a temporary file in the directory,
// which is synced and renamed into place.
//
// A Store is safe for concurrent use; its writes are serialised. Only one
// process should write a directory (and call Clean); others may read it
// (Source, Meta).
type Store struct {
	dir string
	mu  sync.Mutex // serialises writes
}

// Meta describes the stored copy of one list.
type Meta struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// ETag and LastModified are the server's validators for the stored
	// copy, sent back on the next request.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// FetchedAt is when this content was first stored; CheckedAt when the
	// server last confirmed it (a download or a 304).
	FetchedAt time.Time `json:"fetched_at"`
	CheckedAt time.Time `json:"checked_at"`
	// SHA256 is the digest of the stored text, in lower-case hex.
	SHA256 string `json:"sha256"`
	// ValidLines counts lines with at least one entry; InvalidLines lines
	// that were not list syntax (unsupported lines are neither).
	ValidLines   int   `json:"valid_lines"`
	InvalidLines int   `json:"invalid_lines"`
	Bytes        int64 `json:"bytes"`
}

// Version names the content: the first 12 hex digits of its SHA-256.
func (m Meta) Version() string {
	if len(m.SHA256) < 12 {
		return m.SHA256
	}
	return m.SHA256[:12]
}

// Limits on what a metadata file may hold; anything beyond is corruption.
const (
	maxMetaFile  = 64 << 10
	maxMetaName  = 1024
	maxMetaURL   = 8192
	maxValidator = 1024
)

// Names in the directory.
const (
	tempPrefix = ".tmp-"
	metaSuffix = ".json"
	listSuffix = ".list"
	// maxKeyLen bounds the escaped name so "KEY.SHA256.list" stays well
	// under the usual 255-byte limit on file names.
	maxKeyLen = 150
)

// OpenStore opens the store in dir, creating the directory if needed. It
// does not clean up after a crash: the one process that writes the store
// calls Clean.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("opening list store: no directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("opening list store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// storeKey escapes a list name into a file name: ASCII lower-case letters,
// digits, '-' and '_' stand for themselves, every other byte becomes %XX
// (so '/' and '.' can never reach the file system, and names differing
// only in case do not collide on case-insensitive file systems). A key
// longer than maxKeyLen is cut and given a digest of the whole name after
// a '~', which the escaping never produces.
func storeKey(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty list name")
	}
	if len(name) > maxMetaName {
		return "", fmt.Errorf("list name longer than %d bytes", maxMetaName)
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	if len(b) > maxKeyLen {
		sum := sha256.Sum256([]byte(name))
		b = append(b[:maxKeyLen-33], '~')
		b = hex.AppendEncode(b, sum[:16])
	}
	return string(b), nil
}

func (s *Store) metaPath(key string) string { return filepath.Join(s.dir, key+metaSuffix) }

func (s *Store) listPath(key, sum string) string {
	return filepath.Join(s.dir, key+"."+sum+listSuffix)
}

// Meta returns the metadata of the stored copy of name. The error wraps
// fs.ErrNotExist when there is no copy; other errors mean a damaged one,
// which is best treated as no copy (and replaced by the next download).
func (s *Store) Meta(name string) (Meta, error) {
	key, err := storeKey(name)
	if err != nil {
		return Meta{}, fmt.Errorf("reading stored list %q: %w", name, err)
	}
	m, err := s.readMeta(key)
	if err != nil {
		return Meta{}, fmt.Errorf("reading stored list %q: %w", name, err)
	}
	if m.Name != name {
		return Meta{}, fmt.Errorf("reading stored list %q: metadata is for list %q", name, m.Name)
	}
	fi, err := os.Stat(s.listPath(key, m.SHA256))
	if err != nil {
		return Meta{}, fmt.Errorf("reading stored list %q: %w", name, err)
	}
	if fi.Size() != m.Bytes {
		return Meta{}, fmt.Errorf("reading stored list %q: copy has %d bytes, metadata says %d", name, fi.Size(), m.Bytes)
	}
	return m, nil
}

// readMeta reads and checks the metadata file of key.
func (s *Store) readMeta(key string) (Meta, error) {
	f, err := os.Open(s.metaPath(key))
	if err != nil {
		return Meta{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaFile+1))
	if err != nil {
		return Meta{}, err
	}
	return decodeMeta(b)
}

// decodeMeta parses a metadata file, which may have been damaged: any
// value that could not have been written is an error.
func decodeMeta(b []byte) (Meta, error) {
	if len(b) > maxMetaFile {
		return Meta{}, fmt.Errorf("metadata larger than %d bytes", maxMetaFile)
	}
	var m Meta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("decoding metadata: %w", err)
	}
	if dec.More() {
		return Meta{}, errors.New("decoding metadata: trailing data")
	}
	if err := m.check(); err != nil {
		return Meta{}, fmt.Errorf("decoding metadata: %w", err)
	}
	return m, nil
}

func (m *Meta) check() error {
	switch {
	case m.Name == "" || len(m.Name) > maxMetaName:
		return errors.New("bad list name")
	case len(m.URL) > maxMetaURL:
		return errors.New("URL too long")
	case !validHeaderValue(m.ETag) || !validHeaderValue(m.LastModified):
		return errors.New("bad validator")
	case !isHexDigest(m.SHA256):
		return errors.New("bad sha256")
	case m.Bytes < 0 || m.ValidLines < 0 || m.InvalidLines < 0:
		return errors.New("negative count")
	}
	return nil
}

// validHeaderValue reports whether v can be stored and sent back as an
// HTTP header value: short, printable ASCII.
func validHeaderValue(v string) bool {
	if len(v) > maxValidator {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func isHexDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Source returns the stored copy of name as a Source of the given format.
// Its Open reads the copy current now, even after a newer one is stored
// (until the one after that); its Name is the list's URL (with any
// password hidden), for messages. The error wraps fs.ErrNotExist when
// nothing is stored for name.
func (s *Store) Source(name string, format Format) (Source, error) {
	m, err := s.Meta(name)
	if err != nil {
		return Source{}, err
	}
	key, _ := storeKey(name) // Meta succeeded, so the name is valid
	p := s.listPath(key, m.SHA256)
	display := redactURL(m.URL)
	if display == "" {
		display = p
	}
	return Source{Name: display, Format: format, Open: func() (io.ReadCloser, error) { return os.Open(p) }}, nil
}

// redactURL hides the password of a URL's user information.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// Put stores the list text read from r as the copy of name, as an import
// (no sanity checks), and returns its metadata. It reports whether the
// stored content changed.
func (s *Store) Put(name, rawURL string, format Format, r io.Reader) (Meta, bool, error) {
	if _, err := storeKey(name); err != nil {
		return Meta{}, false, fmt.Errorf("storing list %q: %w", name, err)
	}
	tmp, st, err := spool(s.dir, r, name, format, -1)
	if err != nil {
		return Meta{}, false, fmt.Errorf("storing list %q: %w", name, err)
	}
	if st.html {
		return Meta{}, false, fmt.Errorf("storing list %q: %w", name, errMarkup)
	}
	defer os.Remove(tmp) // a no-op once renamed
	now := time.Now()
	m := Meta{Name: name, URL: rawURL, FetchedAt: now, CheckedAt: now, SHA256: st.sum,
		ValidLines: st.valid, InvalidLines: st.invalid, Bytes: st.bytes}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed, err := s.commit(m, tmp)
	if err != nil {
		return Meta{}, false, err
	}
	if !changed {
		m, err = s.Meta(name)
	}
	return m, changed, err
}

// commit makes the text in tmp, described by m, the stored copy of
// m.Name. When the stored copy has the same content, only the metadata is
// updated (keeping FetchedAt). s.mu is held.
func (s *Store) commit(m Meta, tmp string) (bool, error) {
	key, err := storeKey(m.Name)
	if err != nil {
		return false, fmt.Errorf("saving list %q: %w", m.Name, err)
	}
	if err := m.check(); err != nil {
		return false, fmt.Errorf("saving list %q: %w", m.Name, err)
	}
	cur, curErr := s.Meta(m.Name)
	if curErr == nil && cur.SHA256 == m.SHA256 {
		m.FetchedAt = cur.FetchedAt
		if err := s.writeMeta(key, m); err != nil {
			return false, fmt.Errorf("saving list %q: %w", m.Name, err)
		}
		return false, nil
	}
	if err := s.moveIn(tmp, s.listPath(key, m.SHA256)); err != nil {
		return false, fmt.Errorf("saving list %q: %w", m.Name, err)
	}
	if err := s.writeMeta(key, m); err != nil {
		return false, fmt.Errorf("saving list %q: %w", m.Name, err)
	}
	keep := []string{m.SHA256}
	if curErr == nil {
		keep = append(keep, cur.SHA256)
	}
	// Failing to remove an old copy wastes space but loses nothing; the
	// next change or Clean tries again.
	_ = s.prune(key, keep)
	return true, nil
}

// moveIn renames the synced file tmp to dst, or copies it when tmp is on
// another file system.
func (s *Store) moveIn(tmp, dst string) error {
	if filepath.Dir(tmp) == filepath.Clean(s.dir) {
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
		return syncDir(s.dir)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	return s.writeFile(dst, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}

// writeMeta replaces the metadata file of key.
func (s *Store) writeMeta(key string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return s.writeFile(s.metaPath(key), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFile writes dst atomically: a temporary file in the store's
// directory, synced, then renamed over dst, and the directory synced.
func (s *Store) writeFile(dst string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o640); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// prune removes the copies of key other than those in keep.
func (s *Store) prune(key string, keep []string) error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		k, sum, ok := splitListFile(e.Name())
		if !ok || k != key || contains(keep, sum) {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// splitListFile splits "KEY.SHA256.list" (keys contain no '.').
func splitListFile(name string) (key, sum string, ok bool) {
	rest, ok := strings.CutSuffix(name, listSuffix)
	if !ok {
		return "", "", false
	}
	key, sum, ok = strings.Cut(rest, ".")
	if !ok || key == "" || !isHexDigest(sum) {
		return "", "", false
	}
	return key, sum, true
}

// Clean removes what a crash can leave behind: temporary files, and
// copies that no metadata file names. Only the process that writes the
// store should call it, when it starts.
func (s *Store) Clean() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("cleaning list store: %w", err)
	}
	current := map[string]string{} // key -> digest in force
	for _, e := range ents {
		if key, ok := strings.CutSuffix(e.Name(), metaSuffix); ok && !strings.HasPrefix(key, ".") {
			if m, err := s.readMeta(key); err == nil {
				current[key] = m.SHA256
			}
		}
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		remove := strings.HasPrefix(name, tempPrefix) && e.Type().IsRegular()
		if key, sum, ok := splitListFile(name); ok && current[key] != sum {
			remove = true
		}
		if remove {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleaning list store: %w", err)
	}
	return nil
}

// Remove deletes the stored copy of name, for a list no longer
// configured. Nothing stored is not an error.
func (s *Store) Remove(name string) error {
	key, err := storeKey(name)
	if err != nil {
		return fmt.Errorf("removing stored list %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing stored list %q: %w", name, err)
	}
	if err := s.prune(key, nil); err != nil {
		return fmt.Errorf("removing stored list %q: %w", name, err)
	}
	if err := s.dropHeld(key); err != nil {
		return fmt.Errorf("removing stored list %q: %w", name, err)
	}
	return nil
}

// spoolStats is what spool learned about the text it wrote.
type spoolStats struct {
	sum                         string // SHA-256, hex
	bytes                       int64
	valid, invalid, unsupported int  // lines
	html                        bool // the text is markup, not a list; nothing was written
}

// Errors of spool, told apart to classify failed downloads.
var (
	errTooLarge = errors.New("larger than the size limit")
	errMarkup   = errors.New("an HTML or XML page, not a list")
)

// writeError marks a failure writing the temporary file.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// markWriter marks the errors of w as writeErrors.
type markWriter struct{ w io.Writer }

func (m markWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// capReader fails with errTooLarge once more than max bytes are read; a
// negative max means no limit. n counts the bytes read.
type capReader struct {
	r   io.Reader
	max int64
	n   int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.max < 0 {
		n, err := c.r.Read(p)
		c.n += int64(n)
		return n, err
	}
	// Read one byte more than allowed, to tell "exactly max" from "more".
	allowed := c.max - c.n + 1
	if allowed <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > allowed {
		p = p[:allowed]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, errTooLarge
	}
	return n, err
}

// spool copies r into a new temporary file in dir, hashing it and
// counting its valid and invalid lines on the way, and returns the file's
// path. Text that starts with '<' is markup (an error page), never a list
// in a supported format: spool stops there, writes nothing and sets html.
// max (negative: none) caps the size.
func spool(dir string, r io.Reader, source string, format Format, max int64) (path string, st spoolStats, err error) {
	cr := &capReader{r: r, max: max}
	br := bufio.NewReaderSize(cr, readBufSize)
	// A short or failed peek is fine: scan meets the same end or error.
	head, _ := br.Peek(512)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n\v\f")
	if len(head) > 0 && head[0] == '<' {
		st.html = true
		return "", st, nil
	}

	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", st, &writeError{err}
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	tee := io.TeeReader(br, io.MultiWriter(markWriter{f}, h))
	var cs lineCounter
	if _, _, err := scan(tee, source, format, &cs); err != nil {
		return "", st, err
	}
	// scan stops early on UTF-16 text; keep the copy whole anyway.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", st, err
	}
	if err := f.Chmod(0o640); err != nil {
		return "", st, &writeError{err}
	}
	if err := f.Sync(); err != nil {
		return "", st, &writeError{err}
	}
	if err := f.Close(); err != nil {
		return "", st, &writeError{err}
	}
	st.sum = hex.EncodeToString(h.Sum(nil))
	st.bytes = cr.n
	st.valid, st.invalid, st.unsupported = cs.valid, cs.invalid, cs.unsupported
	return f.Name(), st, nil
}

// lineCounter counts lines with entries, invalid lines and unsupported
// lines (each line once, though a hosts line may hold several names).
type lineCounter struct {
	valid, invalid, unsupported int
	lastValid, lastBad          int
}

func (c *lineCounter) entry(_ []byte, _ Kind, _ Action, line int) {
	if line != c.lastValid || c.valid == 0 {
		c.valid++
		c.lastValid = line
	}
}

func (c *lineCounter) issue(line int, err error, _ []byte) {
	if line == c.lastBad && c.invalid+c.unsupported > 0 {
		return
	}
	c.lastBad = line
	if errors.Is(err, ErrUnsupported) {
		c.unsupported++
	} else {
		c.invalid++
	}
}

func (*lineCounter) skipped(int)   {}
func (*lineCounter) stopped() bool { return false }
