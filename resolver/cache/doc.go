// Package cache is the response cache in front of an upstream
// resolver.Resolver (the forwarder or the recursor). It stores upstream
// replies as immutable wire-form resolver.Answers in a sharded LRU keyed by
// resolver.Question, ages their TTLs on every hit, caches negative answers
// per RFC 2308 and SERVFAIL only briefly, shares one upstream query among
// identical concurrent misses, and optionally serves stale answers when
// upstream fails (RFC 8767) and refreshes popular entries before they
// expire. A hit (Lookup) does not allocate.
//
// Keys are compared byte for byte: callers must canonicalise names
// (lower-case, fully qualified) before they ask, as the server does when it
// builds a Question. Only upstream truth enters the cache: policy decisions,
// rewrites and per-client options never do. The package imports resolver
// for its small types only and knows nothing of the config file.
package cache
