package config

import (
	"fmt"
	"os"
	"reflect"
	"time"
)

// Trust is trust-wide reporting for a multi-academy trust running one
// Gatehouse per site (docs/trust.md).
type Trust struct {
	// Serve offers this site's weekly summary to the trust.
	Serve TrustServe `yaml:"serve"`
	// Sites are the sites this Gatehouse collects summaries from, for the
	// dashboard's Trust page; empty: no Trust page.
	Sites []TrustSite `yaml:"sites"`
	// CAFile (PEM) is trusted besides the system's roots when fetching
	// over HTTPS, for sites with the trust's own certificates.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds each site's fetch.
	Timeout time.Duration `yaml:"timeout" default:"10s"`
}

// TrustServe is the site's end of trust reporting.
type TrustServe struct {
	// TokenFile holds the bearer token (one line, at least 16 characters)
	// the trust's collector sends; empty: the summary is not served.
	TokenFile string `yaml:"token_file"`
	// Share is what leaves the site: "aggregate" (counts only, no pupil's
	// address, MAC, host name or looked-up name) or "identities" (also
	// the week's concerns with their devices and bypass attempts per
	// device, only where the trust's DSL is entitled to them).
	Share string `yaml:"share" default:"aggregate"`
}

// TrustSite is one site a collector reads.
type TrustSite struct {
	Name string `yaml:"name,required"`
	// URL is the site's dashboard listener, http:// or https://host:port.
	URL string `yaml:"url,required"`
	// TokenFile holds the token that site's trust.serve.token_file holds.
	TokenFile string `yaml:"token_file,required"`
}

// LoadTrustSites reads a sites file for "gatehouse trust report --sites":
// the keys of a config's trust section (sites, ca_file, timeout) at the
// top level, checked the same way.
func LoadTrustSites(path string) (*Trust, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sites file: %w", err)
	}
	top, errs := parseDocument(path, data)
	if top == nil {
		return nil, errs
	}
	var t Trust
	d := newDecoder(path)
	d.decode("", top, reflect.ValueOf(&t).Elem())
	v := validator{file: path, pos: d.pos, bad: d.bad}
	v.trustSection("", &t)
	errs = append(errs, d.errs...)
	errs = append(errs, v.errs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errs
	}
	return &t, nil
}
