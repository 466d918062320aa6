package querylog

import (
	"fmt"
	"net/netip"
	"time"
)

// Summarizer renders a DNS answer as a short line for the log, for example
// "A 192.0.2.1, A 192.0.2.2", "NXDOMAIN" or "CNAME forcesafesearch.google.com.".
// It is called on the writer goroutine only, never on the query path, so an
// implementation may allocate freely but must be safe to call from another
// goroutine while the query path goes on (an immutable value is ideal).
type Summarizer interface {
	Summary() string
}

// Text is a Summarizer that is already a string. Entries read back from the
// database carry their answer summary as a Text.
type Text string

// Summary returns t.
func (t Text) Summary() string { return string(t) }

// Entry is one query as the log records it. The caller builds it from
// values it already holds: strings are shared, not copied, and Answer is
// summarised later, on the writer goroutine.
type Entry struct {
	// ID is assigned by Enqueue: unique, increasing in enqueue order and
	// time-ordered (the Unix millisecond of Time in the high bits). It is
	// the reference a block page shows and an incident cites.
	ID uint64
	// Time is when the query arrived; Enqueue sets it to now when zero.
	// It is stored in UTC to the nanosecond.
	Time time.Time

	Client   netip.Addr
	MAC      string // hardware address when known, e.g. "aa:bb:cc:dd:ee:ff"
	Hostname string // device name when known, e.g. "Y9-IPAD-12"
	// Pseudonym is set on entries read back after pseudonymisation: the
	// keyed hash that replaced the client address (Client is then zero,
	// and MAC and Hostname hold keyed hashes of their own). Ignored on
	// Enqueue.
	Pseudonym string

	Group      string // the group whose policy applied
	ClientRule string // the rule that placed the client in Group
	// Forwarder is the trusted forwarder whose EDNS options named the
	// client (Client is then the address it gave); invalid when the client
	// asked directly.
	Forwarder netip.Addr

	QName string // query name as resolved, e.g. "www.example.org."
	QType uint16
	Proto Proto

	Decision Decision
	Category string // the category that decided, e.g. "adult", "safesearch", "doh"
	List     string // the list that matched
	Matched  string // the entry of that list that matched, e.g. "*.example.org"

	Rcode  uint16
	Answer Summarizer // may be nil
	Source Source
	DNSSEC DNSSEC

	// Duration is how long answering took.
	Duration time.Duration
}

// Decision is what happened to a query.
type Decision uint8

// Decisions. The zero value means "unknown" on an Entry and "any" in a
// Filter.
const (
	DecisionUnknown Decision = iota
	Allowed                  // resolved normally
	Blocked                  // answered with the group's block response
	Rewritten                // answered with a substitute, e.g. safe search
	Refused                  // not served: access control, rate limit, bad query
	BypassAttempt            // a filter-bypass probe: DoH canary, Private Relay, DoH/VPN endpoint
	Local                    // answered from local data (local zones, overrides)
	Failed                   // resolution failed (SERVFAIL)
	numDecisions
)

var decisionNames = [numDecisions]string{"", "allowed", "blocked", "rewritten", "refused", "bypass-attempt", "local", "failed"}

// String returns the decision's name as the CLI and exports show it.
func (d Decision) String() string {
	if d < numDecisions {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", uint8(d))
}

// ParseDecision is the inverse of Decision.String. It also accepts "bypass".
func ParseDecision(s string) (Decision, error) {
	if s == "bypass" {
		return BypassAttempt, nil
	}
	for d := Allowed; d < numDecisions; d++ {
		if decisionNames[d] == s {
			return d, nil
		}
	}
	return DecisionUnknown, fmt.Errorf("unknown decision %q (want one of allowed, blocked, rewritten, refused, bypass-attempt, local, failed)", s)
}

// Proto is the transport the query came in on.
type Proto uint8

// Transports.
const (
	ProtoUnknown Proto = iota
	UDP
	TCP
	DoT
	DoH
	numProtos
)

var protoNames = [numProtos]string{"", "udp", "tcp", "dot", "doh"}

func (p Proto) String() string {
	if p < numProtos {
		return protoNames[p]
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Source says where the answer came from.
type Source uint8

// Sources.
const (
	SourceUnknown  Source = iota
	SourceCache           // the response cache
	SourceUpstream        // a forwarder or the recursor, for this query
	SourceLocal           // synthesised locally (block, rewrite, local zone)
	numSources
)

var sourceNames = [numSources]string{"", "cache", "upstream", "local"}

func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// DNSSEC is the validation status of the answer.
type DNSSEC uint8

// Validation statuses.
const (
	DNSSECUnknown DNSSEC = iota
	Secure
	Insecure
	Bogus
	numDNSSEC
)

var dnssecNames = [numDNSSEC]string{"", "secure", "insecure", "bogus"}

func (d DNSSEC) String() string {
	if d < numDNSSEC {
		return dnssecNames[d]
	}
	return fmt.Sprintf("dnssec(%d)", uint8(d))
}
