// Package validator is the DNSSEC validator (RFC 4033, 4034, 4035, 5155,
// 6840): a resolver.Resolver that sits between the cache and the recursor,
// asks the recursor for data with DO and CD set, and checks it against a
// chain of trust from the root trust anchors down to the answer, DS by
// DNSKEY by RRSIG. Secure answers leave with AD set, provably insecure ones
// (an unsigned delegation, an unsupported algorithm, NSEC3 opt-out or too
// many NSEC3 iterations) leave as plain answers, and bogus ones become a
// *resolver.ExtendedError wrapping ErrBogus, which the server turns into
// SERVFAIL with an RFC 8914 Extended DNS Error saying why.
//
// Validation needs the right time: signatures carry inception and
// expiration times, checked with Config.ClockSkew of tolerance. A
// Raspberry Pi has no real-time clock, so NTP must be working before the
// validator can answer anything signed; when most answers in a minute fail
// because signatures look expired or not yet valid, the validator logs a
// warning naming the clock and NTP (at most every ten minutes) and counts
// it in gatehouse_validator_clock_warnings_total.
//
// The validator owns the trust anchors, a small cache of validated DNSKEY
// sets and DS results per zone (DS RRsets and proofs of no DS are first
// sought in what the upstream learnt from referrals, through the
// ReferralDS interface the recursor implements, and validated as if
// fetched), the validated NSEC and NSEC3 records of secure zones that answer
// NXDOMAIN and NODATA without asking upstream (RFC 8198, aggressive.go),
// key fetches started while the recursion is still on its way (it reports
// each signed referral through resolver.ReferralHook; the zone's DNSKEY
// RRset is fetched and checked side by side with the next step, and the
// validation waits for that fetch instead of sending its own; prefetch.go),
// and the per-query work limits against
// CVE-2023-50387 (KeyTrap) and CVE-2023-50868 (NSEC3 closest encloser
// hashing). It imports only the resolver package's small types; it must
// not import the cache, the recursor or config.
package validator
