package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Webhook formats.
const (
	FormatJSON  = "json"
	FormatTeams = "teams"
	FormatSlack = "slack"
)

// Webhook posts messages to one URL.
type Webhook struct {
	Name   string
	URL    string
	Format string // json, teams or slack
	// Client defaults to one with a 15s timeout that does not follow
	// redirects (a webhook that moves is misconfigured, and following
	// would send the alert somewhere not configured).
	Client *http.Client
}

// CheckURL accepts an absolute http or https URL.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", Redact(s))
	}
	return nil
}

// Redact shows a webhook URL without its path and query, which often hold
// the secret (Teams and Slack URLs do).
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

var defaultClient = &http.Client{
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Send posts msg once; any status but 2xx is an error.
func (w *Webhook) Send(ctx context.Context, msg Message) error {
	body, err := Payload(w.Format, msg)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", messageID(msg.Key))
	req.Header.Set("User-Agent", "gatehouse-safeguarding")
	c := w.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s (%s): %w", w.Name, Redact(w.URL), scrub(err, w.URL))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s (%s): HTTP %d %s", w.Name, Redact(w.URL), resp.StatusCode, oneLine(string(snippet)))
	}
	return nil
}

// scrub removes the URL (and its secret) from an error message.
func scrub(err error, u string) error {
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), u, Redact(u)))
}

// Payload renders msg in a webhook format.
func Payload(format string, msg Message) ([]byte, error) {
	var v any
	switch format {
	case FormatJSON, "":
		v = msg
	case FormatTeams:
		v = teamsCard(msg)
	case FormatSlack:
		v = slackPayload(msg)
	default:
		return nil, fmt.Errorf("unknown webhook format %q (want json, teams or slack)", format)
	}
	return json.Marshal(v)
}

// teamsCard is a message with one Adaptive Card attachment: the shape
// both Teams workflows ("when a webhook request is received") and the
// older incoming webhooks accept.
func teamsCard(msg Message) any {
	type textBlock struct {
		Type   string `json:"type"`
		Text   string `json:"text"`
		Wrap   bool   `json:"wrap"`
		Weight string `json:"weight,omitempty"`
		Size   string `json:"size,omitempty"`
		Color  string `json:"color,omitempty"`
		Italic bool   `json:"isSubtle,omitempty"`
	}
	type fact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	type factSet struct {
		Type  string `json:"type"`
		Facts []fact `json:"facts"`
	}
	color := "Default"
	switch msg.Priority {
	case "critical", "high":
		color = "Attention"
	case "medium":
		color = "Warning"
	}
	body := []any{textBlock{Type: "TextBlock", Text: teamsEscape(msg.Subject), Wrap: true, Weight: "Bolder", Size: "Medium", Color: color}}
	if len(msg.Facts) > 0 {
		fs := factSet{Type: "FactSet"}
		for _, f := range msg.Facts {
			fs.Facts = append(fs.Facts, fact{Title: teamsEscape(f.Name), Value: teamsEscape(f.Value)})
		}
		body = append(body, fs)
	} else if msg.Body != "" {
		body = append(body, textBlock{Type: "TextBlock", Text: teamsEscape(msg.Body), Wrap: true})
	}
	if msg.Notice != "" {
		body = append(body, textBlock{Type: "TextBlock", Text: teamsEscape(msg.Notice), Wrap: true, Italic: true})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body":    body,
			},
		}},
	}
}

// teamsEscape stops hostile names becoming markdown (links, emphasis) in
// a card: Adaptive Cards render a markdown subset in text and facts.
func teamsEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\*_[]()<>#~`+"`", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// slackPayload is text plus a section block; Slack's mrkdwn needs &, <
// and > escaped (a "<http://...|x>" in a hostname would be a link).
func slackPayload(msg Message) any {
	var b strings.Builder
	b.WriteString("*" + slackEscape(msg.Subject) + "*")
	for _, f := range msg.Facts {
		b.WriteString("\n" + slackEscape(f.Name) + ": " + slackEscape(f.Value))
	}
	if len(msg.Facts) == 0 && msg.Body != "" {
		b.WriteString("\n" + slackEscape(msg.Body))
	}
	if msg.Notice != "" {
		b.WriteString("\n_" + slackEscape(msg.Notice) + "_")
	}
	return map[string]any{
		"text": slackEscape(msg.Subject),
		"blocks": []any{map[string]any{
			"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": b.String()},
		}},
	}
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
