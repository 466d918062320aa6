// Package recursor resolves questions iteratively, the way a recursive
// resolver does: from the root servers down through referrals to the
// authoritative servers of the zone holding the answer, chasing CNAME and
// DNAME records across zones.
//
// The driver (recursor.go) finds the closest known zone cut, picks a server
// (selection.go: smoothed RTT, timeouts, memory of lame and unresponsive
// servers), sends one query (exchange.go: EDNS0 with fallback, 0x20, question
// checks), and classifies the scrubbed reply (scrub.go: only records inside
// the queried zone's bailiwick survive) as an answer, a referral, a negative
// answer or a lame server, then follows it. Delegations, server addresses
// (glue after scrubbing, and the answers of glueless lookups), what signed
// referrals said about the DS RRset at each cut (for the validator, through
// ReferralDS), names QNAME minimisation found not to be cuts, and server
// statistics live in bounded infrastructure caches with TTLs (infra.go);
// final answers are cached by the cache above, and here only to be reused
// when a CNAME or DNAME chain leads to a name resolved shortly before (as
// a record cache would; the validator checks them again). Concurrent
// resolutions needing the same step or the same name server's addresses
// share one exchange (flight.go). A caller that will validate the answer
// can pass a resolver.ReferralHook in the context: it is told each signed
// zone (a referral carrying DS records) on the way to the answer as the
// referral arrives, to fetch that zone's keys meanwhile. Every Resolve
// call has a work budget (queries, referrals, glueless lookups, CNAMEs,
// time) so a hostile zone cannot make one question cost thousands of
// exchanges. Root hints are built in (hints.go) and primed (RFC 8109).
//
// It imports resolver for its seams (Question, Exchanger, errors) and must
// not import the cache, the validator or the config file's types.
package recursor
