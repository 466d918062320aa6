package clientmap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// waitFor polls cond until it holds or 10 seconds pass. It asserts
// "eventually", never "within N ms".
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// iscLease renders a dhcpd lease block ending in an hour.
func iscLease(addr, state, host string) string {
	ends := time.Now().Add(time.Hour).UTC().Format("2006/01/02 15:04:05")
	return fmt.Sprintf("lease %s {\n  starts 0 2026/11/22 22:00:00;\n  ends 0 %s;\n  binding state %s;\n  hardware ethernet 02:00:00:00:00:01;\n  client-hostname %q;\n}\n", addr, ends, state, host)
}

// dnsmasqLine renders a dnsmasq lease line expiring after d.
func dnsmasqLine(addr, host string, d time.Duration) string {
	return fmt.Sprintf("%d 02:00:00:00:00:02 %s %s *\n", time.Now().Add(d).Unix(), addr, host)
}

const keaHeader4 = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"

func keaRow(addr, host string) string {
	return fmt.Sprintf("%s,02:00:00:00:00:03,,3600,%d,1,0,0,%s,0,\n", addr, time.Now().Add(time.Hour).Unix(), host)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceLikeDhcpd writes a new file beside path, links the old one to
// path~ and renames the new one over path, as dhcpd's lease file rewrite
// does.
func replaceLikeDhcpd(t *testing.T, path, content string) {
	t.Helper()
	tmp := fmt.Sprintf("%s.%d", path, time.Now().Unix())
	writeFile(t, tmp, content)
	_ = os.Remove(path + "~")
	if err := os.Link(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rewriteInPlace truncates path and writes content in two steps through
// the same descriptor, as dnsmasq does.
func rewriteInPlace(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := len(content) / 2
	if _, err := f.WriteString(content[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content[half:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

type watcherHarness struct {
	w       *LeaseWatcher
	reg     *prometheus.Registry
	changes atomic.Int64
}

// startWatcher builds a watcher over sources and runs it until the test
// ends. configure may adjust it before Run.
func startWatcher(t *testing.T, poll time.Duration, configure func(*LeaseWatcher), sources ...LeaseSource) *watcherHarness {
	t.Helper()
	h := &watcherHarness{reg: prometheus.NewRegistry()}
	m, err := NewLeaseMetrics(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewLeaseWatcher(LeaseWatcherConfig{
		Sources:      sources,
		Debounce:     20 * time.Millisecond,
		PollInterval: poll,
		OnChange:     func(*Leases) { h.changes.Add(1) },
		Metrics:      m,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	if configure != nil {
		configure(w)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func (h *watcherHarness) host(addr string) string {
	l, ok := h.w.Leases().Lookup(netip.MustParseAddr(addr), time.Now())
	if !ok {
		return ""
	}
	return l.Hostname
}

func (h *watcherHarness) reads(source, result string) float64 {
	return testutil.ToFloat64(h.w.cfg.Metrics.reads.WithLabelValues(source, result))
}

func TestLeaseWatcher_atomicRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dhcpd.leases")
	writeFile(t, path, iscLease("10.0.0.1", "active", "FIRST"))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatISC})
	if got := h.host("10.0.0.1"); got != "FIRST" {
		t.Fatalf("initial lease: host %q, want FIRST", got)
	}
	replaceLikeDhcpd(t, path, iscLease("10.0.0.1", "free", "")+iscLease("10.0.0.2", "active", "SECOND"))
	waitFor(t, "the renamed file to be read", func() bool { return h.host("10.0.0.2") == "SECOND" })
	if got := h.host("10.0.0.1"); got != "" {
		t.Errorf("freed lease still matches (host %q)", got)
	}
	if h.changes.Load() == 0 {
		t.Error("OnChange was not called")
	}
}

func TestLeaseWatcher_append(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dhcpd.leases")
	writeFile(t, path, iscLease("10.0.0.1", "active", "FIRST"))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatISC})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(iscLease("10.0.0.1", "active", "RENAMED")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitFor(t, "the appended block to win", func() bool { return h.host("10.0.0.1") == "RENAMED" })
}

func TestLeaseWatcher_inPlaceRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnsmasq.leases")
	writeFile(t, path, dnsmasqLine("10.0.0.1", "one", time.Hour))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatDnsmasq})
	if h.host("10.0.0.1") != "one" {
		t.Fatal("initial lease missing")
	}
	rewriteInPlace(t, path, dnsmasqLine("10.0.0.2", "two", time.Hour)+dnsmasqLine("10.0.0.3", "three", time.Hour))
	waitFor(t, "the rewrite to be read", func() bool { return h.host("10.0.0.3") == "three" })
	if h.host("10.0.0.1") != "" || h.host("10.0.0.2") != "two" {
		t.Errorf("after rewrite: %q %q", h.host("10.0.0.1"), h.host("10.0.0.2"))
	}
}

func TestLeaseWatcher_truncationKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnsmasq.leases")
	writeFile(t, path, dnsmasqLine("10.0.0.1", "one", time.Hour))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatDnsmasq})
	rewriteInPlace(t, path, "")
	waitFor(t, "the empty file to be reported", func() bool { return h.w.Status()[0].Err != nil })
	if h.host("10.0.0.1") != "one" {
		t.Error("lease lost when the file was truncated")
	}
	st := h.w.Status()[0]
	if st.Leases != 1 || !strings.Contains(st.Err.Error(), "no lease records") {
		t.Errorf("status = %+v", st)
	}
	if h.reads(path, readFailure) == 0 {
		t.Error("reads_total{result=failure} not counted")
	}
	// A half-written dnsmasq line (no newline, too few fields) is a bad
	// record, not a lease; the good lines before it still count.
	rewriteInPlace(t, path, dnsmasqLine("10.0.0.2", "two", time.Hour)+"1795400000 02:00:00")
	waitFor(t, "the recovered file to be read", func() bool { return h.host("10.0.0.2") == "two" })
	st = h.w.Status()[0]
	if st.Err != nil || len(st.RecordErrors) != 1 || h.reads(path, readPartial) == 0 {
		t.Errorf("after a partial read: status %+v, partial reads %v", st, h.reads(path, readPartial))
	}
}

func TestLeaseWatcher_deletionKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dhcpd.leases")
	writeFile(t, path, iscLease("10.0.0.1", "active", "FIRST"))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatISC})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion to be reported", func() bool { return h.w.Status()[0].Err != nil })
	if !errors.Is(h.w.Status()[0].Err, fs.ErrNotExist) {
		t.Errorf("status error = %v, want not-exist", h.w.Status()[0].Err)
	}
	if h.host("10.0.0.1") != "FIRST" {
		t.Error("lease lost when the file was deleted")
	}
	writeFile(t, path, iscLease("10.0.0.1", "active", "BACK"))
	waitFor(t, "the re-created file to be read", func() bool { return h.host("10.0.0.1") == "BACK" })
	if err := h.w.Status()[0].Err; err != nil {
		t.Errorf("error not cleared after a good read: %v", err)
	}
}

func TestLeaseWatcher_twoSourcesMerged(t *testing.T) {
	isc := filepath.Join(t.TempDir(), "dhcpd.leases")
	dns := filepath.Join(t.TempDir(), "dnsmasq.leases")
	writeFile(t, isc, iscLease("10.0.0.1", "active", "from-isc"))
	writeFile(t, dns, dnsmasqLine("10.0.1.1", "from-dnsmasq", time.Hour))
	h := startWatcher(t, -1, nil,
		LeaseSource{Path: isc, Format: FormatISC},
		LeaseSource{Path: dns, Format: FormatDnsmasq})
	if h.host("10.0.0.1") != "from-isc" || h.host("10.0.1.1") != "from-dnsmasq" {
		t.Fatalf("merged snapshot: %q %q", h.host("10.0.0.1"), h.host("10.0.1.1"))
	}
	iscAttempt := h.w.Status()[0].LastAttempt
	rewriteInPlace(t, dns, dnsmasqLine("10.0.1.1", "from-dnsmasq", time.Hour)+dnsmasqLine("10.0.1.2", "new", time.Hour))
	waitFor(t, "the dnsmasq change", func() bool { return h.host("10.0.1.2") == "new" })
	if h.host("10.0.0.1") != "from-isc" {
		t.Error("the ISC lease vanished when dnsmasq's file changed")
	}
	if got := h.w.Status()[0].LastAttempt; !got.Equal(iscAttempt) {
		t.Error("the unchanged ISC file was read again")
	}
	if n := h.w.Leases().Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
	if got := testutil.ToFloat64(h.w.cfg.Metrics.active.WithLabelValues(dns)); got != 2 {
		t.Errorf("gatehouse_leases_active{source=dnsmasq} = %v, want 2", got)
	}
}

func TestLeaseWatcher_expiryWithoutFileChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dnsmasq.leases")
	writeFile(t, path, dnsmasqLine("10.0.0.1", "short", 2*time.Second)+dnsmasqLine("10.0.0.2", "long", time.Hour))
	h := startWatcher(t, -1, func(w *LeaseWatcher) { w.pruneEvery = 0 }, LeaseSource{Path: path, Format: FormatDnsmasq})
	snap := h.w.Leases()
	if _, ok := snap.Lookup(netip.MustParseAddr("10.0.0.1"), time.Now()); !ok {
		t.Fatal("short lease missing before it expires")
	}
	// Lookup stops matching by itself; the watcher also drops the lease
	// from later snapshots and tells OnChange.
	waitFor(t, "the lease to expire", func() bool {
		_, ok := snap.Lookup(netip.MustParseAddr("10.0.0.1"), time.Now())
		return !ok
	})
	waitFor(t, "the expired lease to be pruned", func() bool { return h.w.Leases().Len() == 1 })
	if h.host("10.0.0.2") != "long" || h.changes.Load() == 0 || h.w.Status()[0].Leases != 1 {
		t.Errorf("after pruning: long=%q changes=%d status=%+v", h.host("10.0.0.2"), h.changes.Load(), h.w.Status()[0])
	}
}

func TestLeaseWatcher_keaLeaseFileCleanup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kea-leases4.csv")
	// After an earlier cleanup: the leases are in .2, the main file has
	// only what changed since.
	writeFile(t, path+".2", keaHeader4+keaRow("10.0.0.1", "in-previous")+keaRow("10.0.0.2", "old-name"))
	writeFile(t, path, keaHeader4+keaRow("10.0.0.2", "new-name"))
	h := startWatcher(t, -1, nil, LeaseSource{Path: path, Format: FormatKeaCSV})
	if h.host("10.0.0.1") != "in-previous" || h.host("10.0.0.2") != "new-name" {
		t.Fatalf("chain not read in Kea's order: %q %q", h.host("10.0.0.1"), h.host("10.0.0.2"))
	}
	// The server moves the main file to .1 and starts a new one; kea-lfc
	// merges .2 and .1 into .output, renames it to .completed, then to .2,
	// and removes .1.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, keaHeader4+keaRow("10.0.0.3", "after-rotation"))
	writeFile(t, path+".output", keaHeader4+keaRow("10.0.0.1", "in-previous")+keaRow("10.0.0.2", "new-name"))
	if err := os.Rename(path+".output", path+".completed"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".completed", path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rotated file to be read", func() bool { return h.host("10.0.0.3") == "after-rotation" })
	if h.host("10.0.0.1") != "in-previous" || h.host("10.0.0.2") != "new-name" {
		t.Errorf("leases lost over the cleanup: %q %q", h.host("10.0.0.1"), h.host("10.0.0.2"))
	}
}

func TestReadSource_keaChain(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	path := filepath.Join(dir, "leases4.csv")
	writeFile(t, path, keaHeader4+keaRow("10.0.0.9", "main"))
	writeFile(t, path+".1", keaHeader4+keaRow("10.0.0.1", "from-1"))
	writeFile(t, path+".2", keaHeader4+keaRow("10.0.0.1", "from-2")+keaRow("10.0.0.2", "from-2"))
	src := LeaseSource{Path: path, Format: FormatKeaCSV}
	hosts := func() string {
		leases, _, errs, err := readSource(src, now)
		if err != nil || len(errs) > 0 {
			t.Fatalf("readSource: %v %v", err, errs)
		}
		var s []string
		for _, l := range leases {
			s = append(s, l.Addr.String()+"="+l.Hostname+"@"+filepath.Base(l.Source))
		}
		return strings.Join(s, " ")
	}
	// .2 then .1 then the main file: .1 overrides .2.
	if got, want := hosts(), "10.0.0.1=from-1@leases4.csv.1 10.0.0.2=from-2@leases4.csv.2 10.0.0.9=main@leases4.csv"; got != want {
		t.Errorf("without .completed: %s, want %s", got, want)
	}
	// .completed, when present, replaces .2 and .1.
	writeFile(t, path+".completed", keaHeader4+keaRow("10.0.0.5", "merged"))
	if got, want := hosts(), "10.0.0.5=merged@leases4.csv.completed 10.0.0.9=main@leases4.csv"; got != want {
		t.Errorf("with .completed: %s, want %s", got, want)
	}
	// The main file must exist.
	os.Remove(path)
	if _, _, _, err := readSource(src, now); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("without the main file: error %v, want not-exist", err)
	}
}

func TestLeaseWatcher_directoryAppearsLater(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dhcp")
	path := filepath.Join(dir, "dhcpd.leases")
	h := startWatcher(t, 20*time.Millisecond, nil, LeaseSource{Path: path, Format: FormatISC})
	if h.w.Status()[0].Err == nil || h.w.Leases().Len() != 0 {
		t.Fatalf("missing file: status %+v", h.w.Status()[0])
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, iscLease("10.0.0.1", "active", "LATE"))
	waitFor(t, "the file in a new directory to be read", func() bool { return h.host("10.0.0.1") == "LATE" })
	// The directory is watched now: a rename is picked up by events or the
	// next poll, either way.
	replaceLikeDhcpd(t, path, iscLease("10.0.0.1", "active", "LATER"))
	waitFor(t, "the replaced file to be read", func() bool { return h.host("10.0.0.1") == "LATER" })
}

func TestNewLeaseWatcher_config(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dhcpd.leases")
	tests := []struct {
		name    string
		sources []LeaseSource
		wantErr string
	}{
		{"duplicate path", []LeaseSource{{Path: p, Format: FormatISC}, {Path: dir + "/./dhcpd.leases", Format: FormatDnsmasq}}, "also configured"},
		{"unknown format", []LeaseSource{{Path: p, Format: "msdhcp"}}, "unknown format"},
		{"empty path", []LeaseSource{{Format: FormatISC}}, "path is empty"},
		{"kea chain clash", []LeaseSource{{Path: p, Format: FormatKeaCSV}, {Path: p + ".2", Format: FormatKeaCSV}}, "also configured"},
	}
	for _, tt := range tests {
		_, err := NewLeaseWatcher(LeaseWatcherConfig{Sources: tt.sources})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	w, err := NewLeaseWatcher(LeaseWatcherConfig{})
	if err != nil || w.Leases() == nil || w.Leases().Len() != 0 {
		t.Fatalf("no sources: %v, %v", w, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := w.Run(ctx); err == nil {
		t.Error("a second Run was accepted")
	}
}

func TestLeaseMetrics_lint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewLeaseMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.init("/var/lib/dhcp/dhcpd.leases")
	m.read("/var/lib/dhcp/dhcpd.leases", readSuccess, time.Now())
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if _, err := NewLeaseMetrics(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}
