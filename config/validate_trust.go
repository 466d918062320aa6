package config

import (
	"fmt"
	"net/url"
	"strings"
)

// trust checks trust-wide reporting.
func (v *validator) trust(c *Config) {
	t := &c.Trust
	if t.Serve.TokenFile != "" && c.Listen.HTTP == nil {
		v.errorf("trust.serve.token_file", "is set but listen.http is off, so the summary could not be served")
	} else if t.Serve.TokenFile != "" && !c.Dashboard.Enabled {
		v.errorf("trust.serve.token_file", "is set but dashboard.enabled is false: the summary is served by the dashboard")
	}
	v.trustSection("trust.", t)
}

// trustSection checks a trust section under prefix ("trust." in a
// config, "" in a sites file).
func (v *validator) trustSection(prefix string, t *Trust) {
	if t.Serve.Share != "aggregate" && t.Serve.Share != "identities" {
		v.errorf(prefix+"serve.share", "%q: must be aggregate (counts only, the default) or identities", t.Serve.Share)
	}
	paths := []struct{ path, val string }{{prefix + "serve.token_file", t.Serve.TokenFile}, {prefix + "ca_file", t.CAFile}}
	names := map[string]bool{}
	for i, s := range t.Sites {
		path := fmt.Sprintf("%ssites[%d]", prefix, i)
		if strings.TrimSpace(s.Name) == "" || strings.ContainsFunc(s.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			v.errorf(path+".name", "give the site a name without control characters")
		} else if names[s.Name] {
			v.errorf(path+".name", "site %q is listed twice", s.Name)
		}
		names[s.Name] = true
		u, err := url.Parse(s.URL)
		switch {
		case err != nil:
			v.errorf(path+".url", "%v", err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			v.errorf(path+".url", "%q: must be http://host:port or https://host:port (the site's dashboard listener)", s.URL)
		case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Path != "" && u.Path != "/":
			v.errorf(path+".url", "%q: give only scheme, host and port; the token goes in token_file", s.URL)
		}
		paths = append(paths, struct{ path, val string }{path + ".token_file", s.TokenFile})
	}
	for _, p := range paths {
		if p.val != "" && !strings.HasPrefix(p.val, "/") {
			v.errorf(p.path, "%q must be an absolute path", p.val)
		}
	}
	v.positive(prefix+"timeout", t.Timeout)
}
