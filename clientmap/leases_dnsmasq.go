package clientmap

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// dnsmasq rewrites its whole lease file in place on every change:
//
//	1795386508 02:00:00:99:00:01 10.99.0.145 Y9-IPAD-12 01:02:00:00:99:00:01
//	0 02:00:00:99:00:03 10.99.0.33 printer-hall *
//	duid 00:01:00:01:32:96:26:af:46:53:77:78:37:2a
//	1795386513 10027009 2001:db8:99::110 y9-ipad-12 00:01:00:01:32:96:26:b7:02:00:00:99:00:01
//
// DHCPv4 lines are "expiry hwaddr address hostname client-id", DHCPv6
// lines (after the server's "duid" line) "expiry [T]iaid address hostname
// client-duid". Expiry is a Unix time, 0 for an infinite lease; "*" means
// none. A non-Ethernet hardware address is written with its type first
// ("06-aa:bb:..."). Released leases are removed from the file, so every
// line is an active lease until its expiry. A dnsmasq built with
// HAVE_BROKEN_RTC writes lease lengths instead of expiry times and is not
// supported.
func parseDnsmasq(p *leaseParse, name string, data []byte) {
	for n, line := range lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		f := strings.Fields(string(line))
		if f[0] == "duid" {
			if len(f) != 2 {
				p.errorf(name, n, "malformed duid line")
			}
			continue
		}
		p.nrecords++
		if len(f) != 5 {
			p.errorf(name, n, "want 5 fields (expiry, hardware address or IAID, address, hostname, client id), got %d", len(f))
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || exp < 0 {
			p.errorf(name, n, "invalid expiry %q", f[0])
			continue
		}
		var expires time.Time
		if exp != 0 {
			expires = time.Unix(exp, 0).UTC()
		}
		addr, err := netip.ParseAddr(f[2])
		if err != nil || addr.Zone() != "" {
			p.errorf(name, n, "invalid address %q", f[2])
			continue
		}
		var mac MAC
		if addr.Is4() {
			m, ok := dnsmasqHWAddr(f[1])
			if !ok {
				p.errorf(name, n, "invalid hardware address %q", f[1])
				continue
			}
			mac = m
		} else {
			iaid := strings.TrimPrefix(f[1], "T") // T marks a temporary address
			if _, err := strconv.ParseUint(iaid, 10, 32); err != nil {
				p.errorf(name, n, "invalid IAID %q", f[1])
				continue
			}
			if duid, ok := parseHexColon(f[4]); ok {
				mac = macFromDUID(duid)
			}
		}
		p.add(Lease{Addr: addr, MAC: mac, Hostname: cleanHostname(f[3]), Expires: expires, Source: name}, true)
	}
}

// dnsmasqHWAddr reads dnsmasq's hardware address field: an Ethernet MAC,
// or "TT-xx:xx:..." for another hardware type (no MAC for us), or "*".
func dnsmasqHWAddr(s string) (MAC, bool) {
	if s == "*" {
		return MAC{}, true
	}
	if len(s) >= 3 && s[2] == '-' && !strings.Contains(s[3:], "-") {
		if _, ok := parseHexColon(s[:2]); !ok {
			return MAC{}, false
		}
		if s[3:] == "" {
			return MAC{}, true
		}
		_, ok := parseHexColon(s[3:])
		return MAC{}, ok
	}
	hw, ok := parseHexColon(s)
	if !ok {
		return MAC{}, false
	}
	if len(hw) != 6 {
		return MAC{}, true
	}
	return MAC(hw), true
}
