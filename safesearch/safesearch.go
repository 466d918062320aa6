package safesearch

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// Provider names one entry of the table: a search or video service, or a
// group of engines treated alike. Its value is the data file's base name
// and the label in logs and metrics.
type Provider string

// The known providers. Settings has one slot for each, in this order.
const (
	Google      Provider = "google"
	YouTube     Provider = "youtube"
	Bing        Provider = "bing"
	DuckDuckGo  Provider = "duckduckgo"
	Pixabay     Provider = "pixabay"
	Ecosia      Provider = "ecosia"
	Brave       Provider = "brave"
	Yandex      Provider = "yandex"
	Unsupported Provider = "unsupported" // engines with no enforceable safe mode: "safe search forced" blocks them
)

// Providers lists every known provider in Settings order.
func Providers() []Provider {
	return []Provider{Google, YouTube, Bing, DuckDuckGo, Pixabay, Ecosia, Brave, Yandex, Unsupported}
}

const numProviders = 9

// index returns p's slot in Settings, or -1 for an unknown provider.
func (p Provider) index() int {
	switch p {
	case Google:
		return 0
	case YouTube:
		return 1
	case Bing:
		return 2
	case DuckDuckGo:
		return 3
	case Pixabay:
		return 4
	case Ecosia:
		return 5
	case Brave:
		return 6
	case Yandex:
		return 7
	case Unsupported:
		return 8
	}
	return -1
}

// twoLevel reports whether p has distinct strict and moderate targets.
func (p Provider) twoLevel() bool { return p == YouTube }

// Mode is how a group wants one provider enforced.
type Mode uint8

const (
	// Off leaves the provider's names alone.
	Off Mode = iota
	// On enforces the provider's single safe mode (or blocks its names).
	On
	// Strict is YouTube's strict Restricted Mode.
	Strict
	// Moderate is YouTube's moderate Restricted Mode.
	Moderate
)

func (m Mode) String() string {
	switch m {
	case Off:
		return "off"
	case On:
		return "on"
	case Strict:
		return "strict"
	case Moderate:
		return "moderate"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses "off", "on", "strict" or "moderate".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return Off, nil
	case "on":
		return On, nil
	case "strict":
		return Strict, nil
	case "moderate":
		return Moderate, nil
	}
	return Off, fmt.Errorf("parsing safe search mode %q: want off, on, strict or moderate", s)
}

// Settings is one group's switch per provider. The zero value turns
// everything off. It is a small comparable value, meant to be held per
// group in the policy snapshot and passed to Decide by value.
type Settings struct {
	modes [numProviders]Mode
}

// Set sets p's mode. YouTube takes Off, Strict or Moderate (On means
// Strict); every other provider takes Off or On.
func (s *Settings) Set(p Provider, m Mode) error {
	i := p.index()
	if i < 0 {
		return fmt.Errorf("setting safe search: unknown provider %q", p)
	}
	switch {
	case m == Off:
	case p.twoLevel() && m == On:
		m = Strict
	case p.twoLevel() && (m == Strict || m == Moderate):
	case !p.twoLevel() && m == On:
	default:
		if p.twoLevel() {
			return fmt.Errorf("setting safe search for %s: mode %s, want off, strict or moderate", p, m)
		}
		return fmt.Errorf("setting safe search for %s: mode %s, want off or on", p, m)
	}
	s.modes[i] = m
	return nil
}

// Mode returns p's mode (Off for an unknown provider).
func (s Settings) Mode(p Provider) Mode {
	if i := p.index(); i >= 0 {
		return s.modes[i]
	}
	return Off
}

// String lists the providers that are not off, e.g. "google=on youtube=strict",
// or "off" when none is.
func (s Settings) String() string {
	var b strings.Builder
	for _, p := range Providers() {
		if m := s.Mode(p); m != Off {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%s", p, m)
		}
	}
	if b.Len() == 0 {
		return "off"
	}
	return b.String()
}

// Rule is what the table holds for one name.
type Rule struct {
	Provider Provider
	// Target is the safe host to CNAME to in mode On or Strict (canonical,
	// trailing dot). Empty for a block rule.
	Target string
	// ModerateTarget is the target in mode Moderate; only YouTube has one.
	ModerateTarget string
	// Block: the name is refused rather than rewritten.
	Block bool

	slot int // Provider's index in Settings
}

// TargetFor returns the CNAME target for mode m ("" for a block rule).
func (r Rule) TargetFor(m Mode) string {
	if m == Moderate && r.ModerateTarget != "" {
		return r.ModerateTarget
	}
	return r.Target
}

// Action is what Decide tells the resolver to do with a matched name.
type Action uint8

const (
	// Rewrite: answer with a CNAME to Result.Target plus the target's
	// records resolved live.
	Rewrite Action = iota + 1
	// Block: refuse the name in the group's block style ("safe search
	// forced" for engines with no enforceable safe mode).
	Block
)

func (a Action) String() string {
	switch a {
	case Rewrite:
		return "rewritten"
	case Block:
		return "blocked"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Result is a Decide outcome, small and comparable, for the query path and
// the log ("rewritten", provider, mode).
type Result struct {
	Action   Action
	Provider Provider
	Mode     Mode
	// Target is the CNAME target for a Rewrite (canonical, trailing dot).
	Target string
	// Match is the table entry that matched: the query name for an exact
	// entry, or the suffix for a subtree entry (e.g. "yandex.ru.").
	Match string
}

// Table maps query names to rules. It is immutable after Build and safe for
// concurrent use.
type Table struct {
	exact    map[string]int // name -> index in rules
	subtree  map[string]int // apex of a subtree -> index in rules
	rules    []Rule
	defaults Settings
	keys     []entryKey // every entry in file order, for dumps and checks
}

type entryKey struct {
	name    string
	subtree bool
	rule    int
	pos     string // file:line
}

// Lookup finds the rule for name, a canonical (lower-case, fully qualified)
// name. An exact entry for name wins; otherwise the longest subtree entry
// that is name or one of its parents. It does not allocate.
func (t *Table) Lookup(name string) (Rule, bool) {
	i, _, ok := t.find(name)
	if !ok {
		return Rule{}, false
	}
	return t.rules[i], true
}

func (t *Table) find(name string) (int, string, bool) {
	if i, ok := t.exact[name]; ok {
		return i, name, true
	}
	if len(t.subtree) == 0 {
		return 0, "", false
	}
	for off := 0; off < len(name); {
		if i, ok := t.subtree[name[off:]]; ok {
			return i, name[off:], true
		}
		dot := strings.IndexByte(name[off:], '.')
		if dot < 0 {
			break
		}
		off += dot + 1
	}
	return 0, "", false
}

// Decide is the safe-search decision for name under one group's settings:
// a rewrite or a block, or ok false when the name is not in the table or
// its provider is off for the group. It does not allocate.
func (t *Table) Decide(name string, s Settings) (Result, bool) {
	i, match, ok := t.find(name)
	if !ok {
		return Result{}, false
	}
	r := &t.rules[i]
	m := s.modes[r.slot]
	if m == Off {
		return Result{}, false
	}
	if r.Block {
		return Result{Action: Block, Provider: r.Provider, Mode: m, Match: match}, true
	}
	return Result{Action: Rewrite, Provider: r.Provider, Mode: m, Target: r.TargetFor(m), Match: match}, true
}

// Defaults returns the settings the table recommends for a pupil group,
// from each file's @default line: every verified provider on, YouTube
// strict, Yandex and the unsupported engines blocked, and providers whose
// targets are unverified (Ecosia) off. A staff group would typically use
// the zero Settings.
func (t *Table) Defaults() Settings { return t.defaults }

// Len returns the number of entries (names and subtrees) in the table.
func (t *Table) Len() int { return len(t.keys) }

//go:embed data/*.txt
var builtinData embed.FS

// Builtin returns the table built from the embedded data files. The data
// is checked by this package's tests, so a failure here is a build defect
// and panics. Each call builds a fresh Table (a few hundred lines; call it
// once per policy compile, not per query).
func Builtin() *Table {
	sub, err := fs.Sub(builtinData, "data")
	if err != nil {
		panic(fmt.Sprintf("safesearch: embedded data: %v", err))
	}
	t, err := Build(sub)
	if err != nil {
		panic(fmt.Sprintf("safesearch: embedded data: %v", err))
	}
	return t
}
