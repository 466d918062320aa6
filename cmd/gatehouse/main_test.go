package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/internal/dnstest"
	"gatehouse/internal/syncbuf"
	"gatehouse/querylog"
)

// TestMain points the default state directory at a temporary one, so no
// test writes a query log into the home directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-test-state")
	if err != nil {
		panic(err)
	}
	os.Setenv("STATE_DIRECTORY", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort finds a loopback port free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// upstream is a loopback authoritative server for example.org that counts
// the queries it answers.
func upstream(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	z := dnstest.NewZone(t, `
$ORIGIN example.org.
@    3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300
@    3600 IN NS  ns.example.org.
ns   3600 IN A   127.0.0.1
www   300 IN A   192.0.2.80
`)
	// The safe-search targets live in their own zone.
	google := dnstest.NewZone(t, `
$ORIGIN google.com.
@                 3600 IN SOA ns.google.com. host.google.com. 1 7200 3600 1209600 300
forcesafesearch    300 IN A   192.0.2.99
`)
	var n atomic.Int64
	addr := dnstest.NewServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		n.Add(1)
		if len(r.Question) == 1 && dns.IsSubDomain("google.com.", dns.CanonicalName(r.Question[0].Name)) {
			google.ServeDNS(w, r)
			return
		}
		z.ServeDNS(w, r)
	}))
	return addr, &n
}

type instance struct {
	dns, http string
	path      string
	logs      *syncbuf.Buffer
	done      chan error
}

func siteConfig(dnsPort, httpPort int, up netip.AddrPort, allow string) string {
	return fmt.Sprintf(`version: 1
state_dir: %s
log:
  level: debug
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
server:
  udp_sockets: 2
access:
  allow: [%s]
resolver:
  mode: forward
  timeout: 1s
  upstreams:
    - address: %s
groups:
  - name: pupils
`, stateDirFor(dnsPort), dnsPort, httpPort, allow, up)
}

// stateDirFor gives each test instance (known by its port) its own state
// directory under the package's temporary one.
func stateDirFor(port int) string {
	return filepath.Join(os.Getenv("STATE_DIRECTORY"), fmt.Sprint(port))
}

// start runs `gatehouse serve` with cfg until the test ends.
func start(t *testing.T, cfg func(dnsPort, httpPort int) string) *instance {
	t.Helper()
	dnsPort, httpPort := freePort(t), freePort(t)
	in := &instance{
		dns:  fmt.Sprintf("127.0.0.1:%d", dnsPort),
		http: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		path: filepath.Join(t.TempDir(), "gatehouse.yaml"),
		logs: &syncbuf.Buffer{},
		done: make(chan error, 1),
	}
	if err := os.WriteFile(in.path, []byte(cfg(dnsPort, httpPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { in.done <- run(ctx, []string{"gatehouse", "serve", "--config", in.path}, io.Discard, in.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("logs:\n%s", in.logs.String())
		}
	})
	waitFor(t, "the server to answer", func() bool {
		resp, err := http.Get(in.http + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return in
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func query(t *testing.T, network, addr, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false)
	r, _, err := (&dns.Client{Net: network, Timeout: 3 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return r
}

func metrics(t *testing.T, in *instance) string {
	t.Helper()
	resp, err := http.Get(in.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func metricValue(t *testing.T, in *instance, series string) string {
	t.Helper()
	for _, line := range strings.Split(metrics(t, in), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

func TestServe_resolvesCachesAndCounts(t *testing.T) {
	up, n := upstream(t)
	in := start(t, func(d, h int) string { return siteConfig(d, h, up, "127.0.0.0/8") })
	for _, network := range []string{"udp", "tcp", "udp"} {
		r := query(t, network, in.dns, "WWW.example.org.")
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.80" {
			t.Fatalf("%s: %v", network, r)
		}
	}
	if n.Load() != 1 {
		t.Errorf("upstream saw %d queries, want 1 (the rest from cache)", n.Load())
	}
	r := query(t, "udp", in.dns, "nope.example.org.")
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("nope.example.org: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if got := metricValue(t, in, `gatehouse_server_queries_total{proto="tcp",type="A"}`); got != "1" {
		t.Errorf("tcp A queries = %q, want 1", got)
	}
	if got := metricValue(t, in, `gatehouse_cache_hits_total`); got != "2" {
		t.Errorf("cache hits = %q, want 2", got)
	}
	if got := metricValue(t, in, `gatehouse_server_responses_total{rcode="NXDOMAIN"}`); got != "1" {
		t.Errorf("NXDOMAIN responses = %q, want 1", got)
	}
}

func TestServe_reloadsOnFileChangeAndKeepsGoodConfig(t *testing.T) {
	up, _ := upstream(t)
	var dnsPort, httpPort int
	in := start(t, func(d, h int) string { dnsPort, httpPort = d, h; return siteConfig(d, h, up, "127.0.0.0/8") })
	write := func(s string) {
		// Write aside and rename over, as editors and config tools do.
		tmp := in.path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, in.path); err != nil {
			t.Fatal(err)
		}
	}
	write(siteConfig(dnsPort, httpPort, up, "10.0.0.0/8"))
	waitFor(t, "REFUSED after narrowing access", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeRefused
	})
	// The policy is swapped in a moment before the generation metric is
	// set, so wait for it rather than read it once.
	waitFor(t, "generation 2", func() bool { return metricValue(t, in, "gatehouse_config_generation") == "2" })

	write("version: 1\nresolver:\n  mode: forwrd\n") // broken: must not replace the config in force
	waitFor(t, "the failed reload to be counted", func() bool {
		return metricValue(t, in, `gatehouse_config_reloads_total{result="failure"}`) == "1"
	})
	if r := query(t, "udp", in.dns, "www.example.org."); r.Rcode != dns.RcodeRefused {
		t.Errorf("after a bad config: %s, want the previous config's REFUSED", dns.RcodeToString[r.Rcode])
	}
	if !strings.Contains(in.logs.String(), in.path+":3:9") {
		t.Errorf("logs do not name file:line:col of the bad value:\n%s", in.logs.String())
	}

	write(siteConfig(dnsPort, httpPort, up, "127.0.0.0/8"))
	waitFor(t, "answers after restoring access", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeSuccess
	})
}

func TestServe_sighupReloadsAndNoQueryFails(t *testing.T) {
	up, _ := upstream(t)
	in := start(t, func(d, h int) string { return siteConfig(d, h, up, "127.0.0.0/8") })

	stop := make(chan struct{})
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("www.example.org.", dns.TypeA)
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				r, _, err := c.Exchange(m, in.dns)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					failed.Add(1)
				}
			}
		}()
	}
	for gen := 2; gen <= 6; gen++ {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("generation %d", gen), func() bool {
			return metricValue(t, in, "gatehouse_config_generation") == fmt.Sprint(gen)
		})
	}
	close(stop)
	wg.Wait()
	if sent.Load() == 0 || failed.Load() != 0 {
		t.Errorf("%d of %d queries failed across 5 reloads, want none", failed.Load(), sent.Load())
	}
}

func TestServe_rejectsBadConfigAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("version: 1\nlisten:\n  dsn: [\"127.0.0.1:53\"]\ngroups: [{name: a}]\n"), 0o644)
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"gatehouse", "serve", "--config", path}, io.Discard, &stderr)
	if !errors.Is(err, errReported) {
		t.Fatalf("serve = %v, want errReported", err)
	}
	if !strings.Contains(stderr.String(), path+":3:3:") {
		t.Errorf("stderr = %q, want the unknown key's file:line:col", stderr.String())
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("version: 1\ngroups: [{name: staff}]\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.53}]\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "check-config", "--config", good}, &stdout, &stderr); err != nil {
		t.Fatalf("check-config good: %v (%s)", err, stderr.String())
	}
	if _, err := config.Parse("normalised", stdout.Bytes()); err != nil {
		t.Errorf("normalised output does not parse: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "192.0.2.53:53") {
		t.Errorf("normalised output lacks the defaulted port:\n%s", stdout.String())
	}

	stdout.Reset()
	if err := run(context.Background(), []string{"gatehouse", "check-config", "--quiet", "--config", good}, &stdout, &stderr); err != nil || stdout.Len() != 0 {
		t.Errorf("check-config --quiet good: %v, printed %q", err, stdout.String())
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\ncache:\n  size: -5\n  max_ttl: soon\ngroups: [{name: staff}]\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.53}]\n"), 0o644)
	stdout.Reset()
	stderr.Reset()
	err := run(context.Background(), []string{"gatehouse", "check-config", "--quiet", "--config", bad}, &stdout, &stderr)
	if !errors.Is(err, errReported) {
		t.Fatalf("check-config bad = %v, want errReported", err)
	}
	for _, want := range []string{bad + ":3:9:", bad + ":4:12:"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestCheckConfig_packagedExample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "check-config", "--config", "../../packaging/gatehouse.yaml"}, &stdout, &stderr); err != nil {
		t.Fatalf("packaging/gatehouse.yaml: %v\n%s", err, stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "version"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "gatehouse ") {
		t.Errorf("version = %q", stdout.String())
	}
}

// TestVersion_buildInfo checks what the release build embeds with
// -ldflags "-X main.version=... -X main.commit=... -X main.date=..."
// (packaging/build.sh) is what `gatehouse version` prints.
func TestVersion_buildInfo(t *testing.T) {
	saved := [3]string{version, commit, date}
	t.Cleanup(func() { version, commit, date = saved[0], saved[1], saved[2] })
	version, commit, date = "1.2.3~git20261123", "0123456789abcdef0123456789abcdef01234567", "2026-11-23T00:00:56Z"

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "version"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := "gatehouse 1.2.3~git20261123 commit 0123456789abcdef0123456789abcdef01234567 built 2026-11-23T00:00:56Z " +
		runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if got := stdout.String(); got != want {
		t.Errorf("version =\n%q, want\n%q", got, want)
	}
}

// TestManPage checks the packaged manual page (gatehouse man) is roff for
// section 1 and documents the commands a technician uses.
func TestManPage(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "man"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	page := stdout.String()
	if !strings.Contains(page, ".TH gatehouse 1") {
		t.Errorf("no section 1 title line in:\n%.200s", page)
	}
	for _, cmd := range []string{"serve", "check-config", "logs", "report", "explain", "version"} {
		if !strings.Contains(page, ".SH "+cmd+"\n") {
			t.Errorf("manual page has no section for %s", cmd)
		}
	}
	if strings.Contains(page, ".SH man\n") {
		t.Error("the hidden man command is in the manual page")
	}
}

func TestMetricsLint(t *testing.T) {
	s, err := newSite("", config.Default(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

func TestServe_leaseChangeMovesDeviceToItsGroup(t *testing.T) {
	up, _ := upstream(t)
	leaseFile := filepath.Join(t.TempDir(), "dnsmasq.leases")
	// dnsmasq format: expiry MAC IP hostname client-id.
	write := func(host string) {
		line := fmt.Sprintf("%d aa:bb:cc:00:00:09 10.20.3.4 %s *\n", time.Now().Add(time.Hour).Unix(), host)
		tmp := leaseFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, leaseFile); err != nil {
			t.Fatal(err)
		}
	}
	write("Y9-IPAD-12")
	dnsPort, httpPort := freePort(t), freePort(t)
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
resolver: {mode: forward, upstreams: [{address: %s}]}
clients:
  leases: [{path: %s, format: dnsmasq}]
groups:
  - name: pupils
    match: {hostnames: ["Y*-*"], subnets: [10.20.0.0/16]}
  - name: staff
    match: {hostnames: ["STAFF-*"]}
default_group: pupils
`, dnsPort, httpPort, up, leaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSite("", cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	device := netip.MustParseAddr("10.20.3.4")
	group := func() clientmap.Client { return s.server.Policy().Identify(device, time.Now()) }
	if c := group(); c.Group != "pupils" || c.Hostname != "Y9-IPAD-12" || c.Rule != "hostname Y*-*" {
		t.Fatalf("at start: %+v, want pupils by hostname from the lease", c)
	}
	write("STAFF-LAPTOP-3") // the school's DHCP server hands the address to a staff laptop
	waitFor(t, "the device to move to staff", func() bool { return group().Group == "staff" })
	if c := group(); c.MAC.String() != "aa:bb:cc:00:00:09" || c.Rule != "hostname STAFF-*" {
		t.Errorf("after the lease change: %+v", c)
	}
}

func TestServe_queriesReachTheQueryLog(t *testing.T) {
	up, _ := upstream(t)
	var dnsPort int
	in := start(t, func(d, h int) string { dnsPort = d; return siteConfig(d, h, up, "127.0.0.0/8") })
	query(t, "udp", in.dns, "www.example.org.")
	query(t, "tcp", in.dns, "nope.example.org.")

	// The CLI reads the same database read-only while the server writes.
	db, err := querylog.OpenReadOnly(filepath.Join(stateDirFor(dnsPort), "querylog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var page querylog.Page
	waitFor(t, "both queries in the log", func() bool {
		page, err = db.Search(context.Background(), querylog.Filter{Client: "127.0.0.1", Domain: "*.example.org"})
		return err == nil && len(page.Entries) == 2
	})
	newest, oldest := page.Entries[0], page.Entries[1]
	if newest.QName != "nope.example.org." || newest.Rcode != dns.RcodeNameError || newest.Proto != querylog.TCP || newest.Group != "pupils" {
		t.Errorf("newest entry = %+v", newest)
	}
	if oldest.QName != "www.example.org." || oldest.Answer.Summary() != "A 192.0.2.80" || oldest.Decision != querylog.Allowed {
		t.Errorf("oldest entry = %+v", oldest)
	}
}

func TestLogsCLI_searchExportTailReport(t *testing.T) {
	up, _ := upstream(t)
	in := start(t, func(d, h int) string { return siteConfig(d, h, up, "127.0.0.0/8") })
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"gatehouse"}, append(args, "--config", in.path)...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	query(t, "udp", in.dns, "www.example.org.")
	query(t, "udp", in.dns, "mask.icloud.com.")                       // a bypass attempt
	query(t, "udp", in.dns, "www.google.com.")                        // rewritten to forcesafesearch
	query(t, "udp", in.dns, "evil\\010\\027[2J<script>.example.org.") // control bytes and markup in a name
	var out string
	waitFor(t, "four entries", func() bool {
		out, _ = cli("logs", "search", "--client", "127.0.0.1", "--since", "1h")
		return strings.Contains(out, "4 entries")
	})
	for _, want := range []string{"www.example.org.", "bypass-attempt", "private-relay/icloud-private-relay mask.icloud.com.", "rewritten", "safesearch/google", "pupils"} {
		if !strings.Contains(out, want) {
			t.Errorf("search output lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x08\x17\x1b") {
		t.Errorf("search output passes control bytes from a query name to the terminal:\n%q", out)
	}
	out, err := cli("logs", "search", "--decision", "blocked", "--format", "csv")
	if err != nil || strings.Contains(out, "www.example.org") {
		t.Errorf("csv of blocked: %v\n%s", err, out)
	}
	out, err = cli("logs", "search", "--domain", "*.example.org", "--from", "00:00", "--format", "jsonl")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("jsonl for *.example.org since midnight: %v, want 2 lines:\n%s", err, out)
	}
	if _, err := cli("logs", "search", "--decision", "nonsense"); err == nil {
		t.Error("an unknown decision was accepted")
	}
	// The reference a block page shows finds its entry, however it is typed.
	out, _ = cli("logs", "search", "--domain", "mask.icloud.com", "--format", "jsonl")
	var rec querylog.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.Ref != querylog.Ref(rec.ID) {
		t.Fatalf("jsonl entry %q: %v, want its ref", out, err)
	}
	out, err = cli("logs", "search", "--ref", strings.ToLower(strings.ReplaceAll(rec.Ref, "-", " ")))
	if err != nil || !strings.Contains(out, "1 entries") || !strings.Contains(out, "mask.icloud.com.") || !strings.Contains(out, rec.Ref) {
		t.Errorf("search --ref %s: %v\n%s", rec.Ref, err, out)
	}
	if _, err := cli("logs", "search", "--ref", "www.example.org"); err == nil || !strings.Contains(err.Error(), "--ref") {
		t.Errorf("a bad --ref: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var tailOut syncbuf.Buffer
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- run(ctx, []string{"gatehouse", "logs", "tail", "--config", in.path, "--domain", "*.example.org"}, &tailOut, io.Discard)
	}()
	time.Sleep(700 * time.Millisecond) // let tail find the newest entry before the next query
	query(t, "udp", in.dns, "nope.example.org.")
	waitFor(t, "tail to show the new query", func() bool { return strings.Contains(tailOut.String(), "nope.example.org.") })
	cancel()
	if err := <-tailDone; err != nil {
		t.Errorf("tail: %v", err)
	}
	if strings.Contains(tailOut.String(), "www.example.org.") {
		t.Errorf("tail repeated an old entry:\n%s", tailOut.String())
	}

	out, err = cli("report", "--period", "day")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Queries           5", "bypass-attempt  1", "rewritten       1", "127.0.0.1      private-relay  1", "safesearch  1"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if out, err = cli("report", "--period", "day", "--format", "csv"); err != nil || !strings.Contains(out, "pupils") {
		t.Errorf("csv report: %v\n%s", err, out)
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	leaseFile := filepath.Join(dir, "dnsmasq.leases")
	os.WriteFile(leaseFile, []byte(fmt.Sprintf("%d aa:bb:cc:00:00:09 10.20.3.4 Y9-IPAD-12 *\n", time.Now().Add(time.Hour).Unix())), 0o644)
	adult := filepath.Join(dir, "adult.txt")
	os.WriteFile(adult, []byte("# adult sites\nexample.net\nbad.example.org\n"), 0o644)
	path := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`version: 1
access: {allow: [10.0.0.0/8, 127.0.0.0/8]}
clients:
  leases: [{path: %s, format: dnsmasq}]
lists:
  - {name: adult, category: pornography, path: %s}
groups:
  - name: pupils
    block: [pornography]
    match: {subnets: [10.20.0.0/16], hostnames: ["Y9-*"]}
  - name: staff
    match: {hostnames: ["STAFF-*"]}
    safe_search: {youtube: moderate, google: off}
    bypass_exempt: true
default_group: pupils
`, leaseFile, adult)), 0o644)
	explain := func(args ...string) string {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"gatehouse", "explain", "--config", path}, args...), &out, &errOut); err != nil {
			t.Fatalf("explain %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--client", "10.20.3.4", "www.youtube.com"}, []string{"MAC aa:bb:cc:00:00:09, hostname Y9-IPAD-12", "pupils (placed by hostname Y9-*)", "REWRITTEN", "CNAME restrict.youtube.com."}},
		{[]string{"--client", "10.20.3.4", "use-application-dns.net", "AAAA"}, []string{"BLOCKED: answered NXDOMAIN", "list firefox-doh-canary"}},
		{[]string{"--client", "10.20.9.9", "www.example.org"}, []string{"placed by subnet 10.20.0.0/16", "resolved normally"}},
		{[]string{"--client", "192.168.1.1", "www.example.org"}, []string{"REFUSED"}},
		{[]string{"--client", "10.20.3.4", "www.bad.example.org"}, []string{"BLOCKED", "category pornography, list adult, matched entry bad.example.org.", "adult.txt:3"}},
		{[]string{"--client", "10.20.3.5", "x.example.net"}, []string{"placed by subnet", "BLOCKED", "adult.txt:2"}},
	}
	for _, tt := range tests {
		out := explain(tt.args...)
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("explain %v lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}

func TestServe_listFileChangeBlocksWithinSeconds(t *testing.T) {
	up, _ := upstream(t)
	listDir := t.TempDir()
	list := filepath.Join(listDir, "adult.txt")
	replace := func(text string) {
		tmp := filepath.Join(listDir, ".adult.tmp")
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, list); err != nil {
			t.Fatal(err)
		}
	}
	replace("# nothing yet\n")
	in := start(t, func(d, h int) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    block: [pornography]
lists:
  - {name: adult, category: pornography, path: %s}
`, list)
	})
	if r := query(t, "udp", in.dns, "www.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("before the list change: %s", dns.RcodeToString[r.Rcode])
	}
	replace("www.example.org\n") // a technician's list tool drops a new version in place
	waitFor(t, "the new entry to block", func() bool {
		r := query(t, "udp", in.dns, "www.example.org.")
		return r.Rcode == dns.RcodeNameError && ede(r) != nil
	})
	if e := ede(query(t, "udp", in.dns, "www.example.org.")); e.InfoCode != dns.ExtendedErrorCodeBlocked || !strings.Contains(e.ExtraText, "pornography (adult)") {
		t.Errorf("EDE = %+v", e)
	}
	replace("# emptied again\n")
	waitFor(t, "the entry to be gone", func() bool { return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeSuccess })
}

func ede(r *dns.Msg) *dns.EDNS0_EDE {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func TestServe_downloadedListBlocksAndSurvivesNoNetwork(t *testing.T) {
	up, _ := upstream(t)
	var failing atomic.Bool
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "# gambling list\nwww.example.org\nbets.example")
	}))
	defer lists.Close()
	state := t.TempDir()
	cfg := func(d, h int) string {
		// Both instances share state_dir (the list store); the query log
		// is off so they do not both write one database.
		return fmt.Sprintf(`version: 1
state_dir: %s
query_log: {enabled: false}
listen: {dns: ["127.0.0.1:%d"], http: "127.0.0.1:%d"}
access: {allow: [127.0.0.0/8]}
resolver: {mode: forward, upstreams: [{address: %s}]}
lists:
  - {name: gambling-feed, category: gambling, url: "%s/gambling.txt"}
groups:
  - {name: pupils, block: [gambling]}
`, state, d, h, up, lists.URL)
	}
	first := start(t, cfg)
	waitFor(t, "the downloaded list to block", func() bool {
		return query(t, "udp", first.dns, "www.example.org.").Rcode == dns.RcodeNameError
	})
	if got := metricValue(t, first, `gatehouse_blocklists_entries{list="gambling-feed"}`); got != "2" {
		t.Errorf("entries metric = %q, want 2", got)
	}

	// A second start with the list server down: the last good copy filters.
	failing.Store(true)
	second := start(t, cfg)
	if r := query(t, "udp", second.dns, "bets.example."); r.Rcode != dns.RcodeNameError {
		t.Errorf("with the list server down: %s, want the stored copy's block", dns.RcodeToString[r.Rcode])
	}
}

// The scheduler's processor count is exported; with adaptive_procs off
// (as here) it is the runtime's own choice.
func TestServe_goProcsGauge(t *testing.T) {
	up, _ := upstream(t)
	in := start(t, func(d, h int) string {
		return strings.Replace(siteConfig(d, h, up, "127.0.0.0/8"), "  udp_sockets: 2\n", "  udp_sockets: 2\n  adaptive_procs: false\n", 1)
	})
	want := fmt.Sprint(runtime.GOMAXPROCS(0))
	if got := metricValue(t, in, "gatehouse_go_procs"); got != want {
		t.Errorf("gatehouse_go_procs = %q, want %s", got, want)
	}
}
