package main

import (
	"gatehouse/geoip"
	"gatehouse/policy"
)

// answerChecksBuilt reports what a new snapshot's answer-side checks were
// built around: GeoIP databases kept from before because the new file did
// not load, skipped lines of address lists (with file:line), and the
// databases in force.
func (s *site) answerChecksBuilt(snap *policy.Snapshot) {
	for _, w := range snap.Warnings() {
		s.log.Warn("answer checks: a database failed to load", "error", w)
	}
	for _, l := range snap.Addresses().Lists() {
		if l.Stats.Invalid+l.Stats.Unsupported == 0 {
			continue
		}
		issues := make([]string, len(l.Issues))
		for i, e := range l.Issues {
			issues[i] = e.Error()
		}
		s.log.Warn("address list lines skipped", "list", l.Name, "entries", l.Entries,
			"invalid", l.Stats.Invalid, "unsupported", l.Stats.Unsupported, "first", issues)
	}
	countries, asns := snap.GeoIP()
	for _, ix := range []*geoip.Index{countries, asns} {
		if ix != nil {
			i := ix.Info()
			s.log.Debug("geoip database", "kind", ix.Kind(), "path", i.Path, "type", i.Type,
				"built", i.Built, "networks", i.Networks, "ranges_kept", i.Ranges)
		}
	}
}
