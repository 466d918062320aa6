// Package clientmap answers "who is asking": it maps a client address to a
// Client (its group and the rule that placed it there).
//
// A Map is immutable once built and is part of the policy snapshot, so a
// reload swaps it whole. Today it knows only the default group; subnets,
// DHCP leases, MAC and hostname rules plug in behind Lookup without the
// query path changing. It imports nothing else from Gatehouse.
package clientmap
