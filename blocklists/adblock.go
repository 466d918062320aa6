package blocklists

import (
	"bytes"
	"fmt"
)

var (
	errCosmetic = fmt.Errorf("%w: cosmetic or HTML filtering rule", ErrUnsupported)
	errRegex    = fmt.Errorf("%w: regular-expression rule", ErrUnsupported)
	errPattern  = fmt.Errorf("%w: URL pattern, not a name", ErrUnsupported)
	errModifier = fmt.Errorf("%w: rule modifier a DNS filter cannot apply", ErrUnsupported)
)

// adblockLine parses one line of the DNS subset of Adblock syntax:
//
//	||example.com^          example.com and everything below it
//	||*.example.com^        only names below example.com
//	|example.com^           example.com only
//	@@||example.com^        exception (allow), likewise for "@@|"
//	example.com             a bare name with a dot, as "||example.com^"
//	0.0.0.0 example.com     hosts lines are accepted too
//	! comment, # comment, [Adblock Plus 2.0]
//
// "^" may be followed by "|" and nothing else; "||name" without "^" is read
// as "||name^". Modifiers: $important, $all, $document and $doc are accepted
// and mean nothing more here (an allow entry still wins, see the package
// documentation). Every other modifier ($third-party, $script, $domain=,
// $dnstype=, $client=, $badfilter, ...) narrows a rule to a context DNS
// cannot see, so applying the rule to the whole name would over-block:
// those lines are skipped as unsupported, as are cosmetic rules ("##" and
// relatives), regular expressions, paths, ports and wildcards inside names.
func (p *lineParser) adblockLine(n int, line []byte) {
	full := line
	line = trimSpace(line)
	if len(line) == 0 || line[0] == '!' || line[0] == '[' {
		return
	}
	if isCosmetic(line) {
		p.sink.issue(n, errCosmetic, full)
		return
	}
	if line[0] == '#' {
		return
	}
	act := Block
	if bytes.HasPrefix(line, []byte("@@")) {
		act, line = Allow, line[2:]
	}
	kind := Subtree
	switch {
	case bytes.HasPrefix(line, []byte("||")):
		line = line[2:]
	case bytes.HasPrefix(line, []byte("|")):
		kind, line = Exact, line[1:]
	case len(line) > 0 && line[0] == '/':
		p.sink.issue(n, errRegex, full)
		return
	default:
		if first, _ := nextField(line); act == Block && isAddr(first) {
			p.hostsLine(n, full)
			return
		}
		// An unanchored rule is a substring pattern in Adblock syntax. One
		// that looks like a name with a dot is read as "||name^"; "ads"
		// means "any URL containing ads", not the TLD.
		if bytes.IndexByte(line, '.') < 0 {
			p.sink.issue(n, errPattern, full)
			return
		}
	}
	if i := bytes.IndexByte(line, '$'); i >= 0 {
		if !dnsModifiers(line[i+1:]) {
			p.sink.issue(n, errModifier, full)
			return
		}
		line = line[:i]
	}
	if i := bytes.IndexByte(line, '^'); i >= 0 {
		if tail := line[i+1:]; len(tail) > 0 && string(tail) != "|" {
			p.sink.issue(n, errPattern, full)
			return
		}
		line = line[:i]
	} else if len(line) > 0 && line[len(line)-1] == '|' {
		line = line[:len(line)-1]
	}
	if kind == Subtree && bytes.HasPrefix(line, []byte("*.")) {
		kind, line = Children, line[2:]
	}
	if len(line) == 0 || string(line) == "*" {
		p.sink.issue(n, errMatchesAll, full)
		return
	}
	if bytes.ContainsAny(line, "/:?=&") {
		p.sink.issue(n, errPattern, full)
		return
	}
	if bytes.IndexByte(line, '*') >= 0 {
		p.sink.issue(n, errMidWildcard, full)
		return
	}
	p.emit(n, line, kind, act, full)
}

// isCosmetic reports whether line is an element-hiding, scriptlet or HTML
// filtering rule: "##", "#@#", "#?#", "#$#", "#%#" and their relatives, or
// AdGuard's "$$".
func isCosmetic(line []byte) bool {
	for i := 0; i+1 < len(line); i++ {
		if line[i] == '#' {
			switch line[i+1] {
			case '#', '@', '?', '$', '%':
				return true
			}
		}
		if line[i] == '$' && line[i+1] == '$' {
			return true
		}
	}
	return false
}

// dnsModifiers reports whether every comma-separated modifier in opts is
// one that keeps the rule's meaning for a whole name.
func dnsModifiers(opts []byte) bool {
	for len(opts) > 0 {
		var o []byte
		if i := bytes.IndexByte(opts, ','); i >= 0 {
			o, opts = opts[:i], opts[i+1:]
		} else {
			o, opts = opts, nil
		}
		o = trimSpace(o)
		if !(equalFold(o, "important") || equalFold(o, "all") || equalFold(o, "document") || equalFold(o, "doc")) {
			return false
		}
	}
	return true
}
