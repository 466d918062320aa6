// Package override holds temporary policy overrides: "allow youtube.com for
// group year-9 until 14:30", "block gaming for staff-guest today". An
// override names one group and exactly one category or domain, says why and
// who asked, and ends by itself at Until.
//
// Validate checks a Request against the policy in force (the group exists,
// a locked category is never touched, a domain override cannot unblock a
// name a locked list holds). Store keeps overrides durably in the state
// directory, with cancelled and expired ones kept as history for a while.
// The policy package compiles the active ones into each Snapshot; this
// package does no DNS and knows nothing of the resolver.
package override
