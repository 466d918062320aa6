package geoip

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"gatehouse/internal/addrkey"
)

// Kind is what an Index maps addresses to.
type Kind uint8

// Kinds.
const (
	// Country: ISO 3166-1 alpha-2 codes (see CountryCode), from a Country
	// or City database (the country of the network, else the country it is
	// registered in).
	Country Kind = iota + 1
	// ASN: autonomous system numbers, from an ASN database.
	ASN
)

func (k Kind) String() string {
	switch k {
	case Country:
		return "country"
	case ASN:
		return "asn"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// CountryCode packs a two-letter country code ("RU", "kp") as a value of
// a Country index.
func CountryCode(s string) (uint32, error) {
	if len(s) != 2 {
		return 0, fmt.Errorf("%q is not a two-letter country code", s)
	}
	u := strings.ToUpper(s)
	for i := range 2 {
		if u[i] < 'A' || u[i] > 'Z' {
			return 0, fmt.Errorf("%q is not a two-letter country code", s)
		}
	}
	return uint32(u[0])<<8 | uint32(u[1]), nil
}

// CountryString is the two-letter code a CountryCode value packs.
func CountryString(v uint32) string { return string([]byte{byte(v >> 8), byte(v)}) }

// Info describes a loaded database.
type Info struct {
	Path     string
	Type     string    // the database's own type, e.g. "GeoLite2-Country"
	Built    time.Time // when its publisher built it
	Networks int       // networks walked
	Ranges   int       // address ranges kept (in wanted countries or ASNs)
}

// Index is the part of one database that some group blocks: sorted,
// disjoint address ranges and the country or ASN of each. It is immutable
// and safe for concurrent use.
type Index struct {
	kind  Kind
	info  Info
	size  int64
	mod   time.Time
	want  []uint32
	first []addrkey.Key
	last  []addrkey.Key
	vals  []uint32
}

// Info describes the database the index was built from.
func (ix *Index) Info() Info { return ix.info }

// Kind is what the index maps addresses to.
func (ix *Index) Kind() Kind { return ix.kind }

// Lookup returns the country or ASN of addr when it is one of the wanted
// ones. It does not allocate.
func (ix *Index) Lookup(addr netip.Addr) (uint32, bool) {
	if ix == nil || len(ix.first) == 0 {
		return 0, false
	}
	k := addrkey.Of(addr)
	lo, hi := 0, len(ix.first)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if k.Less(ix.first[mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if i := lo - 1; i >= 0 && !ix.last[i].Less(k) {
		return ix.vals[i], true
	}
	return 0, false
}

type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
}

// Load reads the database at path and keeps the networks whose country
// or ASN is in want (sorted or not; CountryCode values for Country). When
// prev was loaded from the same file (same size and modification time)
// for the same values, prev is returned without reading anything.
//
// Errors name the file. The caller keeps its previous Index on error: a
// database being replaced by a download tool is briefly missing or short.
func Load(kind Kind, path string, want []uint32, prev *Index) (*Index, error) {
	if kind != Country && kind != ASN {
		return nil, fmt.Errorf("geoip %s: unknown kind %v", path, kind)
	}
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geoip %s database: %w", kind, err)
	}
	if prev != nil && prev.kind == kind && prev.info.Path == path && prev.size == fi.Size() &&
		prev.mod.Equal(fi.ModTime()) && slices.Equal(prev.want, want) {
		return prev, nil
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip %s database %s: %w", kind, path, err)
	}
	defer db.Close()
	ix := &Index{kind: kind, size: fi.Size(), mod: fi.ModTime(), want: want, info: Info{
		Path: path, Type: db.Metadata.DatabaseType, Built: db.Metadata.BuildTime(),
	}}
	if !fits(kind, ix.info.Type) {
		return nil, fmt.Errorf("geoip %s database %s: it is a %q database, not a %s one", kind, path, ix.info.Type, kind)
	}
	if len(want) == 0 {
		return ix, nil // nothing blocked by country or ASN: no need to walk it
	}
	decoded := map[uintptr]uint32{} // records are shared by many networks
	type rng struct {
		first, last addrkey.Key
		val         uint32
	}
	var kept []rng
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("geoip %s database %s: %w", kind, path, err)
		}
		ix.info.Networks++
		v, ok := decoded[res.Offset()]
		if !ok {
			if v, err = decode(kind, res); err != nil {
				return nil, fmt.Errorf("geoip %s database %s: network %s: %w", kind, path, res.Prefix(), err)
			}
			decoded[res.Offset()] = v
		}
		if _, found := slices.BinarySearch(want, v); !found {
			continue
		}
		first, last := addrkey.Range(res.Prefix())
		kept = append(kept, rng{first, last, v})
	}
	slices.SortFunc(kept, func(a, b rng) int {
		switch {
		case a.first.Less(b.first):
			return -1
		case b.first.Less(a.first):
			return 1
		}
		return 0
	})
	for _, r := range kept {
		if n := len(ix.first); n > 0 {
			if !ix.last[n-1].Less(r.first) {
				continue // overlaps the range before: databases are disjoint, so a bad file; keep the first
			}
			if ix.vals[n-1] == r.val && ix.last[n-1].Next() == r.first {
				ix.last[n-1] = r.last // adjacent, same value: one range
				continue
			}
		}
		ix.first, ix.last, ix.vals = append(ix.first, r.first), append(ix.last, r.last), append(ix.vals, r.val)
	}
	ix.first, ix.last, ix.vals = slices.Clip(ix.first), slices.Clip(ix.last), slices.Clip(ix.vals)
	ix.info.Ranges = len(ix.first)
	return ix, nil
}

func fits(kind Kind, dbType string) bool {
	t := strings.ToLower(dbType)
	if kind == Country {
		return strings.Contains(t, "country") || strings.Contains(t, "city")
	}
	return strings.Contains(t, "asn") || strings.Contains(t, "isp")
}

func decode(kind Kind, res maxminddb.Result) (uint32, error) {
	if kind == ASN {
		var r asnRecord
		if err := res.Decode(&r); err != nil {
			return 0, err
		}
		return r.Number, nil
	}
	var r countryRecord
	if err := res.Decode(&r); err != nil {
		return 0, err
	}
	code := r.Country.ISOCode
	if code == "" {
		code = r.Registered.ISOCode
	}
	if code == "" {
		return 0, nil // anonymous proxies, satellite providers: no country
	}
	v, err := CountryCode(code)
	if err != nil {
		return 0, nil // not a code anyone can block by: ignored
	}
	return v, nil
}
