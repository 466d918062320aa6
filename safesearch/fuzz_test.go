package safesearch

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the data-file parser: it must never
// panic, and every entry it accepts must be canonical and valid, with
// targets that fit the provider.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"www.google.com -> forcesafesearch.google.com\n",
		"@default strict\nwww.youtube.com -> strict=restrict.youtube.com moderate=restrictmoderate.youtube.com\n",
		".yandex.ru block # comment\n\n",
		"WWW.Bing.COM. -> strict.bing.com.\r\n",
		"@default\n@default on on\n-> ->\nblock\n. block\n.. block\na..b block\n-a.b block\n",
		strings.Repeat("a", 64) + ".com block\n",
		"xn--d1acpjx3f.xn--p1ai block\n",
		"www.youtube.com -> strict= moderate=\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, p := range []Provider{Google, YouTube} {
			pf, errs := parseFile(p, "fuzz.txt", data)
			for _, err := range errs {
				if !strings.HasPrefix(err.Error(), "fuzz.txt:") {
					t.Errorf("error without file:line: %v", err)
				}
			}
			for _, e := range pf.entries {
				checkName(t, e.name)
				if e.rule.Provider != p || e.rule.slot != p.index() {
					t.Errorf("entry %q has provider %s slot %d, want %s", e.name, e.rule.Provider, e.rule.slot, p)
				}
				if e.rule.Block {
					if e.rule.Target != "" || e.rule.ModerateTarget != "" {
						t.Errorf("block entry %q has targets", e.name)
					}
					continue
				}
				checkName(t, e.rule.Target)
				if p.twoLevel() {
					checkName(t, e.rule.ModerateTarget)
				} else if e.rule.ModerateTarget != "" {
					t.Errorf("%s entry %q has a moderate target", p, e.name)
				}
			}
		}
	})
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if !isDomain(name) || !strings.HasSuffix(name, ".") || name != strings.ToLower(name) || len(name) > 254 {
		t.Errorf("accepted %q, which is not a canonical FQDN", name)
	}
	if again, _, err := canonical(name, false); err != nil || again != name {
		t.Errorf("canonical(%q) = %q, %v: not idempotent", name, again, err)
	}
}
