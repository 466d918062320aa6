package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestTrust(t *testing.T) {
	const base = "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"
	c, err := Parse("t.yaml", []byte(base+"trust:\n  serve: {token_file: /etc/gatehouse/trust.token}\n  sites:\n    - {name: North Academy, url: 'https://north.trust.example:8053', token_file: /etc/gatehouse/north.token}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Trust.Serve.Share != "aggregate" || c.Trust.Timeout.Seconds() != 10 || len(c.Trust.Sites) != 1 || c.Trust.Sites[0].Name != "North Academy" {
		t.Errorf("trust = %+v, want share aggregate by default, timeout 10s, one site", c.Trust)
	}
	bad := []struct{ name, yaml, path, msg string }{
		{"share", "trust: {serve: {share: everything}}\n", "trust.serve.share", "must be aggregate"},
		{"relative token", "trust: {serve: {token_file: trust.token}}\n", "trust.serve.token_file", "absolute path"},
		{"token without listener", "listen: {http: ''}\ntrust: {serve: {token_file: /t}}\n", "trust.serve.token_file", "listen.http is off"},
		{"token without dashboard", "dashboard: {enabled: false}\ntrust: {serve: {token_file: /t}}\n", "trust.serve.token_file", "dashboard.enabled is false"},
		{"site url scheme", "trust: {sites: [{name: n, url: 'ftp://n:1', token_file: /t}]}\n", "trust.sites[0].url", "must be http://host:port"},
		{"site url path", "trust: {sites: [{name: n, url: 'https://n:1/api?x=1', token_file: /t}]}\n", "trust.sites[0].url", "only scheme, host and port"},
		{"site url password", "trust: {sites: [{name: n, url: 'https://u:p@n:1', token_file: /t}]}\n", "trust.sites[0].url", "only scheme, host and port"},
		{"site twice", "trust: {sites: [{name: n, url: 'http://a:1', token_file: /t}, {name: n, url: 'http://b:1', token_file: /t}]}\n", "trust.sites[1].name", "listed twice"},
		{"site token missing", "trust: {sites: [{name: n, url: 'http://a:1'}]}\n", "trust.sites[0].token_file", "required"},
		{"site name control", "trust: {sites: [{name: \"a\\tb\", url: 'http://a:1', token_file: /t}]}\n", "trust.sites[0].name", "control characters"},
		{"timeout", "trust: {timeout: 0s}\n", "trust.timeout", "longer than 0s"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(base+tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v, want one config error", err)
			}
			if e := errs[0]; e.Path != tc.path || !strings.Contains(e.Msg, tc.msg) || e.Line < 4 {
				t.Errorf("error = %q (path %q), want path %q, message containing %q, a line in the trust section", e.Error(), e.Path, tc.path, tc.msg)
			}
		})
	}
}

func TestLoadTrustSites(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/sites.yaml"
	os.WriteFile(good, []byte("sites:\n  - {name: North, url: 'http://127.0.0.1:8053', token_file: /etc/gatehouse/north.token}\ntimeout: 3s\n"), 0o600)
	tr, err := LoadTrustSites(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Sites) != 1 || tr.Timeout.Seconds() != 3 || tr.Serve.Share != "aggregate" {
		t.Errorf("LoadTrustSites = %+v", tr)
	}
	bad := dir + "/bad.yaml"
	os.WriteFile(bad, []byte("sites:\n  - {name: North, url: 'http://127.0.0.1:8053'}\n  - {name: South, url: 'gopher://x', token_file: /t}\ntimout: 3s\n"), 0o600)
	_, err = LoadTrustSites(bad)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("err = %v, want three errors", err)
	}
	for i, want := range []string{bad + ":2:5: sites[0].token_file", bad + ":3:24: sites[1].url", bad + ":4:1: timout"} {
		if !strings.HasPrefix(errs[i].Error(), want) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), want)
		}
	}
}
