// Package clientmap answers "who is asking": it maps a client address to a
// Client (its group and the rule that placed it there).
//
// A client is placed by the first of: a device rule (its address, or the
// MAC from its DHCP lease), a hostname pattern (matched against the
// lease's hostname), the longest subnet containing its address, or the
// default group. DHCP leases come from the school's own DHCP server's lease
// files (ISC dhcpd, dnsmasq, Kea, a Windows Server export), parsed and
// watched by LeaseWatcher.
//
// A Map is immutable and part of the policy snapshot; WithLeases gives a
// new Map when leases change, so a reload or a lease change swaps it whole.
// It imports nothing else from Gatehouse.
package clientmap
