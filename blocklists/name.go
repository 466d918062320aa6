package blocklists

import (
	"errors"
	"fmt"

	"golang.org/x/net/idna"
)

// Limits from RFC 1035: a label is at most 63 octets and a name at most 255
// octets in wire form, which is 253 characters in presentation form without
// the final dot.
const (
	maxLabel = 63
	maxName  = 253
)

// Reasons a name is rejected. They are static so that rejecting a line does
// not allocate; the line itself is reported next to them.
var (
	errEmptyName    = errors.New("empty name")
	errEmptyLabel   = errors.New("empty label")
	errLongLabel    = errors.New("label longer than 63 octets")
	errLongName     = errors.New("name longer than 253 octets")
	errBadChar      = errors.New("character not allowed in a name")
	errNumericTLD   = errors.New("all-numeric top-level label")
	errWildcardHere = errors.New("wildcard '*' is only allowed as the whole first label")
	errIDNA         = errors.New("invalid internationalised name")
	errIPAddress    = fmt.Errorf("%w: IP address, not a name", ErrUnsupported)
)

// idnaProfile converts Unicode names from lists to A-labels (punycode).
//
// It is UTS #46 lookup processing (what browsers do before they query DNS:
// case and width mapping, NFC, non-transitional so "ß" stays distinct) with
// the Bidi rule, but without the STD3 ASCII rules and the hyphen checks:
// names in real lists contain '_' (service labels) and "--" in the third
// and fourth positions (CDN host names), and browsers resolve those too.
// idna.Lookup enforces both, so it would reject names that are queried
// every day. ASCII names never reach this profile: lower-casing is their
// whole mapping, and validate checks them.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// Canonical returns name in the form the package stores and matches: lower
// case, Unicode converted to punycode A-labels, exactly one trailing dot,
// labels of 1 to 63 octets from [a-z0-9_-], at most 253 octets. It is for
// names from outside (configuration, the explain command); the query path
// hands Match names that are already canonical.
func Canonical(name string) (string, error) {
	var buf [maxName + 2]byte
	out, err := appendCanonical(buf[:0], []byte(name))
	if err != nil {
		return "", fmt.Errorf("canonicalising name %q: %w", name, err)
	}
	return string(out), nil
}

// appendCanonical appends the canonical form of b to dst. On error dst is
// returned unchanged in length. It does not allocate for ASCII input with
// enough capacity in dst.
func appendCanonical(dst, b []byte) ([]byte, error) {
	if len(b) > 0 && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return dst, errEmptyName
	}
	start := len(dst)
	for _, c := range b {
		if c >= 0x80 {
			return appendIDNA(dst[:start], b)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if err := validate(dst[start:]); err != nil {
		return dst[:start], err
	}
	return append(dst, '.'), nil
}

// appendIDNA is the slow path for names with non-ASCII bytes.
func appendIDNA(dst, b []byte) ([]byte, error) {
	start := len(dst)
	a, err := idnaProfile.ToASCII(string(b))
	if err != nil || a == "" {
		return dst, errIDNA
	}
	if a[len(a)-1] == '.' {
		a = a[:len(a)-1]
	}
	dst = append(dst, a...)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; 'A' <= c && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	if err := validate(dst[start:]); err != nil {
		return dst[:start], err
	}
	return append(dst, '.'), nil
}

// validate checks a lower-case ASCII name without its trailing dot.
func validate(n []byte) error {
	if len(n) == 0 {
		return errEmptyName
	}
	if len(n) > maxName {
		return errLongName
	}
	label, digits := 0, true
	for _, c := range n {
		switch {
		case c == '.':
			if label == 0 {
				return errEmptyLabel
			}
			label, digits = 0, true
			continue
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z', c == '-', c == '_':
			digits = false
		case c == '*':
			return errWildcardHere
		default:
			return errBadChar
		}
		label++
		if label > maxLabel {
			return errLongLabel
		}
	}
	if label == 0 {
		return errEmptyLabel
	}
	if digits {
		// No top-level domain is all digits (RFC 3696 section 2); such a
		// "name" is nearly always an IPv4 address in a list of names.
		if isIPv4(n) {
			return errIPAddress
		}
		return errNumericTLD
	}
	return nil
}

// isIPv4 reports whether b is a dotted-quad IPv4 address.
func isIPv4(b []byte) bool {
	parts, v, nd := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if nd == 0 || v > 255 {
				return false
			}
			parts, v, nd = parts+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' {
			return false
		}
		v, nd = v*10+int(c-'0'), nd+1
		if nd > 3 {
			return false
		}
	}
	return parts == 4
}
