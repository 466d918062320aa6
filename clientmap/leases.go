package clientmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lease is one address binding read from a DHCP server's lease file.
type Lease struct {
	Addr netip.Addr // unmapped, without zone
	MAC  MAC        // zero when the file does not say (DHCPv6 without a link-layer DUID, non-Ethernet clients)
	// Hostname is what the client sent or the server recorded, "" when none.
	// It is checked to be printable UTF-8 of at most MaxHostnameLen bytes and
	// is otherwise untrusted: use it for display and pattern rules only.
	Hostname string
	Expires  time.Time // zero means the lease never expires
	Source   string    // the file it came from
}

// Active reports whether the lease is still valid at now.
func (l Lease) Active(now time.Time) bool {
	return l.Expires.IsZero() || now.Before(l.Expires)
}

// MaxHostnameLen bounds Lease.Hostname: a DHCP option is at most 255 bytes.
const MaxHostnameLen = 255

// MAC is an EUI-48 hardware address. The zero value means "unknown". It is
// comparable, so it can key a map.
type MAC [6]byte

// IsZero reports whether m is the zero (unknown) address.
func (m MAC) IsZero() bool { return m == MAC{} }

// String returns m in lower-case colon form, aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	var b [17]byte
	const digits = "0123456789abcdef"
	for i, c := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[c>>4]
		b[3*i+1] = digits[c&0xf]
	}
	return string(b[:])
}

// MarshalText implements encoding.TextMarshaler (config files hold MACs).
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	x, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = x
	return nil
}

// ParseMAC reads an EUI-48 address written as aa:bb:cc:dd:ee:ff,
// aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff or aabbccddeeff, in either case.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	var digits [12]byte
	n := 0
	switch {
	case len(s) == 17 && (s[2] == ':' || s[2] == '-'):
		sep := s[2]
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return MAC{}, fmt.Errorf("invalid MAC address %q", s)
				}
				continue
			}
			digits[n] = s[i]
			n++
		}
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		for i := 0; i < 14; i++ {
			if i == 4 || i == 9 {
				continue
			}
			digits[n] = s[i]
			n++
		}
	case len(s) == 12:
		copy(digits[:], s)
		n = 12
	default:
		return MAC{}, fmt.Errorf("invalid MAC address %q", s)
	}
	if _, err := hex.Decode(m[:], digits[:n]); err != nil {
		return MAC{}, fmt.Errorf("invalid MAC address %q", s)
	}
	return m, nil
}

// parseHexColon reads bytes written as colon- or hyphen-separated hex pairs
// ("01:aa:bb", "0a-1b"). It accepts the single-digit groups ISC dhcpd writes
// ("1:2:0:0:99:0:1").
func parseHexColon(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	out := make([]byte, 0, (len(s)+1)/3)
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ':' || r == '-' }) {
		if len(part) > 2 {
			return nil, false
		}
		var v byte
		for i := 0; i < len(part); i++ {
			d, ok := hexDigit(part[i])
			if !ok {
				return nil, false
			}
			v = v<<4 | d
		}
		out = append(out, v)
	}
	// FieldsFunc drops empty groups; "aa::bb" is not an address.
	if strings.Contains(s, "::") || strings.Contains(s, "--") || s[0] == ':' || s[len(s)-1] == ':' {
		return nil, false
	}
	return out, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// macFromDUID extracts the link-layer address from a DHCPv6 DUID of type
// DUID-LLT (1) or DUID-LL (3) with hardware type Ethernet (1). Other DUIDs
// (enterprise, UUID) carry no MAC.
func macFromDUID(duid []byte) MAC {
	var m MAC
	if len(duid) < 4 || duid[0] != 0 || duid[2] != 0 || duid[3] != 1 {
		return m
	}
	switch {
	case duid[1] == 1 && len(duid) == 14: // type, hwtype, time, address
		copy(m[:], duid[8:])
	case duid[1] == 3 && len(duid) == 10: // type, hwtype, address
		copy(m[:], duid[4:])
	}
	return m
}

// cleanHostname returns s if it is a displayable host name and "" otherwise:
// "*" (dnsmasq's "none"), invalid UTF-8, control or other non-printing
// characters, or more than MaxHostnameLen bytes.
func cleanHostname(s string) string {
	if s == "*" || len(s) > MaxHostnameLen || !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return ""
		}
	}
	return s
}

// LeaseFormat names a lease file format.
type LeaseFormat string

// The lease file formats ParseLeases reads.
const (
	// FormatISC is ISC dhcpd's dhcpd.leases (and dhcpd -6's dhcpd6.leases):
	// lease blocks appended as they change, the last block for an address
	// winning; only "binding state active" counts.
	FormatISC LeaseFormat = "isc-dhcpd"
	// FormatDnsmasq is dnsmasq's dnsmasq.leases: one line per lease,
	// "expiry mac addr hostname client-id" for DHCPv4 and, after a "duid"
	// line, "expiry iaid addr hostname client-duid" for DHCPv6.
	FormatDnsmasq LeaseFormat = "dnsmasq"
	// FormatKeaCSV is Kea's memfile CSV (leases4.csv or leases6.csv), read by
	// header names; later rows for an address override earlier ones and a
	// row with valid_lifetime 0 deletes it. Only state 0 (default) counts.
	FormatKeaCSV LeaseFormat = "kea-csv"
	// FormatWindowsCSV is Windows Server's Get-DhcpServerv4Lease piped to
	// Export-Csv, in UTF-8 (with or without BOM) or UTF-16 with BOM. Only
	// AddressState Active and ActiveReservation count. See DateOrder.
	FormatWindowsCSV LeaseFormat = "windows-csv"
)

// LeaseFormats lists the supported formats.
var LeaseFormats = []LeaseFormat{FormatISC, FormatDnsmasq, FormatKeaCSV, FormatWindowsCSV}

// DateOrder says how to read a numeric date such as 01/02/2026 in a
// windows-csv export, whose LeaseExpiryTime is written in the exporting
// machine's culture.
type DateOrder string

const (
	// DateOrderAuto decides per file: a first number above 12 anywhere in
	// the file means day first, a second number above 12 means month first.
	// When no date settles it, an AM/PM time means month first (en-US) and
	// otherwise day first (en-GB, the expected culture in UK schools).
	// Year-first dates (2026-11-19) are always read as year, month, day.
	DateOrderAuto DateOrder = ""
	DateOrderDMY  DateOrder = "dmy" // 19/11/2026 (en-GB, most of Europe)
	DateOrderMDY  DateOrder = "mdy" // 11/19/2026 (en-US)
)

// LeaseSource is one lease file to read.
type LeaseSource struct {
	Path   string
	Format LeaseFormat
	// DateOrder and Location apply to windows-csv, whose times carry no
	// zone: Location is the exporting server's time zone (nil means
	// time.Local, the appliance's own zone).
	DateOrder DateOrder
	Location  *time.Location
}

func (s LeaseSource) validate() error {
	if s.Path == "" {
		return errors.New("lease source: path is empty")
	}
	if !slices.Contains(LeaseFormats, s.Format) {
		return fmt.Errorf("lease source %s: unknown format %q (want one of %v)", s.Path, s.Format, LeaseFormats)
	}
	switch s.DateOrder {
	case DateOrderAuto, DateOrderDMY, DateOrderMDY:
	default:
		return fmt.Errorf("lease source %s: unknown date order %q (want %q, %q or empty)", s.Path, s.DateOrder, DateOrderDMY, DateOrderMDY)
	}
	return nil
}

// ParseError is one bad record in a lease file.
type ParseError struct {
	Source string
	Line   int // 1-based; 0 when the error is about the whole file
	Err    error
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return e.Source + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// maxParseErrors bounds the errors one parse returns, so a file in the
// wrong format cannot produce an error per line; the rest are counted.
const maxParseErrors = 20

// maxLeaseFileSize bounds what one read takes into memory. A school's
// lease file is a few megabytes at most.
const maxLeaseFileSize = 64 << 20

// ParseLeases reads a lease file of the given format and returns the leases
// active at now, one per address, sorted by address. Bad records are
// skipped, each reported as a *ParseError naming source and line. Windows
// CSV dates are read with DateOrderAuto in time.Local; use LeaseSource.Parse
// to choose.
func ParseLeases(r io.Reader, source string, format LeaseFormat, now time.Time) ([]Lease, []error) {
	return LeaseSource{Path: source, Format: format}.Parse(r, now)
}

// Parse is ParseLeases with the source's options; s.Path names the source
// in leases and errors.
func (s LeaseSource) Parse(r io.Reader, now time.Time) ([]Lease, []error) {
	if err := s.validate(); err != nil {
		return nil, []error{err}
	}
	p := newLeaseParse(s)
	data, err := io.ReadAll(io.LimitReader(r, maxLeaseFileSize+1))
	if err != nil {
		p.fileErr(fmt.Errorf("reading leases: %w", err))
	}
	if len(data) > maxLeaseFileSize {
		p.fileErr(fmt.Errorf("lease file larger than %d bytes", maxLeaseFileSize))
		data = nil
	}
	p.parse(s.Path, data)
	return p.result(now), p.errors()
}

// leaseRecord is one record as a file states it, before state and
// expiry are applied. A later record for the same address replaces it.
type leaseRecord struct {
	lease  Lease
	active bool // the record's state binds the address to the client
}

// leaseParse accumulates the records of one source (one file, or Kea's
// chain of files) in file order.
type leaseParse struct {
	src      LeaseSource
	recs     []leaseRecord
	nrecords int // records recognised, bad ones included
	errs     []error
	moreErrs int
}

func newLeaseParse(s LeaseSource) *leaseParse { return &leaseParse{src: s} }

// parse adds the records of one file; name is used in errors and leases.
func (p *leaseParse) parse(name string, data []byte) {
	switch p.src.Format {
	case FormatISC:
		parseISC(p, name, data)
	case FormatDnsmasq:
		parseDnsmasq(p, name, data)
	case FormatKeaCSV:
		parseKea(p, name, data)
	case FormatWindowsCSV:
		parseWindows(p, name, data)
	}
}

func (p *leaseParse) add(l Lease, active bool) {
	l.Addr = l.Addr.Unmap().WithZone("")
	p.recs = append(p.recs, leaseRecord{lease: l, active: active})
}

func (p *leaseParse) errorf(name string, line int, format string, args ...any) {
	p.addErr(&ParseError{Source: name, Line: line, Err: fmt.Errorf(format, args...)})
}

func (p *leaseParse) fileErr(err error) {
	p.addErr(&ParseError{Source: p.src.Path, Err: err})
}

func (p *leaseParse) addErr(err error) {
	if len(p.errs) >= maxParseErrors {
		p.moreErrs++
		return
	}
	p.errs = append(p.errs, err)
}

func (p *leaseParse) errors() []error {
	if p.moreErrs == 0 {
		return p.errs
	}
	return append(p.errs, &ParseError{Source: p.src.Path, Err: fmt.Errorf("%d more bad records not shown", p.moreErrs)})
}

// result applies "the last record for an address wins", then state and
// expiry, and returns the active leases sorted by address.
func (p *leaseParse) result(now time.Time) []Lease {
	last := make(map[netip.Addr]int, len(p.recs))
	for i, r := range p.recs {
		last[r.lease.Addr] = i
	}
	out := make([]Lease, 0, len(last))
	for i, r := range p.recs {
		if last[r.lease.Addr] != i || !r.active || !r.lease.Active(now) {
			continue
		}
		out = append(out, r.lease)
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return out
}

// lines iterates over data's lines with 1-based numbers, without their
// line endings (LF or CRLF).
func lines(data []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		n := 0
		for len(data) > 0 {
			n++
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if !yield(n, line) {
				return
			}
		}
	}
}

// Leases is an immutable snapshot of the active leases of one or more
// sources, indexed by address. A nil *Leases is empty.
type Leases struct {
	list   []Lease            // sorted by address
	byAddr map[[16]byte]int32 // Addr.As16(): IPv4 as IPv4-mapped, no zone
	// macs[i] is list[i].MAC as text, formatted once here: every logged
	// query carries it, and formatting it per query would allocate.
	macs []string
}

// lookupText is Lookup plus the lease's MAC as text ("" when unknown).
func (l *Leases) lookupText(addr netip.Addr, now time.Time) (Lease, string, bool) {
	if l == nil || !addr.IsValid() {
		return Lease{}, "", false
	}
	i, ok := l.byAddr[addr.As16()]
	if !ok || !l.list[i].Active(now) {
		return Lease{}, "", false
	}
	return l.list[i], l.macs[i], true
}

// NewLeases merges lease lists, one per source. When several lists hold the
// same address, the lease that expires last wins (one that never expires
// beats all): it is the most recently granted one. On a tie the later list
// wins. The lists are not modified.
func NewLeases(sources ...[]Lease) *Leases {
	n := 0
	for _, s := range sources {
		n += len(s)
	}
	byAddr := make(map[[16]byte]int32, n)
	list := make([]Lease, 0, n)
	for _, s := range sources {
		for _, l := range s {
			l.Addr = l.Addr.Unmap().WithZone("")
			if i, ok := byAddr[l.Addr.As16()]; ok {
				if laterExpiry(list[i].Expires, l.Expires) {
					continue
				}
				list[i] = l
				continue
			}
			byAddr[l.Addr.As16()] = int32(len(list))
			list = append(list, l)
		}
	}
	slices.SortFunc(list, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	macs := make([]string, len(list))
	for i, l := range list {
		byAddr[l.Addr.As16()] = int32(i)
		if !l.MAC.IsZero() {
			macs[i] = l.MAC.String()
		}
	}
	return &Leases{list: list, byAddr: byAddr, macs: macs}
}

// laterExpiry reports whether a expires strictly after b (zero = never).
func laterExpiry(a, b time.Time) bool {
	switch {
	case b.IsZero():
		return false
	case a.IsZero():
		return true
	}
	return a.After(b)
}

// Lookup returns the lease for addr if one is active at now. An IPv4-mapped
// IPv6 address matches its IPv4 lease. It does not allocate.
//
// Lookup takes now rather than trusting the snapshot to be rebuilt when a
// lease expires: the query path already has now (schedules need it), the
// check is one comparison, and an expired lease stops matching at once
// whatever the watcher's timers do.
func (l *Leases) Lookup(addr netip.Addr, now time.Time) (Lease, bool) {
	if l == nil {
		return Lease{}, false
	}
	if !addr.IsValid() {
		return Lease{}, false
	}
	i, ok := l.byAddr[addr.As16()]
	if !ok || !l.list[i].Active(now) {
		return Lease{}, false
	}
	return l.list[i], true
}

// Len is the number of leases in the snapshot, expired ones included until
// the snapshot is rebuilt.
func (l *Leases) Len() int {
	if l == nil {
		return 0
	}
	return len(l.list)
}

// All yields the leases in address order.
func (l *Leases) All() iter.Seq[Lease] {
	return func(yield func(Lease) bool) {
		if l == nil {
			return
		}
		for _, x := range l.list {
			if !yield(x) {
				return
			}
		}
	}
}
