package blocklists

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// MaxLists is how many lists one Set holds: one bit each in a Mask.
const MaxLists = 64

// ListID identifies a list in a Set, 0 to MaxLists-1. Configuration assigns
// them; they only need to be stable within one Set.
type ListID uint8

// Mask is a set of lists, bit i for ListID i. Groups select lists with
// masks, so any number of groups share one Set.
type Mask uint64

// MaskOf returns the mask of the given lists.
func MaskOf(ids ...ListID) Mask {
	var m Mask
	for _, id := range ids {
		m |= 1 << (id % MaxLists)
	}
	return m
}

// Has reports whether id is in m.
func (m Mask) Has(id ListID) bool { return id < MaxLists && m&(1<<id) != 0 }

// first returns the lowest list in a non-empty m.
func (m Mask) first() ListID { return ListID(bits.TrailingZeros64(uint64(m))) }

// Stats counts what parsing one list found.
type Stats struct {
	Lines       int // lines read
	Parsed      int // entries parsed, duplicates included
	Duplicates  int // entries repeated within the list
	Invalid     int // lines skipped as invalid
	Unsupported int // lines skipped as unsupported
	Skipped     int // lines skipped on purpose: localhost lines, RPZ apex records, exceptions in locked lists
}

// ListInfo describes one list of a Set.
type ListInfo struct {
	ID       ListID
	Name     string
	Category Category
	Allow    bool
	Sources  []string // source names, as in messages
	Formats  []Format // per source; the detected format where Auto was given
	Entries  int      // distinct entries (a name listed with two actions counts twice)
	Stats    Stats
	// Issues are the first skipped lines (at most 20), for the reload log
	// and the dashboard. Stats has the full counts.
	Issues []*ParseError
	// Reused is set when the list's sources were unchanged since the
	// previous Set and its entries were carried over without parsing.
	Reused bool
}

// Match is the decision-relevant result of Set.Match. The zero Match
// (Action NoAction) means no selected list matched.
type Match struct {
	Action Action // NoAction, Block, NoData or Allow
	// List is the list that explains the decision: the lowest ListID among
	// Lists.
	List ListID
	// Lists are all lists with an entry of the deciding action at Suffix.
	Lists    Mask
	Category Category
	// Kind and Suffix name the matched entry: Suffix is the listed name,
	// a substring of the query name ("*." before it for Children).
	Kind   Kind
	Suffix string
	// Locked is set when a locked category (IWF, CTIRU) decided.
	Locked bool
}

// Entry returns the matched entry as listed: Suffix, with "*." before it
// for Children entries; "" when nothing matched.
func (m Match) Entry() string {
	if m.Action == NoAction {
		return ""
	}
	if m.Kind == Children {
		return "*." + m.Suffix
	}
	return m.Suffix
}

// value is what a compiled entry means: which lists block it, which of
// those ask for NODATA, and which allow it. Distinct values are few, so
// slots refer to them by a 16-bit index.
type value struct {
	block  Mask
	nodata Mask // subset of block
	allow  Mask
}

func (v value) or(w value) value {
	return value{v.block | w.block, v.nodata | w.nodata, v.allow | w.allow}
}

func (v value) zero() bool { return v.block|v.allow == 0 }

// emptyKey marks an unused slot. No real key equals it: kinds are 0 to 2,
// so the low two bits of a key are never both set.
const emptyKey = ^uint64(0)

// Set is the compiled form of up to 64 lists. It is immutable once built
// and safe for concurrent use; every group shares it and selects lists
// with masks.
//
// Representation. Each distinct (name, kind) is a 64-bit key: a keyed
// hash of the canonical name (see hasher; the keys are random per process,
// so nobody can precompute colliding names) with the kind in the low two
// bits. The keys sit in sorted order in an open-addressed table of 64-byte
// buckets, six keys and their 16-bit value indices to a bucket, filled to
// 0.8: a key's home bucket is its rank scaled to the table (the high bits
// of key*buckets), and it is stored in its home bucket or just after the
// keys before it. A lookup reads its home bucket: one cache line, rarely
// two. In front of the table sits a blocked Bloom filter of one byte per
// name (two bits in one 64-bit word), an eighth of the table's size, so it
// is the part that stays in cache: it turns away about 95% of the suffixes
// that are not listed (most of them, for most queries) before they touch
// the table. Together 14.3 bytes per distinct entry; the entry text is not
// stored, as the matched entry is a suffix of the query name.
//
// False positives. A name that is not listed matches only if its 62
// hash bits equal a listed key's: with N entries the chance per suffix
// looked up is about N/2^62, 1.1e-12 for 5 million entries, so a school
// doing a million lookups of 5-label names a day would see one false
// match in roughly 500 years. Explain re-reads the sources, so it
// never shows a false match as a real entry.
type Set struct {
	hash       hasher
	digestSeed maphash.Seed // for list digests, carried to the next build
	nb         uint64       // home buckets; len(buckets) > nb
	filter     []uint64     // one word per 8 names, 2 bits per name, see filterBits
	buckets    []bucket     // keys sorted across buckets, emptyKey in gaps, an empty bucket at the end
	values     []value
	n          int // distinct keys

	lists   [MaxLists]*listData
	cats    [MaxLists]Category
	present Mask
	locked  Mask
	allow   Mask
}

// bucketSlots is how many keys share a 64-byte bucket (one cache line)
// with their value indices, so one memory access answers a probe.
const bucketSlots = 6

type bucket struct {
	keys [bucketSlots]uint64
	vals [bucketSlots]uint16 // index into Set.values
	_    [64 - 10*bucketSlots]byte
}

// slots returns the slots of b that hold a key of the name whose key
// (kind bits clear) is t, bit i for slot i. It is branch-free: most
// probes find nothing, and the one that finds something finds it in any
// slot.
func (b *bucket) slots(t uint64) uint {
	// (k^t)>>2 is zero for a match; its top bits are clear, so one less
	// than it has the top bit set exactly then.
	// Written out, not a loop: the compiler keeps a loop's counter and
	// mask in memory here (Match has too many live values), and this runs
	// for every bucket a lookup reads.
	k := &b.keys
	return uint(((k[0]^t)>>2-1)>>63) |
		uint(((k[1]^t)>>2-1)>>63)<<1 |
		uint(((k[2]^t)>>2-1)>>63)<<2 |
		uint(((k[3]^t)>>2-1)>>63)<<3 |
		uint(((k[4]^t)>>2-1)>>63)<<4 |
		uint(((k[5]^t)>>2-1)>>63)<<5
}

// listData is what a Set keeps about each list.
type listData struct {
	info    ListInfo
	sources []Source
	digest  uint64
}

// hashKey returns the key for a name hash h and kind k.
func hashKey(h uint64, k Kind) uint64 {
	h &^= 3
	if h == ^uint64(3) {
		// Keep the name bits of every key off all-ones, so that no key
		// compares equal to emptyKey's name bits.
		h = ^uint64(7)
	}
	return h | uint64(k)
}

// home returns the bucket where key's slot is, or the first bucket after
// which it is.
func (s *Set) home(key uint64) uint64 {
	hi, _ := bits.Mul64(key, s.nb)
	return hi
}

// slot returns the key and value index at slot position p.
func (s *Set) slot(p int) (uint64, uint16) {
	b := &s.buckets[p/bucketSlots]
	return b.keys[p%bucketSlots], b.vals[p%bucketSlots]
}

// Match decides name against the lists selected by block and allow,
// following the precedence table in the package documentation. name must
// be canonical (lower case, with the trailing dot); the resolver's
// canonical query name is. Match does not allocate and does not retain
// name beyond the returned Suffix.
//
// Among lists matching at the same suffix, the lowest ListID explains the
// decision; Lists has them all. Names that are not canonical never panic,
// they just do not match what they would in canonical form.
func (s *Set) Match(name string, block, allow Mask) Match {
	if len(name) > maxName+2 {
		return Match{} // longer than any listed name
	}
	// One pass from the right finds the labels, hashes each suffix from
	// its parent's hash and prefetches its filter word and its home
	// bucket, so that all these cache misses overlap each other and the
	// hashing of the labels still to come. A listed suffix's bucket is
	// then on its way before the filter has answered for it: a hit waits
	// for one cold load, not a filter load and then a bucket load. The
	// filter still decides which buckets are read, so a miss reads no
	// bucket (but for the filter's 5% false positives); the prefetched
	// lines it does not use cost memory bandwidth, not time.
	//
	// Names of more than fastLabels labels are done fastLabels suffixes
	// at a time, from the top-level one down; every batch is decided
	// before the next is hashed, keeping the most specific entry found of
	// each sort, so the scratch stays a few fixed arrays.
	end := len(name)
	if end > 0 && name[end-1] == '.' {
		end--
	}
	block |= s.locked
	active := block | allow
	hs := &s.hash
	// name's bytes, read eight at a time. Match never writes them.
	bytes := unsafe.Slice(unsafe.StringData(name), len(name))
	h := hs.root
	flen, nb := uint64(len(s.filter)), s.nb
	filter := uintptr(unsafe.Pointer(unsafe.SliceData(s.filter)))
	buckets := uintptr(unsafe.Pointer(unsafe.SliceData(s.buckets)))
	fl, bk, vals, lk := s.filter, s.buckets, s.values, s.locked
	var (
		keys           [fastLabels]uint64 // suffix keys, kind bits clear
		offs           [fastLabels]int    // suffix offsets in name
		words, homes   [fastLabels]uint64 // their filter words and home buckets
		locked, al, bl found
	)
	for i := end; i >= 0; {
		// Here i is the end of the next label to the left: the index of
		// the dot after it, or end.
		n := 0
		for ; n < fastLabels && i >= 0; n++ {
			// The label's hash, as hasher.label computes it: the word of
			// eight bytes ending at the label's end finds the dot before
			// the label (most labels are shorter than eight bytes) and
			// holds the label's bytes.
			e, st := i, h^hs.k0
			for {
				var c uint64
				if e >= 8 {
					c = binary.LittleEndian.Uint64(bytes[e-8 : e : e])
				} else {
					c = nameHead(name, e)
				}
				x := c ^ dots
				// High bit set in exactly the bytes of x that are zero,
				// that is the bytes of c that are '.'.
				if z := ^((x&low7 + low7) | x | low7); z != 0 {
					p := uint(63-bits.LeadingZeros64(z)) & 56 // the dot's bit offset
					dot := e - 8 + int(p>>3)
					h = mix((c>>p>>8)^hs.k1, st^uint64(i-dot-1))
					i = dot
					break
				}
				st = mix(c^hs.k1, st) // eight bytes of a long label
				e -= 8
			}
			t := hashKey(h, 0)
			keys[n], offs[n] = t, i+1
			w, _ := bits.Mul64(t, flen)
			b, _ := bits.Mul64(t, nb)
			words[n], homes[n] = w, b
			// A fifth of the keys sit in the bucket after their home bucket
			// (they are sorted, and the table is 80% full): load both.
			bucketAt := buckets + uintptr(b)*unsafe.Sizeof(bucket{})
			prefetch3(filter+uintptr(w)*8, bucketAt, bucketAt+unsafe.Sizeof(bucket{}))
		}

		// Which suffixes the filter lets through.
		pass := filterPass(fl, &keys, &words, n)
		// From the least specific suffix to the most, keeping the most
		// specific entry of each sort (the first one at a suffix).
		for ; pass != 0; pass &= pass - 1 {
			j := bits.TrailingZeros(pass) & (fastLabels - 1)
			t, off := keys[j], offs[j]
			for bi := homes[j]; ; bi++ {
				b := &bk[bi]
				for q := b.slots(t); q != 0; q &= q - 1 {
					// slots sets only bits 0 to bucketSlots-1; min tells
					// the compiler, so the two reads need no bounds check.
					slot := min(bits.TrailingZeros(q), bucketSlots-1)
					kind := Kind(b.keys[slot] & 3)
					if kind == Exact && off != 0 || kind == Children && off == 0 {
						continue
					}
					v := &vals[b.vals[slot]]
					locked.add(v.block&lk, off, kind)
					al.add(v.allow&active, off, kind)
					if bl.add(v.block&block, off, kind) {
						bl.nodata = v.nodata
					}
				}
				// Keys are sorted across buckets: the name's keys can only
				// continue in the next bucket if this one ends below them.
				if b.keys[bucketSlots-1] >= t|3 {
					break
				}
			}
		}
	}

	switch {
	case locked.lists != 0:
		id := locked.lists.first()
		return Match{Action: Block, List: id, Lists: locked.lists, Category: s.cats[id], Kind: locked.kind, Suffix: name[locked.off:], Locked: true}
	case al.lists != 0:
		id := al.lists.first()
		return Match{Action: Allow, List: id, Lists: al.lists, Category: s.cats[id], Kind: al.kind, Suffix: name[al.off:]}
	case bl.lists != 0:
		id := bl.lists.first()
		act := Block
		if bl.nodata.Has(id) {
			act = NoData
		}
		return Match{Action: act, List: id, Lists: bl.lists, Category: s.cats[id], Kind: bl.kind, Suffix: name[bl.off:]}
	}
	return Match{}
}

// filterPass returns the suffixes among the first n of keys that the
// filter lets through, bit j for keys[j], without a branch on each answer
// (they come from memory, in any pattern). words are the keys' filter
// words. It is a function of its own so that its loop keeps its values in
// registers, which inside Match it does not.
//
//go:noinline
func filterPass(filter []uint64, keys, words *[fastLabels]uint64, n int) uint {
	pass := uint(0)
	for j := range n {
		j &= fastLabels - 1
		d := filterMask(keys[j]) &^ filter[words[j]] // 0 when it passes
		pass |= uint((d|-d)>>63^1) << j
	}
	return pass
}

// fastLabels is how many suffixes Match hashes before it decides them.
const fastLabels = 8

// found is the most specific entry of one sort (locked, allow or block)
// that Match has found so far.
type found struct {
	off    int  // the suffix's offset in the name
	lists  Mask // the lists with the entry; 0 for none yet
	nodata Mask // for block entries, the lists that asked for NODATA
	kind   Kind
}

// add records lists (if any) matching at off with kind, unless an entry
// at a suffix as specific is already recorded. It reports whether it did.
func (f *found) add(lists Mask, off int, kind Kind) bool {
	if lists == 0 || f.lists != 0 && f.off <= off {
		return false
	}
	f.off, f.lists, f.kind = off, lists, kind
	return true
}

// Bytes of '.', and the mask of the bytes' low seven bits, for finding
// dots eight bytes at a time.
const (
	dots = 0x2e2e2e2e2e2e2e2e
	low7 = 0x7f7f7f7f7f7f7f7f
)

// nameHead returns the first e < 8 bytes of name in the high bytes of a
// word, little-endian (name[e-1] in the high byte), and dots below them,
// so that Match finds the first label like the others: as the bytes
// after the highest dot of the eight bytes that end at the label's end.
func nameHead(name string, e int) uint64 {
	e &= 7
	var c uint64
	if len(name) >= 8 {
		c = le64(name, 0) << (8 * (7 - e)) << 8
	} else {
		for i := range min(e, len(name)) {
			c |= uint64(name[i]) << (8 * (8 - e + i))
		}
	}
	return c | dots>>(8*e)
}

// filterWord returns the index of key t's filter word.
func (s *Set) filterWord(t uint64) uint64 {
	w, _ := bits.Mul64(t, uint64(len(s.filter)))
	return w
}

// filterBits returns the filter word and the two bits of key t.
func (s *Set) filterBits(t uint64) (uint64, uint64) {
	return s.filterWord(t), filterMask(t)
}

// filterMask returns the two bits of key t in its filter word.
func filterMask(t uint64) uint64 { return 1<<(t>>2&63) | 1<<(t>>8&63) }

// Len returns the number of distinct entries (name and kind) in the Set.
func (s *Set) Len() int { return s.n }

// Bytes returns the memory held by the compiled entries, for metrics.
func (s *Set) Bytes() int { return 64*len(s.buckets) + 8*len(s.filter) + 24*len(s.values) }

// Lists returns the lists of the Set in ListID order.
func (s *Set) Lists() []ListInfo {
	var out []ListInfo
	for _, l := range s.lists {
		if l != nil {
			out = append(out, l.info)
		}
	}
	return out
}

// List returns the list with id.
func (s *Set) List(id ListID) (ListInfo, bool) {
	if id >= MaxLists || s.lists[id] == nil {
		return ListInfo{}, false
	}
	return s.lists[id].info, true
}

// ListMask returns the mask of the list called name.
func (s *Set) ListMask(name string) Mask {
	for _, l := range s.lists {
		if l != nil && l.info.Name == name {
			return MaskOf(l.info.ID)
		}
	}
	return 0
}

// CategoryMask returns the block lists of category c (allow lists are not
// included): a group that blocks c uses it as part of its block mask.
func (s *Set) CategoryMask(c Category) Mask {
	var m Mask
	for id, l := range s.lists {
		if l != nil && l.info.Category == c && !l.info.Allow {
			m |= 1 << id
		}
	}
	return m
}

// AllowMask returns the allow lists.
func (s *Set) AllowMask() Mask { return s.allow }

// LockedMask returns the lists of locked categories, which Match always
// applies.
func (s *Set) LockedMask() Mask { return s.locked }
