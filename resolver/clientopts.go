package resolver

import (
	"encoding/binary"
	"net/netip"

	"gatehouse/clientmap"
)

// EDNS option codes that name the client a forwarder asks for.
const (
	// optECS is EDNS Client Subnet (RFC 7871).
	optECS = 8
	// optMAC is dnsmasq's add-mac: the MAC address as raw bytes (a code
	// from the private range, first used by dyndns.org).
	optMAC = 65001
	// optDeviceID is dnsmasq's add-mac=base64 and add-mac=text: the MAC as
	// 8 characters of base64 or as 17 of colon-separated hex (the code
	// Nominum used for a device ID).
	optDeviceID = 65073
)

// parseClientOptions reads the client identity a forwarder put in the OPT
// record's options (its RDATA: code, length, data, repeated). It never
// fails: a malformed option is ignored, as is anything after a truncated
// one, and the first well-formed option of each kind wins. It does not
// allocate.
//
// Only call it for a trusted forwarder: anyone can send these options.
func parseClientOptions(opts []byte) clientmap.Forwarded {
	var f clientmap.Forwarded
	haveMAC := false
	for len(opts) >= 4 {
		code := binary.BigEndian.Uint16(opts)
		n := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			break
		}
		data := opts[4 : 4+n]
		opts = opts[4+n:]
		switch code {
		case optECS:
			if !f.Addr.IsValid() {
				f.Addr = parseECS(data)
			}
		case optMAC:
			if !haveMAC && len(data) == 6 {
				copy(f.MAC[:], data)
				haveMAC = true
			}
		case optDeviceID:
			if !haveMAC {
				f.MAC, haveMAC = parseDeviceID(data)
			}
		}
	}
	return f
}

// parseECS reads an EDNS Client Subnet option: family (1 IPv4, 2 IPv6),
// source prefix length, scope prefix length (0 in queries), then exactly
// as many address octets as the source prefix needs. It returns the
// address masked to the source prefix (invalid for a malformed option or a
// zero prefix, which says nothing about the client).
func parseECS(data []byte) netip.Addr {
	if len(data) < 4 {
		return netip.Addr{}
	}
	family, bits, addr := binary.BigEndian.Uint16(data), int(data[2]), data[4:]
	var size int
	switch family {
	case 1:
		size = 4
	case 2:
		size = 16
	default:
		return netip.Addr{}
	}
	if bits == 0 || bits > 8*size || len(addr) != (bits+7)/8 {
		return netip.Addr{}
	}
	var b [16]byte
	copy(b[:], addr)
	var a netip.Addr
	if size == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		a = netip.AddrFrom16(b).Unmap()
		if a.Is4() {
			bits -= 96
			if bits <= 0 {
				return netip.Addr{}
			}
		}
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Addr{}
	}
	return p.Addr()
}

// parseDeviceID reads dnsmasq's option 65073: the MAC as base64 of its 6
// bytes (8 characters, no padding: add-mac=base64) or as hex pairs joined
// by colons (17 characters: add-mac=text). Dashes are accepted in place of
// colons.
func parseDeviceID(data []byte) (clientmap.MAC, bool) {
	var mac clientmap.MAC
	switch len(data) {
	case 8:
		var acc uint64
		for _, c := range data {
			v := base64Value(c)
			if v < 0 {
				return clientmap.MAC{}, false
			}
			acc = acc<<6 | uint64(v)
		}
		for i := range 6 {
			mac[i] = byte(acc >> (40 - 8*i))
		}
		return mac, true
	case 17:
		for i := range 6 {
			if i > 0 && data[3*i-1] != ':' && data[3*i-1] != '-' {
				return clientmap.MAC{}, false
			}
			hi, lo := hexValue(data[3*i]), hexValue(data[3*i+1])
			if hi < 0 || lo < 0 {
				return clientmap.MAC{}, false
			}
			mac[i] = byte(hi<<4 | lo)
		}
		return mac, true
	}
	return clientmap.MAC{}, false
}

// base64Value decodes one character of the standard base64 alphabet
// (dnsmasq's char64), or returns -1.
func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ecsOption returns the data of the first well-formed EDNS Client Subnet
// option in opts (as parseClientOptions reads it), or nil. It does not
// allocate: the data points into opts.
func ecsOption(opts []byte) []byte {
	for len(opts) >= 4 {
		code := binary.BigEndian.Uint16(opts)
		n := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			return nil
		}
		data := opts[4 : 4+n]
		opts = opts[4+n:]
		if code == optECS && parseECS(data).IsValid() {
			return data
		}
	}
	return nil
}

// ecsLen is the size of the echoed option (code, length, data), 0 for none.
func ecsLen(ecs []byte) int {
	if ecs == nil {
		return 0
	}
	return 4 + len(ecs)
}

// appendECS appends the reply's EDNS Client Subnet option for a query's
// option data ecs (nothing for nil). RFC 7871 7.2.2: a resolver that used
// the option MUST return it, with FAMILY, SOURCE PREFIX-LENGTH and ADDRESS
// as the query had them, and a SCOPE PREFIX-LENGTH saying for which
// network the answer holds. Gatehouse's answers depend on who asks (the
// client's group, picked by address), so the scope is the source prefix
// itself: scope 0 would tell a caching forwarder that a pupil's block is
// good for the staff room too.
func appendECS(dst, ecs []byte) []byte {
	if ecs == nil {
		return dst
	}
	dst = append(dst, 0, optECS, byte(len(ecs)>>8), byte(len(ecs)))
	dst = append(dst, ecs[0], ecs[1], ecs[2], ecs[2]) // family, source, scope = source
	return append(dst, ecs[4:]...)
}
