package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// listsSnapshot compiles a site with real list files: IWF (locked), adult,
// social media (blocked for pupils in lessons only), an RPZ, and an allow
// list.
func listsSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	dir := t.TempDir()
	iwf := writeFile(t, dir, "iwf.txt", "abuse.example\n")
	adult := writeFile(t, dir, "adult.hosts", "0.0.0.0 adult.example other.adult.example\n0.0.0.0 allowed.adult.example\n")
	social := writeFile(t, dir, "social.txt", "social.example\n")
	rpz := writeFile(t, dir, "local.rpz", "$ORIGIN rpz.local.\n@ 3600 IN SOA ns.rpz.local. h.rpz.local. 1 3600 600 86400 60\nquiet.example CNAME *.\n")
	allow := writeFile(t, dir, "allow.txt", "allowed.adult.example\nabuse.example\n")
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
lists:
  - {name: iwf-list, category: iwf, path: %s}
  - {name: adult-hosts, category: pornography, path: %s}
  - {name: social, category: social-media, path: %s}
  - {name: local-rpz, category: custom, path: %s, format: rpz}
  - {name: school-allow, category: custom, path: %s, allow: true}
periods:
  - {name: lessons, weekly: ["Mon-Fri 08:40-15:20"], term_time_only: false}
groups:
  - name: pupils
    block: [pornography, custom]
    block_during: [{categories: [social-media], during: [lessons]}]
    allow_lists: [school-allow]
    deny: [extra.example]
  - name: staff
    allow: [adult.example]
  - name: it
    bypass_exempt: true
`, iwf, adult, social, rpz, allow)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Compile(cfg, 1, time.Now(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshot_Decide_lists(t *testing.T) {
	s := listsSnapshot(t)
	// Monday 23 November 2026, London: 10:00 is in lessons, 16:00 is not.
	lesson := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	after := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		group, name string
		at          time.Time
		wantAction  Action
		wantReason  Reason
		wantList    string
		wantMatched string
		wantStyle   Style
		wantTTLCap  uint32
	}{
		{"pupils", "www.abuse.example.", lesson, Block, ReasonLocked, "iwf-list", "abuse.example.", StyleNXDOMAIN, 0},           // 1: locked, even though an allow list names it
		{"staff", "abuse.example.", after, Block, ReasonLocked, "iwf-list", "abuse.example.", StyleNXDOMAIN, 0},                 // locked for every group
		{"pupils", "allowed.adult.example.", after, Allow, ReasonAllowlist, "school-allow", "allowed.adult.example.", 0, 0},     // 4: allow beats block
		{"pupils", "x.other.adult.example.", after, Block, ReasonList, "adult-hosts", "other.adult.example.", StyleNXDOMAIN, 0}, // 5: most specific entry explains
		{"staff", "adult.example.", after, Allow, ReasonAllowlist, "group/staff/allow", "adult.example.", 0, 0},                 // not blocked for staff anyway
		{"pupils", "extra.example.", after, Block, ReasonList, "group/pupils/deny", "extra.example.", StyleNXDOMAIN, 0},
		{"pupils", "quiet.example.", after, Block, ReasonList, "local-rpz", "quiet.example.", StyleNODATA, 0},               // RPZ "CNAME *." answers no data
		{"pupils", "www.social.example.", lesson, Block, ReasonSchedule, "social", "social.example.", StyleNXDOMAIN, 19200}, // until 15:20 (GMT)
		{"pupils", "www.social.example.", after, Pass, ReasonNone, "", "", 0, 60000},                                        // until 08:40 tomorrow
		{"staff", "www.social.example.", lesson, Pass, ReasonNone, "", "", 0, 0},                                            // staff have no timed block
		{"pupils", "www.example.org.", lesson, Pass, ReasonNone, "", "", 0, 0},
		{"pupils", "mozilla.cloudflare-dns.com.", after, Block, ReasonBypass, "builtin/doh-resolvers", "cloudflare-dns.com.", StyleNXDOMAIN, 0}, // public DoH fails closed
		{"it", "dns.google.", after, Pass, ReasonNone, "", "", 0, 0},                                                                            // bypass_exempt
	}
	for _, tt := range tests {
		d := s.Decide(clientmap.Client{Group: tt.group}, tt.name, 1, tt.at)
		if d.Action != tt.wantAction || d.Reason != tt.wantReason || d.List != tt.wantList || d.Matched != tt.wantMatched ||
			d.Style != tt.wantStyle || d.TTLCap != tt.wantTTLCap {
			t.Errorf("Decide(%s, %s, %s) = %+v\nwant action %v reason %v list %q matched %q style %d ttlcap %d",
				tt.group, tt.name, tt.at.Format("15:04"), d, tt.wantAction, tt.wantReason, tt.wantList, tt.wantMatched, tt.wantStyle, tt.wantTTLCap)
		}
	}
	if d := s.Decide(clientmap.Client{Group: "pupils"}, "dns.google.", 1, after); d.Category != "bypass" || d.Reason != ReasonBypass {
		t.Errorf("a DoH resolver decided as %+v, want category bypass with reason bypass (logged as a bypass attempt)", d)
	}
	if n := testing.AllocsPerRun(100, func() { s.Decide(clientmap.Client{Group: "pupils"}, "www.social.example.", 1, lesson) }); n != 0 {
		t.Errorf("Decide with lists and schedules allocates %v times, want 0", n)
	}
}

func TestCompile_reusesUnchangedLists(t *testing.T) {
	dir := t.TempDir()
	adult := writeFile(t, dir, "adult.txt", "adult.example\n")
	social := writeFile(t, dir, "social.txt", "social.example\n")
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
lists:
  - {name: adult, category: pornography, path: %s}
  - {name: social, category: social-media, path: %s}
groups: [{name: pupils, block: [pornography, social-media]}]
`, adult, social)))
	if err != nil {
		t.Fatal(err)
	}
	first, err := Compile(cfg, 1, time.Now(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "social.txt", "social.example\nchat.example\n")
	second, err := Compile(cfg, 2, time.Now(), nil, first, nil)
	if err != nil {
		t.Fatal(err)
	}
	reused := map[string]bool{}
	for _, l := range second.Lists().Lists() {
		reused[l.Name] = l.Reused
	}
	if !reused["adult"] || reused["social"] {
		t.Errorf("Reused = %v, want the unchanged adult list carried over and the changed social list read again", reused)
	}
	if d := second.Decide(clientmap.Client{Group: "pupils"}, "chat.example.", 1, time.Now()); d.Action != Block || d.List != "social" {
		t.Errorf("the changed list's new entry: %+v, want blocked by social", d)
	}
	if d := second.Decide(clientmap.Client{Group: "pupils"}, "adult.example.", 1, time.Now()); d.Action != Block || d.List != "adult" {
		t.Errorf("the reused list's entry: %+v, want blocked by adult", d)
	}

	bad, err := config.Parse("t.yaml", []byte("version: 1\nlists: [{name: gone, category: custom, path: /nonexistent/list.txt}]\ngroups: [{name: a}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(bad, 3, time.Now(), nil, second, nil); err == nil {
		t.Error("a list file that cannot be read compiled")
	}
}
