package policy

import (
	"net/netip"
	"testing"
	"time"

	"gatehouse/clientmap"
	"gatehouse/safesearch"
)

func TestSnapshot_Decide(t *testing.T) {
	table := safesearch.Builtin()
	pupils := table.Defaults()
	var staff safesearch.Settings // everything off
	if err := staff.Set(safesearch.YouTube, safesearch.Moderate); err != nil {
		t.Fatal(err)
	}
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Clients: cm, DefaultGroup: "pupils", SafeSearch: table,
		Groups: []GroupOptions{
			{Name: "pupils", Style: StyleNull, SafeSearch: pupils},
			{Name: "staff", Style: StyleBlockPage, SafeSearch: staff, BypassExempt: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		group, name string
		want        Decision
	}{
		// 1. anti-bypass, unless exempt
		{"pupils", "use-application-dns.net.", Decision{Action: Block, Reason: ReasonBypass, Style: StyleNXDOMAIN, Category: "doh-canary", List: "firefox-doh-canary", Matched: "use-application-dns.net."}},
		{"pupils", "x.mask.icloud.com.", Decision{Action: Block, Reason: ReasonBypass, Style: StyleNXDOMAIN, Category: "private-relay", List: "icloud-private-relay", Matched: "mask.icloud.com."}},
		{"pupils", "_dns.resolver.arpa.", Decision{Action: Block, Reason: ReasonBypass, Style: StyleNODATA, Category: "ddr", List: "ddr", Matched: "_dns.resolver.arpa."}},
		{"pupils", "notmask.icloud.com.", Decision{Action: Pass}},
		{"staff", "use-application-dns.net.", Decision{Action: Pass}},
		// 2. safe search, by the group's settings
		{"pupils", "www.google.com.", Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: "google", Matched: "www.google.com.", Target: "forcesafesearch.google.com."}},
		{"pupils", "www.youtube.com.", Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: "youtube", Matched: "www.youtube.com.", Target: "restrict.youtube.com."}},
		{"staff", "www.youtube.com.", Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: "youtube", Matched: "www.youtube.com.", Target: "restrictmoderate.youtube.com."}},
		{"staff", "www.google.com.", Decision{Action: Pass}},
		{"pupils", "mail.yandex.ru.", Decision{Action: Block, Reason: ReasonSafeSearch, Style: StyleNull, Category: "safesearch", List: "yandex", Matched: "yandex.ru."}},
		// 3. otherwise
		{"pupils", "www.example.org.", Decision{Action: Pass}},
		// unknown group: the default group's policy
		{"visitors", "www.google.com.", Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: "google", Matched: "www.google.com.", Target: "forcesafesearch.google.com."}},
	}
	for _, tt := range tests {
		c := clientmap.Client{Group: tt.group}
		if got := s.Decide(c, tt.name, 1, time.Now()); got != tt.want {
			t.Errorf("Decide(%s, %s) =\n%+v\nwant\n%+v", tt.group, tt.name, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.Decide(clientmap.Client{Group: "pupils"}, "www.google.co.uk.", 1, time.Now()) }); n != 0 {
		t.Errorf("Decide allocates %v times, want 0", n)
	}
}
