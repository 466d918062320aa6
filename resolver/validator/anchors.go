package validator

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// rootAnchors are the root zone's key signing keys as DS records: KSK-2017
// (key tag 20326) and KSK-2024 (key tag 38696, introduced by the 2024
// rollover), both RSA/SHA-256 with SHA-256 digests. Source: IANA's
// https://data.iana.org/root-anchors/root-anchors.xml (KeyDigest ids
// "Klajeyz" and "Kmyv6jo"). Cross-checked against that file's published
// public keys: DNSKEY.ToDS(SHA256) of each key gives exactly these
// digests (TestBuiltinTrustAnchors_digests), and against other resolvers
// that embed the same two lines.
const rootAnchors = `
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`

// BuiltinTrustAnchors returns the root zone's trust anchors as fresh DS
// records.
func BuiltinTrustAnchors() []dns.RR {
	rrs, err := ParseTrustAnchors("builtin", []byte(rootAnchors))
	if err != nil {
		panic("validator: built-in trust anchors do not parse: " + err.Error()) // a constant: tested
	}
	return rrs
}

// ParseTrustAnchors reads trust anchors in zone-file form: DS or DNSKEY
// records, one per entry, with ";" comments, parentheses spanning lines,
// and $ORIGIN and $TTL directives, as Unbound's auto-trust-anchor-file and
// dig output produce them. Every problem is reported, each as
// "file:line: ...".
func ParseTrustAnchors(file string, data []byte) ([]dns.RR, error) {
	var (
		out    []dns.RR
		errs   []error
		origin = "."
	)
	for rec, err := range records(data) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, rec.line, err))
			continue
		}
		fields := strings.Fields(rec.text)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "$ORIGIN":
			if len(fields) != 2 {
				errs = append(errs, fmt.Errorf("%s:%d: $ORIGIN needs one name", file, rec.line))
				continue
			}
			if _, ok := dns.IsDomainName(fields[1]); !ok {
				errs = append(errs, fmt.Errorf("%s:%d: bad $ORIGIN %q", file, rec.line, fields[1]))
				continue
			}
			origin = dns.Fqdn(fields[1])
			continue
		case "$TTL":
			continue // anchors have no lifetime
		}
		zp := dns.NewZoneParser(strings.NewReader(rec.text), origin, "")
		rr, ok := zp.Next()
		if err := zp.Err(); err != nil {
			// "dns: bad DS DigestType: \"x\" at line: 1:8": the line is
			// the record's, which we report ourselves.
			msg, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "dns: "), " at line: ")
			errs = append(errs, fmt.Errorf("%s:%d: %s", file, rec.line, msg))
			continue
		}
		if !ok {
			continue
		}
		if rr.Header().Class != dns.ClassINET {
			errs = append(errs, fmt.Errorf("%s:%d: class %s, want IN", file, rec.line, dns.Class(rr.Header().Class)))
			continue
		}
		switch rr := rr.(type) {
		case *dns.DS:
			if d, err := hex.DecodeString(rr.Digest); err != nil || len(d) == 0 || (digestLen(rr.DigestType) != 0 && len(d) != digestLen(rr.DigestType)) {
				errs = append(errs, fmt.Errorf("%s:%d: DS for %s has a bad digest", file, rec.line, rr.Hdr.Name))
				continue
			}
		case *dns.DNSKEY:
			if rr.Flags&dns.ZONE == 0 || rr.Protocol != 3 {
				errs = append(errs, fmt.Errorf("%s:%d: DNSKEY for %s is not a zone key", file, rec.line, rr.Hdr.Name))
				continue
			}
			if k, err := base64.StdEncoding.DecodeString(rr.PublicKey); err != nil || len(k) == 0 {
				errs = append(errs, fmt.Errorf("%s:%d: DNSKEY for %s has a bad public key", file, rec.line, rr.Hdr.Name))
				continue
			}
		default:
			errs = append(errs, fmt.Errorf("%s:%d: %s record, want DS or DNSKEY", file, rec.line, dns.Type(rr.Header().Rrtype)))
			continue
		}
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		out = append(out, rr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no DS or DNSKEY records", file)
	}
	return out, nil
}

// digestLen returns the length of a DS digest type, 0 when unknown.
func digestLen(t uint8) int {
	switch t {
	case dns.SHA1:
		return 20
	case dns.SHA256:
		return 32
	case dns.SHA384:
		return 48
	}
	return 0
}

// record is one zone-file entry, joined onto one line, and the line it
// starts on.
type record struct {
	text string
	line int
}

// records splits data into entries: comments dropped, lines inside
// parentheses joined. It yields an error for unbalanced parentheses.
func records(data []byte) func(yield func(record, error) bool) {
	return func(yield func(record, error) bool) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		var (
			cur   strings.Builder
			start int
			depth int
		)
		line := 0
		for sc.Scan() {
			line++
			text, open := stripComment(sc.Text())
			if depth == 0 {
				start = line
			}
			depth += open
			if depth < 0 {
				if !yield(record{line: line}, errors.New("unbalanced ')'")) {
					return
				}
				depth, cur = 0, strings.Builder{}
				continue
			}
			cur.WriteString(text)
			cur.WriteByte(' ')
			if depth > 0 {
				continue
			}
			if !yield(record{text: cur.String(), line: start}, nil) {
				return
			}
			cur.Reset()
		}
		if err := sc.Err(); err != nil {
			yield(record{line: line}, err)
			return
		}
		if depth > 0 {
			yield(record{line: start}, errors.New("unclosed '('"))
		}
	}
}

// stripComment drops a ";" comment, outside quotes, from one line and
// returns the parentheses it opens (negative when it closes more).
func stripComment(s string) (string, int) {
	quoted, open := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';':
			return s[:i], open
		case c == '(':
			open++
		case c == ')':
			open--
		}
	}
	return s, open
}

// anchor is the trust for one zone: DS records and DNSKEYs that its
// DNSKEY RRset must match.
type anchor struct {
	ds   []*dns.DS
	keys []*dns.DNSKEY
}

// anchors maps zone apex to its anchor. Immutable after newAnchors.
type anchors map[string]*anchor

func newAnchors(rrs []dns.RR) (anchors, error) {
	a := make(anchors)
	for _, rr := range rrs {
		name := dns.CanonicalName(rr.Header().Name)
		if a[name] == nil {
			a[name] = &anchor{}
		}
		switch rr := rr.(type) {
		case *dns.DS:
			ds := dns.Copy(rr).(*dns.DS)
			ds.Hdr.Name = name
			a[name].ds = append(a[name].ds, ds)
		case *dns.DNSKEY:
			k := dns.Copy(rr).(*dns.DNSKEY)
			k.Hdr.Name = name
			a[name].keys = append(a[name].keys, k)
		default:
			return nil, fmt.Errorf("validator: trust anchor %s is a %s record, want DS or DNSKEY", name, dns.Type(rr.Header().Rrtype))
		}
	}
	if len(a) == 0 {
		return nil, errors.New("validator: no trust anchors")
	}
	return a, nil
}

// closest returns the deepest anchored zone at or above name.
func (a anchors) closest(name string) (string, bool) {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if a[name[off:]] != nil {
			return name[off:], true
		}
	}
	if a["."] != nil {
		return ".", true
	}
	return "", false
}

// below reports whether an anchored zone lies strictly below top and at or
// above name: then top's status says nothing about name.
func (a anchors) below(top, name string) bool {
	z, ok := a.closest(name)
	return ok && isProperAncestor(top, z)
}
