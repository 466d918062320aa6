package querylog

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// exportPage is how many entries an export reads per query.
const exportPage = 1000

// ISO 8601 with milliseconds: UTC with "Z", local time with its offset.
const (
	timeFormat      = "2006-01-02T15:04:05.000Z07:00"
	localTimeFormat = "2006-01-02T15:04:05.000-07:00"
)

// csvHeader names the ExportCSV columns.
var csvHeader = []string{"id", "time_utc", "time_local", "client", "mac", "hostname", "group", "client_rule",
	"qname", "qtype", "proto", "decision", "category", "list", "matched", "rcode", "answer", "source",
	"dnssec", "duration_ms", "ref", "forwarder"}

// ExportCSV writes every entry matching f (newest first; f.Limit and
// f.Cursor are ignored) as CSV with a header row. Times are UTC and the
// site's zone, ISO 8601. Text cells that a spreadsheet would run as a
// formula (starting with = + - @, tab or CR) are prefixed with '.
func (l *Log) ExportCSV(ctx context.Context, f Filter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("exporting csv: %w", err)
	}
	rec := make([]string, len(csvHeader))
	err := l.each(ctx, f, func(e *Entry) error {
		r := l.record(e)
		rec = append(rec[:0], strconv.FormatUint(r.ID, 10), r.Time, r.LocalTime)
		for _, s := range []string{r.Client, r.MAC, r.Hostname, r.Group, r.ClientRule, r.QName, r.QType, r.Proto,
			r.Decision, r.Category, r.List, r.Matched, r.Rcode, r.Answer, r.Source, r.DNSSEC} {
			rec = append(rec, csvSafe(s))
		}
		rec = append(rec, strconv.FormatFloat(r.DurationMS, 'f', 3, 64), r.Ref, r.Forwarder)
		return cw.Write(rec)
	})
	if err != nil {
		return fmt.Errorf("exporting csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("exporting csv: %w", err)
	}
	return nil
}

// ExportJSONL writes every entry matching f (newest first; f.Limit and
// f.Cursor are ignored) as one JSON object per line.
func (l *Log) ExportJSONL(ctx context.Context, f Filter, w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true) // a log viewed in a browser must not carry live markup
	err := l.each(ctx, f, func(e *Entry) error {
		return enc.Encode(l.record(e))
	})
	if err != nil {
		return fmt.Errorf("exporting json lines: %w", err)
	}
	return nil
}

// each calls fn for every entry matching f, page by page.
func (l *Log) each(ctx context.Context, f Filter, fn func(*Entry) error) error {
	f.Limit, f.Cursor = exportPage, ""
	for {
		p, err := l.Search(ctx, f)
		if err != nil {
			return err
		}
		for i := range p.Entries {
			if err := fn(&p.Entries[i]); err != nil {
				return err
			}
		}
		if p.Next == "" {
			return nil
		}
		f.Cursor = p.Next
	}
}

// Record is an Entry as text, the shape of exports and of the dashboard's
// JSON.
type Record struct {
	ID         uint64  `json:"id"`
	Time       string  `json:"time"`       // UTC, ISO 8601
	LocalTime  string  `json:"local_time"` // the site's zone
	Client     string  `json:"client"`     // address, or pseudonym
	MAC        string  `json:"mac,omitempty"`
	Hostname   string  `json:"hostname,omitempty"`
	Group      string  `json:"group"`
	ClientRule string  `json:"client_rule,omitempty"`
	QName      string  `json:"qname"`
	QType      string  `json:"qtype"`
	Proto      string  `json:"proto"`
	Decision   string  `json:"decision"`
	Category   string  `json:"category,omitempty"`
	List       string  `json:"list,omitempty"`
	Matched    string  `json:"matched,omitempty"`
	Rcode      string  `json:"rcode"`
	Answer     string  `json:"answer,omitempty"`
	Source     string  `json:"source"`
	DNSSEC     string  `json:"dnssec,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	// Ref is the reference of ID as the block page shows it (Ref), last
	// so existing CSV columns keep their places.
	Ref string `json:"ref"`
	// Forwarder is the trusted forwarder that named the client, if any.
	Forwarder string `json:"forwarder,omitempty"`
}

// Record renders e as text, with local times in the site's zone.
func (l *Log) Record(e *Entry) Record { return l.record(e) }

func (l *Log) record(e *Entry) Record {
	client := e.Pseudonym
	if e.Client.IsValid() {
		client = e.Client.String()
	}
	r := Record{
		ID: e.ID, Ref: Ref(e.ID), Time: e.Time.UTC().Format(timeFormat), LocalTime: e.Time.In(l.loc).Format(localTimeFormat),
		Client: client, MAC: e.MAC, Hostname: e.Hostname, Group: e.Group, ClientRule: e.ClientRule,
		QName: e.QName, QType: typeString(e.QType), Proto: e.Proto.String(), Decision: e.Decision.String(),
		Category: e.Category, List: e.List, Matched: e.Matched, Rcode: rcodeString(e.Rcode),
		Answer: summary(e.Answer), Source: e.Source.String(), DNSSEC: e.DNSSEC.String(),
		DurationMS: float64(e.Duration.Round(time.Microsecond)) / float64(time.Millisecond),
	}
	if e.Forwarder.IsValid() {
		r.Forwarder = e.Forwarder.String()
	}
	return r
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeString(r uint16) string {
	if s, ok := dns.RcodeToString[int(r)]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(int(r))
}

// csvSafe defuses spreadsheet formula injection (OWASP "CSV injection").
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
