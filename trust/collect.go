package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// SiteConfig is one site a collector reads.
type SiteConfig struct {
	Name  string
	URL   string // the site's dashboard, e.g. https://north.trust.example:8053
	Token string
}

// Site states in a Report.
const (
	StateOK           = "ok"
	StateUnreachable  = "unreachable"  // no HTTP answer (down, refused, timeout, TLS)
	StateUnauthorized = "unauthorized" // 401: no token was accepted
	StateForbidden    = "forbidden"    // 403: the token is wrong
	StateError        = "error"        // any other answer, or not a summary
)

// SiteResult is one site in a Report: its summary, or why there is none.
type SiteResult struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// LastReached is the last time a summary came from the site (zero:
	// never, as far as this collector remembers).
	LastReached time.Time `json:"last_reached"`
	Summary     *Summary  `json:"summary,omitempty"`
}

// maxSummaryBytes bounds what a site may send; maxErrorBytes what is
// shown of why a site failed.
const (
	maxSummaryBytes = 8 << 20
	maxErrorBytes   = 300
)

// Collector fetches the sites' summaries. It remembers when each site was
// last reached, in StatePath when set, so a site down since yesterday
// says since when.
type Collector struct {
	sites     []SiteConfig
	client    *http.Client
	statePath string
	now       func() time.Time

	mu      sync.Mutex
	reached map[string]time.Time // by site name
}

// NewCollector builds a collector. client should carry a timeout; a nil
// client gets one of 15 s. statePath ("" for none) keeps the last-reached
// times across runs; a missing or unreadable file starts empty.
func NewCollector(sites []SiteConfig, client *http.Client, statePath string, now func() time.Time) *Collector {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	c := &Collector{sites: sites, client: client, statePath: statePath, now: now, reached: map[string]time.Time{}}
	if statePath != "" {
		if data, err := os.ReadFile(statePath); err == nil {
			json.Unmarshal(data, &c.reached) // a damaged file only loses history
		}
	}
	return c
}

// Sites returns how many sites the collector reads.
func (c *Collector) Sites() int { return len(c.sites) }

// Collect fetches every site's summary of the week around week
// (YYYY-MM-DD; "" is each site's current week), all at once, and builds
// the report. Every configured site is in it, reached or not.
func (c *Collector) Collect(ctx context.Context, week string) Report {
	results := make([]SiteResult, len(c.sites))
	var wg sync.WaitGroup
	for i, s := range c.sites {
		wg.Go(func() { results[i] = c.fetch(ctx, s, week) })
	}
	wg.Wait()
	c.mu.Lock()
	for i := range results {
		r := &results[i]
		if r.State == StateOK {
			c.reached[r.Name] = c.now()
		}
		r.LastReached = c.reached[r.Name]
	}
	if c.statePath != "" {
		// Written under the lock, so two collections at once (two people
		// on the Trust page) cannot interleave their writes.
		if state, err := json.Marshal(c.reached); err == nil {
			tmp := c.statePath + ".tmp"
			if os.WriteFile(tmp, state, 0o600) == nil {
				os.Rename(tmp, c.statePath)
			}
		}
	}
	c.mu.Unlock()
	return newReport(week, c.now(), results)
}

func (c *Collector) fetch(ctx context.Context, s SiteConfig, week string) SiteResult {
	r := SiteResult{Name: s.Name, URL: s.URL}
	fail := func(state string, format string, a ...any) SiteResult {
		r.State, r.Error = state, fmt.Sprintf(format, a...)
		if len(r.Error) > maxErrorBytes { // a site chooses its status text
			r.Error = strings.ToValidUTF8(r.Error[:maxErrorBytes], "") + "…"
		}
		return r
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return fail(StateError, "bad URL: %v", err)
	}
	u = u.JoinPath(Path)
	if week != "" {
		u.RawQuery = url.Values{"week": {week}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(StateError, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is shown beside it already
		}
		return fail(StateUnreachable, "%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSummaryBytes+1))
	if err != nil {
		return fail(StateUnreachable, "reading the answer: %v", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fail(StateUnauthorized, "the site asks for a login (401): is trust.serve.token_file set at the site, and is it a Gatehouse dashboard?")
	case resp.StatusCode == http.StatusForbidden:
		return fail(StateForbidden, "the site refused the token (403): the token differs from the site's trust.serve.token_file")
	case resp.StatusCode != http.StatusOK:
		return fail(StateError, "the site answered %s", resp.Status)
	case len(body) > maxSummaryBytes:
		return fail(StateError, "the answer is larger than %d bytes", maxSummaryBytes)
	}
	var sum Summary
	if err := json.Unmarshal(body, &sum); err != nil {
		return fail(StateError, "the answer is not a summary: %v", err)
	}
	if sum.Version != Version {
		return fail(StateError, "summary version %d, this Gatehouse reads version %d: upgrade the older one", sum.Version, Version)
	}
	r.State, r.Summary = StateOK, &sum
	return r
}
