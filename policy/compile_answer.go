package policy

import (
	"errors"
	"fmt"
	"io/fs"

	"gatehouse/blocklists"
	"gatehouse/config"
	"gatehouse/geoip"
)

// isAddressList reports whether l is an address list (format cidr or ip),
// compiled into the IPSet rather than the name Set.
func isAddressList(l config.List) bool {
	f, err := blocklists.ParseFormat(l.Format)
	return err == nil && f == blocklists.Addresses
}

// compileAnswer builds the snapshot-wide inputs of answer-side checks:
// the address lists, the GeoIP indexes of the countries and ASNs some
// group blocks, and the domains exempt from rebinding protection.
//
// Address lists take ListIDs from the top of the space down, clear of the
// name lists (numbered from 0 up), so one group mask selects both.
//
// A GeoIP database that fails to load keeps the previous snapshot's index
// for the same file, with a warning; with none to keep, it is an error.
func compileAnswer(cfg *config.Config, lists *blocklists.Set, prev *Snapshot, store *blocklists.Store) (AnswerOptions, error) {
	var o AnswerOptions
	var used blocklists.Mask
	if lists != nil {
		for _, l := range lists.Lists() {
			used |= blocklists.MaskOf(l.ID)
		}
	}
	next := blocklists.MaxLists - 1
	var specs []blocklists.IPListSpec
	for _, l := range cfg.Lists {
		if !isAddressList(l) {
			continue
		}
		cat, err := blocklists.ParseCategory(l.Category)
		if err != nil {
			return o, fmt.Errorf("list %s: %w", l.Name, err)
		}
		spec := blocklists.IPListSpec{Name: l.Name, Category: cat}
		if l.URL != "" {
			if store == nil {
				continue
			}
			src, err := store.Source(l.Name, blocklists.Addresses)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue // not downloaded yet
			case err != nil:
				spec.Keep = true // a damaged copy: keep what is in force
			default:
				spec.Sources = []blocklists.Source{src}
			}
		} else {
			spec.Sources = []blocklists.Source{blocklists.FileSource(l.Path, blocklists.Addresses)}
		}
		for next >= 0 && used.Has(blocklists.ListID(next)) {
			next--
		}
		if next < 0 {
			return o, fmt.Errorf("too many lists: at most %d, counting address lists and each group's allow and deny entries", blocklists.MaxLists)
		}
		spec.ID = blocklists.ListID(next)
		used |= blocklists.MaskOf(spec.ID)
		specs = append(specs, spec)
	}
	var prevIPs *blocklists.IPSet
	var prevCountries, prevASNs *geoip.Index
	if prev != nil {
		prevIPs, prevCountries, prevASNs = prev.ans.ips, prev.ans.countries, prev.ans.asns
	}
	if len(specs) > 0 {
		ips, err := blocklists.BuildIPSet(specs, prevIPs)
		if err != nil {
			return o, err
		}
		o.Addresses = ips
	}

	var countries, asns []uint32
	for _, g := range cfg.Groups {
		for _, cc := range g.BlockCountries {
			v, err := geoip.CountryCode(cc)
			if err != nil {
				return o, fmt.Errorf("group %s: %w", g.Name, err)
			}
			countries = append(countries, v)
		}
		for _, a := range g.BlockASNs {
			asns = append(asns, uint32(a))
		}
	}
	load := func(kind geoip.Kind, path string, want []uint32, prev *geoip.Index) (*geoip.Index, error) {
		if path == "" {
			return nil, nil
		}
		ix, err := geoip.Load(kind, path, want, prev)
		if err == nil {
			return ix, nil
		}
		if prev == nil || prev.Info().Path != path {
			return nil, err
		}
		o.Warnings = append(o.Warnings, fmt.Sprintf("%v; keeping the copy in force (built %s)", err, prev.Info().Built.Format("2006-01-02")))
		return prev, nil
	}
	var err error
	if o.Countries, err = load(geoip.Country, cfg.GeoIP.CountryDatabase, countries, prevCountries); err != nil {
		return o, err
	}
	if o.ASNs, err = load(geoip.ASN, cfg.GeoIP.ASNDatabase, asns, prevASNs); err != nil {
		return o, err
	}

	for _, c := range cfg.Resolver.Conditional {
		o.Internal = append(o.Internal, c.Domains...)
	}
	o.Internal = append(o.Internal, cfg.Blocking.InternalDomains...)
	return o, nil
}

// addAnswerGroup adds a group's answer-side settings to its options: the
// address lists of the categories it blocks (at all times and in its
// timed blocks, in the order compileGroupLists made them), and its
// country, ASN and rebinding settings.
func addAnswerGroup(o *GroupOptions, ips *blocklists.IPSet, g config.Group) error {
	for _, name := range g.Block {
		c, err := blocklists.ParseCategory(name)
		if err != nil {
			return err
		}
		o.Block |= ips.CategoryMask(c)
	}
	for i, tb := range g.BlockDuring {
		if i >= len(o.Timed) {
			break
		}
		for _, name := range tb.Categories {
			c, err := blocklists.ParseCategory(name)
			if err != nil {
				return err
			}
			o.Timed[i].Mask |= ips.CategoryMask(c)
		}
	}
	o.Answer = GroupAnswerOptions{BlockRebinding: g.BlockRebinding, Countries: g.BlockCountries}
	for _, a := range g.BlockASNs {
		o.Answer.ASNs = append(o.Answer.ASNs, uint32(a))
	}
	return nil
}
