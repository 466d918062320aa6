package recursor

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// namedRoot is the IANA root hints file. It is read-only data.
//
//go:embed named.root
var namedRoot []byte

// BuiltinHints returns the IANA root servers built into the program, as NS
// records for "." and A/AAAA records for their names.
func BuiltinHints() []dns.RR {
	rrs, err := ParseHints("named.root", namedRoot)
	if err != nil {
		panic("recursor: built-in root hints: " + err.Error()) // tested: cannot happen
	}
	return rrs
}

// ParseHints parses a root hints file in zone-file format, one record per
// line (the layout of the IANA named.root file): NS records owned by ".",
// and A or AAAA records for the names they point to. Every name server must
// have an address. Names are returned in lower case. Errors name file and
// line.
func ParseHints(file string, data []byte) ([]dns.RR, error) {
	var (
		rrs   []dns.RR
		ns    = make(map[string]int) // name server name → line of its NS record
		addrs = make(map[string]bool)
		errs  []error
	)
	type addrLine struct {
		name string
		line int
	}
	var addrLines []addrLine
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "$") {
			errs = append(errs, fmt.Errorf("%s:%d: directives are not supported in root hints", file, n))
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, n, err))
			continue
		}
		if rr == nil { // blank or comment
			continue
		}
		h := rr.Header()
		h.Name = dns.CanonicalName(h.Name)
		if h.Class != dns.ClassINET {
			errs = append(errs, fmt.Errorf("%s:%d: class %s, want IN", file, n, dns.Class(h.Class)))
			continue
		}
		switch rr := rr.(type) {
		case *dns.NS:
			if h.Name != "." {
				errs = append(errs, fmt.Errorf("%s:%d: NS record for %q, want only the root \".\"", file, n, h.Name))
				continue
			}
			rr.Ns = dns.CanonicalName(rr.Ns)
			if _, dup := ns[rr.Ns]; !dup {
				ns[rr.Ns] = n
			}
		case *dns.A, *dns.AAAA:
			addrs[h.Name] = true
			addrLines = append(addrLines, addrLine{h.Name, n})
		default:
			errs = append(errs, fmt.Errorf("%s:%d: unexpected %s record in root hints", file, n, dns.Type(h.Rrtype)))
			continue
		}
		rrs = append(rrs, rr)
	}
	if len(ns) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no NS records for the root", file))
	}
	for _, a := range addrLines {
		if _, ok := ns[a.name]; !ok {
			errs = append(errs, fmt.Errorf("%s:%d: address for %s, which is not a root name server", file, a.line, a.name))
		}
	}
	for name, line := range ns {
		if !addrs[name] {
			errs = append(errs, fmt.Errorf("%s:%d: root name server %s has no address", file, line, name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rrs, nil
}

// hintsDeleg turns root hints into the root delegation used until priming
// succeeds. It never expires. Hint addresses are trusted as configured, even
// ones that glue from the network may not use (such as loopback).
func hintsDeleg(rrs []dns.RR, ipv6 bool) (*deleg, error) {
	d := newDeleg(".")
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok {
			if dns.CanonicalName(ns.Hdr.Name) != "." {
				return nil, fmt.Errorf("root hints: NS record for %s, want only the root", ns.Hdr.Name)
			}
			d.addNS(ns.Ns)
		}
	}
	for _, rr := range rrs {
		d.addGlue(rr, false)
	}
	if len(d.ns) == 0 {
		return nil, errors.New("root hints: no NS records for the root")
	}
	for _, name := range d.ns {
		for _, a := range d.glue[name] {
			if ipv6 || a.Is4() {
				return d, nil
			}
		}
	}
	return nil, errors.New("root hints: no usable root server address")
}
