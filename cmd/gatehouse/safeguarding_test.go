package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/querylog"
	"gatehouse/safeguarding/smtptest"
)

// teamsReceiver is a loopback stand-in for a Teams workflow webhook.
type teamsReceiver struct {
	mu     sync.Mutex
	bodies []string
}

func (r *teamsReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (r *teamsReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// TestServe_selfHarmLookupAlertsTheDSL is issue 7's "done when": a device
// in group pupils looks up a listed self-harm name over real DNS, and
// within seconds the DSL has an email and a Teams message naming the
// device and group, a concern is stored, and its evidence is on legal
// hold in the query log. The CLI then shows it, exports it, closes it and
// verifies the audit log.
func TestServe_selfHarmLookupAlertsTheDSL(t *testing.T) {
	up, _ := upstream(t)
	mail := smtptest.New(t)
	teams := &teamsReceiver{}
	hook := httptest.NewServer(teams)
	defer hook.Close()
	dir := t.TempDir()
	list := filepath.Join(dir, "selfharm.txt")
	caFile := filepath.Join(dir, "ca.pem")
	urlFile := filepath.Join(dir, "teams-url")
	for f, data := range map[string]string{list: "www.example.org\n", caFile: string(mail.CertPEM), urlFile: hook.URL + "/workflows/secret\n"} {
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stateDir string
	in := start(t, func(d, h int) string {
		stateDir = stateDirFor(d)
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    match: {subnets: [127.0.0.0/8]}
    block: [self-harm]
lists:
  - {name: selfharm-test, category: self-harm, path: %s}
safeguarding:
  enabled: true
  smtp: {address: "%s", from: gatehouse@school.example, tls_server_name: localhost, ca_file: %s}
  webhooks:
    - {name: dsl-teams, url_file: %s, format: teams}
  initial:
    recipients:
      - {name: dsl, role: safeguarding, email: [dsl@school.example], webhooks: [dsl-teams]}
`, list, mail.Addr, caFile, urlFile)
	})
	asked := time.Now()
	if r := query(t, "udp", in.dns, "www.example.org."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("the listed name was not blocked: %s", dns.RcodeToString[r.Rcode])
	}
	msgs := mail.Wait(t, 1, 10*time.Second)
	waitFor(t, "the Teams message", func() bool { return len(teams.got()) > 0 })
	t.Logf("email and Teams message %v after the lookup", time.Since(asked).Round(time.Millisecond))
	email := strings.ReplaceAll(string(msgs[0].Data), "=\r\n", "")
	if msgs[0].To[0] != "dsl@school.example" || !msgs[0].TLS {
		t.Errorf("email to %v, TLS %v", msgs[0].To, msgs[0].TLS)
	}
	for _, want := range []string{"Critical safeguarding concern #1", "127.0.0.1", "pupils", "www.example.org", "indicator, not proof"} {
		if !strings.Contains(email, want) {
			t.Errorf("email lacks %q:\n%s", want, email)
		}
	}
	card := teams.got()[0]
	for _, want := range []string{`"AdaptiveCard"`, "127.0.0.1", "pupils", "Self harm", "indicator, not proof"} {
		if !strings.Contains(card, want) {
			t.Errorf("Teams card lacks %q: %s", want, card)
		}
	}

	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"gatehouse"}, args...), &out, &errb)
		return out.String() + errb.String(), err
	}
	out, err := cli("concerns", "list", "--config", in.path)
	if err != nil || !strings.Contains(out, "critical") || !strings.Contains(out, "self-harm") || !strings.Contains(out, "pupils") || !strings.Contains(out, "new") {
		t.Errorf("concerns list: %v\n%s", err, out)
	}

	// The evidence is on legal hold in the query log.
	ql, err := querylog.OpenReadOnly(filepath.Join(stateDir, "querylog.db"))
	if err != nil {
		t.Fatal(err)
	}
	var held []uint64
	waitFor(t, "the evidence held", func() bool {
		held, _ = ql.Held(context.Background(), "safeguarding-concern-1")
		return len(held) == 1
	})
	page, err := ql.Search(context.Background(), querylog.Filter{Domain: "www.example.org", Decision: querylog.Blocked})
	ql.Close()
	if err != nil || len(page.Entries) != 1 || page.Entries[0].ID != held[0] {
		t.Errorf("held %v, logged %+v (%v)", held, page.Entries, err)
	}

	out, err = cli("concerns", "show", "--format", "json", "--config", in.path, "1")
	if err != nil || !strings.Contains(out, fmt.Sprintf(`"query_log_entry": %d`, held[0])) || !strings.Contains(out, `"group": "pupils"`) {
		t.Errorf("concerns show --format json: %v\n%s", err, out)
	}
	if out, err = cli("concerns", "open", "--as", "Ms Jones", "--config", in.path, "1"); err != nil {
		t.Errorf("concerns open: %v\n%s", err, out)
	}
	if out, err = cli("concerns", "close", "--as", "Ms Jones", "--action", "spoke to pupil", "--outcome", "support plan agreed", "--config", in.path, "1"); err != nil {
		t.Errorf("concerns close: %v\n%s", err, out)
	}
	out, err = cli("concerns", "list", "--all", "--config", in.path)
	if err != nil || !strings.Contains(out, "closed") || !strings.Contains(out, "Ms Jones") {
		t.Errorf("after closing: %v\n%s", err, out)
	}
	out, err = cli("safeguarding", "report", "--config", in.path)
	if err != nil || !strings.Contains(out, "Concerns raised this week: 1 (1 closed)") || !strings.Contains(out, "self-harm") || !strings.Contains(out, "support plan agreed") {
		t.Errorf("safeguarding report: %v\n%s", err, out)
	}
	out, err = cli("audit", "verify", "--config", in.path)
	if err != nil || !strings.Contains(out, "audit log verified: 2 records") {
		t.Errorf("audit verify: %v\n%s", err, out)
	}
	out, err = cli("safeguarding", "test-alert", "--to", "dsl", "--config", in.path)
	if err != nil || !strings.Contains(out, "sent   email dsl@school.example") || !strings.Contains(out, "sent   webhook dsl-teams") {
		t.Errorf("test-alert: %v\n%s", err, out)
	}
	if out, err = cli("safeguarding", "test-alert", "--to", "nobody", "--config", in.path); err == nil {
		t.Errorf("test-alert to an unknown recipient succeeded:\n%s", out)
	}
}

func TestAuditVerifyCLI_namesTheBrokenRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "safeguarding.db")
	cfgPath := filepath.Join(dir, "g.yaml")
	if err := os.WriteFile(cfgPath, []byte("version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"gatehouse", "audit", "verify", "--config", cfgPath, "--db", path}, &out, &errb)
	if err == nil {
		t.Fatal("verify of a missing database succeeded")
	}
	// Build a database with a few records, then tamper with record 2.
	if err := buildAuditDB(path); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"gatehouse", "audit", "verify", "--config", cfgPath, "--db", path}, &out, &errb); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	if err := tamperAudit(path, 2); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"gatehouse", "audit", "verify", "--config", cfgPath, "--db", path}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "broken at record 2") {
		t.Errorf("tampered log: %v; want it to name record 2", err)
	}
}

// TestServe_safeguardingReloadRecordsInfrastructureNotSettings edits the
// config of a running server: a new webhook URL takes effect and is
// recorded in the audit log; a new priority in safeguarding.initial does
// not take effect (settings change only by approval) and the log says so.
func TestServe_safeguardingReloadRecordsInfrastructureNotSettings(t *testing.T) {
	up, _ := upstream(t)
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	if err := os.WriteFile(urlFile, []byte("http://127.0.0.1:9/old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := func(d, h int, gambling string) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`safeguarding:
  enabled: true
  webhooks: [{name: dsl-teams, url_file: %s, format: teams}]
  initial:
    priorities: [{category: gambling, priority: %s}]
    recipients: [{name: dsl, role: safeguarding, webhooks: [dsl-teams]}]
`, urlFile, gambling)
	}
	var dnsPort, httpPort int
	in := start(t, func(d, h int) string { dnsPort, httpPort = d, h; return conf(d, h, "low") })
	cli := func(args ...string) string {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"gatehouse"}, args...), &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := cli("audit", "verify", "--config", in.path); !strings.Contains(out, "2 records") {
		t.Fatalf("at start: %s", out)
	}
	if err := os.WriteFile(urlFile, []byte("http://127.0.0.1:9/new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := in.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf(dnsPort, httpPort, "critical")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, in.path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return metricValue(t, in, "gatehouse_config_generation") == "2" })
	if out := cli("audit", "verify", "--config", in.path); !strings.Contains(out, "3 records") {
		t.Errorf("after a new webhook URL: %s; want the change recorded", out)
	}
	out := cli("safeguarding", "settings", "--config", in.path)
	if !strings.Contains(out, `{"category":"gambling","priority":"low"}`) || !strings.HasPrefix(out, "version 1") {
		t.Errorf("settings changed by editing the file:\n%s", out)
	}
	if !strings.Contains(in.logs.String(), "safeguarding.initial changed in the config file") {
		t.Errorf("no warning that initial settings are ignored:\n%s", in.logs.String())
	}
}
