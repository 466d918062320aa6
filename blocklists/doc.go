// Package blocklists reads block and allow lists (hosts files, plain
// domain lists, the DNS subset of Adblock syntax, RPZ zone files and
// category-directory databases) and compiles them into one immutable Set
// shared by every group, which answers "is this name listed, by which list,
// and why" without allocating.
//
// It owns list syntax, name canonicalisation, the category registry
// (including the locked IWF and CTIRU categories) and list matching. It
// takes names as strings and must not import resolver or the DNS library.
//
// # Names
//
// Every name is canonical (see Canonical): lower case, fully qualified
// with one trailing dot, Unicode converted to punycode, labels of 1 to 63
// octets from [a-z0-9_-], at most 253 octets.
//
// # Entry semantics
//
// A listed name blocks itself and every name below it (Subtree). Formats
// that say so make other kinds:
//
//	format   syntax                      kind      action
//	hosts    0.0.0.0 name [name...]      Subtree   Block
//	domains  name / .name                Subtree   Block
//	domains  *.name                      Children  Block
//	adblock  ||name^                     Subtree   Block
//	adblock  ||*.name^                   Children  Block
//	adblock  |name^                      Exact     Block
//	adblock  @@||name^ / @@|name^        as above  Allow
//	rpz      name CNAME .                Exact     Block (NXDOMAIN)
//	rpz      *.name CNAME .              Children  Block
//	rpz      name CNAME *.               Exact     NoData
//	rpz      name CNAME rpz-passthru.    Exact     Allow
//	rpz      name CNAME rpz-drop.        Exact     Block
//
// Hosts lines block the whole subtree, as Blocky does and as school
// filtering wants (a hosts file cannot say "and below", and list authors
// rely on DNS filters to do it); Pi-hole and AdGuard Home treat them as
// exact. The address on a hosts line is ignored. Lines that are invalid
// are skipped and reported with source:line; lines that are valid but
// mean something a DNS filter cannot do are skipped and reported as
// unsupported (ErrUnsupported). Neither stops parsing.
package blocklists
