package blocklists

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
)

var (
	errNoHostName  = errors.New("hosts line without a name")
	errExtraText   = errors.New("unexpected text after the name")
	errMatchesAll  = errors.New("entry would match every name")
	errURL         = fmt.Errorf("%w: URL, not a name (DNS filtering sees names, not paths)", ErrUnsupported)
	errNameIsAddr  = fmt.Errorf("%w: IP address in place of a name", ErrUnsupported)
	errMidWildcard = fmt.Errorf("%w: wildcard inside a name", ErrUnsupported)
)

// hostsLine parses one line of a hosts file or a plain domains list. The
// two share a parser because real lists mix them: a line whose first field
// is an IP address is a hosts line, anything else is a domain line.
//
//	0.0.0.0 ads.example.com tracker.example.com  # several names per line
//	ads.example.com        # subtree
//	*.example.com          # children only
//	.example.com           # subtree (Squid/Privoxy spelling)
//
// Comments start with '#' or ';' anywhere, or '!' at the start of a line.
func (p *lineParser) hostsLine(n int, line []byte) {
	full := line
	for i, c := range line {
		if c == '#' || c == ';' {
			line = line[:i]
			break
		}
	}
	line = trimSpace(line)
	if len(line) == 0 || line[0] == '!' {
		return
	}
	first, rest := nextField(line)
	if isAddr(first) {
		// The address is ignored: a hosts line in a block list blocks its
		// names whatever address it maps them to.
		found := false
		for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
			found = true
			p.hostName(n, f, full)
		}
		if !found {
			if p.format == Domains {
				p.sink.issue(n, errIPAddress, full)
				return
			}
			p.sink.issue(n, errNoHostName, full)
		}
		return
	}
	if len(trimSpace(rest)) > 0 {
		p.sink.issue(n, errExtraText, full)
		return
	}
	p.domain(n, first, full)
}

// hostName handles one name of a hosts line, skipping the names every
// system hosts file carries.
func (p *lineParser) hostName(n int, f, full []byte) {
	if isAddr(f) {
		if string(f) == "0.0.0.0" {
			p.sink.skipped(n)
			return
		}
		p.sink.issue(n, errNameIsAddr, full)
		return
	}
	if isLocalHostName(f) {
		p.sink.skipped(n)
		return
	}
	p.domain(n, f, full)
}

// domain handles a single name with an optional "*." or "." prefix.
func (p *lineParser) domain(n int, f, full []byte) {
	kind := Subtree
	switch {
	case bytes.HasPrefix(f, []byte("*.")):
		kind, f = Children, f[2:]
	case len(f) > 1 && f[0] == '.':
		f = f[1:]
	}
	if len(f) == 0 || string(f) == "." || string(f) == "*" {
		p.sink.issue(n, errMatchesAll, full)
		return
	}
	if bytes.IndexByte(f, '/') >= 0 {
		p.sink.issue(n, errURL, full)
		return
	}
	if bytes.IndexByte(f, '*') >= 0 {
		p.sink.issue(n, errMidWildcard, full)
		return
	}
	p.emit(n, f, kind, Block, full)
}

// isLocalHostName reports whether f is one of the loopback and broadcast
// names found in system hosts files, which lists copy and nobody means to
// block.
func isLocalHostName(f []byte) bool {
	if len(f) > 0 && f[len(f)-1] == '.' {
		f = f[:len(f)-1]
	}
	var buf [32]byte
	if len(f) > len(buf) {
		return false
	}
	for i, c := range f {
		buf[i] = lower(c)
	}
	switch string(buf[:len(f)]) {
	case "localhost", "localhost.localdomain", "local", "localdomain",
		"broadcasthost", "ip6-localhost", "ip6-loopback", "ip6-localnet",
		"ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts":
		return true
	}
	return false
}

// isAddr reports whether f is an IPv4 or IPv6 address. The common blocking
// addresses are checked without allocating.
func isAddr(f []byte) bool {
	if len(f) == 0 {
		return false
	}
	switch string(f) {
	case "0.0.0.0", "127.0.0.1", "::", "::1":
		return true
	}
	if bytes.IndexByte(f, ':') < 0 {
		return isIPv4(f)
	}
	_, err := netip.ParseAddr(string(f))
	return err == nil
}
