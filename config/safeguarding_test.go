package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParse_safeguardingErrors(t *testing.T) {
	const base = "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: pupils}]\n"
	const smtp = "  smtp: {address: 'smtp.school.example:587', from: g@school.example}\n"
	const dsl = "    recipients: [{name: dsl, role: safeguarding, email: [dsl@school.example]}]\n"
	tests := []struct {
		name, yaml, wantAt, path, wantMsg string
	}{
		{"needs the query log", base + "query_log: {enabled: false}\nsafeguarding: {enabled: true}\n", "5:25", "safeguarding.enabled", "needs the query log"},
		{"school hours period", base + "safeguarding: {school_hours: lessons}\n", "4:30", "safeguarding.school_hours", `"lessons" is not one of the periods`},
		{"retention in days", base + "safeguarding: {retention: 36h}\n", "4:27", "safeguarding.retention", "whole days"},
		{"smtp host:port", base + "safeguarding:\n  smtp: {address: smtp.school.example, from: g@school.example}\n", "5:19", "safeguarding.smtp.address", "is not host:port"},
		{"smtp from", base + "safeguarding:\n  smtp: {address: 'smtp.school.example:587', from: 'Gatehouse <g@x>'}\n", "5:52", "safeguarding.smtp.from", "not an email address"},
		{"smtp password file relative", base + "safeguarding:\n" + strings.Replace(smtp, "}", ", username: u, password_file: pw.txt}", 1), "5:98", "safeguarding.smtp.password_file", "must be an absolute path"},
		{"webhook url and file", base + "safeguarding:\n  webhooks: [{name: t, url: 'https://x.example/h', url_file: /etc/x}]\n", "5:14", "safeguarding.webhooks[0]", "exactly one of url or url_file"},
		{"webhook url scheme", base + "safeguarding:\n  webhooks: [{name: t, url: 'ftp://x.example/h'}]\n", "5:29", "safeguarding.webhooks[0].url", "not an http(s) URL"},
		{"webhook format", base + "safeguarding:\n  webhooks: [{name: t, url: 'https://x.example/h', format: discord}]\n", "5:60", "safeguarding.webhooks[0].format", `got "discord"`},
		{"webhook twice", base + "safeguarding:\n  webhooks: [{name: t, url: 'https://x.example/h'}, {name: t, url: 'https://x.example/i'}]\n", "5:60", "safeguarding.webhooks[1].name", "defined twice"},
		{"syslog network", base + "safeguarding:\n  syslog: {network: unix, address: 'localhost:514'}\n", "5:21", "safeguarding.syslog.network", `expected "udp" or "tcp"`},
		{"unknown category", base + "safeguarding:\n  initial:\n    priorities: [{category: porn, priority: high}]\n", "6:29", "safeguarding.initial.priorities[0].category", `unknown category "porn"`},
		{"bad priority", base + "safeguarding:\n  initial:\n    priorities: [{category: gambling, priority: urgent}]\n", "6:49", "safeguarding.initial.priorities[0].priority", `got "urgent"`},
		{"iwf lowered", base + "safeguarding:\n  initial:\n    priorities: [{category: iwf, priority: high}]\n", "6:44", "safeguarding.initial.priorities[0].priority", "locked category: its priority is always critical"},
		{"ctiru none", base + "safeguarding:\n  initial:\n    priorities: [{category: ctiru, priority: none}]\n", "6:46", "safeguarding.initial.priorities[0].priority", "locked category"},
		{"critical threshold", base + "safeguarding:\n  initial:\n    rules: [{priority: critical, threshold: 3}]\n", "6:45", "safeguarding.initial.rules[0].threshold", "must be 1"},
		{"locked category threshold", base + "safeguarding:\n  initial:\n    rules: [{priority: high, category: iwf, threshold: 2}]\n", "6:56", "safeguarding.initial.rules[0].threshold", "must be 1"},
		{"rule window", base + "safeguarding:\n  initial:\n    rules: [{priority: high, threshold: 2, window: 10s}]\n", "6:52", "safeguarding.initial.rules[0].window", "from 1m to 7d"},
		{"recipient email without smtp", base + "safeguarding:\n  initial:\n" + dsl, "6:58", "safeguarding.initial.recipients[0].email[0]", "needs a mail server"},
		{"recipient role", base + "safeguarding:\n" + smtp + "  initial:\n" + strings.Replace(dsl, "safeguarding", "dsl", 1), "7:36", "safeguarding.initial.recipients[0].role", `got "dsl"`},
		{"recipient webhook", base + "safeguarding:\n  initial:\n    recipients: [{name: dsl, role: safeguarding, webhooks: [teams]}]\n", "6:61", "safeguarding.initial.recipients[0].webhooks[0]", `"teams" is not one of safeguarding.webhooks`},
		{"recipient without channel", base + "safeguarding:\n  initial:\n    recipients: [{name: dsl, role: safeguarding}]\n", "6:18", "safeguarding.initial.recipients[0]", "no email, webhook or syslog"},
		{"recipient called on-call", base + "safeguarding:\n" + smtp + "  initial:\n" + strings.Replace(dsl, "name: dsl", "name: on-call", 1), "7:25", "safeguarding.initial.recipients[0].name", "not a valid recipient name"},
		{"route recipient", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    routes: [{priorities: [high], to: [dls]}]\n", "8:40", "safeguarding.initial.routes[0].to[0]", `"dls" is not one of the recipients`},
		{"route group", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    routes: [{priorities: [high], groups: [staff], to: [dsl]}]\n", "8:44", "safeguarding.initial.routes[0].groups[0]", `"staff" is not one of the groups`},
		{"route speed", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    routes: [{priorities: [high], to: [dsl], speed: weekly}]\n", "8:53", "safeguarding.initial.routes[0].speed", `got "weekly"`},
		{"route when", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    routes: [{priorities: [high], to: [dsl], when: evenings}]\n", "8:52", "safeguarding.initial.routes[0].when", `got "evenings"`},
		{"route priority none", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    routes: [{priorities: [none], to: [dsl]}]\n", "8:28", "safeguarding.initial.routes[0].priorities[0]", `got "none"`},
		{"on-call rota window", base + "safeguarding:\n" + smtp + "  initial:\n" + dsl + "    on_call: [{recipient: dsl, weekly: [Sat 25:00-26:00]}]\n", "8:41", "safeguarding.initial.on_call[0].weekly[0]", ""},
		{"timescale order", base + "safeguarding:\n  initial:\n    timescales: [{priority: high, acknowledge: 2h, close: 1h}]\n", "6:59", "safeguarding.initial.timescales[0].close", "no shorter than acknowledge"},
		{"weekly report day", base + "safeguarding:\n  initial:\n    weekly_report: {weekday: Mon-Fri}\n", "6:30", "safeguarding.initial.weekly_report.weekday", "one day like Mon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want config errors", err)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			e := errs[0]
			want := "t.yaml:" + tc.wantAt + ": " + tc.path + ": "
			if got := e.Error(); !strings.HasPrefix(got, want) || !strings.Contains(e.Msg, tc.wantMsg) {
				t.Errorf("error = %q\nwant prefix %q and message containing %q", got, want, tc.wantMsg)
			}
		})
	}
}

func TestParse_safeguardingValid(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`version: 1
resolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}
periods: [{name: lessons, weekly: ["Mon-Fri 08:40-15:20"], term_time_only: false}]
groups: [{name: pupils}]
safeguarding:
  enabled: true
  school_hours: lessons
  smtp: {address: "[2001:db8::25]:587", from: g@school.example}
  initial:
    recipients: [{name: dsl, role: safeguarding, email: [dsl@school.example]}]
    routes: [{priorities: [critical], to: [dsl]}, {priorities: [critical], when: out-of-hours, to: [on-call]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Safeguarding.Initial.Routes[0]
	if r.When != "always" || r.Speed != "immediate" || c.Safeguarding.Syslog.Network != "udp" {
		t.Errorf("defaults not filled: %+v, syslog %+v", r, c.Safeguarding.Syslog)
	}
}
