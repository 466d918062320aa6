package blocklists

import (
	"bytes"
	"errors"
	"fmt"
)

var (
	errOutsideZone   = errors.New("owner name is outside the zone")
	errNoOwner       = errors.New("record without an owner name")
	errNoType        = errors.New("record without a type")
	errBadDirective  = errors.New("unknown or incomplete $ directive")
	errBadCNAME      = errors.New("CNAME record needs exactly one target")
	errUnbalanced    = errors.New("unbalanced parentheses")
	errRPZTrigger    = fmt.Errorf("%w: RPZ IP, NSDNAME, NSIP or client-IP trigger", ErrUnsupported)
	errRPZLocalData  = fmt.Errorf("%w: RPZ local-data record (only NXDOMAIN, NODATA, PASSTHRU and DROP actions apply)", ErrUnsupported)
	errRPZTCPOnly    = fmt.Errorf("%w: RPZ TCP-only action", ErrUnsupported)
	errRPZDirective  = fmt.Errorf("%w: $INCLUDE and $GENERATE are not followed", ErrUnsupported)
	errOriginInvalid = errors.New("invalid $ORIGIN name")
)

// rpzState is the zone-file context carried from line to line.
type rpzState struct {
	origin     []byte // current $ORIGIN, canonical; empty means the root
	apex       []byte // zone apex, stripped from owner names
	apexSet    bool
	origin0    []byte // the first $ORIGIN, the apex when there is no SOA
	origin0Set bool
	owner      []byte // the previous owner, for lines that omit it
	hasOwner   bool
	fqdn       []byte // scratch
	toks       [][]byte

	// A record continued over lines in parentheses (usually the SOA).
	depth    int
	pending  [][]byte // owned copies of its tokens
	pendLine int
	pendOwn  bool
	pendText []byte
}

// rpzLine parses one line of an RPZ zone file (RFC 1035 master-file syntax
// with the policy encoding of draft-vixie-dnsop-dns-rpz):
//
//	$ORIGIN rpz.example.
//	@            SOA  ns. admin. ( 1 3600 600 86400 60 )
//	bad.example      CNAME .              ; NXDOMAIN: Exact
//	*.bad.example    CNAME .              ; NXDOMAIN: Children
//	empty.example    CNAME *.             ; NODATA
//	ok.bad.example   CNAME rpz-passthru.  ; PASSTHRU: Allow
//	drop.example     CNAME rpz-drop.      ; DROP, answered as Block
//
// Owner names are made relative to the zone apex (the SOA owner, else the
// first $ORIGIN, else the root). Records at the apex are skipped. IP,
// NSDNAME, NSIP and client-IP triggers, local-data records and
// rpz-tcp-only are skipped as unsupported.
func (p *lineParser) rpzLine(n int, line []byte) {
	s := &p.rpz
	ownerCol := len(line) > 0 && !isSpace(line[0])
	toks, delta := zoneTokens(line, s.toks[:0])
	s.toks = toks
	if s.depth > 0 {
		for _, t := range toks {
			s.pending = append(s.pending, bytes.Clone(t))
		}
		s.depth += delta
		if s.depth <= 0 {
			s.depth = 0
			p.rpzRecord(s.pendLine, s.pendOwn, s.pending, s.pendText)
			s.pending = s.pending[:0]
		}
		return
	}
	switch {
	case delta > 0:
		s.depth, s.pendLine, s.pendOwn, s.pendText = delta, n, ownerCol, bytes.Clone(line)
		s.pending = s.pending[:0]
		for _, t := range toks {
			s.pending = append(s.pending, bytes.Clone(t))
		}
	case delta < 0:
		p.sink.issue(n, errUnbalanced, line)
	case len(toks) > 0:
		p.rpzRecord(n, ownerCol, toks, line)
	}
}

func (p *lineParser) rpzFinish(int) {
	if s := &p.rpz; s.depth > 0 {
		p.sink.issue(s.pendLine, errUnbalanced, s.pendText)
		s.depth = 0
	}
}

func (p *lineParser) rpzRecord(n int, ownerCol bool, toks [][]byte, line []byte) {
	s := &p.rpz
	if len(toks) == 0 {
		return
	}
	if ownerCol && toks[0][0] == '$' {
		p.rpzDirective(n, toks, line)
		return
	}
	var owner []byte
	if ownerCol {
		owner, toks = toks[0], toks[1:]
		s.owner, s.hasOwner = append(s.owner[:0], owner...), true
	} else {
		if !s.hasOwner {
			p.sink.issue(n, errNoOwner, line)
			return
		}
		owner = s.owner
	}
	for len(toks) > 0 && (isClass(toks[0]) || isTTL(toks[0])) {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		p.sink.issue(n, errNoType, line)
		return
	}
	typ, rdata := toks[0], toks[1:]

	fqdn := p.rpzFQDN(owner)
	if equalFold(typ, "SOA") {
		if !s.apexSet {
			s.apex, s.apexSet = append(s.apex[:0], fqdn...), true
		}
		p.sink.skipped(n)
		return
	}
	if !s.apexSet {
		s.apex, s.apexSet = append(s.apex[:0], s.origin0...), true
	}
	trigger := fqdn
	if len(s.apex) > 0 {
		switch {
		case bytes.Equal(fqdn, s.apex):
			p.sink.skipped(n) // NS and other records at the apex
			return
		case len(fqdn) > len(s.apex) && bytes.HasSuffix(fqdn, s.apex) && fqdn[len(fqdn)-len(s.apex)-1] == '.':
			trigger = fqdn[:len(fqdn)-len(s.apex)]
		default:
			p.sink.issue(n, errOutsideZone, line)
			return
		}
	} else if string(fqdn) == "." {
		p.sink.skipped(n)
		return
	}
	if isRPZSpecialTrigger(trigger) {
		p.sink.issue(n, errRPZTrigger, line)
		return
	}
	if !equalFold(typ, "CNAME") {
		p.sink.issue(n, errRPZLocalData, line)
		return
	}
	if len(rdata) != 1 {
		p.sink.issue(n, errBadCNAME, line)
		return
	}
	var act Action
	switch t := rdata[0]; {
	case string(t) == ".":
		act = Block
	case string(t) == "*.":
		act = NoData
	case equalFold(t, "rpz-passthru."):
		act = Allow
	case equalFold(t, "rpz-drop."):
		act = Block
	case equalFold(t, "rpz-tcp-only."):
		p.sink.issue(n, errRPZTCPOnly, line)
		return
	default:
		p.sink.issue(n, errRPZLocalData, line)
		return
	}
	kind := Exact
	if bytes.HasPrefix(trigger, []byte("*.")) {
		kind, trigger = Children, trigger[2:]
		if len(trigger) == 0 {
			p.sink.issue(n, errMatchesAll, line)
			return
		}
	}
	p.emit(n, trigger, kind, act, line)
}

func (p *lineParser) rpzDirective(n int, toks [][]byte, line []byte) {
	s := &p.rpz
	switch {
	case equalFold(toks[0], "$ORIGIN") && len(toks) >= 2:
		o := toks[1]
		if o[len(o)-1] != '.' {
			o = p.rpzFQDN(o)
		}
		if string(o) == "." {
			s.origin = s.origin[:0]
		} else {
			var err error
			if s.origin, err = appendCanonical(s.origin[:0], o); err != nil {
				p.sink.issue(n, errOriginInvalid, line)
				return
			}
		}
		if !s.origin0Set {
			s.origin0, s.origin0Set = append(s.origin0[:0], s.origin...), true
		}
	case equalFold(toks[0], "$TTL") && len(toks) >= 2:
	case equalFold(toks[0], "$INCLUDE"), equalFold(toks[0], "$GENERATE"):
		p.sink.issue(n, errRPZDirective, line)
	default:
		p.sink.issue(n, errBadDirective, line)
	}
}

// rpzFQDN returns the lower-case absolute form of owner (relative to the
// current origin) in scratch space valid until the next call.
func (p *lineParser) rpzFQDN(owner []byte) []byte {
	s := &p.rpz
	f := s.fqdn[:0]
	switch {
	case string(owner) == "@":
		if len(s.origin) == 0 {
			f = append(f, '.')
		} else {
			f = append(f, s.origin...)
		}
	case owner[len(owner)-1] == '.':
		f = append(f, owner...)
	default:
		f = append(f, owner...)
		f = append(f, '.')
		f = append(f, s.origin...)
	}
	for i, c := range f {
		f[i] = lower(c)
	}
	s.fqdn = f
	return f
}

// isRPZSpecialTrigger reports whether trigger (relative, with a trailing
// dot) ends in one of the RPZ labels that make it an IP or name-server
// trigger rather than a query name.
func isRPZSpecialTrigger(t []byte) bool {
	for _, l := range [...]string{"rpz-ip.", "rpz-nsdname.", "rpz-nsip.", "rpz-client-ip."} {
		if bytes.HasSuffix(t, []byte(l)) && (len(t) == len(l) || t[len(t)-len(l)-1] == '.') {
			return true
		}
	}
	return false
}

func isClass(t []byte) bool {
	return equalFold(t, "IN") || equalFold(t, "CH") || equalFold(t, "CS") ||
		equalFold(t, "HS") || equalFold(t, "NONE") || equalFold(t, "ANY")
}

func isTTL(t []byte) bool { return len(t) > 0 && '0' <= t[0] && t[0] <= '9' }

// zoneTokens splits a zone-file line into tokens, appending to toks. ';'
// starts a comment outside quotes; a quoted string is one token; '(' and
// ')' separate tokens and their balance is returned as delta.
func zoneTokens(line []byte, toks [][]byte) (_ [][]byte, delta int) {
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case isSpace(c):
			i++
		case c == ';':
			return toks, delta
		case c == '(':
			delta++
			i++
		case c == ')':
			delta--
			i++
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			toks = append(toks, line[i:j])
			i = j
		default:
			j := i
			for j < len(line) && !isSpace(line[j]) && line[j] != ';' && line[j] != '(' && line[j] != ')' && line[j] != '"' {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	return toks, delta
}
