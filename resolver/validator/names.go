package validator

import (
	"strings"

	"github.com/miekg/dns"
)

// Every name the validator handles is canonical: lower case, fully
// qualified, presentation format (dns.CanonicalName).

// isAncestor reports whether a is name or one of its ancestors.
func isAncestor(a, name string) bool { return dns.IsSubDomain(a, name) }

// isProperAncestor reports whether a is an ancestor of name other than name.
func isProperAncestor(a, name string) bool { return a != name && dns.IsSubDomain(a, name) }

// parent returns name without its first label; the root is its own parent.
func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// labels counts the labels of name, the root having none.
func labels(name string) int { return dns.CountLabel(name) }

// suffix returns the last n labels of name.
func suffix(name string, n int) string {
	drop := labels(name) - n
	off := 0
	for range drop {
		off, _ = dns.NextLabel(name, off)
	}
	if off >= len(name) {
		return "."
	}
	return name[off:]
}

// nextCloser returns the ancestor of name one label longer than ce, which
// must be a proper ancestor of name (RFC 5155 section 1.3).
func nextCloser(name, ce string) string { return suffix(name, labels(ce)+1) }

// between returns the names below top down to and including name, top
// down: between("org.", "a.b.org.") is ["b.org.", "a.b.org."].
func between(top, name string) []string {
	n := labels(name) - labels(top)
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, suffix(name, labels(top)+i))
	}
	return out
}

// commonAncestor returns the longest common ancestor of a and b.
func commonAncestor(a, b string) string {
	n := dns.CompareDomainName(a, b)
	return suffix(a, n)
}

// isWildcard reports whether name's first label is "*".
func isWildcard(name string) bool { return strings.HasPrefix(name, "*.") }

// canonicalCompare orders names canonically (RFC 4034 section 6.1): label
// by label from the root, each label as lower-cased raw bytes.
func canonicalCompare(a, b string) int {
	la, lb := rawLabels(a), rawLabels(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// rawLabels returns name's labels leftmost first, escapes resolved and
// lower-cased.
func rawLabels(name string) []string {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return dns.SplitDomainName(strings.ToLower(name))
	}
	var out []string
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		out = append(out, strings.ToLower(string(buf[off+1:off+1+int(buf[off])])))
	}
	return out
}
