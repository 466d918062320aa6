package blocklists

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func gatherLines(t *testing.T, reg *prometheus.Registry, metric string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out = append(out, fmt.Sprintf("{%s} %v", strings.Join(labels, ","), v))
		}
	}
	return out
}

func buildFromStore(t *testing.T, prev *Set, s *Store) *Set {
	t.Helper()
	b := NewBuilder(prev)
	src, err := s.Source("iwf", Domains)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ListSpec{ID: 0, Name: "iwf", Category: IWF, Sources: []Source{src}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ListSpec{ID: 1, Name: "ads", Category: Custom, Sources: []Source{BytesSource("ads", []byte("a.example\nb.example\n"), Domains)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ListSpec{ID: 2, Name: "ctiru", Category: CTIRU, Sources: []Source{BytesSource("ctiru.txt", []byte("t.example\n"), Domains)}}); err != nil {
		t.Fatal(err)
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestMetrics_SetLists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, reg := newTestMetrics(t)
		s := openTestStore(t)
		v1, _, err := s.Put("iwf", "https://iwf.test/list", Domains, strings.NewReader("x.example\ny.example\nz.example\n"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		set := buildFromStore(t, nil, s)
		m.SetLists(set.Lists(), s)
		ts := func(d time.Duration) string { return fmt.Sprint(float64(start.Add(d).UnixNano()) / 1e9) }
		check := func(metric string, want ...string) {
			t.Helper()
			if got := gatherLines(t, reg, metric); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s =\n%s\nwant\n%s", metric, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		check("gatehouse_blocklists_entries", "{list=ads} 2", "{list=ctiru} 1", "{list=iwf} 3")
		check("gatehouse_blocklists_locked_list_info", "{list=ctiru,version=local} 1", "{list=iwf,version="+v1.Version()+"} 1")
		check("gatehouse_blocklists_locked_list_loaded_timestamp_seconds", "{list=ctiru} "+ts(0), "{list=iwf} "+ts(0))

		// Rebuilt an hour later with nothing changed: the load times stay.
		time.Sleep(time.Hour)
		set = buildFromStore(t, set, s)
		m.SetLists(set.Lists(), s)
		check("gatehouse_blocklists_locked_list_loaded_timestamp_seconds", "{list=ctiru} "+ts(0), "{list=iwf} "+ts(0))

		// A new IWF version: one info series, the new one, and a new
		// load time.
		time.Sleep(time.Hour)
		v2, _, err := s.Put("iwf", "https://iwf.test/list", Domains, strings.NewReader("x.example\n"))
		if err != nil {
			t.Fatal(err)
		}
		set = buildFromStore(t, set, s)
		m.SetLists(set.Lists(), s)
		check("gatehouse_blocklists_entries", "{list=ads} 2", "{list=ctiru} 1", "{list=iwf} 1")
		check("gatehouse_blocklists_locked_list_info", "{list=ctiru,version=local} 1", "{list=iwf,version="+v2.Version()+"} 1")
		check("gatehouse_blocklists_locked_list_loaded_timestamp_seconds", "{list=ctiru} "+ts(0), "{list=iwf} "+ts(2*time.Hour))

		// Lists gone from the Set lose their series.
		var rest []ListInfo
		for _, info := range set.Lists() {
			if info.Name == "ads" {
				rest = append(rest, info)
			}
		}
		m.SetLists(rest, s)
		check("gatehouse_blocklists_entries", "{list=ads} 2")
		check("gatehouse_blocklists_locked_list_info")
		check("gatehouse_blocklists_locked_list_loaded_timestamp_seconds")
	})
}

func TestMetrics_refresher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, reg := newTestMetrics(t)
		s := openTestStore(t)
		fl := newFakeLists()
		fl.set("/a", names(10, "a"), 0)
		fl.set("/b", "", http.StatusNotFound)
		f, err := NewFetcher(FetcherConfig{Client: &http.Client{Transport: fl}, TempDir: s.Dir()})
		if err != nil {
			t.Fatal(err)
		}
		lists := []Remote{{Name: "a", URL: "https://lists.test/a"}, {Name: "b", URL: "https://lists.test/b"}}
		r, err := NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: lists, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runRefresher(t, r)
		synctest.Wait()
		stop()
		if got, want := testutil.ToFloat64(m.lastSuccess.WithLabelValues("a")), float64(start.UnixNano())/1e9; got != want {
			t.Errorf("last success of a = %v, want %v", got, want)
		}
		if got := gatherLines(t, reg, "gatehouse_blocklists_last_refresh_success_timestamp_seconds"); len(got) != 1 {
			t.Errorf("last success series %q, want only a's", got)
		}
		failures := gatherLines(t, reg, "gatehouse_blocklists_refresh_failures_total")
		if len(failures) != 2*len(failureReasons()) {
			t.Errorf("failure series %q: want every reason for both lists", failures)
		}
		if got := testutil.ToFloat64(m.failures.WithLabelValues("b", ReasonHTTPStatus)); got != 1 {
			t.Errorf("failures of b for http_status = %v, want 1", got)
		}
		if got := testutil.ToFloat64(m.failures.WithLabelValues("a", ReasonHTTPStatus)); got != 0 {
			t.Errorf("failures of a = %v, want 0", got)
		}

		// A new configuration without b: b's series go.
		r, err = NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: lists[:1], Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		runRefresher(t, r)
		synctest.Wait()
		for _, line := range gatherLines(t, reg, "gatehouse_blocklists_refresh_failures_total") {
			if strings.Contains(line, "list=b") {
				t.Errorf("series %s left for a list no longer configured", line)
			}
		}
	})
}

func TestMetrics_lint(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.SetLists([]ListInfo{{Name: "iwf", Category: IWF, Entries: 1}, {Name: "ads", Category: Custom}}, nil)
	m.setRemotes([]*remoteState{{Remote: Remote{Name: "ads"}}})
	m.refreshed("ads", time.Now())
	m.refreshFailed("ads", ReasonNetwork)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(m.failures); n != len(failureReasons()) {
		t.Errorf("%d failure series, want %d", n, len(failureReasons()))
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice succeeded")
	}
	var nilMetrics *Metrics
	nilMetrics.SetLists(nil, nil) // no panic
	nilMetrics.refreshFailed("x", ReasonNetwork)
}
