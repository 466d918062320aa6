package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/internal/syncbuf"
)

// overrideSite is a config with a locked list, a gaming list the pupils
// block (staff do not), a trusted forwarder at 127.0.0.2, and a state
// directory that outlives one server run.
type overrideSite struct {
	path, state, gaming string
	dns                 string
	http                string
}

func newOverrideSite(t *testing.T) *overrideSite {
	t.Helper()
	up, _ := upstream(t)
	dir := t.TempDir()
	o := &overrideSite{path: filepath.Join(dir, "gatehouse.yaml"), state: filepath.Join(dir, "state"), gaming: filepath.Join(dir, "gaming.txt")}
	iwf := filepath.Join(dir, "iwf.txt")
	for p, text := range map[string]string{iwf: "abuse.example.org\n", o.gaming: "www.example.org\n"} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dnsPort, httpPort := freePort(t), freePort(t)
	o.dns, o.http = fmt.Sprintf("127.0.0.1:%d", dnsPort), fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	cfg := fmt.Sprintf(`version: 1
state_dir: %s
listen:
  dns: ["%s"]
  http: "127.0.0.1:%d"
server:
  udp_sockets: 1
access:
  allow: [127.0.0.0/8]
resolver:
  mode: forward
  timeout: 1s
  upstreams:
    - address: %s
lists:
  - {name: iwf-list, category: iwf, path: %s}
  - {name: games, category: gaming, path: %s}
clients:
  trusted_forwarders: [127.0.0.2]
groups:
  - name: pupils
    block: [gaming]
  - name: staff
    match:
      subnets: [10.9.0.0/16]
      macs: ["aa:bb:cc:dd:ee:ff"]
`, o.state, o.dns, httpPort, up, iwf, o.gaming)
	if err := os.WriteFile(o.path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return o
}

// serve runs the server until the returned stop is called (or the test
// ends).
func (o *overrideSite) serve(t *testing.T) (stop func()) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"gatehouse", "serve", "--config", o.path}, io.Discard, logs) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}
	t.Cleanup(stop)
	waitFor(t, "the server and its control socket", func() bool {
		resp, err := http.Get(o.http + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		_, err = os.Stat(filepath.Join(o.state, controlSocketName))
		return err == nil
	})
	return stop
}

// cli runs a gatehouse command against the site and returns its output.
func (o *overrideSite) cli(args ...string) (string, error) {
	var out bytes.Buffer
	// The flags go after the command words: "override add --config ...".
	i := 0
	for i < len(args) && strings.Contains(" override add list cancel lists reload explain ", " "+args[i]+" ") {
		i++
	}
	full := append([]string{"gatehouse"}, args[:i]...)
	full = append(full, "--config", o.path)
	full = append(full, args[i:]...)
	err := run(context.Background(), full, &out, io.Discard)
	return out.String(), err
}

// answer queries name and returns its A address ("" when blocked) and the
// answer's TTL.
func answer(t *testing.T, addr, name string) (string, uint32) {
	t.Helper()
	r := query(t, "udp", addr, name)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return "", 0
	}
	a, ok := r.Answer[len(r.Answer)-1].(*dns.A)
	if !ok {
		return "", 0
	}
	return a.A.String(), a.Hdr.Ttl
}

var idPattern = regexp.MustCompile(`override ([a-z0-9]{6}):`)

func TestControl_overrideTakesEffectExpiresAndIsCancelled(t *testing.T) {
	o := newOverrideSite(t)
	o.serve(t)
	if a, _ := answer(t, o.dns, "www.example.org."); a != "" {
		t.Fatalf("www.example.org answered %s before any override, want blocked (gaming)", a)
	}

	// A short allow override of the category: in force at once, TTL
	// capped at its end, and gone by itself after it.
	out, err := o.cli("override", "add", "--group", "pupils", "--allow", "--category", "gaming", "--until", "5s", "--reason", "club")
	if err != nil {
		t.Fatalf("override add: %v", err)
	}
	if !idPattern.MatchString(out) {
		t.Fatalf("override add printed %q, want its ID", out)
	}
	a, ttl := answer(t, o.dns, "www.example.org.")
	if a != "192.0.2.80" || ttl > 5 {
		t.Fatalf("during the override: %q TTL %d, want 192.0.2.80 with TTL at most 5 s", a, ttl)
	}
	expl, err := o.cli("explain", "--client", "127.0.0.1", "www.example.org")
	if err != nil || !strings.Contains(expl, "ALLOWED — override rule, category gaming, list override ") || !strings.Contains(expl, "allow category gaming until") {
		t.Errorf("explain during the override (%v):\n%s", err, expl)
	}
	time.Sleep(5 * time.Second) // the override was created with until = now+5s before this
	if a, _ := answer(t, o.dns, "www.example.org."); a != "" {
		t.Fatalf("after the override ended: %s, want blocked again", a)
	}

	// A domain override, cancelled.
	out, err = o.cli("override", "add", "--group", "pupils", "--allow", "--domain", "WWW.Example.org", "--until", "1h", "--reason", "research")
	if err != nil {
		t.Fatal(err)
	}
	id := idPattern.FindStringSubmatch(out)[1]
	if a, _ := answer(t, o.dns, "www.example.org."); a != "192.0.2.80" {
		t.Fatalf("domain override: %q", a)
	}
	list, err := o.cli("override", "list")
	if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "domain www.example.org") || strings.Contains(list, "category gaming") {
		t.Errorf("override list (%v):\n%s", err, list)
	}
	if _, err := o.cli("override", "cancel", id); err != nil {
		t.Fatal(err)
	}
	if a, _ := answer(t, o.dns, "www.example.org."); a != "" {
		t.Fatalf("after cancel: %s, want blocked", a)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	list, err = o.cli("override", "list", "--all")
	if err != nil || !strings.Contains(list, "cancelled by "+me.Username) || !strings.Contains(list, "expired") {
		t.Errorf("override list --all (%v), want the cancelled one by %s and the expired one:\n%s", err, me.Username, list)
	}
	if _, err := o.cli("override", "cancel", id); err == nil || !strings.Contains(err.Error(), "already cancelled") {
		t.Errorf("second cancel: %v", err)
	}
	if _, err := o.cli("override", "cancel", "zzzzzz"); err == nil || !strings.Contains(err.Error(), "no such override") {
		t.Errorf("cancel of an unknown ID: %v", err)
	}

	// A block override for staff (reached through the trusted forwarder),
	// who do not block gaming.
	staff := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("10.9.1.5").To4()}
	if r := askFrom(t, o.dns, "127.0.0.2", staff); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("staff before the block: %s", dns.RcodeToString[r.Rcode])
	}
	if _, err := o.cli("override", "add", "--group", "staff", "--block", "--domain", "example.org", "--until", "today", "--reason", "test"); err != nil {
		t.Fatal(err)
	}
	r := askFrom(t, o.dns, "127.0.0.2", staff)
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("staff after a block override: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if ede := r.IsEdns0(); ede == nil || !strings.Contains(ede.String(), "(override ") {
		t.Errorf("the block does not name the override: %v", r.IsEdns0())
	}
}

func TestControl_lockedAndInvalidRefused(t *testing.T) {
	o := newOverrideSite(t)
	o.serve(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--group", "pupils", "--allow", "--category", "iwf"}, "locked"},
		{[]string{"--group", "pupils", "--block", "--category", "ctiru"}, "locked"},
		{[]string{"--group", "pupils", "--allow", "--domain", "x.abuse.example.org"}, "locked list iwf-list"},
		{[]string{"--group", "year-12", "--allow", "--category", "gaming"}, `no group "year-12"`},
		{[]string{"--group", "pupils", "--allow", "--category", "youtube"}, "unknown category"},
		{[]string{"--group", "pupils", "--allow", "--block", "--category", "gaming"}, "exactly one of --allow and --block"},
		{[]string{"--group", "pupils", "--allow", "--category", "gaming", "--domain", "x.org"}, "exactly one of --category and --domain"},
	} {
		args := append([]string{"override", "add"}, tt.args...)
		args = append(args, "--until", "1h", "--reason", "r")
		if _, err := o.cli(args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
	if _, err := o.cli("override", "add", "--group", "pupils", "--allow", "--category", "gaming", "--until", "8d", "--reason", "r"); err == nil {
		t.Error("an override of more than 7 days was accepted")
	}
	if a, _ := answer(t, o.dns, "abuse.example.org."); a != "" {
		t.Errorf("locked name answered %s", a)
	}
	list, err := o.cli("override", "list", "--all")
	if err != nil || !strings.Contains(list, "(no overrides)") {
		t.Errorf("refused requests left overrides (%v):\n%s", err, list)
	}
}

func TestControl_overrideSurvivesRestart(t *testing.T) {
	o := newOverrideSite(t)
	stop := o.serve(t)
	if _, err := o.cli("override", "add", "--group", "pupils", "--allow", "--domain", "www.example.org", "--until", "1h", "--reason", "trip"); err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := o.cli("override", "list"); err == nil || !strings.Contains(err.Error(), "gatehouse is not running") {
		t.Errorf("with the server stopped: %v, want a clear 'not running'", err)
	}
	o.serve(t)
	if a, _ := answer(t, o.dns, "www.example.org."); a != "192.0.2.80" {
		t.Fatalf("after a restart the override is not in force: %q", a)
	}
}

func TestControl_listsReload(t *testing.T) {
	o := newOverrideSite(t)
	o.serve(t)
	if a, _ := answer(t, o.dns, "www.example.org."); a != "" {
		t.Fatal("not blocked at start")
	}
	if err := os.WriteFile(o.gaming, []byte("games.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The file watcher waits for writes to settle; the command does not.
	out, err := o.cli("lists", "reload")
	if err != nil || !strings.Contains(out, "lists reloaded") {
		t.Fatalf("lists reload: %q, %v", out, err)
	}
	if a, _ := answer(t, o.dns, "www.example.org."); a != "192.0.2.80" {
		t.Fatalf("right after lists reload: %q, want the name unblocked", a)
	}
	cfg, _ := os.ReadFile(o.path)
	if err := os.WriteFile(o.path, bytes.Replace(cfg, []byte("block: [gaming]"), []byte("block: [gamin]"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	// The CLI reads the config to find the server: a broken one is
	// reported as such; with --state-dir the server says it too.
	if _, err := o.cli("lists", "reload"); err == nil || !strings.Contains(err.Error(), `unknown category "gamin"`) {
		t.Errorf("lists reload with a broken config: %v", err)
	}
	_, err = o.cli("lists", "reload", "--state-dir", o.state)
	if err == nil || !strings.Contains(err.Error(), "configuration in force stays") || !strings.Contains(err.Error(), `unknown category "gamin"`) {
		t.Errorf("lists reload --state-dir with a broken config: %v", err)
	}
	if a, _ := answer(t, o.dns, "www.example.org."); a != "192.0.2.80" {
		t.Errorf("after a failed reload: %q, want the policy in force kept", a)
	}
}

func TestControl_notRunning(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"gatehouse", "lists", "reload", "--state-dir", t.TempDir()}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "gatehouse is not running: there is no control socket") {
		t.Errorf("lists reload with no server: %v", err)
	}
}

// TestControl_listsReloadRechecksDownloads: `lists reload` asks for every
// downloaded list again at once (the refresh interval is hours), and a
// changed copy is swapped in.
func TestControl_listsReloadRechecksDownloads(t *testing.T) {
	up, _ := upstream(t)
	var requests atomic.Int64
	var body atomic.Value
	body.Store("www.example.org\n")
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, body.Load().(string))
	}))
	defer lists.Close()
	state := t.TempDir()
	in := start(t, func(d, h int) string {
		return fmt.Sprintf(`version: 1
state_dir: %s
query_log: {enabled: false}
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
access: {allow: [127.0.0.0/8]}
resolver: {mode: forward, upstreams: [{address: %s}]}
lists:
  - {name: gambling-feed, category: gambling, url: "%s/gambling.txt", refresh: 24h}
groups:
  - {name: pupils, block: [gambling]}
`, state, d, h, up, lists.URL)
	})
	waitFor(t, "the downloaded list to block", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeNameError
	})
	before := requests.Load()
	body.Store("bets.example\n")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "lists", "reload", "--config", in.path}, &out, io.Discard); err != nil {
		t.Fatalf("lists reload: %v", err)
	}
	waitFor(t, "the list server to be asked again", func() bool { return requests.Load() > before })
	waitFor(t, "the new copy to be in force", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeSuccess
	})
}

// TestControl_overrideCapsCNAMEAnswers: a name not listed itself, whose
// CNAME target is on a list of a category the group blocks, is blocked; an
// allow override of that category lets it through with TTLs that end with
// the override.
func TestControl_overrideCapsCNAMEAnswers(t *testing.T) {
	z := dnstest.NewZone(t, `
$ORIGIN example.net.
@    3600 IN SOA ns.example.net. host.example.net. 1 7200 3600 1209600 300
play  300 IN CNAME games.example.net.
games 300 IN A   192.0.2.44
`)
	up := dnstest.NewServer(t, z)
	dir := t.TempDir()
	gaming := filepath.Join(dir, "gaming.txt")
	if err := os.WriteFile(gaming, []byte("games.example.net\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := start(t, func(d, h int) string {
		return fmt.Sprintf(`version: 1
state_dir: %s
query_log: {enabled: false}
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
access: {allow: [127.0.0.0/8]}
resolver: {mode: forward, upstreams: [{address: %s}]}
lists:
  - {name: games, category: gaming, path: %s}
groups:
  - {name: pupils, block: [gaming]}
`, filepath.Join(dir, "state"), d, h, up, gaming)
	})
	if r := query(t, "udp", in.dns, "play.example.net."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("play.example.net before the override: %s, want blocked by its CNAME target", dns.RcodeToString[r.Rcode])
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "override", "add", "--config", in.path, "--group", "pupils", "--allow",
		"--category", "gaming", "--until", "2m", "--reason", "club"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	r := query(t, "udp", in.dns, "play.example.net.")
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("play.example.net during the override: %v", r)
	}
	for _, rr := range r.Answer {
		if rr.Header().Ttl > 120 {
			t.Errorf("%s outlives the 2-minute override", rr)
		}
	}
}

// TestControl_listsAccept: a list server whose list really shrank. The
// download is rejected (the old copy keeps filtering), held, and put in
// force by `gatehouse lists accept` without asking the server again.
func TestControl_listsAccept(t *testing.T) {
	up, _ := upstream(t)
	var requests atomic.Int64
	var body atomic.Value
	var big strings.Builder
	for i := range 200 {
		fmt.Fprintf(&big, "bets%d.example\n", i)
	}
	big.WriteString("www.example.org\n")
	body.Store(big.String())
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, body.Load().(string))
	}))
	defer lists.Close()
	state := t.TempDir()
	in := start(t, func(d, h int) string {
		return fmt.Sprintf(`version: 1
state_dir: %s
query_log: {enabled: false}
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
access: {allow: [127.0.0.0/8]}
resolver: {mode: forward, upstreams: [{address: %s}]}
lists:
  - {name: gambling-feed, category: gambling, url: "%s/gambling.txt", refresh: 24h}
groups:
  - {name: pupils, block: [gambling]}
`, state, d, h, up, lists.URL)
	})
	waitFor(t, "the downloaded list to block", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeNameError
	})
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		// urfave/cli reads flags before the arguments only.
		err := run(context.Background(), append([]string{"gatehouse", "lists", args[0], "--config", in.path}, args[1:]...), &out, io.Discard)
		return out.String(), err
	}
	if _, err := cli("accept", "gambling-feed"); err == nil || !strings.Contains(err.Error(), "no rejected download is held") {
		t.Errorf("accept with nothing held: %v", err)
	}
	if _, err := cli("accept"); err == nil || !strings.Contains(err.Error(), "NAME") {
		t.Errorf("accept without a name: %v", err)
	}

	body.Store("casino.example\n")
	before := requests.Load()
	if _, err := cli("reload"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shrunk list to be downloaded", func() bool { return requests.Load() > before })
	var out string
	waitFor(t, "the shrunk download to be held", func() bool {
		var err error
		out, err = cli("accept", "gambling-feed")
		return err == nil
	})
	if !strings.Contains(out, "list gambling-feed: the held download is in force") {
		t.Errorf("accept said %q", out)
	}
	waitFor(t, "the accepted copy to be in force", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeSuccess &&
			query(t, "udp", in.dns, "casino.example.").Rcode == dns.RcodeNameError
	})
	if n := requests.Load(); n != before+1 {
		t.Errorf("%d requests to the list server, want %d: accepting must not download again", n, before+1)
	}
	if _, err := cli("accept", "gambling-feed"); err == nil {
		t.Error("a second accept succeeded with nothing held")
	}
	if _, err := cli("accept", "no-such-list"); err == nil {
		t.Error("accepting an unknown list succeeded")
	}
}
