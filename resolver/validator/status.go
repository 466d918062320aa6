package validator

// Status is the DNSSEC security status of an answer (RFC 4033 section 5,
// RFC 4035 section 4.3). It is what the cache stores with an answer and
// what the query log shows.
type Status uint8

// Security statuses. The zero value means validation did not run.
const (
	// Unchecked: the client set CD, so the data went out unvalidated.
	Unchecked Status = iota
	// Secure: every RRset in the answer, and every denial, was proven with
	// a chain of signatures from a trust anchor. The answer carries AD.
	Secure
	// Insecure: a signed parent proves that the data's zone is unsigned
	// (no DS), or the zone uses only algorithms or digests we do not
	// support, or its NSEC3 denial uses opt-out or too many iterations.
	Insecure
	// Bogus: the data should be signed and is not, or its signatures or
	// denials fail. Bogus answers never reach a client that did not set CD.
	Bogus
	// Indeterminate: no trust anchor covers the name, or the question
	// cannot be validated (qtype RRSIG, or an upstream rcode other than
	// NOERROR and NXDOMAIN).
	Indeterminate
)

var statusNames = [...]string{"unchecked", "secure", "insecure", "bogus", "indeterminate"}

// String returns the status in lower case, as metrics labels and the query
// log use it.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

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
