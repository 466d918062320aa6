package safesearch

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxErrors bounds how many line errors Build reports at once.
const maxErrors = 20

// Build reads every *.txt file at the root of fsys, one per Provider (the
// file's base name, e.g. google.txt), and builds a Table. Errors name the
// file and line; Build reports up to 20 of them together.
//
// The format is one entry per line; '#' starts a comment, blank lines are
// ignored, fields are separated by spaces or tabs:
//
//	@default MODE                           mode Defaults gives a pupil group (absent: off)
//	NAME -> TARGET                          rewrite NAME to TARGET
//	NAME -> strict=TARGET moderate=TARGET   YouTube: one target per mode (required there, refused elsewhere)
//	NAME block                              refuse NAME while the provider is on
//
// NAME is a host name matched exactly or, written with a leading dot
// (".yandex.ru"), a subtree: the name and every name below it. TARGET is a
// host name. Both are folded to lower case and made fully qualified; a
// trailing dot is optional. A name may appear once in the whole table, and
// no target may itself be a name in the table (it would loop).
func Build(fsys fs.FS) (*Table, error) {
	files, err := fs.Glob(fsys, "*.txt")
	if err != nil {
		return nil, fmt.Errorf("building safe search table: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("building safe search table: no *.txt files")
	}
	t := &Table{exact: map[string]int{}, subtree: map[string]int{}}
	var errs []error
	seen := map[entryKey]string{} // {name, subtree} -> file:line
	for _, file := range files {
		p := Provider(strings.TrimSuffix(path.Base(file), ".txt"))
		if p.index() < 0 {
			errs = append(errs, fmt.Errorf("%s: unknown provider %q (want one of %v)", file, p, Providers()))
			continue
		}
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", file, err))
			continue
		}
		pf, ferrs := parseFile(p, file, string(data))
		errs = append(errs, ferrs...)
		if err := t.defaults.Set(p, pf.defaultMode); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
		}
		for _, e := range pf.entries {
			k := entryKey{name: e.name, subtree: e.subtree}
			if at, dup := seen[k]; dup {
				errs = append(errs, fmt.Errorf("%s: %s already listed at %s", e.pos, e.display(), at))
				continue
			}
			seen[k] = e.pos
			t.rules = append(t.rules, e.rule)
			i := len(t.rules) - 1
			if e.subtree {
				t.subtree[e.name] = i
			} else {
				t.exact[e.name] = i
			}
			t.keys = append(t.keys, entryKey{name: e.name, subtree: e.subtree, rule: i, pos: e.pos})
		}
	}
	// A target must not be rewritten or blocked itself, or a rewrite would
	// chase its own tail (or block what it just pointed to).
	for _, k := range t.keys {
		r := t.rules[k.rule]
		for _, target := range []string{r.Target, r.ModerateTarget} {
			if target == "" {
				continue
			}
			if _, match, ok := t.find(target); ok {
				errs = append(errs, fmt.Errorf("%s: target %s is itself matched by the table entry %s", k.pos, target, match))
			}
		}
	}
	if len(errs) > maxErrors {
		errs = append(errs[:maxErrors], fmt.Errorf("... and %d more errors", len(errs)-maxErrors))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("building safe search table: %w", err)
	}
	return t, nil
}

// parsedFile is one data file's content.
type parsedFile struct {
	defaultMode Mode
	entries     []parsedEntry
}

type parsedEntry struct {
	name    string // canonical, trailing dot
	subtree bool
	rule    Rule
	pos     string // file:line
}

func (e parsedEntry) display() string {
	if e.subtree {
		return "." + e.name
	}
	return e.name
}

// parseFile parses one provider's file. It never panics; every entry it
// returns has canonical names. Errors carry file:line.
func parseFile(p Provider, file, data string) (parsedFile, []error) {
	var (
		pf         parsedFile
		errs       []error
		sawDefault bool
	)
	slot := p.index()
	for n := 1; data != ""; n++ {
		var line string
		line, data, _ = strings.Cut(data, "\n")
		pos := fmt.Sprintf("%s:%d", file, n)
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "@") {
			if f[0] != "@default" || len(f) != 2 {
				errs = append(errs, fmt.Errorf("%s: unknown directive %q, want \"@default MODE\"", pos, line))
				continue
			}
			if sawDefault {
				errs = append(errs, fmt.Errorf("%s: second @default", pos))
				continue
			}
			m, err := ParseMode(f[1])
			if err == nil {
				var s Settings
				err = s.Set(p, m)
				m = s.Mode(p)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pos, err))
				continue
			}
			pf.defaultMode, sawDefault = m, true
			continue
		}
		name, subtree, err := canonical(f[0], true)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pos, err))
			continue
		}
		rule := Rule{Provider: p, slot: slot}
		switch {
		case len(f) == 2 && f[1] == "block":
			rule.Block = true
		case len(f) == 3 && f[1] == "->" && !p.twoLevel():
			if rule.Target, err = target(f[2]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pos, err))
				continue
			}
		case len(f) == 4 && f[1] == "->" && p.twoLevel():
			strict, okS := strings.CutPrefix(f[2], "strict=")
			moderate, okM := strings.CutPrefix(f[3], "moderate=")
			if !okS || !okM {
				errs = append(errs, fmt.Errorf("%s: want %s -> strict=TARGET moderate=TARGET", pos, f[0]))
				continue
			}
			if rule.Target, err = target(strict); err == nil {
				rule.ModerateTarget, err = target(moderate)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pos, err))
				continue
			}
		case len(f) >= 3 && f[1] == "->" && p.twoLevel():
			errs = append(errs, fmt.Errorf("%s: %s has a target per mode, want %s -> strict=TARGET moderate=TARGET", pos, p, f[0]))
			continue
		case len(f) >= 3 && f[1] == "->":
			errs = append(errs, fmt.Errorf("%s: %s has one safe target, want %s -> TARGET", pos, p, f[0]))
			continue
		default:
			errs = append(errs, fmt.Errorf("%s: cannot parse %q, want NAME -> TARGET or NAME block", pos, strings.TrimSpace(line)))
			continue
		}
		pf.entries = append(pf.entries, parsedEntry{name: name, subtree: subtree, rule: rule, pos: pos})
	}
	return pf, errs
}

func target(s string) (string, error) {
	if strings.HasPrefix(s, ".") {
		return "", fmt.Errorf("target %q: a target is one host, not a subtree", s)
	}
	name, _, err := canonical(s, false)
	if err != nil {
		return "", fmt.Errorf("target: %w", err)
	}
	return name, nil
}

// canonical validates a host name (letters, digits and hyphens; at least two
// labels of 1 to 63 bytes, not starting or ending with a hyphen; at most 253
// bytes) and returns it in lower case with a trailing dot. With
// allowSubtree, a leading dot marks a subtree and is stripped.
func canonical(s string, allowSubtree bool) (name string, subtree bool, err error) {
	orig := s
	if allowSubtree && strings.HasPrefix(s, ".") {
		s, subtree = s[1:], true
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", false, fmt.Errorf("name %q is empty", orig)
	}
	if len(s) > 253 {
		return "", false, fmt.Errorf("name %q is longer than 253 bytes", orig)
	}
	labels := 0
	for label := range strings.SplitSeq(s, ".") {
		labels++
		if len(label) == 0 || len(label) > 63 {
			return "", false, fmt.Errorf("name %q has a label of %d bytes, want 1 to 63", orig, len(label))
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", false, fmt.Errorf("name %q has a label starting or ending with a hyphen", orig)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return "", false, fmt.Errorf("name %q has the byte %q; use letters, digits, hyphens (punycode for IDNs)", orig, c)
			}
		}
	}
	if labels < 2 {
		return "", false, fmt.Errorf("name %q has a single label", orig)
	}
	return strings.ToLower(s) + ".", subtree, nil
}
