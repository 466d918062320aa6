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
//
// # Decisions
//
// Set.Match walks the suffixes of a query name from the most specific (the
// name itself) to the least (its top-level domain). Exact entries apply to
// the name itself only, Children entries only to names below theirs,
// Subtree entries to both. A group selects block lists and allow lists
// with two Masks; the lists of locked categories are always selected.
// Allow entries are those of the selected allow lists and the exception
// entries (Adblock "@@", RPZ PASSTHRU) of the selected block lists:
//
//	| row | matching entries                          | result | explained by                 |
//	|-----|-------------------------------------------|--------|------------------------------|
//	| 1   | a locked list blocks some suffix          | Block  | most specific locked entry   |
//	| 2   | otherwise, an allow entry matches         | Allow  | most specific allow entry    |
//	| 3   | otherwise, a selected block list matches  | Block  | most specific block entry    |
//	|     |   ... and that list asked for NODATA      | NoData |                              |
//	| 4   | nothing matches                           | none   |                              |
//
// So allow entries win over block entries at any depth, and nothing wins
// over a locked category. The deciding Match names the list, its
// category, the kind and the matched entry (a suffix of the query name);
// Set.Explain finds every matching entry with its source file and line.
// Adblock's $important is accepted but gives no precedence over allow
// entries.
//
// # Locked categories
//
// IWF and CTIRU are built-in categories that apply to every group and
// every schedule. A list in them cannot be an allow list (ErrLocked);
// exception entries inside them are dropped; Match applies them whatever
// masks it is given, and no allow entry overrides them.
//
// # Address lists
//
// Lists in format cidr (alias ip) hold IPv4 and IPv6 addresses and CIDR
// prefixes, not names: they are compiled into an IPSet (see iplist.go),
// which answer-side policy asks about the addresses in answers. Their
// ListIDs share the space of the name lists, so group masks select both.
// A name Builder refuses them.
//
// # Compilation and reload
//
// A Builder parses each list into sorted 64-bit keys (a keyed hash of the
// name with the kind folded in) without allocating per line, and Build
// merges the lists into one table of about 14.3 bytes per distinct entry
// (see Set). A Builder made from the previous Set carries unchanged lists
// over from that Set's table instead of parsing them again.
package blocklists
