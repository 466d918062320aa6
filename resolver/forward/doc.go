// Package forward resolves questions by forwarding them to configured
// upstream resolvers: default upstreams, and conditional rules that send a
// domain (such as a school's internal zone) to its own servers.
//
// The Forwarder chooses among upstreams by passive health: each upstream has
// a smoothed round-trip time and a count of consecutive failures; the fastest
// healthy one is tried first, failing ones are skipped for a growing backoff
// and then probed, and a query fails over to the next upstream on timeouts,
// network errors, SERVFAIL and REFUSED.
//
// It imports resolver only for its small types (Question, Resolver, the
// Transport) and knows nothing of the config file's key names.
package forward
