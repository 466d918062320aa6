// Package addrkey orders IPv4 and IPv6 addresses as 128-bit numbers, the
// key of the sorted range tables that block answers by address (address
// lists in blocklists, country and ASN ranges in geoip). IPv4 addresses
// are IPv4-mapped IPv6 (::ffff:a.b.c.d), so one order covers both families.
package addrkey

import (
	"encoding/binary"
	"net/netip"
)

// Key is an address as a number.
type Key struct{ Hi, Lo uint64 }

// Of returns a's key.
func Of(a netip.Addr) Key {
	if a.Is4() { // most answers: skip building 16 bytes
		b := a.As4()
		return Key{0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return Key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Less orders keys as addresses.
func (a Key) Less(b Key) bool { return a.Hi < b.Hi || a.Hi == b.Hi && a.Lo < b.Lo }

// Next is the following address (wrapping after the last).
func (a Key) Next() Key {
	a.Lo++
	if a.Lo == 0 {
		a.Hi++
	}
	return a
}

// Range returns the first and last address of p (masked first).
func Range(p netip.Prefix) (first, last Key) {
	p = p.Masked()
	first = Of(p.Addr())
	n := p.Bits()
	if p.Addr().Is4() {
		n += 96
	}
	last = first
	switch {
	case n <= 0:
		last = Key{^uint64(0), ^uint64(0)}
	case n < 64:
		last.Hi |= ^uint64(0) >> n
		last.Lo = ^uint64(0)
	case n < 128:
		last.Lo |= ^uint64(0) >> (n - 64)
	}
	return first, last
}
