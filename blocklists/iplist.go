package blocklists

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"slices"

	"gatehouse/internal/addrkey"
)

// Address lists (format "cidr", alias "ip") name answer addresses to
// block: one IPv4 or IPv6 address or CIDR prefix per line. "#" and ";"
// start comments, also after the entry ("192.0.2.0/24 ; SBL123" as in
// Spamhaus DROP). A prefix with host bits set is taken as its network
// (10.1.2.3/8 is 10.0.0.0/8); an IPv4-mapped IPv6 address is its IPv4
// address. Ranges ("a-b"), zones ("fe80::1%eth0") and anything after the
// entry are reported with source:line and skipped.

var (
	errNotAddress   = errors.New("not an IP address or CIDR prefix")
	errAddrTrailing = errors.New("text after the address (one address or prefix per line)")
	errAddrZone     = errors.New("addresses with a zone cannot be in a list")
	errAddrRange    = fmt.Errorf("%w: address ranges (write them as CIDR prefixes)", ErrUnsupported)
)

// parseAddrLine reads one line of an address list. ok is false for blank
// and comment lines.
func parseAddrLine(line []byte) (p netip.Prefix, ok bool, err error) {
	if i := bytes.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	f, rest := nextField(trimSpace(line))
	if len(f) == 0 {
		return netip.Prefix{}, false, nil
	}
	if len(trimSpace(rest)) > 0 {
		return netip.Prefix{}, false, errAddrTrailing
	}
	switch {
	case bytes.IndexByte(f, '%') >= 0:
		return netip.Prefix{}, false, errAddrZone
	case isAddrRange(f):
		return netip.Prefix{}, false, errAddrRange
	}
	if bytes.IndexByte(f, '/') >= 0 {
		p, err = netip.ParsePrefix(string(f))
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(string(f)); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil {
		return netip.Prefix{}, false, errNotAddress
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false, errNotAddress // wider than the IPv4-mapped range
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true, nil
}

// isAddrRange reports whether f is "first-last" with two addresses.
func isAddrRange(f []byte) bool {
	a, b, ok := bytes.Cut(f, []byte("-"))
	if !ok {
		return false
	}
	_, errA := netip.ParseAddr(string(a))
	_, errB := netip.ParseAddr(string(b))
	return errA == nil && errB == nil
}

// addressLine is parseLine for the Addresses format. The entry the sink
// gets is the prefix in canonical text ("192.0.2.0/24", "2001:db8::1/128"):
// download checks count it like any list line; IPSet reads it back.
func (p *lineParser) addressLine(n int, line []byte) {
	pfx, ok, err := parseAddrLine(line)
	if err != nil {
		p.sink.issue(n, err, line)
		return
	}
	if !ok {
		return // blank or comment
	}
	p.name = pfx.AppendTo(p.name[:0])
	p.sink.entry(p.name, Subtree, Block, n)
}

// AddrEntry is one entry of an address list.
type AddrEntry struct {
	Prefix netip.Prefix // masked; a single address is a /32 or /128
	Line   int
}

// ParseAddresses reads an address list and yields its entries in order;
// invalid lines yield a *ParseError with source:line and parsing goes on,
// as Parse does for name lists.
func ParseAddresses(r io.Reader, source string) iter.Seq2[AddrEntry, error] {
	return func(yield func(AddrEntry, error) bool) {
		for e, err := range Parse(r, source, Addresses) {
			if err != nil {
				if !yield(AddrEntry{}, err) {
					return
				}
				continue
			}
			p, perr := netip.ParsePrefix(e.Name) // our own canonical text
			if perr != nil {
				panic(fmt.Sprintf("blocklists: address entry %q does not parse back: %v", e.Name, perr))
			}
			if !yield(AddrEntry{Prefix: p, Line: e.Line}, nil) {
				return
			}
		}
	}
}

// IPListSpec is one address list to compile: its ID shares the ListID
// space (and so the group masks) with the name lists of a Set.
type IPListSpec struct {
	ID       ListID
	Name     string
	Category Category
	Sources  []Source
	// Keep carries the list of this name over from the previous IPSet
	// without reading Sources: for a download whose stored copy is
	// damaged. With no such list there, the list is left out.
	Keep bool
}

// IPListInfo describes one list of an IPSet.
type IPListInfo struct {
	ID       ListID
	Name     string
	Category Category
	Sources  []string
	Entries  int // distinct prefixes
	Stats    Stats
	Issues   []*ParseError // the first skipped lines (at most 20)
}

// ListInfo describes the address list in the form name lists use, for
// metrics and status shared with them.
func (l IPListInfo) ListInfo() ListInfo {
	formats := make([]Format, len(l.Sources))
	for i := range formats {
		formats[i] = Addresses
	}
	return ListInfo{ID: l.ID, Name: l.Name, Category: l.Category, Sources: l.Sources, Formats: formats,
		Entries: l.Entries, Stats: l.Stats, Issues: l.Issues}
}

// IPMatch is a matching address-list entry.
type IPMatch struct {
	List     ListID
	Name     string // the list's name
	Category Category
	Prefix   netip.Prefix // the most specific entry of the list holding the address
	Source   string
	Line     int
	Locked   bool
}

// Entry is the matched entry as a list would write it: a bare address for
// a single-address entry, else the CIDR prefix.
func (m IPMatch) Entry() string {
	if m.Prefix.IsSingleIP() {
		return m.Prefix.Addr().String()
	}
	return m.Prefix.String()
}

// IPSet is the compiled form of the address lists: immutable, safe for
// concurrent use, shared by every group, which select lists with the same
// masks as for name lists.
//
// Representation. Each list is its distinct prefixes as address ranges,
// sorted by first address and, for equal first addresses, widest first. As
// CIDR prefixes are nested or disjoint, each range's parent (the
// narrowest range holding it) is fixed when building. A lookup binary
// searches for the last range starting at or before the address and climbs
// parents until one holds it: the most specific entry, in O(log n) plus the
// nesting depth, without allocating. 48 bytes per prefix.
type IPSet struct {
	lists  []ipList
	byID   [MaxLists]int16 // index in lists plus one; 0: none
	mask   Mask
	locked Mask
}

type ipList struct {
	info  IPListInfo
	spans []span
}

// span is one prefix of a list as an address range.
type span struct {
	first, last addrkey.Key
	parent      int32 // index of the narrowest span holding this one; -1: none
	line        int32
	source      uint8
	bits        uint8 // prefix length in its own family
	v4          bool
}

func (sp *span) prefix() netip.Prefix {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], sp.first.Hi)
	binary.BigEndian.PutUint64(b[8:], sp.first.Lo)
	a := netip.AddrFrom16(b)
	if sp.v4 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, int(sp.bits))
}

// find returns the index of the most specific span holding k, or -1.
func (l *ipList) find(k addrkey.Key) int {
	lo, hi := 0, len(l.spans) // first span starting after k
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if k.Less(l.spans[mid].first) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	i := lo - 1
	for i >= 0 && l.spans[i].last.Less(k) {
		i = int(l.spans[i].parent)
	}
	return i
}

// maxIPSources bounds the sources of one address list (a source index is
// one byte per entry).
const maxIPSources = 255

// BuildIPSet reads and compiles address lists. Invalid lines are counted
// and reported in the lists' IPListInfo; the error is for a bad spec or a
// source that cannot be read. prev (nil at start) is the IPSet in force,
// from which Keep specs carry their lists over.
func BuildIPSet(specs []IPListSpec, prev *IPSet) (*IPSet, error) {
	s := &IPSet{}
	names := map[string]bool{}
	for _, spec := range specs {
		switch {
		case spec.ID >= MaxLists:
			return nil, fmt.Errorf("address list %q: id %d out of range 0..%d", spec.Name, spec.ID, MaxLists-1)
		case s.mask.Has(spec.ID):
			return nil, fmt.Errorf("address list %q: id %d already used", spec.Name, spec.ID)
		case spec.Name == "" || names[spec.Name]:
			return nil, fmt.Errorf("address list %q: missing or repeated name", spec.Name)
		case !spec.Category.Valid():
			return nil, fmt.Errorf("address list %q: no valid category", spec.Name)
		case !spec.Keep && (len(spec.Sources) == 0 || len(spec.Sources) > maxIPSources):
			return nil, fmt.Errorf("address list %q: %d sources, want 1 to %d", spec.Name, len(spec.Sources), maxIPSources)
		}
		var l ipList
		if spec.Keep {
			old := prev.byName(spec.Name)
			if old == nil {
				continue
			}
			l = *old // spans are immutable: shared
			l.info.ID, l.info.Category = spec.ID, spec.Category
		} else {
			var err error
			if l, err = compileIPList(spec); err != nil {
				return nil, fmt.Errorf("address list %q: %w", spec.Name, err)
			}
		}
		names[spec.Name] = true
		s.mask |= MaskOf(spec.ID)
		if spec.Category.Locked() {
			s.locked |= MaskOf(spec.ID)
		}
		s.lists = append(s.lists, l)
	}
	slices.SortFunc(s.lists, func(a, b ipList) int { return int(a.info.ID) - int(b.info.ID) })
	for i := range s.lists {
		s.byID[s.lists[i].info.ID] = int16(i + 1)
	}
	return s, nil
}

func compileIPList(spec IPListSpec) (ipList, error) {
	l := ipList{info: IPListInfo{ID: spec.ID, Name: spec.Name, Category: spec.Category}}
	st := &l.info.Stats
	for si, src := range spec.Sources {
		if src.Format != Addresses {
			return l, fmt.Errorf("source %s: format %v is not an address list", src.Name, src.Format)
		}
		l.info.Sources = append(l.info.Sources, src.Name)
		rc, err := src.Open()
		if err != nil {
			return l, err
		}
		sink := &ipSink{source: src.Name, src: uint8(si), list: &l}
		_, lines, err := scan(rc, src.Name, Addresses, sink)
		rc.Close()
		if err != nil {
			return l, err
		}
		st.Lines += lines
	}
	slices.SortFunc(l.spans, func(a, b span) int {
		switch {
		case a.first.Less(b.first):
			return -1
		case b.first.Less(a.first):
			return 1
		case b.last.Less(a.last):
			return -1 // wider first
		case a.last.Less(b.last):
			return 1
		}
		return int(a.line) - int(b.line)
	})
	// Drop repeats (the first line stays), then link each span to the
	// narrowest one holding it.
	out := l.spans[:0]
	for _, sp := range l.spans {
		if n := len(out); n > 0 && out[n-1].first == sp.first && out[n-1].last == sp.last {
			st.Duplicates++
			continue
		}
		out = append(out, sp)
	}
	l.spans = slices.Clip(out)
	var stack []int32
	for i := range l.spans {
		sp := &l.spans[i]
		for len(stack) > 0 && l.spans[stack[len(stack)-1]].last.Less(sp.first) {
			stack = stack[:len(stack)-1]
		}
		sp.parent = -1
		if len(stack) > 0 {
			sp.parent = stack[len(stack)-1]
		}
		stack = append(stack, int32(i))
	}
	l.info.Entries = len(l.spans)
	return l, nil
}

func (s *IPSet) byName(name string) *ipList {
	if s == nil {
		return nil
	}
	for i := range s.lists {
		if s.lists[i].info.Name == name {
			return &s.lists[i]
		}
	}
	return nil
}

// ipSink collects one source's entries into a list.
type ipSink struct {
	source string
	src    uint8
	list   *ipList
}

func (s *ipSink) entry(name []byte, _ Kind, _ Action, line int) {
	p, err := netip.ParsePrefix(string(name))
	if err != nil {
		panic(fmt.Sprintf("blocklists: address entry %q does not parse back: %v", name, err))
	}
	first, last := addrkey.Range(p)
	s.list.info.Stats.Parsed++
	s.list.spans = append(s.list.spans, span{first: first, last: last, line: int32(min(line, 1<<31-1)),
		source: s.src, bits: uint8(p.Bits()), v4: p.Addr().Is4()})
}

func (s *ipSink) issue(line int, err error, text []byte) {
	st := &s.list.info.Stats
	if errors.Is(err, ErrUnsupported) {
		st.Unsupported++
	} else {
		st.Invalid++
	}
	if len(s.list.info.Issues) < maxIssues {
		s.list.info.Issues = append(s.list.info.Issues, &ParseError{Source: s.source, Line: line, Err: err, Text: issueText(text)})
	}
}

func (s *ipSink) skipped(int)   {}
func (s *ipSink) stopped() bool { return false }

// Match returns the entry that decides addr for a group selecting the
// lists in block (lists of locked categories are always selected): the
// most specific entry of the lowest-numbered matching list, locked lists
// first. It does not allocate.
func (s *IPSet) Match(addr netip.Addr, block Mask) (IPMatch, bool) {
	if s == nil {
		return IPMatch{}, false
	}
	m := (block | s.locked) & s.mask
	if m == 0 {
		return IPMatch{}, false
	}
	k := addrkey.Of(addr)
	for _, part := range [2]Mask{m & s.locked, m &^ s.locked} {
		for part != 0 {
			id := part.first()
			part &^= 1 << id
			l := &s.lists[s.byID[id]-1]
			if i := l.find(k); i >= 0 {
				return l.match(i), true
			}
		}
	}
	return IPMatch{}, false
}

func (l *ipList) match(i int) IPMatch {
	sp := &l.spans[i]
	return IPMatch{List: l.info.ID, Name: l.info.Name, Category: l.info.Category, Prefix: sp.prefix(),
		Source: l.info.Sources[sp.source], Line: int(sp.line), Locked: l.info.Category.Locked()}
}

// Explain returns the most specific entry of every list holding addr,
// selected or not, in list order.
func (s *IPSet) Explain(addr netip.Addr) []IPMatch {
	if s == nil {
		return nil
	}
	var out []IPMatch
	k := addrkey.Of(addr)
	for i := range s.lists {
		if j := s.lists[i].find(k); j >= 0 {
			out = append(out, s.lists[i].match(j))
		}
	}
	return out
}

// Lists describes the lists, by ID.
func (s *IPSet) Lists() []IPListInfo {
	if s == nil {
		return nil
	}
	out := make([]IPListInfo, len(s.lists))
	for i := range s.lists {
		out[i] = s.lists[i].info
	}
	return out
}

// Len is the number of distinct prefixes over all lists.
func (s *IPSet) Len() int {
	n := 0
	if s != nil {
		for i := range s.lists {
			n += len(s.lists[i].spans)
		}
	}
	return n
}

// Mask returns every list of s.
func (s *IPSet) Mask() Mask {
	if s == nil {
		return 0
	}
	return s.mask
}

// CategoryMask returns the lists of s in category c.
func (s *IPSet) CategoryMask(c Category) Mask {
	var m Mask
	if s != nil {
		for i := range s.lists {
			if s.lists[i].info.Category == c {
				m |= MaskOf(s.lists[i].info.ID)
			}
		}
	}
	return m
}

// ListName returns the name of list id ("" when s has no such list).
func (s *IPSet) ListName(id ListID) string {
	if s == nil || id >= MaxLists || s.byID[id] == 0 {
		return ""
	}
	return s.lists[s.byID[id]-1].info.Name
}
