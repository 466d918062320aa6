package resolver

import (
	"encoding/binary"
	"unsafe"

	"github.com/miekg/dns"
)

// Header flag bits (RFC 1035 section 4.1.1, RFC 4035 section 3.2).
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagAD = 1 << 5
	flagCD = 1 << 4

	headerLen = 12
	optDO     = 1 << 15 // DO bit in the OPT TTL field (RFC 3225)
)

// wireQuery is a query as the fast path sees it: the few header fields the
// reply needs, the question bytes to echo (the client's own case, for 0x20),
// and the canonical Question. It is filled by parseQuery without allocating:
// q.Name points into a caller-owned scratch buffer and is only valid until
// that buffer is reused, so nothing may retain it (copy with strings.Clone).
type wireQuery struct {
	id       uint16
	flags    uint16
	question []byte // name+type+class exactly as the client sent them
	q        Question
	class    uint16
	edns     bool
	udpSize  uint16 // the client's advertised buffer; 512 without EDNS
	version  uint8
	// opts are the OPT record's options (code, length, data...), nil when
	// none; like question they point into the packet. Only a trusted
	// forwarder's are read (parseClientOptions).
	opts []byte
	// ecs is the EDNS Client Subnet option's data (family, prefixes,
	// address) that a trusted forwarder sent, echoed in the reply (see
	// appendECS); nil otherwise. It points into the packet like opts.
	ecs []byte
}

// parseOutcome says what the fast parser made of a packet.
type parseOutcome uint8

const (
	parsedOK  parseOutcome = iota // a plain query: the fast path can serve it
	parseSlow                     // valid DNS perhaps, but unusual: take the full parser
	parseDrop                     // not worth a reply (too short, or a response)
)

// parseQuery reads pkt as a standard query with one question and at most one
// OPT record, lower-casing the name into scratch (which must have room for
// 255 bytes; its contents are overwritten). Anything unusual (other opcodes,
// several questions, compression in the question, names needing escapes,
// other classes, EDNS versions other than 0, trailing records) returns
// parseSlow, and the full parser in miekg/dns decides the right error.
func parseQuery(pkt []byte, scratch []byte, wq *wireQuery) parseOutcome {
	if len(pkt) < headerLen {
		return parseDrop
	}
	wq.id = binary.BigEndian.Uint16(pkt[0:])
	wq.flags = binary.BigEndian.Uint16(pkt[2:])
	if wq.flags&flagQR != 0 {
		return parseDrop // never answer a response: that is how loops start
	}
	if (wq.flags>>11)&0xF != dns.OpcodeQuery {
		return parseSlow
	}
	qd := binary.BigEndian.Uint16(pkt[4:])
	an := binary.BigEndian.Uint16(pkt[6:])
	ns := binary.BigEndian.Uint16(pkt[8:])
	ar := binary.BigEndian.Uint16(pkt[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return parseSlow
	}

	// The question name, lower-cased into scratch in presentation format.
	off := headerLen
	name := scratch[:0]
	for {
		if off >= len(pkt) {
			return parseSlow
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(pkt) {
			return parseSlow // compression pointer, or truncated
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				return parseSlow // needs escaping: let miekg/dns produce the text form
			}
			name = append(name, c)
		}
		name = append(name, '.')
		off += l
		if len(name) > 254 {
			return parseSlow
		}
	}
	if len(name) == 0 {
		name = append(name, '.')
	}
	if off+4 > len(pkt) {
		return parseSlow
	}
	wq.q.Type = binary.BigEndian.Uint16(pkt[off:])
	wq.class = binary.BigEndian.Uint16(pkt[off+2:])
	off += 4
	wq.question = pkt[headerLen:off]
	if wq.class != dns.ClassINET {
		return parseSlow
	}
	switch wq.q.Type {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeANY, dns.TypeOPT:
		return parseSlow
	}

	wq.edns, wq.udpSize, wq.version, wq.q.DO, wq.opts, wq.ecs = false, dns.MinMsgSize, 0, false, nil, nil
	if ar == 1 {
		// OPT: root name, type 41, class = UDP size, TTL = ext-rcode, version, flags.
		if off+11 > len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT {
			return parseSlow
		}
		wq.edns = true
		wq.udpSize = max(binary.BigEndian.Uint16(pkt[off+3:]), dns.MinMsgSize)
		wq.version = pkt[off+6]
		wq.q.DO = binary.BigEndian.Uint16(pkt[off+7:])&optDO != 0
		rdlen := int(binary.BigEndian.Uint16(pkt[off+9:]))
		off += 11 + rdlen
		if wq.version != 0 || off > len(pkt) {
			return parseSlow
		}
		if rdlen > 0 {
			wq.opts = pkt[off-rdlen : off]
		}
	}
	if off != len(pkt) {
		return parseSlow
	}
	wq.q.CD = wq.flags&flagCD != 0
	wq.q.Name = unsafe.String(unsafe.SliceData(name), len(name))
	return parsedOK
}
