package blocklists

import (
	"hash/maphash"
	"math/bits"
	"strings"
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
// Representation. Each distinct (name, kind) is a 64-bit key: a seeded
// hash of the canonical name (hash/maphash, with a random seed per
// process, so nobody can precompute colliding names) with the kind in the
// low two bits. The keys sit in sorted order in an open-addressed table
// (load factor 0.8): a key's home slot is its rank scaled to the table
// (the high bits of key*m), and it is stored at its home or just after the
// keys before it. A lookup hashes one suffix, goes to its home slot and
// scans forward while the keys are smaller: usually one cache line. A
// parallel array holds a 16-bit index into the few distinct values. That
// is 10 bytes per slot, 12.5 bytes per distinct entry, and the entry text
// is not stored: the matched entry is a suffix of the query name.
//
// False positives. A name that is not listed matches only if its 62
// hash bits equal a listed key's: with N entries the chance per suffix
// looked up is about N/2^62, 1.1e-12 for 5 million entries, so a school
// doing a million lookups of 5-label names a day would see one false
// match in roughly 500,000 years. Explain re-reads the sources, so it
// never shows a false match as a real entry.
type Set struct {
	seed   maphash.Seed
	m      uint64   // home slots; len(keys) > m
	keys   []uint64 // sorted, emptyKey in gaps, at least one emptyKey at the end
	vals   []uint16 // index into values, per slot
	values []value
	n      int // distinct keys

	lists   [MaxLists]*listData
	cats    [MaxLists]Category
	present Mask
	locked  Mask
	allow   Mask
}

// listData is what a Set keeps about each list.
type listData struct {
	info    ListInfo
	sources []Source
	digest  uint64
}

// hashKey returns the key of name (canonical) with kind k.
func hashKey(h uint64, k Kind) uint64 {
	h &^= 3
	if h == ^uint64(3) {
		// Keep the name bits of every key off all-ones, so that no key
		// compares equal to emptyKey's name bits.
		h = ^uint64(7)
	}
	return h | uint64(k)
}

// home returns the first slot where key may be stored.
func (s *Set) home(key uint64) uint64 {
	hi, _ := bits.Mul64(key, s.m)
	return hi
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
	block |= s.locked
	active := block | allow
	var allowM, blockM Match
	for off := 0; off < len(name); {
		suffix := name[off:]
		if suffix == "." {
			break
		}
		t := hashKey(maphash.String(s.seed, suffix), 0)
		for p := s.home(t); ; p++ {
			k := s.keys[p]
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
			v := &s.values[s.vals[p]]
			if l := v.block & s.locked; l != 0 {
				id := l.first()
				return Match{Action: Block, List: id, Lists: l, Category: s.cats[id], Kind: kind, Suffix: suffix, Locked: true}
			}
			if a := v.allow & active; a != 0 && allowM.Action == NoAction {
				id := a.first()
				allowM = Match{Action: Allow, List: id, Lists: a, Category: s.cats[id], Kind: kind, Suffix: suffix}
			}
			if b := v.block & block; b != 0 && blockM.Action == NoAction {
				id := b.first()
				act := Block
				if v.nodata.Has(id) {
					act = NoData
				}
				blockM = Match{Action: act, List: id, Lists: b, Category: s.cats[id], Kind: kind, Suffix: suffix}
			}
		}
		i := strings.IndexByte(suffix, '.')
		if i < 0 {
			break
		}
		off += i + 1
	}
	if allowM.Action != NoAction {
		return allowM
	}
	return blockM
}

// Len returns the number of distinct entries (name and kind) in the Set.
func (s *Set) Len() int { return s.n }

// Bytes returns the memory held by the compiled entries, for metrics.
func (s *Set) Bytes() int { return 8*len(s.keys) + 2*len(s.vals) + 24*len(s.values) }

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
