package safeguarding

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"strings"
	"time"
)

// ExportJSON writes one concern with its evidence, history and deliveries
// as JSON, for the school's safeguarding record system.
func (e *Engine) ExportJSON(ctx context.Context, id int64, w io.Writer) error {
	r, err := e.Get(ctx, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(exportRecord(r))
}

// exportRecord is the stable JSON shape of an export.
func exportRecord(r Record) any {
	type evidence struct {
		Entry    uint64    `json:"query_log_entry"`
		Time     time.Time `json:"time"`
		Name     string    `json:"name"`
		Type     uint16    `json:"qtype"`
		Decision string    `json:"decision"`
		Category string    `json:"category"`
		List     string    `json:"list"`
		Matched  string    `json:"matched"`
		Address  string    `json:"address"`
		Held     bool      `json:"legal_hold"`
	}
	type event struct {
		Time   time.Time `json:"time"`
		Actor  string    `json:"actor"`
		Kind   string    `json:"kind"`
		Detail string    `json:"detail"`
	}
	type delivery struct {
		Kind      string    `json:"kind"`
		Recipient string    `json:"recipient"`
		Channel   string    `json:"channel"`
		Target    string    `json:"target"`
		State     string    `json:"state"`
		Attempts  int       `json:"attempts"`
		SentAt    time.Time `json:"sent_at,omitzero"`
		LastError string    `json:"last_error,omitempty"`
	}
	c := r.Concern
	out := struct {
		Site           string     `json:"site,omitempty"`
		Exported       time.Time  `json:"exported"`
		Notice         string     `json:"notice"`
		ID             int64      `json:"concern"`
		Category       string     `json:"category"`
		CategoryTitle  string     `json:"category_title"`
		Priority       string     `json:"priority"`
		Status         string     `json:"status"`
		Incident       bool       `json:"incident"`
		Owner          string     `json:"owner,omitempty"`
		FirstLookup    time.Time  `json:"first_lookup"`
		LastLookup     time.Time  `json:"last_lookup"`
		Raised         time.Time  `json:"raised"`
		Lookups        int        `json:"lookups"`
		Name           string     `json:"name"`
		Device         Device     `json:"device"`
		AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
		AcknowledgedAt time.Time  `json:"acknowledged_at,omitzero"`
		ActionTaken    string     `json:"action_taken,omitempty"`
		Outcome        string     `json:"outcome,omitempty"`
		ClosedAt       time.Time  `json:"closed_at,omitzero"`
		AcknowledgeBy  time.Time  `json:"acknowledge_by,omitzero"`
		CloseBy        time.Time  `json:"close_by,omitzero"`
		Overdue        bool       `json:"overdue"`
		Evidence       []evidence `json:"evidence"`
		History        []event    `json:"history"`
		Deliveries     []delivery `json:"deliveries"`
	}{
		Site: r.Site, Exported: r.Exported.UTC(), Notice: r.Notice, ID: c.ID, Category: c.Category, CategoryTitle: Title(c.Category),
		Priority: c.Priority.String(), Status: string(c.Status), Incident: c.Incident, Owner: c.Owner,
		FirstLookup: c.Time.UTC(), LastLookup: c.LastHit.UTC(), Raised: c.Created.UTC(), Lookups: c.Hits, Name: c.Name, Device: c.Device,
		AcknowledgedBy: c.AcknowledgedBy, AcknowledgedAt: c.AcknowledgedAt.UTC(), ActionTaken: c.ActionTaken, Outcome: c.Outcome,
		ClosedAt: c.ClosedAt.UTC(), AcknowledgeBy: c.AcknowledgeBy.UTC(), CloseBy: c.CloseBy.UTC(), Overdue: c.Overdue,
		Evidence: []evidence{}, History: []event{}, Deliveries: []delivery{},
	}
	for _, ev := range r.Evidence {
		out.Evidence = append(out.Evidence, evidence{ev.Entry, ev.Time.UTC(), ev.Name, ev.Type, ev.Decision, ev.Category, ev.List, ev.Matched, ev.Addr, ev.Held})
	}
	for _, ev := range r.Events {
		out.History = append(out.History, event{ev.Time.UTC(), ev.Actor, ev.Kind, ev.Detail})
	}
	for _, d := range r.Deliveries {
		out.Deliveries = append(out.Deliveries, delivery{d.Kind, d.Recipient, d.Channel, d.Target, d.State, d.Attempts, d.SentAt.UTC(), d.LastError})
	}
	return out
}

// recordPage is the printable incident record. html/template escapes
// every value (names and hostnames come from the network).
var recordPage = template.Must(template.New("record").Funcs(template.FuncMap{
	"title": Title,
	"when": func(loc *time.Location, t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(loc).Format("Mon 2 Jan 2006 15:04:05 MST")
	},
	"trimdot": func(s string) string { return strings.TrimSuffix(s, ".") },
	"lines":   func(s string) []string { return strings.Split(s, "\n") },
}).Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>Safeguarding concern #{{.R.Concern.ID}}{{with .R.Site}} - {{.}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#111;max-width:60em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.25em .5em;border-bottom:1px solid #ddd}
th{width:14em}.notice{border:1px solid #c60;padding:.6em;background:#fff6e8}.mono{font-family:monospace}
@media print{body{margin:0}.notice{background:none}}
</style>
</head>
<body>
<h1>Safeguarding concern #{{.R.Concern.ID}}: {{title .R.Concern.Category}}</h1>
{{with .R.Site}}<p>{{.}}</p>{{end}}
<p class="notice">{{.R.Notice}}</p>
<h2>Summary</h2>
<table>
<tr><th>Priority</th><td>{{.R.Concern.Priority}}</td></tr>
<tr><th>Status</th><td>{{.R.Concern.Status}}{{if .R.Concern.Overdue}} (overdue){{end}}</td></tr>
<tr><th>Incident</th><td>{{if .R.Concern.Incident}}yes, owner {{.R.Concern.Owner}}{{else}}no{{end}}</td></tr>
<tr><th>Device</th><td class="mono">{{.R.Concern.Device.String}}</td></tr>
<tr><th>Group</th><td>{{.R.Concern.Device.Group}}</td></tr>
<tr><th>Placed in group by</th><td>{{.R.Concern.Device.ClientRule}}</td></tr>
<tr><th>Lease from</th><td class="mono">{{.R.Concern.Device.LeaseSource}}</td></tr>
<tr><th>Looked up</th><td class="mono">{{trimdot .R.Concern.Name}}</td></tr>
<tr><th>First lookup</th><td>{{when .Loc .R.Concern.Time}}</td></tr>
<tr><th>Last lookup</th><td>{{when .Loc .R.Concern.LastHit}}</td></tr>
<tr><th>Lookups</th><td>{{.R.Concern.Hits}}</td></tr>
<tr><th>Raised</th><td>{{when .Loc .R.Concern.Created}}</td></tr>
<tr><th>Acknowledged</th><td>{{if .R.Concern.AcknowledgedBy}}{{.R.Concern.AcknowledgedBy}}, {{when .Loc .R.Concern.AcknowledgedAt}}{{else}}-{{end}}</td></tr>
<tr><th>Acknowledge by</th><td>{{when .Loc .R.Concern.AcknowledgeBy}}</td></tr>
<tr><th>Close by</th><td>{{when .Loc .R.Concern.CloseBy}}</td></tr>
<tr><th>Action taken</th><td>{{range lines .R.Concern.ActionTaken}}{{.}}<br>{{end}}</td></tr>
<tr><th>Outcome</th><td>{{range lines .R.Concern.Outcome}}{{.}}<br>{{end}}</td></tr>
<tr><th>Closed</th><td>{{when .Loc .R.Concern.ClosedAt}}</td></tr>
</table>
<h2>Evidence (query log entries{{if .R.Concern.Held}}, on legal hold{{end}})</h2>
<table>
<tr><th>Entry</th><th>Time</th><th>Name</th><th>Decision</th><th>Category</th><th>List</th><th>Matched</th></tr>
{{range .R.Evidence}}<tr><td class="mono">{{.Entry}}</td><td>{{when $.Loc .Time}}</td><td class="mono">{{trimdot .Name}}</td><td>{{.Decision}}</td><td>{{.Category}}</td><td>{{.List}}</td><td class="mono">{{.Matched}}</td></tr>
{{end}}</table>
<h2>History</h2>
<table>
<tr><th>Time</th><th>Who</th><th>What</th><th>Detail</th></tr>
{{range .R.Events}}<tr><td>{{when $.Loc .Time}}</td><td>{{.Actor}}</td><td>{{.Kind}}</td><td>{{range lines .Detail}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
<h2>Notifications</h2>
<table>
<tr><th>Kind</th><th>To</th><th>Channel</th><th>State</th><th>Sent</th></tr>
{{range .R.Deliveries}}<tr><td>{{.Kind}}</td><td>{{.Recipient}}</td><td>{{.Channel}} {{.Target}}</td><td>{{.State}}{{if .LastError}} ({{.LastError}}){{end}}</td><td>{{when $.Loc .SentAt}}</td></tr>
{{end}}</table>
<p>Exported {{when .Loc .R.Exported}} by Gatehouse.</p>
</body>
</html>
`))

// ExportHTML writes one concern as a printable HTML page (print to PDF
// from the browser for the school's safeguarding record).
func (e *Engine) ExportHTML(ctx context.Context, id int64, w io.Writer) error {
	r, err := e.Get(ctx, id)
	if err != nil {
		return err
	}
	return recordPage.Execute(w, struct {
		R   Record
		Loc *time.Location
	}{r, e.loc})
}
