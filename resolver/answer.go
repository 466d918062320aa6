package resolver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Answer is an upstream response held in wire form, ready to be copied into
// a reply for any client: the cache stores Answers so that a hit is a copy
// and a few patches, not a parse and a pack. An Answer is immutable once
// built, so any number of queries may read it at once.
type Answer struct {
	wire []byte   // packed message: ID 0, no OPT, canonical question
	ttls []uint16 // offsets in wire of every TTL field to age on each hit
	qend int      // offset just past the question section

	// Rcode is the response code (never an extended one: those are not stored).
	Rcode int
	// Authenticated is true when the data was validated as secure (AD).
	Authenticated bool
	// Security is the validator's verdict (SecurityUnchecked when nothing
	// validated it), for the query log. Set by whoever builds the Answer,
	// before anyone else can see it.
	Security Security
	// MinTTL is the smallest TTL in the answer and authority sections; for
	// a negative answer it is already min(SOA TTL, SOA MINIMUM) (RFC 2308).
	MinTTL uint32
	// HasSOA tells whether the authority section holds an SOA, which is what
	// makes a negative answer cacheable (RFC 2308 section 5).
	HasSOA bool
	// EDE is the Extended DNS Error the upstream attached, if any.
	EDE *dns.EDNS0_EDE
	// Targets are the CNAME and DNAME targets in the answer section (and
	// SVCB/HTTPS target names), and Addrs the A and AAAA addresses (and
	// SVCB/HTTPS address hints): what answer-side policy inspects on every
	// hit without parsing the wire again.
	Targets []string
	Addrs   []netip.Addr
	// addrBuf holds Addrs when there are at most two, so that a cache hit
	// reads them from the Answer's own memory: at a school's query rates
	// each separate allocation a hit follows is a memory access of its own
	// (BenchmarkLookupHit/cold in resolver/cache).
	addrBuf [2]netip.Addr

	summary string // for the query log: built once here, read on every logged hit
}

// addAddr appends ip to Addrs, in addrBuf while it has room.
func (a *Answer) addAddr(ip netip.Addr) {
	if a.Addrs == nil {
		a.Addrs = a.addrBuf[:0]
	}
	a.Addrs = append(a.Addrs, ip)
}

// Summary describes the answer in a line for the query log, e.g.
// "CNAME edge.cdn.example. A 192.0.2.7" or "NXDOMAIN".
func (a *Answer) Summary() string { return a.summary }

// maxSummary bounds the summary: a log line, not a zone dump.
const maxSummary = 200

func summarise(m *dns.Msg) string {
	var b strings.Builder
	if m.Rcode != dns.RcodeSuccess {
		b.WriteString(dns.RcodeToString[m.Rcode])
	} else if len(m.Answer) == 0 {
		b.WriteString("NODATA")
	}
	for _, rr := range m.Answer {
		if b.Len() >= maxSummary {
			b.WriteString(" ...")
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		h := rr.Header()
		b.WriteString(dns.TypeToString[h.Rrtype])
		b.WriteByte(' ')
		// The record's text after its header: the data an investigator reads.
		text := rr.String()
		if i := len(h.String()); i <= len(text) {
			text = text[i:]
		}
		if len(text) > 80 {
			text = strings.ToValidUTF8(text[:80], "") + "..."
		}
		b.WriteString(text)
	}
	return b.String()
}

// NewAnswer turns an upstream reply into an Answer. It does not modify m.
func NewAnswer(m *dns.Msg) (*Answer, error) {
	if len(m.Question) != 1 {
		return nil, errors.New("answer: need exactly one question")
	}
	a := &Answer{Rcode: m.Rcode, Authenticated: m.AuthenticatedData}
	if a.Rcode > 0xF {
		return nil, fmt.Errorf("answer: extended rcode %s is not stored", dns.RcodeToString[a.Rcode])
	}
	c := &dns.Msg{
		MsgHdr: dns.MsgHdr{
			Response:           true,
			Opcode:             dns.OpcodeQuery,
			RecursionDesired:   true,
			RecursionAvailable: true,
			AuthenticatedData:  m.AuthenticatedData,
			Rcode:              m.Rcode,
		},
		Compress: true,
		Question: []dns.Question{m.Question[0]},
		Answer:   m.Answer,
		Ns:       m.Ns,
	}
	c.Question[0].Name = dns.CanonicalName(c.Question[0].Name)
	for _, rr := range m.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			for _, o := range opt.Option {
				if ede, ok := o.(*dns.EDNS0_EDE); ok && a.EDE == nil {
					// Upstream text is hostile input: keep it short and valid.
					text := strings.ToValidUTF8(ede.ExtraText, "?")
					if len(text) > maxEDEText {
						text = strings.ToValidUTF8(text[:maxEDEText], "")
					}
					a.EDE = &dns.EDNS0_EDE{InfoCode: ede.InfoCode, ExtraText: text}
				}
			}
			continue
		}
		c.Extra = append(c.Extra, rr)
	}

	min := ^uint32(0)
	for _, rr := range m.Answer {
		min = minTTL(min, rr.Header().Ttl)
		switch rr := rr.(type) {
		case *dns.CNAME:
			a.Targets = append(a.Targets, strings.ToLower(rr.Target))
		case *dns.DNAME:
			a.Targets = append(a.Targets, strings.ToLower(rr.Target))
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(rr.A); ok {
				a.addAddr(ip.Unmap())
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(rr.AAAA); ok {
				a.addAddr(ip)
			}
		case *dns.HTTPS:
			a.addService(&rr.SVCB)
		case *dns.SVCB:
			a.addService(rr)
		}
	}
	for _, rr := range m.Ns {
		min = minTTL(min, rr.Header().Ttl)
		if soa, ok := rr.(*dns.SOA); ok {
			a.HasSOA = true
			if len(m.Answer) == 0 {
				min = minTTL(min, soa.Minttl) // negative TTL (RFC 2308 section 5)
			}
		}
	}
	if min == ^uint32(0) {
		min = 0
	}
	a.MinTTL = min
	a.summary = summarise(m)

	wire, err := c.Pack()
	if err != nil {
		return nil, fmt.Errorf("answer: packing %s: %w", c.Question[0].Name, err)
	}
	a.wire = wire
	if err := a.indexTTLs(); err != nil {
		return nil, err
	}
	return a, nil
}

// maxEDEText bounds the EDE text we pass on from upstream.
const maxEDEText = 200

func minTTL(a, b uint32) uint32 {
	if b < a {
		return b
	}
	return a
}

// indexTTLs walks the packed message and records where each TTL sits.
func (a *Answer) indexTTLs() error {
	w := a.wire
	off, err := skipName(w, headerLen)
	if err != nil {
		return err
	}
	off += 4
	a.qend = off
	n := int(binary.BigEndian.Uint16(w[6:])) + int(binary.BigEndian.Uint16(w[8:])) + int(binary.BigEndian.Uint16(w[10:]))
	for range n {
		if off, err = skipName(w, off); err != nil {
			return err
		}
		if off+10 > len(w) {
			return errors.New("answer: truncated record")
		}
		a.ttls = append(a.ttls, uint16(off+4))
		off += 10 + int(binary.BigEndian.Uint16(w[off+8:]))
	}
	if off != len(w) {
		return errors.New("answer: trailing bytes")
	}
	return nil
}

// skipName returns the offset just past the (possibly compressed) name at off.
func skipName(w []byte, off int) (int, error) {
	for {
		if off >= len(w) {
			return 0, errors.New("answer: truncated name")
		}
		l := int(w[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			return off + 2, nil
		case l > 63:
			return 0, errors.New("answer: bad label")
		}
		off += 1 + l
	}
}

// Msg unpacks the answer into a fresh message, with TTLs as stored. It is
// for the slow paths (answer synthesis around rewrites, tests), not for hits.
func (a *Answer) Msg() (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(a.wire); err != nil {
		return nil, err
	}
	return m, nil
}

// ReplyOptions says how to fit an Answer to one client's query.
type ReplyOptions struct {
	ID       uint16
	Question []byte // the client's question bytes, echoed for 0x20 case
	RD, CD   bool   // echoed from the query
	WantAD   bool   // the client set DO or AD, so AD may be set (RFC 6840 5.8)
	EDNS     bool   // the client sent OPT, so the reply carries ours
	DO       bool   // echo of the client's DO bit
	BufSize  uint16 // the UDP size we advertise in our OPT
	MaxSize  int    // the most bytes the client accepts (0: no limit, TCP)
	Age      uint32 // seconds since the answer was stored
	StaleTTL uint32 // when nonzero the answer is stale: every TTL becomes this
	MaxTTL   uint32 // when nonzero, TTLs are capped to it
	EDE      *dns.EDNS0_EDE
	// ECS is a trusted forwarder's EDNS Client Subnet option data, echoed
	// (appendECS); nil for none.
	ECS []byte
}

// AppendReply appends to dst the reply for one client and returns it.
// It does not allocate when dst has room.
func (a *Answer) AppendReply(dst []byte, o *ReplyOptions) []byte {
	start := len(dst)
	dst = append(dst, a.wire...)
	out := dst[start:]
	binary.BigEndian.PutUint16(out[0:], o.ID)
	if len(o.Question) == a.qend-headerLen {
		copy(out[headerLen:], o.Question)
	}
	flags := uint16(flagQR|flagRA) | uint16(a.Rcode&0xF)
	if o.RD {
		flags |= flagRD
	}
	if o.CD {
		flags |= flagCD
	}
	if a.Authenticated && o.WantAD && o.StaleTTL == 0 {
		flags |= flagAD
	}
	binary.BigEndian.PutUint16(out[2:], flags)
	for _, p := range a.ttls {
		ttl := binary.BigEndian.Uint32(out[p:])
		switch {
		case o.StaleTTL != 0:
			ttl = o.StaleTTL
		case ttl > o.Age:
			ttl -= o.Age
		default:
			ttl = 0
		}
		if o.MaxTTL != 0 && ttl > o.MaxTTL {
			ttl = o.MaxTTL
		}
		binary.BigEndian.PutUint32(out[p:], ttl)
	}
	ede := o.EDE
	if ede == nil {
		ede = a.EDE
	}
	if o.MaxSize > 0 && len(out)+optLen(o, ede) > o.MaxSize {
		// Too big for the client's buffer: header and question only, with
		// TC set, so it retries over TCP (RFC 1035 4.2.1, RFC 7766).
		dst = dst[:start+a.qend]
		out = dst[start:]
		binary.BigEndian.PutUint16(out[2:], flags|flagTC)
		clear(out[6:12])
	}
	if o.EDNS {
		dst = appendOPT(dst, start, o.BufSize, o.DO, 0, ede, o.ECS)
	}
	return dst
}

func optLen(o *ReplyOptions, ede *dns.EDNS0_EDE) int {
	if !o.EDNS {
		return 0
	}
	n := 11 + ecsLen(o.ECS)
	if ede != nil {
		n += 6 + len(ede.ExtraText)
	}
	return n
}

// appendOPT appends our OPT record to the message that starts at dst[start]
// and bumps its ARCOUNT. extRcode is the upper 8 bits of a 12-bit rcode
// (RFC 6891 6.1.3); do echoes the client's DO bit (RFC 3225).
func appendOPT(dst []byte, start int, bufSize uint16, do bool, extRcode uint8, ede *dns.EDNS0_EDE, ecs []byte) []byte {
	var flags uint16
	if do {
		flags = optDO
	}
	rdlen := ecsLen(ecs)
	if ede != nil {
		rdlen += 6 + len(ede.ExtraText)
	}
	dst = append(dst, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT), byte(bufSize>>8), byte(bufSize),
		extRcode, 0, byte(flags>>8), byte(flags), byte(rdlen>>8), byte(rdlen))
	if ede != nil {
		l := 2 + len(ede.ExtraText)
		dst = append(dst, 0, dns.EDNS0EDE, byte(l>>8), byte(l), byte(ede.InfoCode>>8), byte(ede.InfoCode))
		dst = append(dst, ede.ExtraText...)
	}
	dst = appendECS(dst, ecs)
	ar := binary.BigEndian.Uint16(dst[start+10:])
	binary.BigEndian.PutUint16(dst[start+10:], ar+1)
	return dst
}
