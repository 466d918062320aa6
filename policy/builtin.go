package policy

import (
	_ "embed"

	"gatehouse/blocklists"
)

// builtinDoHList names the built-in list of public DNS-over-HTTPS and
// DNS-over-TLS resolvers (data/doh-resolvers.txt). Its category is
// bypass, so a hit is logged as a bypass attempt. The slash keeps the name
// apart from configured lists.
const builtinDoHList = "builtin/doh-resolvers"

//go:embed data/doh-resolvers.txt
var dohResolvers []byte

// builtinLists are compiled into every Set, after the configured lists.
func builtinLists() []blocklists.ListSpec {
	return []blocklists.ListSpec{{
		Name:     builtinDoHList,
		Category: blocklists.Bypass,
		Sources:  []blocklists.Source{blocklists.BytesSource(builtinDoHList, dohResolvers, blocklists.Domains)},
	}}
}
