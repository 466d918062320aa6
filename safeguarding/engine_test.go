package safeguarding

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/querylog"
	"gatehouse/safeguarding/deliver"
	"gatehouse/safeguarding/smtptest"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// holder records legal holds.
type holder struct {
	mu       sync.Mutex
	held     map[string][]uint64
	released []string
	fail     bool
}

func (h *holder) Hold(_ context.Context, ref, who string, ids ...uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		return io.ErrUnexpectedEOF
	}
	if h.held == nil {
		h.held = map[string][]uint64{}
	}
	h.held[ref] = append(h.held[ref], ids...)
	return nil
}

func (h *holder) Release(_ context.Context, ref string) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.held[ref])
	delete(h.held, ref)
	h.released = append(h.released, ref)
	return n, nil
}

func (h *holder) ids(ref string) []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint64(nil), h.held[ref]...)
}

// hook is a webhook receiver that can fail its first requests.
type hook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	failures int
	got      []receivedHook
	changed  chan struct{}
}

type receivedHook struct {
	Key  string
	Body []byte
}

func newHook(t *testing.T, failures int) *hook {
	h := &hook{failures: failures, changed: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		if h.failures > 0 {
			h.failures--
			h.mu.Unlock()
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		h.got = append(h.got, receivedHook{r.Header.Get("Idempotency-Key"), b})
		h.mu.Unlock()
		h.changed <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() []receivedHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]receivedHook(nil), h.got...)
}

func (h *hook) wait(t *testing.T, n int) []receivedHook {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := h.received(); len(got) >= n {
			return got
		}
		select {
		case <-h.changed:
		case <-deadline:
			t.Fatalf("webhook: %d requests, want %d", len(h.received()), n)
		}
	}
}

type testEnv struct {
	e    *Engine
	smtp *smtptest.Server
	hook *hook
	hold *holder
	clk  *clock
	path string
	cfg  Config
}

func dslSettings() Settings {
	return Settings{
		Recipients: []Recipient{
			{Name: "dsl", Role: TeamSafeguarding, Email: []string{"dsl@school.example"}, Webhooks: []string{"dsl-teams"}},
			{Name: "pastoral", Role: TeamPastoral, Email: []string{"pastoral@school.example"}},
			{Name: "tech", Role: TeamTechnician, Email: []string{"it@school.example"}},
			{Name: "head", Role: TeamSafeguarding, Email: []string{"head@school.example"}},
		},
		OnCall:     []OnCall{{Recipient: "head", Weekly: mustWeekly("Sat-Sun 00:00-00:00")}},
		EscalateTo: []string{"head"},
	}
}

// newEnv opens an engine with an SMTP server, a Teams webhook (failing
// its first hookFailures requests) and a legal-hold recorder.
func newEnv(t *testing.T, hookFailures int, mod func(*Config)) *testEnv {
	t.Helper()
	env := &testEnv{smtp: smtptest.New(t), hook: newHook(t, hookFailures), hold: &holder{},
		clk: &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, path: filepath.Join(t.TempDir(), "safeguarding.db")}
	env.cfg = Config{
		Path:    env.path,
		Initial: dslSettings(),
		Infra: Infrastructure{
			SMTP:     &deliver.SMTP{Address: env.smtp.Addr, From: "gatehouse@school.example", RootCAs: env.smtp.RootCAs, TLSServerName: "localhost"},
			Webhooks: []*deliver.Webhook{{Name: "dsl-teams", URL: env.hook.srv.URL + "/teams", Format: deliver.FormatTeams}},
		},
		Holder:      env.hold,
		LeaseSource: func(netip.Addr) string { return "/var/lib/misc/dnsmasq.leases" },
		Site:        "Test School",
		Groups:      func() []string { return []string{"pupils", "staff"} },
		Now:         env.clk.Now,
		Tick:        time.Hour, // tests call maintain themselves
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  40 * time.Millisecond,
	}
	if mod != nil {
		mod(&env.cfg)
	}
	e, err := Open(context.Background(), env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	env.e = e
	return env
}

var nextID uint64 = 1000

func entry(at time.Time, addr, host, group, category, name string) querylog.Entry {
	nextID++
	d := querylog.Blocked
	switch category {
	case KindDoHCanary, KindPrivateRelay, KindDDR, "bypass":
		d = querylog.BypassAttempt
	}
	a := netip.MustParseAddr(addr)
	return querylog.Entry{ID: nextID, Time: at, Client: a, MAC: fmt.Sprintf("aa:bb:cc:00:00:%02x", a.As4()[3]), Hostname: host, Group: group,
		ClientRule: "subnet 10.20.0.0/16", QName: name, QType: 1, Decision: d, Category: category, List: "test-" + category, Matched: name}
}

// process runs entries through the engine synchronously.
func (env *testEnv) process(es ...querylog.Entry) {
	for _, en := range es {
		env.e.handle(context.Background(), en)
	}
	env.e.flushJoins(context.Background())
}

func TestRetriesJoinTheConcernAsHeldEvidence(t *testing.T) {
	env := newEnv(t, 0, nil)
	now := env.clk.Now()
	var es []querylog.Entry
	for i := range 50 {
		es = append(es, entry(now.Add(time.Duration(i)*time.Second), "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example."))
	}
	env.process(es...)
	q, _ := env.e.Queue(context.Background(), QueueFilter{})
	if len(q) != 1 {
		t.Fatalf("%d concerns for a page of retries, want 1", len(q))
	}
	r, err := env.e.Get(context.Background(), q[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Concern.Hits != 50 || len(r.Evidence) != 50 || !r.Concern.Held || !r.Concern.LastHit.Equal(now.Add(49*time.Second)) {
		t.Errorf("concern hits %d, evidence %d, held %v, last %v", r.Concern.Hits, len(r.Evidence), r.Concern.Held, r.Concern.LastHit)
	}
	if got := env.hold.ids(holdRef(q[0].ID)); len(got) != 50 {
		t.Errorf("%d entries held, want 50", len(got))
	}
	// Only the first lookup alerted.
	ds, _ := env.e.Deliveries(context.Background(), DeliveryFilter{})
	for _, d := range ds {
		if d.Kind != "alert" || d.Concern != q[0].ID {
			t.Errorf("delivery %+v", d)
		}
	}
}

func TestCriticalConcernDeliveredByEmailAndTeams(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { env.e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	en := entry(env.clk.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example.")
	env.e.Observe(en)

	msgs := env.smtp.Wait(t, 1, 10*time.Second)
	var dsl *smtptest.Message
	for i := range msgs {
		if msgs[i].To[0] == "dsl@school.example" {
			dsl = &msgs[i]
		}
	}
	if dsl == nil || !dsl.TLS {
		t.Fatalf("no email to the DSL over TLS: %+v", msgs)
	}
	body := string(dsl.Data)
	for _, want := range []string{"Y9-IPAD-12", "pupils", "Self harm", "selfharm.example", "indicator, not proof", "/var/lib/misc/dnsmasq.leases"} {
		if !strings.Contains(strings.ReplaceAll(body, "=\r\n", ""), want) {
			t.Errorf("email lacks %q:\n%s", want, body)
		}
	}
	hooks := env.hook.wait(t, 1)
	card := string(hooks[0].Body)
	if !strings.Contains(card, "AdaptiveCard") || !strings.Contains(card, "Y9-IPAD-12") || !strings.Contains(card, "pupils") || !strings.Contains(card, "indicator, not proof") {
		t.Errorf("Teams card: %s", card)
	}
	q, err := env.e.Queue(context.Background(), QueueFilter{})
	if err != nil || len(q) != 1 {
		t.Fatalf("queue = %v, %v", q, err)
	}
	c := q[0]
	if c.Priority != Critical || c.Category != "self-harm" || c.Device.Hostname != "Y9-IPAD-12" || c.Device.Group != "pupils" ||
		c.Device.ClientRule != "subnet 10.20.0.0/16" || c.Device.LeaseSource == "" || c.Status != StatusNew {
		t.Errorf("concern = %+v", c)
	}
	if got := env.hold.ids(holdRef(c.ID)); len(got) != 1 || got[0] != en.ID {
		t.Errorf("held %v, want [%d]", got, en.ID)
	}
	waitFor(t, "the concern marked held", func() bool {
		r, _ := env.e.Get(context.Background(), c.ID)
		return r.Concern.Held
	})
}

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

func TestWebhookFailingForAWhileIsRetried(t *testing.T) {
	env := newEnv(t, 3, func(c *Config) { c.Now = nil }) // real time: backoff timers
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { env.e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	env.e.Observe(entry(time.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "iwf", "listed.example."))
	got := env.hook.wait(t, 1)
	if len(got) != 1 || !strings.HasPrefix(got[0].Key, "alert-c1-dsl-webhook-dsl-teams") {
		t.Fatalf("webhook got %+v", got)
	}
	ds, err := env.e.Deliveries(context.Background(), DeliveryFilter{Concern: 1})
	if err != nil {
		t.Fatal(err)
	}
	var hookRow *Delivery
	for i := range ds {
		if ds[i].Channel == "webhook" {
			hookRow = &ds[i]
		}
	}
	waitFor(t, "the webhook row marked sent", func() bool {
		ds, _ = env.e.Deliveries(context.Background(), DeliveryFilter{Concern: 1})
		for _, d := range ds {
			if d.Channel == "webhook" && d.State == "sent" {
				return true
			}
		}
		return false
	})
	if hookRow == nil || hookRow.Attempts < 3 {
		t.Errorf("webhook delivery %+v: want at least 3 attempts recorded", hookRow)
	}
	failed := testutilCounter(env.e.m.deliveries.WithLabelValues("webhook", "failed"))
	if failed != 3 {
		t.Errorf("deliveries_total{webhook,failed} = %v, want 3", failed)
	}
}

func TestHealthShowsFailures(t *testing.T) {
	env := newEnv(t, 1000, nil)
	env.process(entry(env.clk.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "iwf", "listed.example."))
	env.e.deliverDue(context.Background())
	h, err := env.e.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Failing != 1 || h.Pending != 1 || !strings.Contains(h.LastError, "HTTP 503") {
		t.Errorf("health = %+v; want the webhook failing with HTTP 503", h)
	}
	// Past DeadAfter it is given up, visibly.
	env.clk.Add(8 * 24 * time.Hour)
	env.e.deliverDue(context.Background())
	h, _ = env.e.Health(context.Background())
	if h.Dead != 1 || h.Pending != 0 {
		t.Errorf("after a week: %+v; want one dead", h)
	}
	dead, _ := env.e.Deliveries(context.Background(), DeliveryFilter{State: "dead"})
	if len(dead) != 1 || dead[0].Channel != "webhook" {
		t.Fatalf("dead deliveries %+v", dead)
	}
	if err := env.e.Retry(context.Background(), Actor{Name: "tech", Roles: []string{RoleTechnician}}, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := env.e.Retry(context.Background(), Actor{Name: "gov", Roles: []string{RoleViewer}}, dead[0].ID); err == nil {
		t.Error("a viewer could retry a delivery")
	}
}

func TestDigestAndEscalation(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	now := env.clk.Now() // Monday 10:00 UTC (school hours unset: out of hours)
	// Five private-relay attempts: medium, hourly digest to safeguarding,
	// pastoral and technicians.
	for i := range 5 {
		env.process(entry(now.Add(time.Duration(i)*time.Second), "10.20.3.5", "Y10-LAPTOP-3", "pupils", KindPrivateRelay, "mask.icloud.com."))
	}
	env.e.deliverDue(ctx)
	if n := len(env.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages sent at once for a medium concern; want a digest", n)
	}
	env.e.maintain(ctx) // same hour: nothing yet
	env.e.deliverDue(ctx)
	if n := len(env.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages before the hour ended", n)
	}
	env.clk.Add(time.Hour)
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	msgs := env.smtp.Messages()
	to := map[string]string{}
	for _, m := range msgs {
		to[m.To[0]] = string(m.Data)
	}
	for _, want := range []string{"dsl@school.example", "pastoral@school.example", "it@school.example", "head@school.example"} {
		if !strings.Contains(to[want], "Hourly safeguarding digest") || !strings.Contains(to[want], "Y10-LAPTOP-3") {
			t.Errorf("no hourly digest naming the device to %s: %q", want, to[want])
		}
	}
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	if n := len(env.smtp.Messages()); n != len(msgs) {
		t.Errorf("a second tick sent the digest again: %d messages, want %d", n, len(msgs))
	}

	// Medium: acknowledge within 8h. Past it, the concern is escalated
	// once, at once, to the routes' recipients and escalate_to.
	before := len(env.smtp.Messages())
	env.clk.Add(8 * time.Hour)
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	esc := env.smtp.Messages()[before:]
	if len(esc) == 0 {
		t.Fatal("no escalation")
	}
	for _, m := range esc {
		if !strings.Contains(string(m.Data), "OVERDUE") {
			t.Errorf("escalation to %v lacks OVERDUE", m.To)
		}
	}
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	if n := len(env.smtp.Messages()); n != before+len(esc) {
		t.Errorf("escalated twice: %d messages, want %d", n, before+len(esc))
	}
	q, _ := env.e.Queue(ctx, QueueFilter{})
	if len(q) != 1 || !q[0].Overdue || q[0].Escalation != 1 {
		t.Errorf("queue %+v; want the concern overdue, escalation 1", q)
	}
}

func TestOnCallOutOfHours(t *testing.T) {
	env := newEnv(t, 0, func(c *Config) {
		c.SchoolHours = func(t time.Time) bool { return t.Weekday() >= time.Monday && t.Weekday() <= time.Friday }
	})
	a := env.e.settings.Load()
	c := &Concern{Priority: Critical, Category: "self-harm", Device: Device{Group: "pupils"}}
	mon := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	sat := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	in := env.e.recipientsFor(a, c, mon, false)
	out := env.e.recipientsFor(a, c, sat, false)
	if _, ok := in["head"]; !ok {
		t.Errorf("school hours: %v; head is a safeguarding recipient and should get critical concerns", in)
	}
	if out["head"] != Immediate || out["dsl"] != Immediate {
		t.Errorf("Saturday: %v; want the DSL and the on-call head at once", out)
	}
	low := &Concern{Priority: Low, Category: "gaming", Device: Device{Group: "pupils"}}
	if got := env.e.recipientsFor(a, low, mon, false); got["pastoral"] != Daily || got["tech"] != Daily || len(got) != 2 {
		t.Errorf("low concern routes %v; want pastoral and tech daily", got)
	}
}

func TestIncidentLifecycleAndExport(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	hostile := `<script>alert(1)</script>"&'`
	env.process(entry(env.clk.Now(), "10.20.3.6", hostile, "pupils", "self-harm", "evil<b>.example."))
	dsl := Actor{Name: "Ms Jones (DSL)", Roles: []string{RoleSafeguarding}}
	tech := Actor{Name: "Mr Tech", Roles: []string{RoleTechnician}}
	if err := env.e.Acknowledge(ctx, tech, 1); err == nil {
		t.Error("a technician could acknowledge a concern")
	}
	steps := []func() error{
		func() error { return env.e.Acknowledge(ctx, dsl, 1) },
		func() error { return env.e.OpenIncident(ctx, dsl, 1, "") },
		func() error { return env.e.AddNote(ctx, dsl, 1, "Spoke to form tutor.\nPupil known to pastoral team.") },
		func() error {
			return env.e.RecordAction(ctx, dsl, 1, "Met pupil and parent; referred to school counsellor.")
		},
		func() error { return env.e.CloseIncident(ctx, dsl, 1, "Support plan in place; no further action.") },
	}
	for i, s := range steps {
		env.clk.Add(time.Minute)
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := env.e.Acknowledge(ctx, dsl, 1); err == nil {
		t.Error("acknowledged a closed concern")
	}
	if err := env.e.CloseIncident(ctx, dsl, 1, ""); err == nil {
		t.Error("closed without an outcome")
	}
	r, err := env.e.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Concern
	if c.Status != StatusClosed || !c.Incident || c.Owner != dsl.Name || c.AcknowledgedBy != dsl.Name || c.Outcome == "" || c.ActionTaken == "" {
		t.Errorf("concern %+v", c)
	}
	var kinds []string
	for _, ev := range r.Events {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, ","); got != "raised,acknowledged,incident,note,action,closed" {
		t.Errorf("history %s", got)
	}
	q, _ := env.e.Queue(ctx, QueueFilter{})
	if len(q) != 0 {
		t.Errorf("closed concern still in the default queue: %+v", q)
	}

	var js strings.Builder
	if err := env.e.ExportJSON(ctx, 1, &js); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(js.String()), &v); err != nil {
		t.Fatal(err)
	}
	if v["outcome"] != "Support plan in place; no further action." || v["device"].(map[string]any)["hostname"] != hostile ||
		len(v["evidence"].([]any)) != 1 || !strings.Contains(v["notice"].(string), "indicator, not proof") {
		t.Errorf("JSON export: %s", js.String())
	}
	var html strings.Builder
	if err := env.e.ExportHTML(ctx, 1, &html); err != nil {
		t.Fatal(err)
	}
	h := html.String()
	if strings.Contains(h, "<script>alert") || strings.Contains(h, "evil<b>") {
		t.Errorf("HTML export does not escape hostile names:\n%s", h)
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "Support plan in place", "Spoke to form tutor.<br>Pupil known", "indicator, not proof"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML export lacks %q", want)
		}
	}
}

func TestRetentionReleasesHolds(t *testing.T) {
	env := newEnv(t, 0, func(c *Config) { c.Retention = 30 * 24 * time.Hour })
	ctx := context.Background()
	env.process(entry(env.clk.Now(), "10.20.3.7", "PC-1", "pupils", "iwf", "a.example."),
		entry(env.clk.Now(), "10.20.3.8", "PC-2", "pupils", "iwf", "b.example."))
	dsl := Actor{Name: "dsl", Roles: []string{RoleSafeguarding}}
	if err := env.e.CloseIncident(ctx, dsl, 1, "false positive: shared link preview"); err != nil {
		t.Fatal(err)
	}
	env.clk.Add(31 * 24 * time.Hour)
	env.e.maintain(ctx)
	if _, err := env.e.Get(ctx, 1); err == nil {
		t.Error("closed concern kept past retention")
	}
	if _, err := env.e.Get(ctx, 2); err != nil {
		t.Errorf("open concern purged: %v", err)
	}
	if len(env.hold.released) != 1 || env.hold.released[0] != holdRef(1) || len(env.hold.ids(holdRef(2))) != 1 {
		t.Errorf("released %v, still held %v", env.hold.released, env.hold.held)
	}
}

func TestHoldRetried(t *testing.T) {
	env := newEnv(t, 0, nil)
	env.hold.fail = true
	env.process(entry(env.clk.Now(), "10.20.3.9", "PC-3", "pupils", "ctiru", "c.example."))
	r, _ := env.e.Get(context.Background(), 1)
	if r.Concern.Held {
		t.Fatal("held while the query log refused")
	}
	env.hold.fail = false
	env.e.maintain(context.Background())
	r, _ = env.e.Get(context.Background(), 1)
	if !r.Concern.Held || len(env.hold.ids(holdRef(1))) != 1 {
		t.Errorf("hold not retried: %+v", r.Concern)
	}
}

func TestWeeklyReport(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	// Monday 10:00: the first tick only starts the count.
	env.e.maintain(ctx)
	env.process(entry(env.clk.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example."))
	env.e.deliverDue(ctx)
	before := len(env.smtp.Messages())
	env.clk.Add(7 * 24 * time.Hour) // next Monday 10:00, after 08:00
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	var report string
	for _, m := range env.smtp.Messages()[before:] {
		if m.To[0] == "dsl@school.example" && strings.Contains(string(m.Data), "Weekly safeguarding report") {
			report = strings.ReplaceAll(string(m.Data), "=\r\n", "")
		}
	}
	if report == "" {
		t.Fatalf("no weekly report to the DSL: %+v", env.smtp.Messages()[before:])
	}
	for _, want := range []string{"Y9-IPAD-12", "self-harm", "Audit log: verified", "indicator, not proof"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	n := len(env.smtp.Messages())
	env.e.maintain(ctx)
	env.e.deliverDue(ctx)
	if len(env.smtp.Messages()) != n {
		t.Error("the weekly report was sent twice")
	}
}

func TestRoutingTable(t *testing.T) {
	env := newEnv(t, 0, func(c *Config) {
		c.SchoolHours = func(t time.Time) bool {
			return t.Weekday() >= time.Monday && t.Weekday() <= time.Friday && t.Hour() >= 9 && t.Hour() < 15
		}
		c.Initial.Routes = []Route{
			{Priorities: []Priority{Critical, High}, When: Always, To: []string{"dsl"}, Speed: Immediate},
			{Priorities: []Priority{High}, Groups: []string{"staff"}, When: Always, To: []string{"head"}, Speed: Immediate},
			{Priorities: []Priority{Medium}, Categories: []string{"bypass"}, When: SchoolHours, To: []string{"tech"}, Speed: Immediate},
			{Priorities: []Priority{Medium}, Categories: []string{"bypass"}, When: OutOfHours, To: []string{"tech"}, Speed: Daily},
			{Priorities: []Priority{Medium}, When: Always, To: []string{"pastoral"}, Speed: Hourly},
			{Priorities: []Priority{Medium}, Groups: []string{"pupils"}, When: Always, To: []string{"pastoral"}, Speed: Daily},
			{Priorities: []Priority{Critical}, When: OutOfHours, To: []string{OnCallRecipient}, Speed: Immediate},
		}
		c.Initial.OnCall = []OnCall{{Recipient: "pastoral", Weekly: mustWeekly("Sat-Sun 00:00-00:00")}}
	})
	a := env.e.settings.Load()
	mon10 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	mon20 := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	sat10 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC) // on call: head (weekends)
	tests := []struct {
		name     string
		p        Priority
		category string
		group    string
		at       time.Time
		want     map[string]Speed
	}{
		{"critical in school hours", Critical, "self-harm", "pupils", mon10, map[string]Speed{"dsl": Immediate}},
		{"critical out of hours, nobody on call: the safeguarding team", Critical, "self-harm", "pupils", mon20, map[string]Speed{"dsl": Immediate, "head": Immediate}},
		{"critical at the weekend: whoever the rota names", Critical, "iwf", "pupils", sat10, map[string]Speed{"dsl": Immediate, "pastoral": Immediate}},
		{"high for staff also to the head", High, "pornography", "staff", mon10, map[string]Speed{"dsl": Immediate, "head": Immediate}},
		{"high for pupils", High, "pornography", "pupils", mon10, map[string]Speed{"dsl": Immediate}},
		{"bypass in lessons: technician at once", Medium, "bypass", "pupils", mon10, map[string]Speed{"tech": Immediate, "pastoral": Hourly}},
		{"bypass in the evening: technician next day", Medium, "bypass", "pupils", mon20, map[string]Speed{"tech": Daily, "pastoral": Hourly}},
		{"medium other category: the fastest route wins", Medium, "violence", "pupils", mon10, map[string]Speed{"pastoral": Hourly}},
		{"low: no route", Low, "gaming", "pupils", mon10, map[string]Speed{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Concern{Priority: tc.p, Category: tc.category, Device: Device{Group: tc.group}}
			got := env.e.recipientsFor(a, c, tc.at, false)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("recipients %v, want %v", got, tc.want)
			}
		})
	}
	// Escalation tells every routed recipient at once, plus escalate_to.
	c := &Concern{Priority: Medium, Category: "bypass", Device: Device{Group: "pupils"}}
	if got := env.e.recipientsFor(a, c, mon20, true); fmt.Sprint(got) != fmt.Sprint(map[string]Speed{"head": Immediate, "pastoral": Immediate, "tech": Immediate}) {
		t.Errorf("escalation recipients %v", got)
	}
}

func TestDeduplicationSurvivesRestart(t *testing.T) {
	env := newEnv(t, 0, nil)
	now := env.clk.Now()
	env.process(entry(now, "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example."))
	env.e.Close()
	e2, err := Open(context.Background(), env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	env.e = e2
	env.clk.Add(time.Minute)
	env.process(entry(env.clk.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example."))
	q, _ := e2.Queue(context.Background(), QueueFilter{})
	if len(q) != 1 || q[0].Hits != 2 {
		t.Fatalf("after a restart the retry made %d concerns (%+v); want it to join the first", len(q), q)
	}
	// After the window, a new concern.
	env.clk.Add(10 * time.Minute)
	env.process(entry(env.clk.Now(), "10.20.3.4", "Y9-IPAD-12", "pupils", "self-harm", "selfharm.example."))
	if q, _ = e2.Queue(context.Background(), QueueFilter{}); len(q) != 2 {
		t.Errorf("%d concerns after the window, want 2", len(q))
	}
}
