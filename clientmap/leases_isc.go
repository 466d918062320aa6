package clientmap

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ISC dhcpd lease files (dhcpd.leases(5)) are a sequence of statements:
//
//	lease 10.20.3.4 {
//	  starts 4 2026/11/19 08:40:01;      # UTC; or "epoch 1795000000; # local time"
//	  ends 4 2026/11/19 20:40:01;        # or "never"
//	  binding state active;
//	  hardware ethernet aa:bb:cc:dd:ee:ff;
//	  client-hostname "Y9-IPAD-12";
//	}
//	ia-na "<iaid><duid>" { cltt ...; iaaddr 2001:db8::5 { binding state active; ends ...; } }
//
// plus server-duid, authoring-byte-order, failover peer state blocks, host
// and class declarations, which carry no leases and are skipped. dhcpd
// appends a new block whenever a lease changes and rewrites the file
// (write dhcpd.leases.<time>, link the old one to dhcpd.leases~, rename)
// from time to time, so the last block for an address is the current one.

type iscTokKind uint8

const (
	iscEOF iscTokKind = iota
	iscWord
	iscString
	iscLBrace
	iscRBrace
	iscSemi
)

type iscToken struct {
	kind iscTokKind
	text string // word text, or the decoded string
	line int
}

type iscLexer struct {
	data []byte
	pos  int
	line int
	err  error // first lexical error (unterminated string)
	errL int
}

func (lx *iscLexer) next() iscToken {
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		switch {
		case c == '\n':
			lx.line++
			lx.pos++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			lx.pos++
		case c == '#':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' {
				lx.pos++
			}
		case c == '{':
			lx.pos++
			return iscToken{kind: iscLBrace, line: lx.line}
		case c == '}':
			lx.pos++
			return iscToken{kind: iscRBrace, line: lx.line}
		case c == ';':
			lx.pos++
			return iscToken{kind: iscSemi, line: lx.line}
		case c == '"':
			return lx.str()
		default:
			start := lx.pos
			for lx.pos < len(lx.data) && !isISCSpecial(lx.data[lx.pos]) {
				lx.pos++
			}
			return iscToken{kind: iscWord, text: string(lx.data[start:lx.pos]), line: lx.line}
		}
	}
	return iscToken{kind: iscEOF, line: lx.line}
}

func isISCSpecial(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', '\v', '#', '{', '}', ';', '"':
		return true
	}
	return false
}

// str reads a quoted string, decoding dhcpd's escapes: \" \\ \t \n \r \b,
// octal \ooo and hex \xHH.
func (lx *iscLexer) str() iscToken {
	line := lx.line
	lx.pos++ // opening quote
	var b strings.Builder
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		lx.pos++
		switch c {
		case '"':
			return iscToken{kind: iscString, text: b.String(), line: line}
		case '\n':
			lx.line++
			b.WriteByte(c)
		case '\\':
			if lx.pos >= len(lx.data) {
				continue
			}
			e := lx.data[lx.pos]
			lx.pos++
			switch {
			case e == 't':
				b.WriteByte('\t')
			case e == 'n':
				b.WriteByte('\n')
			case e == 'r':
				b.WriteByte('\r')
			case e == 'b':
				b.WriteByte('\b')
			case e >= '0' && e <= '7':
				v := int(e - '0')
				for k := 0; k < 2 && lx.pos < len(lx.data) && lx.data[lx.pos] >= '0' && lx.data[lx.pos] <= '7'; k++ {
					v = v*8 + int(lx.data[lx.pos]-'0')
					lx.pos++
				}
				b.WriteByte(byte(v))
			case e == 'x':
				v, n := 0, 0
				for n < 2 && lx.pos < len(lx.data) {
					d, ok := hexDigit(lx.data[lx.pos])
					if !ok {
						break
					}
					v = v*16 + int(d)
					lx.pos++
					n++
				}
				if n == 0 {
					b.WriteByte('x')
				} else {
					b.WriteByte(byte(v))
				}
			default:
				if e == '\n' {
					lx.line++
				}
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	if lx.err == nil {
		lx.err, lx.errL = errors.New("unterminated string"), line
	}
	return iscToken{kind: iscEOF, line: lx.line}
}

// iscParser walks statements with one token of lookahead.
type iscParser struct {
	lx   iscLexer
	tok  iscToken
	p    *leaseParse
	name string
}

func (ip *iscParser) advance() { ip.tok = ip.lx.next() }

// statement returns the tokens of one simple statement up to its ';' (not
// included). A nested block ("on commit { ... }") is skipped whole and
// ends the statement. end is the token kind that ended it: iscSemi (also
// for a skipped block), or iscRBrace or iscEOF, which are not consumed.
func (ip *iscParser) statement() (words []iscToken, end iscTokKind) {
	for {
		switch ip.tok.kind {
		case iscEOF, iscRBrace:
			return words, ip.tok.kind
		case iscSemi:
			ip.advance()
			return words, iscSemi
		case iscLBrace:
			ip.advance()
			if !ip.skipBlock() {
				return words, iscEOF
			}
			return words, iscSemi
		default:
			words = append(words, ip.tok)
			ip.advance()
		}
	}
}

// skipBlock consumes tokens through the '}' matching an already consumed
// '{'. It returns false at end of input.
func (ip *iscParser) skipBlock() bool {
	depth := 1
	for {
		switch ip.tok.kind {
		case iscEOF:
			return false
		case iscLBrace:
			depth++
		case iscRBrace:
			depth--
			if depth == 0 {
				ip.advance()
				return true
			}
		}
		ip.advance()
	}
}

// skipTopLevel skips one statement or declaration that is not a lease:
// through its ';' or, for a declaration with a body, its closing '}'.
func (ip *iscParser) skipTopLevel() {
	for {
		switch ip.tok.kind {
		case iscEOF:
			return
		case iscSemi, iscRBrace:
			ip.advance()
			return
		case iscLBrace:
			ip.advance()
			ip.skipBlock()
			return
		}
		ip.advance()
	}
}

func parseISC(p *leaseParse, name string, data []byte) {
	ip := &iscParser{lx: iscLexer{data: data, line: 1}, p: p, name: name}
	ip.advance()
	for ip.tok.kind != iscEOF {
		t := ip.tok
		if t.kind == iscWord {
			switch t.text {
			case "lease":
				ip.advance()
				ip.lease(t.line)
				continue
			case "ia-na", "ia-ta":
				ip.advance()
				ip.ia(t.line)
				continue
			}
		}
		ip.skipTopLevel()
	}
	if ip.lx.err != nil {
		p.errorf(name, ip.lx.errL, "%v", ip.lx.err)
	}
}

// iscLeaseBody is what a lease or iaaddr block says.
type iscLeaseBody struct {
	ends      time.Time
	hasState  bool
	state     string
	mac       MAC
	hostname  string
	abandoned bool
}

// body reads statements up to and including the block's '}'. It returns
// false (and reports) when the input ends first, as in a file cut off
// mid-write, or when a statement is malformed.
func (ip *iscParser) body(line int, what string, b *iscLeaseBody, nested func(words []iscToken) bool) bool {
	good := true
	for {
		if ip.tok.kind == iscRBrace {
			ip.advance()
			return good
		}
		if ip.tok.kind == iscEOF {
			ip.p.errorf(ip.name, line, "%s: unterminated block (file truncated?)", what)
			return false
		}
		// A nested block such as iaaddr is handed to nested before it is
		// skipped as a statement.
		if nested != nil && ip.tok.kind == iscWord && (ip.tok.text == "iaaddr" || ip.tok.text == "iaprefix") {
			var words []iscToken
			for ip.tok.kind == iscWord || ip.tok.kind == iscString {
				words = append(words, ip.tok)
				ip.advance()
			}
			if ip.tok.kind != iscLBrace {
				ip.p.errorf(ip.name, words[0].line, "%s: %s without a block", what, words[0].text)
				good = false
				if ip.tok.kind == iscSemi {
					ip.advance()
				}
				continue
			}
			ip.advance()
			if !nested(words) {
				return false
			}
			continue
		}
		words, end := ip.statement()
		switch {
		case end == iscEOF:
			ip.p.errorf(ip.name, line, "%s: unterminated block (file truncated?)", what)
			return false
		case end == iscRBrace && len(words) > 0:
			ip.p.errorf(ip.name, words[0].line, "%s: statement %q without ';'", what, words[0].text)
			good = false
			continue
		case len(words) == 0:
			continue
		}
		if err := b.statement(words); err != nil {
			ip.p.errorf(ip.name, words[0].line, "%s: %v", what, err)
			good = false
		}
	}
}

func (b *iscLeaseBody) statement(w []iscToken) error {
	switch w[0].text {
	case "ends":
		t, err := iscTime(w[1:])
		if err != nil {
			return fmt.Errorf("ends: %w", err)
		}
		b.ends = t
	case "binding":
		if len(w) != 3 || w[1].text != "state" {
			return errors.New("malformed binding state")
		}
		b.hasState, b.state = true, w[2].text
	case "hardware":
		if len(w) != 3 {
			return errors.New("malformed hardware statement")
		}
		hw, ok := parseHexColon(w[2].text)
		if !ok {
			return fmt.Errorf("invalid hardware address %q", w[2].text)
		}
		if w[1].text == "ethernet" && len(hw) == 6 {
			b.mac = MAC(hw)
		}
	case "client-hostname":
		if len(w) != 2 || w[1].kind != iscString {
			return errors.New("malformed client-hostname")
		}
		b.hostname = cleanHostname(w[1].text)
	case "abandoned":
		b.abandoned = true
	}
	return nil
}

// iscTime reads the date forms dhcpd writes: "never", "epoch 1795000000"
// (db-time-format local) and "W YYYY/MM/DD HH:MM:SS" in UTC.
func iscTime(w []iscToken) (time.Time, error) {
	switch {
	case len(w) == 1 && w[0].text == "never":
		return time.Time{}, nil
	case len(w) == 2 && w[0].text == "epoch":
		n, err := strconv.ParseInt(w[1].text, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("invalid epoch time %q", w[1].text)
		}
		return time.Unix(n, 0).UTC(), nil
	case len(w) == 3:
		t, err := time.ParseInLocation("2006/1/2 15:04:05", w[1].text+" "+w[2].text, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time %q", w[1].text+" "+w[2].text)
		}
		return t, nil
	}
	var s []string
	for _, t := range w {
		s = append(s, t.text)
	}
	return time.Time{}, fmt.Errorf("invalid time %q", strings.Join(s, " "))
}

// active applies dhcpd's rules: only "binding state active" binds; a lease
// without a binding state (files from before dhcpd 3) is active unless it
// is abandoned, and its expiry decides.
func (b *iscLeaseBody) active() bool {
	if b.abandoned {
		return false
	}
	return !b.hasState || b.state == "active"
}

// lease reads "lease ADDR { ... }" after the keyword.
func (ip *iscParser) lease(line int) {
	ip.p.nrecords++
	addrTok := ip.tok
	if addrTok.kind != iscWord {
		ip.p.errorf(ip.name, line, "lease: missing address")
		ip.skipTopLevel()
		return
	}
	ip.advance()
	if ip.tok.kind != iscLBrace {
		ip.p.errorf(ip.name, line, "lease %s: missing '{'", addrTok.text)
		ip.skipTopLevel()
		return
	}
	ip.advance()
	addr, err := netip.ParseAddr(addrTok.text)
	if err != nil || !addr.Is4() {
		ip.p.errorf(ip.name, line, "lease: invalid IPv4 address %q", addrTok.text)
		ip.skipBlock()
		return
	}
	var b iscLeaseBody
	if !ip.body(line, "lease "+addrTok.text, &b, nil) {
		return
	}
	ip.p.add(Lease{Addr: addr, MAC: b.mac, Hostname: b.hostname, Expires: b.ends, Source: ip.name}, b.active())
}

// ia reads `ia-na "<iaid><duid>" { ... iaaddr ADDR { ... } ... }` after
// the keyword. The client's MAC comes from a link-layer DUID.
func (ip *iscParser) ia(line int) {
	idTok := ip.tok
	if idTok.kind != iscString {
		ip.p.nrecords++
		ip.p.errorf(ip.name, line, "ia-na: missing identifier")
		ip.skipTopLevel()
		return
	}
	ip.advance()
	if ip.tok.kind != iscLBrace {
		ip.p.nrecords++
		ip.p.errorf(ip.name, line, "ia-na: missing '{'")
		ip.skipTopLevel()
		return
	}
	ip.advance()
	var mac MAC
	if len(idTok.text) > 4 {
		mac = macFromDUID([]byte(idTok.text[4:]))
	}
	var outer iscLeaseBody // statements of the ia itself (cltt) are ignored
	ip.body(line, "ia-na", &outer, func(words []iscToken) bool {
		ip.p.nrecords++
		kw, wline := words[0].text, words[0].line
		if kw == "iaprefix" { // a delegated prefix, not a client address
			return ip.skipBlock()
		}
		if len(words) != 2 {
			ip.p.errorf(ip.name, wline, "iaaddr: missing address")
			return ip.skipBlock()
		}
		addr, err := netip.ParseAddr(words[1].text)
		if err != nil || !addr.Is6() || addr.Is4In6() {
			ip.p.errorf(ip.name, wline, "iaaddr: invalid IPv6 address %q", words[1].text)
			return ip.skipBlock()
		}
		var b iscLeaseBody
		if !ip.body(wline, "iaaddr "+words[1].text, &b, nil) {
			return ip.tok.kind != iscEOF
		}
		ip.p.add(Lease{Addr: addr, MAC: mac, Hostname: b.hostname, Expires: b.ends, Source: ip.name}, b.active())
		return true
	})
}
