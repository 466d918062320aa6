package clientmap

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kea's memfile backend appends a CSV row whenever a lease changes:
//
//	address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
//	10.99.0.100,02:00:00:99:00:01,01:02:00:00:99:00:01,600,1795386532,1,0,0,y9-ipad-12,0,
//	10.99.0.101,02:00:00:99:00:02,,0,1795385932,1,0,0,stafflaptop-07,0,
//
// The column set grows with Kea versions, so columns are found by header
// name. A later row for an address replaces earlier ones; a row with
// valid_lifetime 0 is Kea's record of a deleted (released or reclaimed)
// lease. state 0 is the only bound state (1 declined, 2
// expired-reclaimed, 3 released). Commas inside values are written as
// "&#x2c". DHCPv6 files (leases6.csv) have a duid column and lease_type
// (0 address, 1 temporary address, 2 delegated prefix, which is skipped).
//
// The lease file cleanup (kea-lfc) moves the file to <name>.1 and starts
// a new empty one, then merges <name>.2 and <name>.1 into <name>.2 by way
// of <name>.completed. The watcher therefore reads, like Kea itself,
// <name>.completed if it exists and otherwise <name>.2 then <name>.1,
// followed by <name>.

// keaInfinite is Kea's infinite valid lifetime (0xffffffff).
const keaInfinite = math.MaxUint32

type keaColumns struct {
	n                                           int
	addr, hwaddr, valid, expire, host, st, duid int
	leaseType                                   int
}

func keaHeader(line string) (keaColumns, bool) {
	c := keaColumns{addr: -1, hwaddr: -1, valid: -1, expire: -1, host: -1, st: -1, duid: -1, leaseType: -1}
	names := strings.Split(line, ",")
	c.n = len(names)
	for i, name := range names {
		switch strings.TrimSpace(name) {
		case "address":
			c.addr = i
		case "hwaddr":
			c.hwaddr = i
		case "valid_lifetime":
			c.valid = i
		case "expire":
			c.expire = i
		case "hostname":
			c.host = i
		case "state":
			c.st = i
		case "duid":
			c.duid = i
		case "lease_type":
			c.leaseType = i
		}
	}
	return c, c.addr == 0 && c.valid >= 0 && c.expire >= 0
}

func parseKea(p *leaseParse, name string, data []byte) {
	var cols keaColumns
	haveHeader := false
	for n, raw := range lines(data) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		line := string(raw)
		if strings.HasPrefix(line, "address,") {
			c, ok := keaHeader(line)
			if !ok {
				p.errorf(name, n, "header lacks address, valid_lifetime or expire")
				return
			}
			cols, haveHeader = c, true
			continue
		}
		p.nrecords++
		if !haveHeader {
			p.errorf(name, n, "row before the header line")
			return
		}
		f := strings.Split(line, ",")
		if len(f) != cols.n {
			p.errorf(name, n, "want %d columns as in the header, got %d (row cut off?)", cols.n, len(f))
			continue
		}
		addr, err := netip.ParseAddr(f[cols.addr])
		if err != nil || addr.Zone() != "" {
			p.errorf(name, n, "invalid address %q", f[cols.addr])
			continue
		}
		valid, err := strconv.ParseUint(f[cols.valid], 10, 32)
		if err != nil {
			p.errorf(name, n, "invalid valid_lifetime %q", f[cols.valid])
			continue
		}
		exp, err := strconv.ParseInt(f[cols.expire], 10, 64)
		if err != nil || exp < 0 {
			p.errorf(name, n, "invalid expire %q", f[cols.expire])
			continue
		}
		state := uint64(0)
		if cols.st >= 0 && f[cols.st] != "" {
			if state, err = strconv.ParseUint(f[cols.st], 10, 32); err != nil {
				p.errorf(name, n, "invalid state %q", f[cols.st])
				continue
			}
		}
		if cols.leaseType >= 0 && f[cols.leaseType] == "2" {
			continue // a delegated prefix, not a client address
		}
		var mac MAC
		if cols.hwaddr >= 0 && f[cols.hwaddr] != "" {
			hw, ok := parseHexColon(f[cols.hwaddr])
			if !ok {
				p.errorf(name, n, "invalid hwaddr %q", f[cols.hwaddr])
				continue
			}
			if len(hw) == 6 {
				mac = MAC(hw)
			}
		}
		if mac.IsZero() && cols.duid >= 0 {
			if duid, ok := parseHexColon(f[cols.duid]); ok {
				mac = macFromDUID(duid)
			}
		}
		var host string
		if cols.host >= 0 {
			host = cleanHostname(keaUnescape(f[cols.host]))
		}
		var expires time.Time
		if valid != keaInfinite {
			expires = time.Unix(exp, 0).UTC()
		}
		p.add(Lease{Addr: addr, MAC: mac, Hostname: host, Expires: expires, Source: name}, valid != 0 && state == 0)
	}
}

// keaUnescape undoes Kea's CSV escaping: "&#x" followed by two hex digits
// stands for that byte.
func keaUnescape(s string) string {
	if !strings.Contains(s, "&#x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i+5 <= len(s) && strings.HasPrefix(s[i:], "&#x") {
			hi, ok1 := hexDigit(s[i+3])
			lo, ok2 := hexDigit(s[i+4])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 4
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
