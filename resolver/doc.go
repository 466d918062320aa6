// Package resolver owns the query path: the listeners, the per-query
// pipeline (validate, identify client, decide policy, cache, resolve,
// finish), the wire-form answers the cache stores, and the transport used to
// talk to upstream servers.
//
// It defines the small seams the rest plugs into: Resolver (forwarding,
// recursion, the cache), Exchanger (the network, so tests use a fake one).
// It must not import its own sub-packages (cache, forward, recursor): the
// composition root in cmd/gatehouse wires them together. Nothing here knows
// the config file's key names.
package resolver
