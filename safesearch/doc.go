// Package safesearch owns the table of search and video providers whose
// safe mode a DNS resolver can enforce, and decides, for one query name and
// one group's Settings, whether to rewrite the name to the provider's safe
// host (a CNAME), block it, or leave it alone.
//
// The table is data: one embedded text file per Provider under data/, each
// citing its sources, so a reviewer can check it line by line and a new
// provider is a new file (see Build for the format). Lookups are exact for
// rewritten names (www.google.co.uk, not google.co.uk or
// images.www.google.co.uk) and subtree for the block lists written with a
// leading dot (.yandex.ru also blocks www.yandex.ru).
//
// A Table is immutable after Build and safe for concurrent use; Lookup and
// Decide do not allocate. The package only names targets: the resolver
// answers a rewrite with "name CNAME target" plus the target's records
// resolved live through the normal path (never hard-coded addresses), gives
// AAAA queries the target's AAAA or NODATA and HTTPS/SVCB queries the
// target's records or NODATA, never the original name's, and logs the
// rewrite as its own decision (provider, mode).
//
// safesearch imports nothing from Gatehouse and no DNS library: names are
// canonical strings (lower case, fully qualified, trailing dot).
package safesearch
