package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"gatehouse/blocklists"
	"gatehouse/config"
	"gatehouse/policy/schedule"
)

// timedBlock is a group's block_during rule, compiled: the lists it adds
// while its periods are (or, with outside, are not) in force.
type timedBlock struct {
	mask    blocklists.Mask
	periods []string
	outside bool
}

// active reports whether t blocks at now.
func (t *timedBlock) active(sched *schedule.Schedule, now time.Time) bool {
	in := false
	for _, p := range t.periods {
		if sched.Active(p, now) {
			in = true
			break
		}
	}
	return in != t.outside
}

// nextEdge is when t's state may next change (zero: never).
func (t *timedBlock) nextEdge(sched *schedule.Schedule, now time.Time) time.Time {
	var edge time.Time
	for _, p := range t.periods {
		if e := sched.NextEdge(p, now); !e.IsZero() && (edge.IsZero() || e.Before(edge)) {
			edge = e
		}
	}
	return edge
}

// groupListName names the lists made of a group's own allow and deny
// entries. The slash keeps them apart from configured list names.
func groupListName(group, kind string) string { return "group/" + group + "/" + kind }

// compileLists builds the Set for cfg: every configured list, plus one
// allow and one deny list per group that has entries. Lists unchanged since
// prev are carried over without parsing. Downloaded lists are read from
// store (their last good copy); one with no copy yet is left out until its
// first download, so Gatehouse starts without network.
func compileLists(cfg *config.Config, prev *blocklists.Set, store *blocklists.Store) (*blocklists.Set, error) {
	b := blocklists.NewBuilder(prev)
	var id blocklists.ListID
	add := func(spec blocklists.ListSpec) error {
		spec.ID = id
		id++
		_, err := b.Add(spec)
		return err
	}
	for _, l := range cfg.Lists {
		if isAddressList(l) {
			continue // compiled into the IPSet (compile_answer.go)
		}
		format, err := blocklists.ParseFormat(l.Format)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", l.Name, err)
		}
		if l.URL != "" {
			cat, err := blocklists.ParseCategory(l.Category)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
			if store == nil {
				continue
			}
			spec := blocklists.ListSpec{Name: l.Name, Category: cat, Allow: l.Allow}
			src, err := store.Source(l.Name, format)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				continue // not downloaded yet
			case err != nil:
				// A damaged copy: keep what the snapshot in force has.
				if prev != nil && prev.ListMask(l.Name) != 0 {
					spec.ID = id
					id++
					if _, err := b.Keep(spec); err != nil {
						return nil, fmt.Errorf("list %s: %w", l.Name, err)
					}
				}
				continue
			}
			spec.Sources = []blocklists.Source{src}
			if err := add(spec); err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
			continue
		}
		if l.Path != "" {
			cat, err := blocklists.ParseCategory(l.Category)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
			if err := add(blocklists.ListSpec{Name: l.Name, Category: cat, Allow: l.Allow,
				Sources: []blocklists.Source{blocklists.FileSource(l.Path, format)}}); err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
			continue
		}
		folders, _, err := blocklists.ReadCategoryDir(l.Directory)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", l.Name, err)
		}
		mapped := map[string]string{}
		for _, fc := range l.Categories {
			mapped[fc.Folder] = fc.Category
		}
		for _, f := range folders {
			name, ok := mapped[f.Name]
			if !ok {
				continue // a folder the school did not map is not used
			}
			cat, err := blocklists.ParseCategory(name)
			if err != nil {
				return nil, fmt.Errorf("list %s: folder %s: %w", l.Name, f.Name, err)
			}
			if err := add(blocklists.ListSpec{Name: l.Name + "/" + f.Name, Category: cat, Allow: l.Allow,
				Sources: []blocklists.Source{f.Source}}); err != nil {
				return nil, fmt.Errorf("list %s: %w", l.Name, err)
			}
		}
	}
	for _, spec := range builtinLists() {
		if err := add(spec); err != nil {
			return nil, fmt.Errorf("built-in list %s: %w", spec.Name, err)
		}
	}
	for _, g := range cfg.Groups {
		for _, extra := range []struct {
			kind  string
			names []string
			allow bool
		}{{"allow", g.Allow, true}, {"deny", g.Deny, false}} {
			if len(extra.names) == 0 {
				continue
			}
			if int(id) >= blocklists.MaxLists {
				return nil, fmt.Errorf("too many lists: at most %d, counting each group's allow and deny entries", blocklists.MaxLists)
			}
			text := []byte(strings.Join(extra.names, "\n"))
			name := groupListName(g.Name, extra.kind)
			if err := add(blocklists.ListSpec{Name: name, Category: blocklists.Custom, Allow: extra.allow,
				Sources: []blocklists.Source{blocklists.BytesSource(name, text, blocklists.Domains)}}); err != nil {
				return nil, fmt.Errorf("group %s %s: %w", g.Name, extra.kind, err)
			}
		}
	}
	return b.Build()
}

// compileGroupLists turns a group's block, block_during and allow settings
// into masks over set.
func compileGroupLists(set *blocklists.Set, g config.Group) (GroupOptions, error) {
	var o GroupOptions
	for _, name := range g.Block {
		c, err := blocklists.ParseCategory(name)
		if err != nil {
			return o, err
		}
		o.Block |= set.CategoryMask(c)
	}
	o.Block |= set.ListMask(groupListName(g.Name, "deny"))
	if !g.BypassExempt {
		// Anti-bypass: public encrypted resolvers fail closed.
		o.Block |= set.ListMask(builtinDoHList)
	}
	for _, name := range g.AllowLists {
		o.Allow |= set.ListMask(name)
	}
	o.Allow |= set.ListMask(groupListName(g.Name, "allow"))
	for _, tb := range g.BlockDuring {
		var m blocklists.Mask
		for _, name := range tb.Categories {
			c, err := blocklists.ParseCategory(name)
			if err != nil {
				return o, err
			}
			m |= set.CategoryMask(c)
		}
		o.Timed = append(o.Timed, TimedOptions{Mask: m, Periods: tb.During, Outside: tb.Outside})
	}
	return o, nil
}
