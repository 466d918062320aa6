package config

import (
	"fmt"
	"strings"

	"gatehouse/blocklists"
)

// lists checks the list definitions and returns what groups may refer to:
// each list's name and whether it is an allow list.
func (v *validator) lists(ls []List) map[string]bool {
	names := map[string]bool{}
	seen := map[string]string{}
	for i, l := range ls {
		path := fmt.Sprintf("lists[%d]", i)
		if !validListName(l.Name) {
			v.errorf(path+".name", "%q is not a valid list name: use letters, digits, '-', '_' and '.'", l.Name)
		} else if first, dup := seen[l.Name]; dup {
			v.errorf(path+".name", "list %q is already defined at %s", l.Name, first)
		} else {
			seen[l.Name] = path
			names[l.Name] = l.Allow
		}
		sources := 0
		for _, given := range []string{l.Path, l.Directory, l.URL} {
			if given != "" {
				sources++
			}
		}
		switch {
		case sources != 1:
			v.errorf(path, "give exactly one of path (a list file), url (a list to download) or directory (a category database)")
		case l.URL != "":
			if err := blocklists.CheckURL(l.URL); err != nil {
				v.errorf(path+".url", "%s", err)
			}
			if l.Refresh < blocklists.MinRefreshInterval {
				v.errorf(path+".refresh", "must be at least %s, got %s", FormatDuration(blocklists.MinRefreshInterval), FormatDuration(l.Refresh))
			}
			if c, ok := v.category(path+".category", l.Category, "a downloaded list needs a category"); ok && l.Allow {
				if err := blocklists.CheckOverride(c); err != nil {
					v.errorf(path+".allow", "a list in the locked category %s cannot be an allow list: %s", c, err)
				}
			}
		case l.Path != "":
			if !strings.HasPrefix(l.Path, "/") {
				v.errorf(path+".path", "%q must be an absolute path", l.Path)
			}
			if c, ok := v.category(path+".category", l.Category, "a list file needs a category"); ok && l.Allow {
				if err := blocklists.CheckOverride(c); err != nil {
					v.errorf(path+".allow", "a list in the locked category %s cannot be an allow list: %s", c, err)
				}
			}
		default:
			if !strings.HasPrefix(l.Directory, "/") {
				v.errorf(path+".directory", "%q must be an absolute path", l.Directory)
			}
			if l.Category != "" {
				v.errorf(path+".category", "a directory's categories come from its folders: map them under categories")
			}
			if len(l.Categories) == 0 {
				v.errorf(path+".categories", `map at least one folder to a category, like {folder: adult, category: pornography}`)
			}
			for j, fc := range l.Categories {
				v.category(fmt.Sprintf("%s.categories[%d].category", path, j), fc.Category, "")
			}
		}
		if _, err := blocklists.ParseFormat(l.Format); err != nil {
			v.errorf(path+".format", "%s", err)
		}
	}
	if len(ls) > blocklists.MaxLists/2 {
		v.errorf("lists", "at most %d lists (each group's allow and deny entries need room too)", blocklists.MaxLists/2)
	}
	return names
}

// category checks one category name; missing is the message when it is
// empty ("" means empty is fine to report generically).
func (v *validator) category(path, name, missing string) (blocklists.Category, bool) {
	if name == "" {
		if missing == "" {
			missing = "needs a category"
		}
		v.errorf(path, "%s", missing)
		return 0, false
	}
	c, err := blocklists.ParseCategory(name)
	if err != nil {
		v.errorf(path, "%s", err)
		return 0, false
	}
	return c, true
}

// groupLists checks what each group blocks and allows.
func (v *validator) groupLists(c *Config, lists map[string]bool) {
	periods := map[string]bool{}
	for _, p := range c.Periods {
		periods[p.Name] = true
	}
	for i, g := range c.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		for j, name := range g.Block {
			v.category(fmt.Sprintf("%s.block[%d]", path, j), name, "")
		}
		for j, tb := range g.BlockDuring {
			tp := fmt.Sprintf("%s.block_during[%d]", path, j)
			for k, name := range tb.Categories {
				cp := fmt.Sprintf("%s.categories[%d]", tp, k)
				if cat, ok := v.category(cp, name, ""); ok {
					if err := blocklists.CheckOverride(cat); err != nil {
						v.errorf(cp, "%s is blocked at all times for everyone; it cannot be scheduled", cat)
					}
				}
			}
			for k, p := range tb.During {
				if !periods[p] {
					v.errorf(fmt.Sprintf("%s.during[%d]", tp, k), "%q is not one of the periods", p)
				}
			}
		}
		for j, name := range g.AllowLists {
			allow, ok := lists[name]
			switch {
			case !ok:
				v.errorf(fmt.Sprintf("%s.allow_lists[%d]", path, j), "%q is not one of the lists", name)
			case !allow:
				v.errorf(fmt.Sprintf("%s.allow_lists[%d]", path, j), "%q is a block list; only lists with allow: true can be allow lists", name)
			}
		}
		for _, f := range []struct {
			key   string
			names []string
		}{{"allow", g.Allow}, {"deny", g.Deny}} {
			for j, name := range f.names {
				if _, err := blocklists.Canonical(strings.TrimPrefix(name, "*.")); err != nil {
					v.errorf(fmt.Sprintf("%s.%s[%d]", path, f.key, j), "%q is not a domain name: %s", name, err)
				}
			}
		}
	}
}

func validListName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
