package validator

import "gatehouse/resolver"

// Status is the DNSSEC security status of an answer; it is defined in
// resolver (as Security) so the cache and the query log can carry it
// without importing the validator.
type Status = resolver.Security

// Security statuses, as the validator names them.
const (
	// Unchecked: the client set CD, so the data went out unvalidated.
	Unchecked = resolver.SecurityUnchecked
	// Secure: every RRset in the answer, and every denial, was proven with
	// a chain of signatures from a trust anchor. The answer carries AD.
	Secure = resolver.SecuritySecure
	// Insecure: a signed parent proves that the data's zone is unsigned
	// (no DS), or the zone uses only algorithms or digests we do not
	// support, or its NSEC3 denial uses opt-out or too many iterations.
	Insecure = resolver.SecurityInsecure
	// Bogus: the data should be signed and is not, or its signatures or
	// denials fail. Bogus answers never reach a client that did not set CD.
	Bogus = resolver.SecurityBogus
	// Indeterminate: no trust anchor covers the name, or the question
	// cannot be validated (qtype RRSIG, or an upstream rcode other than
	// NOERROR and NXDOMAIN).
	Indeterminate = resolver.SecurityIndeterminate
)

// worse combines the statuses of two parts of one answer: bogus wins, then
// indeterminate, then insecure; only all-secure is secure.
func worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case Bogus:
			return 4
		case Indeterminate:
			return 3
		case Insecure:
			return 2
		case Secure:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
