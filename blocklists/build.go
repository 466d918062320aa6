package blocklists

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/bits"
	"runtime"
	"slices"
	"unsafe"
)

// ListSpec is one list to compile.
type ListSpec struct {
	ID       ListID
	Name     string // unique within the Set; the key for reuse across builds
	Category Category
	// Allow makes every entry of the list an allow entry. Lists of locked
	// categories cannot be allow lists.
	Allow   bool
	Sources []Source
}

// maxIssues is how many skipped lines a list keeps for reporting.
const maxIssues = 20

// The table is filled to loadNum/loadDen of its slots: n keys get
// n*loadDen/loadNum slots.
const (
	loadNum = 4
	loadDen = 5
)

// Builder compiles lists into a Set. Use it once: Add (or Keep) each list,
// then Build. It is not safe for concurrent use.
//
// Reload. A Builder made from the previous Set (NewBuilder(prev)) hashes
// with prev's hash keys and, for each list whose name, kind (allow or block,
// locked or not), source names and formats are unchanged, reads the
// sources once to digest them: when the digest equals prev's, the list is
// not parsed again; Build takes its entries out of prev's table (which is
// sorted, so this is one linear merge input) and remaps their list IDs.
// Only changed lists are parsed, and no per-list copy is kept between
// builds, so the steady-state memory stays that of one table.
type Builder struct {
	prev       *Set
	hash       hasher
	digestSeed maphash.Seed
	lists      []*pendingList
	used       Mask
	names      map[string]bool
	built      bool

	// Key chunks reused from list to list.
	free [][]uint64
}

// pendingList is a list between Add and Build.
type pendingList struct {
	spec   ListSpec
	info   ListInfo
	digest uint64
	runs   [3][][]uint64 // per action slot (block, nodata, allow): chunks of sorted keys, see sortRun
	prevID int           // the list in prev to carry over, or -1
}

const (
	slotBlock = iota
	slotNoData
	slotAllow
)

// NewBuilder returns a Builder. prev, the Set in use, may be nil; with it,
// unchanged lists are carried over instead of parsed (see Builder).
func NewBuilder(prev *Set) *Builder {
	b := &Builder{prev: prev, names: make(map[string]bool)}
	if prev != nil {
		// A reload: collect first, so that the build reuses the heap the
		// garbage since the last collection holds instead of growing the
		// heap by the new Set on top of it (issue 4 bounds the peak
		// resident memory of a reload; docs/performance.md, Blocklists).
		runtime.GC()
		b.hash, b.digestSeed = prev.hash, prev.digestSeed
	} else {
		b.hash, b.digestSeed = newHasher(), maphash.MakeSeed()
	}
	return b
}

func (b *Builder) check(spec ListSpec) error {
	switch {
	case b.built:
		return errors.New("builder already built")
	case spec.ID >= MaxLists:
		return fmt.Errorf("list %q: id %d out of range 0..%d", spec.Name, spec.ID, MaxLists-1)
	case b.used.Has(spec.ID):
		return fmt.Errorf("list %q: id %d already used", spec.Name, spec.ID)
	case spec.Name == "":
		return fmt.Errorf("list %d: no name", spec.ID)
	case b.names[spec.Name]:
		return fmt.Errorf("list %q: name already used", spec.Name)
	case !spec.Category.Valid():
		return fmt.Errorf("list %q: no valid category", spec.Name)
	case spec.Allow && spec.Category.Locked():
		return fmt.Errorf("list %q: allow list in category %s: %w", spec.Name, spec.Category, ErrLocked)
	case len(spec.Sources) == 0:
		return fmt.Errorf("list %q: no sources", spec.Name)
	}
	for i, src := range spec.Sources {
		if src.Format == Addresses {
			return fmt.Errorf("list %q: an address list belongs in an IPSet, not a name Set", spec.Name)
		}
		if src.Open == nil {
			return fmt.Errorf("list %q: source %d (%s) cannot be opened", spec.Name, i, src.Name)
		}
	}
	return nil
}

func (b *Builder) accept(pl *pendingList) ListInfo {
	b.used |= MaskOf(pl.spec.ID)
	b.names[pl.spec.Name] = true
	b.lists = append(b.lists, pl)
	return pl.info
}

// Add reads, parses and compiles one list, or carries it over from the
// previous Set when its sources are unchanged. Invalid and unsupported
// lines are counted in the returned ListInfo, not errors. The error is for
// a bad spec or a source that cannot be read; the list is then not added.
func (b *Builder) Add(spec ListSpec) (ListInfo, error) {
	if err := b.check(spec); err != nil {
		return ListInfo{}, err
	}
	if old := b.prevList(spec); old != nil {
		d, err := b.digest(spec.Sources)
		if err != nil {
			return ListInfo{}, fmt.Errorf("list %q: %w", spec.Name, err)
		}
		if d == old.digest {
			return b.accept(b.carry(spec, old)), nil
		}
	}
	pl, err := b.compile(spec)
	if err != nil {
		return ListInfo{}, fmt.Errorf("list %q: %w", spec.Name, err)
	}
	return b.accept(pl), nil
}

// Keep carries the list called spec.Name over from the previous Set
// without reading its sources: for when a refresh failed and the last good
// entries should stay in force.
func (b *Builder) Keep(spec ListSpec) (ListInfo, error) {
	if err := b.check(spec); err != nil {
		return ListInfo{}, err
	}
	old := b.prevList(spec)
	if old == nil {
		return ListInfo{}, fmt.Errorf("list %q: not in the previous set in the same form, nothing to keep", spec.Name)
	}
	return b.accept(b.carry(spec, old)), nil
}

// prevList returns prev's list that spec may reuse: same name, same
// meaning of its entries, same sources.
func (b *Builder) prevList(spec ListSpec) *listData {
	if b.prev == nil {
		return nil
	}
	for _, l := range b.prev.lists {
		if l == nil || l.info.Name != spec.Name {
			continue
		}
		if l.info.Allow != spec.Allow || l.info.Category.Locked() != spec.Category.Locked() || len(l.sources) != len(spec.Sources) {
			return nil
		}
		for i, src := range spec.Sources {
			if l.sources[i].Name != src.Name || l.sources[i].Format != src.Format {
				return nil
			}
		}
		return l
	}
	return nil
}

func (b *Builder) carry(spec ListSpec, old *listData) *pendingList {
	info := old.info
	info.ID, info.Category, info.Reused = spec.ID, spec.Category, true
	return &pendingList{spec: spec, info: info, digest: old.digest, prevID: int(old.info.ID)}
}

// digest hashes the text of sources, as compile does while parsing.
func (b *Builder) digest(sources []Source) (uint64, error) {
	var h maphash.Hash
	h.SetSeed(b.digestSeed)
	for _, src := range sources {
		rc, err := src.Open()
		if err != nil {
			return 0, fmt.Errorf("opening %s: %w", src.Name, err)
		}
		n, err := io.Copy(&h, rc)
		rc.Close()
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", src.Name, err)
		}
		writeLen(&h, n)
	}
	return h.Sum64(), nil
}

func writeLen(h *maphash.Hash, n int64) {
	var buf [8]byte
	for i := range buf {
		buf[i] = byte(n >> (8 * i))
	}
	h.Write(buf[:])
}

// compile parses the sources of spec into sorted key runs.
func (b *Builder) compile(spec ListSpec) (*pendingList, error) {
	pl := &pendingList{spec: spec, prevID: -1}
	pl.info = ListInfo{ID: spec.ID, Name: spec.Name, Category: spec.Category, Allow: spec.Allow}
	s := &buildSink{hash: &b.hash, allowList: spec.Allow, locked: spec.Category.Locked(), info: &pl.info, b: b}
	var h maphash.Hash
	h.SetSeed(b.digestSeed)
	for _, src := range spec.Sources {
		rc, err := src.Open()
		if err != nil {
			s.release()
			return nil, fmt.Errorf("opening %s: %w", src.Name, err)
		}
		cr := &countingReader{r: rc, h: &h}
		s.source = src.Name
		f, lines, err := scan(cr, src.Name, src.Format, s)
		rc.Close()
		if err != nil {
			s.release()
			return nil, err
		}
		pl.info.Stats.Lines += lines
		writeLen(&h, cr.n)
		pl.info.Sources = append(pl.info.Sources, src.Name)
		pl.info.Formats = append(pl.info.Formats, f)
	}
	pl.digest = h.Sum64()
	for i := range pl.runs {
		run, distinct, dups := b.sortRun(&s.acc[i])
		pl.runs[i] = run
		pl.info.Stats.Duplicates += dups
		pl.info.Entries += distinct
	}
	return pl, nil
}

// countingReader feeds what it reads into the digest.
type countingReader struct {
	r io.Reader
	h *maphash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// buildSink hashes entries straight from the parser's scratch buffer: no
// string per entry.
type buildSink struct {
	b         *Builder
	hash      *hasher
	allowList bool
	locked    bool
	info      *ListInfo
	source    string
	acc       [3]keyChunks
}

func (s *buildSink) entry(name []byte, kind Kind, act Action, _ int) {
	slot := slotBlock
	switch {
	case s.allowList:
		slot = slotAllow
	case act == Allow && s.locked:
		// An exception inside a locked list would let something through
		// that the locked category blocks; nothing may do that.
		s.info.Stats.Skipped++
		return
	case act == Allow:
		slot = slotAllow
	case act == NoData:
		slot = slotNoData
	}
	s.info.Stats.Parsed++
	// The hasher only reads name during the call.
	s.acc[slot].add(s.b, hashKey(s.hash.name(unsafe.String(unsafe.SliceData(name), len(name))), kind))
}

func (s *buildSink) issue(line int, err error, text []byte) {
	if errors.Is(err, ErrUnsupported) {
		s.info.Stats.Unsupported++
	} else {
		s.info.Stats.Invalid++
	}
	if len(s.info.Issues) < maxIssues {
		s.info.Issues = append(s.info.Issues, &ParseError{Source: s.source, Line: line, Err: err, Text: issueText(text)})
	}
}

func (s *buildSink) skipped(int) {
	s.info.Stats.Skipped++
}

func (s *buildSink) stopped() bool { return false }

func (s *buildSink) release() {
	for i := range s.acc {
		s.acc[i].release(s.b)
	}
}

// keyChunks collects keys in fixed-size chunks, so a growing list never
// copies what it has (append would, and would leave the old arrays as
// garbage); sortKeys then writes them once into an exactly sized array.
type keyChunks struct {
	chunks [][]uint64
	n      int
}

// chunkLen is the capacity of a key chunk: large, because Build merges
// every chunk of a big list as a run of its own and the merge costs the
// logarithm of the number of runs per key; small enough that a list's
// partly filled last chunk wastes little (sortRun trims it).
const chunkLen = 1 << 16

func (c *keyChunks) add(b *Builder, k uint64) {
	if len(c.chunks) == 0 || len(c.chunks[len(c.chunks)-1]) == chunkLen {
		var ch []uint64
		if n := len(b.free); n > 0 {
			ch, b.free = b.free[n-1][:0], b.free[:n-1]
		} else {
			ch = make([]uint64, 0, chunkLen)
		}
		c.chunks = append(c.chunks, ch)
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, k)
	c.n++
}

func (c *keyChunks) release(b *Builder) {
	b.free = append(b.free, c.chunks...)
	c.chunks, c.n = nil, 0
}

// sortRun sorts each chunk of c in place and removes the duplicates
// within it, and returns the chunks (for Build to merge), the number of
// distinct keys across them and the number of duplicates removed.
//
// The keys stay in the chunks they were collected in: a reload of a big
// list then holds 8 bytes per key besides the Set being built, not twice
// that for a sorted copy (issue 4's limit on memory during a reload). A
// last chunk less than half full is copied out, so that many small lists
// do not each hold a whole chunk.
func (b *Builder) sortRun(c *keyChunks) ([][]uint64, int, int) {
	run := c.chunks
	total := c.n
	c.chunks, c.n = nil, 0
	for i, ch := range run {
		slices.Sort(ch)
		run[i] = slices.Compact(ch)
	}
	if last := len(run) - 1; last >= 0 && len(run[last]) < chunkLen/2 {
		trimmed := slices.Clone(run[last])
		b.free = append(b.free, run[last])
		run[last] = trimmed
	}
	if total == 0 {
		return nil, 0, 0
	}
	distinct := 0
	if len(run) == 1 {
		distinct = len(run[0])
	} else {
		curs := make([]cursor, len(run))
		for i, ch := range run {
			curs[i] = cursor{keys: ch}
		}
		mergeRuns(curs, func(uint64, value) { distinct++ })
	}
	return run, distinct, total - distinct
}

// Build merges the lists into a Set. The Builder cannot be used again.
func (b *Builder) Build() (*Set, error) {
	if b.built {
		return nil, errors.New("builder already built")
	}
	b.built = true
	b.free = nil
	s := &Set{hash: b.hash, digestSeed: b.digestSeed}

	var curs []cursor
	var mapping [MaxLists]int // prev ListID -> new ListID + 1
	reuse := false
	for _, pl := range b.lists {
		id := pl.spec.ID
		bit := MaskOf(id)
		s.lists[id] = &listData{info: pl.info, sources: pl.spec.Sources, digest: pl.digest}
		s.cats[id] = pl.spec.Category
		s.present |= bit
		if pl.spec.Category.Locked() {
			s.locked |= bit
		}
		if pl.spec.Allow {
			s.allow |= bit
		}
		if pl.prevID >= 0 {
			mapping[pl.prevID] = int(id) + 1
			reuse = true
			continue
		}
		contrib := [3]value{
			slotBlock:  {block: bit},
			slotNoData: {block: bit, nodata: bit},
			slotAllow:  {allow: bit},
		}
		for slot, run := range pl.runs {
			for _, keys := range run {
				if len(keys) > 0 {
					curs = append(curs, cursor{keys: keys, val: contrib[slot]})
				}
			}
		}
	}
	if reuse {
		p := b.prev
		remap := make([]value, len(p.values))
		for i, v := range p.values {
			remap[i] = v.remap(&mapping)
		}
		curs = append(curs, cursor{prev: p, remap: remap})
	}
	b.lists = nil

	n := 0
	mergeRuns(curs, func(uint64, value) { n++ })
	if err := s.place(curs, n); err != nil {
		return nil, err
	}
	return s, nil
}

// remap keeps the bits of the lists carried over, at their new IDs.
func (v value) remap(mapping *[MaxLists]int) value {
	var out value
	for m := v.block | v.allow; m != 0; m &= m - 1 {
		old := ListID(bits.TrailingZeros64(uint64(m)))
		nid := mapping[old]
		if nid == 0 {
			continue
		}
		bit := Mask(1) << (nid - 1)
		if v.block.Has(old) {
			out.block |= bit
		}
		if v.nodata.Has(old) {
			out.nodata |= bit
		}
		if v.allow.Has(old) {
			out.allow |= bit
		}
	}
	return out
}

// place lays the n merged keys out in the table (see Set).
func (s *Set) place(curs []cursor, n int) error {
	s.n = n
	s.nb = uint64(max((n*loadDen+bucketSlots*loadNum-1)/(bucketSlots*loadNum), 1))
	buckets := make([]bucket, s.nb+2)
	adviseHugePages(buckets)
	for i := range buckets {
		for q := range buckets[i].keys {
			buckets[i].keys[q] = emptyKey
		}
	}
	in := newInterner()
	last := -1
	var err error
	mergeRuns(curs, func(k uint64, v value) {
		idx, ierr := in.index(v)
		if ierr != nil {
			err = ierr
			return
		}
		pos := max(int(s.home(k))*bucketSlots, last+1)
		for pos/bucketSlots+1 >= len(buckets) {
			var e bucket
			for q := range e.keys {
				e.keys[q] = emptyKey
			}
			buckets = append(buckets, e)
		}
		b := &buckets[pos/bucketSlots]
		b.keys[pos%bucketSlots], b.vals[pos%bucketSlots] = k, idx
		last = pos
	})
	if err != nil {
		return err
	}
	// Keep every home bucket and one empty bucket after the last key.
	size := max(int(s.nb), last/bucketSlots+1) + 1
	s.buckets = buckets[:size:size]
	s.values = in.values

	s.filter = make([]uint64, max(n/8, 1))
	adviseHugePages(s.filter)
	for i := range s.buckets {
		for _, k := range s.buckets[i].keys {
			if k != emptyKey {
				w, m := s.filterBits(k &^ 3)
				s.filter[w] |= m
			}
		}
	}
	return nil
}

// interner numbers the distinct values.
type interner struct {
	values []value
	single [MaxLists]int32 // index of the plain one-list block value, or -1
	multi  map[value]uint16
}

func newInterner() *interner {
	in := &interner{multi: make(map[value]uint16)}
	for i := range in.single {
		in.single[i] = -1
	}
	return in
}

var errTooManyValues = errors.New("more than 65536 distinct combinations of lists and actions")

func (in *interner) index(v value) (uint16, error) {
	if v.nodata == 0 && v.allow == 0 && v.block&(v.block-1) == 0 {
		id := v.block.first()
		if i := in.single[id]; i >= 0 {
			return uint16(i), nil
		}
		i, err := in.add(v)
		in.single[id] = int32(i)
		return i, err
	}
	if i, ok := in.multi[v]; ok {
		return i, nil
	}
	i, err := in.add(v)
	in.multi[v] = i
	return i, err
}

func (in *interner) add(v value) (uint16, error) {
	if len(in.values) > 0xFFFF {
		return 0, errTooManyValues
	}
	in.values = append(in.values, v)
	return uint16(len(in.values) - 1), nil
}

// cursor walks one sorted run of keys: a fresh list's keys with one value,
// or the slots of the previous Set's table with their values remapped.
type cursor struct {
	keys  []uint64
	val   value
	prev  *Set
	remap []value
	i     int
}

func (c *cursor) len() int {
	if c.prev != nil {
		return len(c.prev.buckets) * bucketSlots
	}
	return len(c.keys)
}

func (c *cursor) key() uint64 {
	if c.prev != nil {
		k, _ := c.prev.slot(c.i)
		return k
	}
	return c.keys[c.i]
}

func (c *cursor) value() value {
	if c.prev != nil {
		_, v := c.prev.slot(c.i)
		return c.remap[v]
	}
	return c.val
}

// skip moves past empty slots and slots of lists not carried over.
func (c *cursor) skip() {
	if c.prev == nil {
		return
	}
	for n := c.len(); c.i < n; c.i++ {
		if k, v := c.prev.slot(c.i); k != emptyKey && !c.remap[v].zero() {
			return
		}
	}
}

// mergeRuns calls emit for every distinct key of the runs in ascending
// order, with the values of the runs that have it OR'ed. curs is not
// modified: each call walks the runs from their start.
func mergeRuns(curs []cursor, emit func(k uint64, v value)) {
	type head struct {
		k uint64
		c *cursor
	}
	cs := slices.Clone(curs)
	h := make([]head, 0, len(cs))
	for i := range cs {
		c := &cs[i]
		c.i = 0
		c.skip()
		if c.i < c.len() {
			h = append(h, head{c.key(), c})
		}
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && h[r].k < h[l].k {
				l = r
			}
			if h[i].k <= h[l].k {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	// advance moves the top cursor on and restores the heap.
	advance := func() {
		c := h[0].c
		c.i++
		c.skip()
		if c.i < c.len() {
			h[0].k = c.key()
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		if len(h) > 0 {
			down(0)
		}
	}
	for len(h) > 0 {
		k := h[0].k
		v := h[0].c.value()
		advance()
		for len(h) > 0 && h[0].k == k {
			v = v.or(h[0].c.value())
			advance()
		}
		emit(k, v)
	}
}
