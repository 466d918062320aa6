package resolver

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Question is what a query asks, in canonical form. It is the cache key, so
// it holds exactly what makes two questions "the same" to an upstream and
// nothing per client:
//   - Name: lower-case, fully qualified, presentation format ("example.org.").
//   - Type: the query type. The class is always IN: other classes are refused
//     before a Question is built.
//   - DO: the client wants DNSSEC records; a DO answer carries RRSIGs, a
//     non-DO answer must not.
//   - CD: the client disabled validation, so the answer may be unvalidated.
type Question struct {
	Name string
	Type uint16
	DO   bool
	CD   bool
}

// String formats q for logs and errors.
func (q Question) String() string {
	s := q.Name + " " + dns.Type(q.Type).String()
	if q.DO {
		s += " +do"
	}
	if q.CD {
		s += " +cd"
	}
	return s
}

// Msg builds a fresh upstream query for q, with recursion desired and an
// EDNS0 OPT record advertising bufsize. The caller sets the ID.
func (q Question) Msg(bufsize uint16) *dns.Msg {
	m := new(dns.Msg)
	m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: dns.ClassINET}}
	m.RecursionDesired = true
	m.CheckingDisabled = q.CD
	m.SetEdns0(bufsize, q.DO)
	return m
}

// Resolver answers a question from upstream truth: forwarding, recursion, or
// a cache in front of either. The returned message is owned by the caller.
// Implementations must be safe for concurrent use.
type Resolver interface {
	Resolve(ctx context.Context, q Question) (*dns.Msg, error)
}

// Exchanger sends one message to one server and returns its reply. It is the
// network seam: the forwarder and recursor use it, tests replace it.
type Exchanger interface {
	Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)
}

// Errors that the edge maps to SERVFAIL with an Extended DNS Error.
var (
	// ErrNoUpstream means no upstream server could be reached or none gave
	// a usable answer (EDE 22, No Reachable Authority).
	ErrNoUpstream = errors.New("no reachable upstream")
	// ErrNetwork means the network failed while talking to an upstream
	// (EDE 23, Network Error).
	ErrNetwork = errors.New("network error")
)

// ExtendedError is a resolution failure that carries the Extended DNS
// Error (RFC 8914) the client should see with its SERVFAIL: a blown work
// budget, a bogus DNSSEC chain, and so on. Wrap the cause in Err.
type ExtendedError struct {
	Code uint16 // an RFC 8914 info-code, e.g. dns.ExtendedErrorCodeDNSBogus
	Text string // short, for the client; never attacker-controlled bytes unescaped
	Err  error
}

func (e *ExtendedError) Error() string {
	s := dns.ExtendedErrorCodeToString[e.Code]
	if e.Text != "" {
		s += ": " + e.Text
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ExtendedError) Unwrap() error { return e.Err }

// Cached is an answer as the cache hands it out.
type Cached struct {
	Answer *Answer
	// Age is how many seconds ago the answer was stored; every TTL in the
	// reply is reduced by it.
	Age uint32
	// Stale is set when the answer is past its TTL and served only because
	// upstream failed (RFC 8767); the reply then carries StaleTTL.
	Stale bool
	// FromCache is false when this query's own upstream exchange produced it.
	FromCache bool
	// TTLCap, when nonzero, is the most seconds any record in the reply may
	// claim: the cache trusts the answer for less than its records' TTLs
	// (cache.max_ttl, negative_max_ttl), and clients must not trust it for
	// longer than we do.
	TTLCap uint32
}

// AnswerCache is what the server needs from the response cache.
type AnswerCache interface {
	// Lookup returns a fresh cached answer for q. It must not allocate on a
	// hit, and must not retain q.Name, which may point into a reused buffer.
	Lookup(q Question, now time.Time) (Cached, bool)
	// Get answers q through the cache: a fresh entry; else one upstream
	// query shared by every identical concurrent miss; else, when upstream
	// fails, a stale entry if serve-stale allows it.
	Get(ctx context.Context, q Question) (Cached, error)
}

// StaleTTL is the TTL given to stale answers (RFC 8767 section 4 suggests 30 s).
const StaleTTL = 30
