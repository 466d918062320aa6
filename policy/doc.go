// Package policy holds the compiled, immutable policy that every query is
// decided against: who may query at all, which group a client belongs to,
// and what that group may see.
//
// A Snapshot is built aside (Compile), validated, then published with an
// atomic pointer swap by the reload loop; nothing reachable from a published
// Snapshot is ever written again, so readers never lock. Exactly one
// Snapshot is loaded per query, so no query sees half of a reload.
//
// Decide decides a question; DecideAnswer decides the answer it gets
// (CNAME targets, addresses: answer.go), on every answer including cache
// hits.
//
// policy imports config (raw settings) and the leaf packages (clientmap,
// blocklists, safesearch, geoip); it must not import resolver or anything
// that does DNS I/O. It takes names as strings and types as uint16 so it stays
// independent of the DNS library.
package policy
