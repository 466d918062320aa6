package resolver

import (
	"context"

	"github.com/miekg/dns"
)

// Security is the DNSSEC security status of an answer (RFC 4033 section 5,
// RFC 4035 section 4.3). The validator decides it, the cache stores it with
// the answer, and the query log shows it.
type Security uint8

// Security statuses. The zero value means validation did not run.
const (
	// SecurityUnchecked: nothing validated the data (forwarding without a
	// validator, or the client set CD).
	SecurityUnchecked Security = iota
	// SecuritySecure: every RRset in the answer, and every denial, was
	// proven with a chain of signatures from a trust anchor (AD).
	SecuritySecure
	// SecurityInsecure: a signed parent proves that the data's zone is
	// unsigned, or it uses only algorithms or digests we do not support.
	SecurityInsecure
	// SecurityBogus: the data should be signed and is not, or its
	// signatures or denials fail.
	SecurityBogus
	// SecurityIndeterminate: no trust anchor covers the name, or the
	// question cannot be validated.
	SecurityIndeterminate
)

var securityNames = [...]string{"unchecked", "secure", "insecure", "bogus", "indeterminate"}

// String returns the status in lower case, as metrics labels and the query
// log use it.
func (s Security) String() string {
	if int(s) < len(securityNames) {
		return securityNames[s]
	}
	return "unknown"
}

// SecurityResolver is a Resolver that also says how secure its answer is.
// The cache uses it, when its upstream has it, to store the status with
// the answer.
type SecurityResolver interface {
	Resolver
	ResolveSecurity(ctx context.Context, q Question) (*dns.Msg, Security, error)
}
