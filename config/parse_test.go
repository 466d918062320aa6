package config

import (
	"errors"
	"flag"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const packagingExample = "../packaging/gatehouse.yaml"

func mustParse(t *testing.T, file string, data []byte) *Config {
	t.Helper()
	c, err := Parse(file, data)
	if err != nil {
		t.Fatalf("Parse(%s) failed:\n%v", file, err)
	}
	return c
}

func TestDefault(t *testing.T) {
	got := Default()
	want := &Config{
		Version: 1,
		Log:     Log{Level: slog.LevelInfo, Format: LogText},
		Listen: Listen{
			DNS:  []ListenAddr{{Addr: netip.MustParseAddr("127.0.0.1"), Port: 5353}},
			HTTP: &ListenAddr{Addr: netip.MustParseAddr("127.0.0.1"), Port: 8053},
		},
		Server: Server{
			UDPSockets:     0,
			AdaptiveProcs:  true,
			EDNSBufferSize: 1232,
			QueryTimeout:   5 * time.Second,
			TCP:            TCP{MaxConnections: 256, IdleTimeout: 10 * time.Second, ReadTimeout: 2 * time.Second},
		},
		Access: Access{
			Allow: prefixes("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
				"100.64.0.0/10", "169.254.0.0/16", "fe80::/10", "fc00::/7"),
			RateLimit: RateLimit{Exempt: prefixes("127.0.0.0/8", "::1/128")},
		},
		Resolver: Resolver{
			Mode:      ModeRecursive,
			Timeout:   2 * time.Second,
			Recursion: Recursion{QNameMinimisation: true},
			DNSSEC:    DNSSEC{Enabled: true, ClockSkew: time.Hour, NSEC3MaxIterations: 50, AggressiveNSEC: true},
		},
		Cache: Cache{
			Size:           100000,
			MaxTTL:         24 * time.Hour,
			NegativeMaxTTL: time.Hour,
			ServfailTTL:    5 * time.Second,
			ServeStale:     true,
			StaleMaxAge:    24 * time.Hour,
			Prefetch:       true,
		},
		QueryLog: QueryLog{Enabled: true, Retention: 90 * 24 * time.Hour, MergeInterval: 5 * time.Minute},
		Dashboard: Dashboard{Enabled: true, Metrics: MetricsAccess{Allow: prefixes("127.0.0.0/8", "::1/128")},
			AccessLogRetention: 365 * 24 * time.Hour, ClosedReviewRetention: 90 * 24 * time.Hour},
		TimeZone: "Europe/London",
		Blocking: Blocking{TTL: time.Minute},
		Groups: []Group{{Name: "default", BlockAnswer: "nxdomain", SafeSearch: SafeSearch{
			Google: "on", YouTube: "strict", Bing: "on", DuckDuckGo: "on", Pixabay: "on",
			Ecosia: "off", Brave: "on", Yandex: "on", Unsupported: "on",
		}, BlockRebinding: true}},
		DefaultGroup: "default",
		Safeguarding: Safeguarding{Syslog: Syslog{Network: "udp"}},
		Trust:        Trust{Serve: TrustServe{Share: "aggregate"}, Timeout: 10 * time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	mine := Default()
	mine.Groups[0].Name = "changed"
	mine.Listen.HTTP.Port = 1
	if d := Default(); d.Groups[0].Name != "default" || d.Listen.HTTP.Port != 8053 {
		t.Error("Default() shares memory between calls; callers may modify their copy")
	}
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// TestParse_defaults checks that keys left out, or given with no value,
// take their defaults, and that derived values are filled in.
func TestParse_defaults(t *testing.T) {
	c := mustParse(t, "t.yaml", []byte(`version: 1
listen:
  dns: [10.0.0.1, "[::1]"]
  http:
access:
  rate_limit: {queries_per_second: 30}
resolver:
  mode: forward
  upstreams:
    - {address: 192.0.2.1}
    - {address: 192.0.2.2, protocol: tls, tls_server_name: dns.example}
    - {address: "2001:db8::1", protocol: tcp}
  conditional:
    - domains: [School.Internal, 20.10.in-addr.arpa.]
      upstreams: [{address: 10.20.0.10, protocol: tls, tls_server_name: dc1.school.internal}]
cache:
groups:
  - name: pupils
  - name: staff
`))
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen.dns", c.Listen.DNS, []ListenAddr{
			{Addr: netip.MustParseAddr("10.0.0.1"), Port: 53},
			{Addr: netip.MustParseAddr("::1"), Port: 53}}},
		{"listen.http (null = default)", c.Listen.HTTP, d.Listen.HTTP},
		{"server", c.Server, d.Server},
		{"cache (null = default)", c.Cache, d.Cache},
		{"access.allow", c.Access.Allow, d.Access.Allow},
		{"burst = 2 x rate", c.Access.RateLimit.Burst, 60},
		{"udp port", c.Resolver.Upstreams[0].Address, netip.MustParseAddrPort("192.0.2.1:53")},
		{"tls port", c.Resolver.Upstreams[1].Address, netip.MustParseAddrPort("192.0.2.2:853")},
		{"ipv6 port", c.Resolver.Upstreams[2].Address, netip.MustParseAddrPort("[2001:db8::1]:53")},
		{"protocol", c.Resolver.Upstreams[0].Protocol, ProtocolUDP},
		{"conditional port", c.Resolver.Conditional[0].Upstreams[0].Address, netip.MustParseAddrPort("10.20.0.10:853")},
		{"domains canonical", c.Resolver.Conditional[0].Domains, []string{"school.internal.", "20.10.in-addr.arpa."}},
		{"default_group = first", c.DefaultGroup, "pupils"},
		{"description", c.Groups[1].Description, ""},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParse_disableHTTP(t *testing.T) {
	c := mustParse(t, "t.yaml", []byte("version: 1\nlisten: {http: \"\"}\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"))
	if c.Listen.HTTP != nil {
		t.Errorf(`listen.http "" = %v, want nil (disabled)`, c.Listen.HTTP)
	}
}

func TestParse_allowAny(t *testing.T) {
	c := mustParse(t, "t.yaml", []byte(`version: 1
access: {allow: [0.0.0.0/0, "::/0"], allow_any: true}
resolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}
groups: [{name: a}]
`))
	if want := prefixes("0.0.0.0/0", "::/0"); !reflect.DeepEqual(c.Access.Allow, want) {
		t.Errorf("access.allow = %v, want %v", c.Access.Allow, want)
	}
}

func TestParse_aliases(t *testing.T) {
	c := mustParse(t, "t.yaml", []byte(`version: 1
resolver:
  mode: forward
  upstreams: &dcs [{address: 10.0.0.1}, {address: 10.0.0.2}]
  conditional:
    - {domains: [a.internal], upstreams: *dcs}
groups: [{name: a}]
`))
	if !reflect.DeepEqual(c.Resolver.Upstreams, c.Resolver.Conditional[0].Upstreams) {
		t.Errorf("alias: conditional upstreams = %v, want %v", c.Resolver.Conditional[0].Upstreams, c.Resolver.Upstreams)
	}
}

// TestParse_errors checks one mistake per case: the error must be the only
// one, at the exact position, with the path and a telling message.
func TestParse_errors(t *testing.T) {
	const base = "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"
	tests := []struct {
		name    string
		yaml    string
		wantAt  string // "line:col", or "line" for YAML syntax errors
		path    string
		wantMsg string
	}{
		// The file as a whole.
		{"empty file", "", "1:1", "", "the file is empty"},
		{"only comments", "# nothing\n\n", "1:1", "", "the file is empty"},
		{"empty document", "---\n", "2:1", "", "the document is empty"},
		{"top level list", "- version: 1\n", "1:1", "", "top level must be a mapping"},
		{"top level scalar", "hello\n", "1:1", "", `top level must be a mapping of keys such as "version: 1", got "hello"`},
		{"two documents", base + "---\nversion: 1\n", "4:1", "", "a second YAML document"},
		{"syntax: tab", "version: 1\n\tgroups: []\n", "2", "", "invalid YAML: found a tab character"},
		{"syntax: bad indent", "version: 1\nlog:\n  level: info\n format: json\n", "4", "", "invalid YAML: did not find expected key"},
		{"syntax: unclosed list", "version: 1\ngroups: [{name: a}\nlog: {}\n", "2", "", "invalid YAML: did not find expected ',' or ']'"},
		{"syntax: colon in flow list", "version: 1\naccess:\n  allow: [10.0.0.0/8, ::1/128]\n", "3:23", "",
			`a value starting with ":" inside [ ] must be quoted`},

		// Version.
		{"version missing", "resolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n", "1:1", "version", `required key "version" is missing`},
		{"version unknown", "version: 2\nnonsense: true\n", "1:10", "version", "unsupported config version 2; this build of gatehouse reads version 1"},
		{"version not a number", strings.Replace(base, "version: 1", "version: one", 1), "1:10", "version", `expected a whole number, got "one"`},

		// Keys.
		{"unknown key, close", strings.Replace(base, "upstreams:", "upstream:", 1), "2:27", "resolver.upstream", `unknown key "upstream"; did you mean "upstreams"?`},
		{"unknown key, case", base + "Default_Group: a\n", "4:1", "Default_Group", `did you mean "default_group"?`},
		{"unknown key, elsewhere", base + "query_timeout: 5s\n", "4:1", "query_timeout", `unknown key "query_timeout"; it belongs under "server"`},
		{"unknown key, far", base + "cache: {colour: red}\n", "4:9", "cache.colour", `unknown key "colour"; known keys here: size, min_ttl`},
		{"duplicate key", base + "log: {level: info}\nlog: {level: debug}\n", "5:1", "log", `duplicate key "log"; it is already set at line 4`},
		{"merge key", base + "log:\n  <<: {level: info}\n", "5:3", "log.<<", "merge keys (<<) are not supported"},

		// Types.
		{"duration", base + "server: {query_timeout: fast}\n", "4:25", "server.query_timeout", `expected a duration like "5s", "90m" or "7d", got "fast"`},
		{"duration without unit", base + "cache: {max_ttl: 3600}\n", "4:18", "cache.max_ttl", `expected a duration like "5s", "90m" or "7d", got "3600"`},
		{"duration negative", base + "cache: {max_ttl: -1h}\n", "4:18", "cache.max_ttl", `not negative, got "-1h"`},
		{"duration as list", base + "cache: {max_ttl: [1h]}\n", "4:18", "cache.max_ttl", `expected a duration like "5s", got a list`},
		{"list expected", base + "access: {allow: 10.0.0.0/8}\n", "4:17", "access.allow", `expected a list ("- item" lines or [a, b]), got "10.0.0.0/8"`},
		{"mapping expected", base + "cache: 5\n", "4:8", "cache", "expected a mapping of keys (key: value lines), got 5"},
		{"bool", base + "cache: {serve_stale: yes}\n", "4:22", "cache.serve_stale", `expected true or false, got "yes"`},
		{"int from float", base + "cache: {size: 1.5}\n", "4:15", "cache.size", "expected a whole number, got 1.5"},
		{"int overflow", base + "cache: {size: 99999999999999999999}\n", "4:15", "cache.size", "expected a whole number"},
		{"int from quoted", base + "server: {udp_sockets: \"3\"}\n", "4:23", "server.udp_sockets", `expected a whole number, got "3"`},
		{"log level", base + "log: {level: verbose}\n", "4:14", "log.level", `expected one of "debug", "info", "warn", "error", got "verbose"`},
		{"log format", base + "log: {format: xml}\n", "4:15", "log.format", `expected one of "text", "json", got "xml"`},
		{"empty list item", "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups:\n  - name: a\n  -\n", "5:4", "groups[1]", "empty list item"},

		// Addresses and prefixes.
		{"upstream port", "version: 1\nresolver:\n  mode: forward\n  upstreams:\n    - address: 192.0.2.1\n    - address: 9.9.9.9:99999\n" + "groups: [{name: a}]\n",
			"6:16", "resolver.upstreams[1].address", `"9.9.9.9:99999" is not a valid address`},
		{"upstream port 0", strings.Replace(base, "192.0.2.1", "192.0.2.1:0", 1), "2:49", "resolver.upstreams[0].address", "port must be a number from 1 to 65535"},
		{"upstream host name", strings.Replace(base, "192.0.2.1", "dns.quad9.net", 1), "2:49", "resolver.upstreams[0].address", `"dns.quad9.net" is a host name, not an IP address`},
		{"upstream garbage", strings.Replace(base, "192.0.2.1", "192.0.2.999", 1), "2:49", "resolver.upstreams[0].address", `"192.0.2.999" is not a valid address`},
		{"upstream unspecified", strings.Replace(base, "192.0.2.1", "0.0.0.0", 1), "2:49", "resolver.upstreams[0].address", "0.0.0.0 cannot be an upstream server"},
		{"upstream protocol", strings.Replace(base, "192.0.2.1}", "192.0.2.1, protocol: quic}", 1), "2:70", "resolver.upstreams[0].protocol", `expected one of "udp", "tcp", "tls", got "quic"`},
		{"upstream address missing", strings.Replace(base, "address: 192.0.2.1", "protocol: udp", 1), "2:39", "resolver.upstreams[0].address", `required key "address" is missing`},
		{"prefix", base + "access: {allow: [10.0.0.0/33]}\n", "4:18", "access.allow[0]", `expected an IP address or CIDR prefix like "10.0.0.0/8", got "10.0.0.0/33"`},
		{"listen host name", base + "listen: {dns: [\"localhost:53\"]}\n", "4:16", "listen.dns[0]", `"localhost:53" is a host name, not an IP address`},
		{"listen port", base + "listen: {http: \":http\"}\n", "4:16", "listen.http", `":http" is not a valid address: port must be a number from 1 to 65535`},
		{"listen empty", base + "listen: {dns: [\"\"]}\n", "4:16", "listen.dns[0]", "empty address"},

		// Semantics.
		{"listen none", base + "listen: {dns: []}\n", "4:15", "listen.dns", "needs at least one address"},
		{"listen twice", base + "listen: {dns: [\":53\", \"0.0.0.0\", \":53\"]}\n", "4:34", "listen.dns[2]", ":53 is already listed at listen.dns[0]"},
		{"listen http clash", base + "listen: {dns: [\":53\"], http: \"127.0.0.1:53\"}\n", "4:30", "listen.http", "127.0.0.1:53 clashes with listen.dns[0] (:53): both need TCP port 53"},
		{"block page clash", base + "listen: {http: \"10.0.0.1:80\", block_page: 10.0.0.1}\n", "4:43", "listen.block_page", "10.0.0.1:80 clashes with listen.http (10.0.0.1:80): both need TCP port 80"},
		{"block page https clash", base + "listen: {block_page: \":8443\", block_page_https: \"127.0.0.1:8443\"}\n", "4:49", "listen.block_page_https", "127.0.0.1:8443 clashes with listen.block_page (:8443): both need TCP port 8443"},
		{"dashboard tls half", base + "dashboard: {tls_cert: /etc/gatehouse/cert.pem}\n", "4:12", "dashboard.tls_key", "tls_cert and tls_key go together"},
		{"redirect without tls", base + "listen: {dashboard_redirect: \":80\"}\n", "4:30", "listen.dashboard_redirect", "needs listen.http and dashboard.tls_cert"},
		{"redirect clash", base + "listen: {block_page: \":80\", dashboard_redirect: \":80\"}\ndashboard: {tls_cert: /c.pem, tls_key: /k.pem}\n", "4:49", "listen.dashboard_redirect", ":80 clashes with listen.block_page (:80): both need TCP port 80"},
		{"access log retention", base + "dashboard: {access_log_retention: 36h}\n", "4:35", "dashboard.access_log_retention", "must be whole days"},
		{"review retention", base + "dashboard: {closed_review_retention: 90m}\n", "4:38", "dashboard.closed_review_retention", "must be whole days"},
		{"merge interval short", base + "query_log: {merge_interval: 2s}\n", "4:29", "query_log.merge_interval", "must be between 10s and 1h, got 2s"},
		{"merge interval long", base + "query_log: {merge_interval: 2h}\n", "4:29", "query_log.merge_interval", "must be between 10s and 1h, got 2h"},
		{"metrics allow", base + "dashboard: {metrics: {allow: [not-a-net]}}\n", "4:31", "dashboard.metrics.allow[0]", "expected an IP address or CIDR prefix"},
		{"udp_sockets", base + "server: {udp_sockets: 65}\n", "4:23", "server.udp_sockets", "must be from 0 (one per CPU) to 64, got 65"},
		{"edns size", base + "server: {edns_buffer_size: 9000}\n", "4:28", "server.edns_buffer_size", "must be from 512 to 4096 bytes, got 9000"},
		{"query timeout zero", base + "server: {query_timeout: 0s}\n", "4:25", "server.query_timeout", "must be longer than 0s"},
		{"tcp connections", base + "server: {tcp: {max_connections: 0}}\n", "4:33", "server.tcp.max_connections", "must be at least 1, got 0"},
		{"allow empty", base + "access: {allow: []}\n", "4:17", "access.allow", "must list at least one network"},
		{"open resolver", base + "access:\n  allow: [10.0.0.0/8, 0.0.0.0/0]\n", "5:23", "access.allow[1]", "0.0.0.0/0 lets every address on the internet query gatehouse, which makes it an open resolver"},
		{"open resolver v6", base + "access:\n  allow: [\"::/0\"]\n", "5:11", "access.allow[0]", "set allow_any: true"},
		{"rate negative", base + "access: {rate_limit: {queries_per_second: -1}}\n", "4:43", "access.rate_limit.queries_per_second", "must be from 0 (off) to 1000000, got -1"},
		{"burst negative", base + "access: {rate_limit: {burst: -5}}\n", "4:30", "access.rate_limit.burst", "must not be negative, got -5"},
		{"root hints relative", "version: 1\nresolver: {recursion: {root_hints: named.root}}\ngroups: [{name: a}]\n", "2:36", "resolver.recursion.root_hints", "must be an absolute path"},
		{"upstreams in recursive mode", "version: 1\nresolver: {upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n", "2:23", "resolver.upstreams", `set "mode: forward" to forward to them`},
		{"block answer unknown", strings.Replace(base, "{name: a}", "{name: a, block_answer: refuse}", 1), "3:34", "groups[0].block_answer", `"refuse" is not a block answer`},
		{"blockpage without address", strings.Replace(base, "{name: a}", "{name: a, block_answer: blockpage}", 1), "3:34", "groups[0].block_answer", "needs blocking.page_addresses"},
		{"block ttl", base + "blocking: {ttl: 2h}\n", "4:17", "blocking.ttl", "from 1s to 1h"},
		{"mode unknown", strings.Replace(base, "mode: forward", "mode: stub", 1), "2:18", "resolver.mode", `expected one of "forward", "recursive", got "stub"`},
		{"no upstreams", "version: 1\nresolver:\n  mode: forward\ngroups: [{name: a}]\n", "3:3", "resolver.upstreams", "forward mode needs at least one upstream server"},
		{"forward without upstreams", "version: 1\nresolver: {mode: forward}\ngroups: [{name: a}]\n", "2:11", "resolver.upstreams", "forward mode needs at least one upstream server"},
		{"upstreams empty", "version: 1\nresolver: {mode: forward, upstreams: []}\ngroups: [{name: a}]\n", "2:38", "resolver.upstreams", "forward mode needs at least one upstream server"},
		{"timeout above query timeout", strings.Replace(base, "resolver: {", "resolver: {timeout: 10s, ", 1), "2:21", "resolver.timeout", "10s is longer than server.query_timeout (5s)"},
		{"tls without name", strings.Replace(base, "192.0.2.1}", "192.0.2.1, protocol: tls}", 1), "2:39", "resolver.upstreams[0].tls_server_name", `required for protocol "tls"`},
		{"tls name on udp", strings.Replace(base, "192.0.2.1}", "192.0.2.1, tls_server_name: dns.example}", 1), "2:77", "resolver.upstreams[0].tls_server_name", `only used with protocol "tls"`},
		{"tls name invalid", strings.Replace(base, "192.0.2.1}", "192.0.2.1, protocol: tls, tls_server_name: \"a b\"}", 1), "2:92", "resolver.upstreams[0].tls_server_name", `"a b" is not a valid server name`},
		{"duplicate upstream", strings.Replace(base, "[{address: 192.0.2.1}]", "[{address: 192.0.2.1}, {address: \"192.0.2.1:53\"}]", 1), "2:61", "resolver.upstreams[1]", "192.0.2.1:53 over udp is already listed at resolver.upstreams[0]"},
		{"unknown key, top level", base + "resolver2: 1\n", "4:1", "resolver2", `did you mean "resolver"?`},
		{"conditional bad domain", "version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.1}]\n  conditional:\n    - domains: [ok.internal, \"bad domain\"]\n      upstreams: [{address: 10.0.0.1}]\ngroups: [{name: a}]\n",
			"6:30", "resolver.conditional[0].domains[1]", `"bad domain." is not a valid domain name: ' ' is not allowed`},
		{"conditional root", "version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.1}]\n  conditional:\n    - {domains: [.], upstreams: [{address: 10.0.0.1}]}\ngroups: [{name: a}]\n",
			"6:18", "resolver.conditional[0].domains[0]", "the root would forward every query"},
		{"conditional duplicate", "version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.1}]\n  conditional:\n    - {domains: [a.internal], upstreams: [{address: 10.0.0.1}]}\n    - {domains: [A.Internal.], upstreams: [{address: 10.0.0.2}]}\ngroups: [{name: a}]\n",
			"7:18", "resolver.conditional[1].domains[0]", "a.internal. is already forwarded by resolver.conditional[0].domains[0]"},
		{"conditional no upstreams", "version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.1}]\n  conditional:\n    - domains: [a.internal]\ngroups: [{name: a}]\n",
			"6:7", "resolver.conditional[0].upstreams", `required key "upstreams" is missing`},
		{"conditional empty domains", "version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 192.0.2.1}]\n  conditional:\n    - {domains: [], upstreams: [{address: 10.0.0.1}]}\ngroups: [{name: a}]\n",
			"6:17", "resolver.conditional[0].domains", "needs at least one domain"},
		{"cache size", base + "cache: {size: -1}\n", "4:15", "cache.size", "must be from 0 (no cache) to 10000000 entries, got -1"},
		{"max below min", base + "cache:\n  min_ttl: 1h\n  max_ttl: 30m\n", "6:12", "cache.max_ttl", "30m is shorter than cache.min_ttl (1h)"},
		{"max below min, max default", base + "cache:\n  min_ttl: 2d\n", "5:3", "cache.max_ttl", "24h is shorter than cache.min_ttl (48h)"},
		{"fractional ttl", base + "cache: {min_ttl: 1500ms}\n", "4:18", "cache.min_ttl", "DNS TTLs are whole seconds, got 1.5s"},
		{"huge ttl", base + "cache: {max_ttl: 100000d}\n", "4:18", "cache.max_ttl", "must be at most 596523h14m7s (RFC 2181)"},
		{"servfail ttl", base + "cache: {servfail_ttl: 10m}\n", "4:23", "cache.servfail_ttl", "must be at most 5m (RFC 2308), got 10m"},
		{"groups missing", "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\n", "1:1", "groups", `required key "groups" is missing`},
		{"groups empty", "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: []\n", "3:9", "groups", "needs at least one group"},
		{"group name", strings.Replace(base, "name: a", "name: Year 7", 1), "3:17", "groups[0].name", `"Year 7" is not a valid group name`},
		{"group name missing", strings.Replace(base, "name: a", "description: x", 1), "3:10", "groups[0].name", `required key "name" is missing`},
		{"group duplicate", strings.Replace(base, "[{name: a}]", "[{name: a}, {name: a}]", 1), "3:28", "groups[1].name", `group "a" is already defined at groups[0]`},
		{"group description lines", strings.Replace(base, "{name: a}", "{name: a, description: \"one\\ntwo\"}", 1), "3:33", "groups[0].description", "must be a single line"},
		{"default group unknown", base + "default_group: staff\n", "4:16", "default_group", `"staff" is not one of the groups (a)`},

		// Schedules, clients and group policy.
		{"timezone", base + "timezone: Europe/Londn\n", "4:11", "timezone", `"Europe/Londn" is not an IANA time zone`},
		{"period window", base + "periods: [{name: lessons, weekly: [\"Mon-Fri 8:40-15:20pm\"]}]\n", "4:36", "periods[0].weekly[0]", "want HH:MM"},
		{"period without windows", base + "periods: [{name: lessons, weekly: []}]\n", "4:35", "periods[0].weekly", "needs at least one window"},
		{"period duplicate", base + "periods: [{name: l, weekly: [Mon 09:00-10:00]}, {name: l, weekly: [Tue 09:00-10:00]}]\n", "4:56", "periods[1].name", `period "l" is already defined`},
		{"term backwards", base + "calendar: {terms: [2026-10-23..2026-09-03]}\n", "4:20", "calendar.terms[0]", "ends before it starts"},
		{"lease format", base + "clients: {leases: [{path: /var/lib/dhcp/dhcpd.leases, format: isc}]}\n", "4:63", "clients.leases[0].format", `"isc" is not a lease format`},
		{"lease path relative", base + "clients: {leases: [{path: dhcpd.leases, format: dnsmasq}]}\n", "4:27", "clients.leases[0].path", "must be an absolute path"},
		{"trusted forwarders too wide", base + "clients: {trusted_forwarders: [10.0.0.1, 0.0.0.0/0]}\n", "4:42", "clients.trusted_forwarders[1]", "too wide"},
		{"trusted forwarders too wide v6", base + "clients: {trusted_forwarders: ['2001:db8::/16']}\n", "4:32", "clients.trusted_forwarders[0]", "too wide"},
		{"mac", strings.Replace(base, "{name: a}", "{name: a, match: {macs: [aa:bb:cc]}}", 1), "3:35", "groups[0].match.macs[0]", "invalid MAC address"},
		{"subnet in two groups", strings.Replace(base, "[{name: a}]", "[{name: a, match: {subnets: [10.1.0.0/16]}}, {name: b, match: {subnets: [10.1.0.0/16]}}]", 1),
			"3:82", "groups[1].match.subnets[0]", "already matched at groups[0].match.subnets[0]"},
		{"hostname pattern", strings.Replace(base, "{name: a}", "{name: a, match: {hostnames: [\"Y9 IPAD\"]}}", 1), "3:40", "groups[0].match.hostnames[0]", "is not a hostname pattern"},
		{"safe search mode", strings.Replace(base, "{name: a}", "{name: a, safe_search: {google: strict}}", 1), "3:42", "groups[0].safe_search.google", "want off or on"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %s; config: %+v", tc.wantAt, c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			e := errs[0]
			wantPrefix := "t.yaml:" + tc.wantAt + ": "
			if tc.path != "" {
				wantPrefix += tc.path + ": "
			}
			if got := e.Error(); !strings.HasPrefix(got, wantPrefix) || !strings.Contains(e.Msg, tc.wantMsg) {
				t.Errorf("error = %q\nwant prefix %q and message containing %q", got, wantPrefix, tc.wantMsg)
			}
			if e.Path != tc.path {
				t.Errorf("Path = %q, want %q", e.Path, tc.path)
			}
		})
	}
}

// TestParse_allErrors checks that problems of different kinds are all
// reported in one go, in file order.
func TestParse_allErrors(t *testing.T) {
	src := `version: 1
server:
  query_timout: 5s
  edns_buffer_size: 9000
resolver:
  mode: forward
  upstreams:
    - address: 9.9.9.9:99999
cache:
  max_ttl: forever
groups: [{name: a}]
`
	_, err := Parse("/etc/gatehouse/gatehouse.yaml", []byte(src))
	want := `/etc/gatehouse/gatehouse.yaml:3:3: server.query_timout: unknown key "query_timout"; did you mean "query_timeout"?
/etc/gatehouse/gatehouse.yaml:4:21: server.edns_buffer_size: must be from 512 to 4096 bytes, got 9000 (1232 avoids IP fragmentation)
/etc/gatehouse/gatehouse.yaml:8:16: resolver.upstreams[0].address: "9.9.9.9:99999" is not a valid address: port must be a number from 1 to 65535
/etc/gatehouse/gatehouse.yaml:10:12: cache.max_ttl: expected a duration like "5s", "90m" or "7d", got "forever"`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error =\n%v\nwant\n%s", err, want)
	}
	var errs Errors
	if errors.As(err, &errs) && len(errs) != 4 {
		t.Errorf("got %d errors, want 4", len(errs))
	}
	var one Error
	if !errors.As(err, &one) || one.Line != 3 {
		t.Errorf("errors.As(err, *Error) = %+v, want the first error (line 3)", one)
	}
}

// TestParse_quietAfterDecodeError checks that a value that failed to decode
// does not also produce validation errors about its zero value.
func TestParse_quietAfterDecodeError(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"upstreams not a list", "version: 1\nresolver: {mode: forward, upstreams: x}\ngroups: [{name: a}]\n"},
		{"groups not a list", "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: x\ndefault_group: a\n"},
		{"group name missing, default set", "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}, {description: b}]\ndefault_group: b\n"},
		{"query timeout bad", "version: 1\nserver: {query_timeout: x}\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"},
		{"min ttl bad", "version: 1\ncache: {min_ttl: x, max_ttl: 1s}\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"},
		{"allow_any bad", "version: 1\naccess: {allow: [0.0.0.0/0], allow_any: yes}\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Errorf("Parse error =\n%v\nwant exactly one error", err)
			}
		})
	}
}

func TestParse_aliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ngroups: [{name: a}]\nresolver:\n  mode: forward\n  upstreams: &u [")
	for i := range 400 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{address: 10.0.0.1}")
	}
	b.WriteString("]\n  conditional:\n")
	for i := range 400 {
		b.WriteString("    - {domains: [d" + strings.Repeat("x", i%5) + ".internal], upstreams: *u}\n")
	}
	_, err := Parse("t.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "repeats aliases too often") {
		t.Errorf("Parse of an alias bomb: error = %.300v, want the node budget error", err)
	}
}

func TestLoad(t *testing.T) {
	c, err := Load(packagingExample)
	if err != nil {
		t.Fatalf("Load(%s): %v", packagingExample, err)
	}
	if c.DefaultGroup != "guests" {
		t.Errorf("DefaultGroup = %q, want guests", c.DefaultGroup)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want one wrapping os.ErrNotExist", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Errorf("Load(missing) returned Errors; want a plain read error")
	}
}

// TestPackagingExample checks the example shipped to sites says what its
// comments and the packaging brief promise.
func TestPackagingExample(t *testing.T) {
	data, err := os.ReadFile(packagingExample)
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, packagingExample, data)
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, g.Name)
		if g.Description == "" {
			t.Errorf("group %s has no description", g.Name)
		}
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen.dns", c.Listen.DNS, []ListenAddr{{Port: 53}}},
		{"listen.http", c.Listen.HTTP, &ListenAddr{Port: 8053}},
		{"rate", c.Access.RateLimit.QueriesPerSecond, 200},
		{"burst", c.Access.RateLimit.Burst, 400},
		{"mode", c.Resolver.Mode, ModeRecursive},
		{"dnssec", c.Resolver.DNSSEC.Enabled, true},
		{"conditional domains", c.Resolver.Conditional[0].Domains, []string{"curriculum.school.internal.", "10.in-addr.arpa."}},
		{"conditional upstreams", c.Resolver.Conditional[0].Upstreams, []Upstream{
			{Address: netip.MustParseAddrPort("10.20.0.10:53"), Protocol: ProtocolUDP},
			{Address: netip.MustParseAddrPort("10.20.0.11:53"), Protocol: ProtocolUDP}}},
		{"groups", groups, []string{"infants", "juniors", "secondary", "sixth-form", "staff", "guests"}},
		{"default_group", c.DefaultGroup, "guests"},
	}
	for _, tc := range checks {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}

// TestMarshal_roundTrip checks Parse(Marshal(c)) == c.
func TestMarshal_roundTrip(t *testing.T) {
	inputs := map[string]*Config{"Default()": Default()}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range append(files, packagingExample) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = mustParse(t, f, data)
	}
	for name, c := range inputs {
		t.Run(name, func(t *testing.T) {
			out, err := c.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			back, err := Parse("marshalled", out)
			if err != nil {
				t.Fatalf("Parse(Marshal()) failed:\n%v\ninput:\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("Parse(Marshal(c)) =\n%+v\nwant\n%+v", back, c)
			}
			again, _ := back.Marshal()
			if string(again) != string(out) {
				t.Errorf("Marshal is not stable:\n%s\nthen\n%s", out, again)
			}
		})
	}
}

// TestGolden compares the normalised dump of each testdata/*.yaml with its
// .golden file. Regenerate with: go test ./config -run TestGolden -update
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("Marshal(%s) differs from %s:\n%s", f, golden, got)
			}
		})
	}
}

func TestErrors_Error(t *testing.T) {
	errs := Errors{
		{File: "f", Line: 9, Col: 2, Path: "b", Msg: "second"},
		{File: "f", Line: 3, Col: 7, Path: "a", Msg: "first"},
		{File: "f", Line: 9, Col: 1, Msg: "no path"},
		{File: "f", Msg: "no position"},
	}
	want := "f: no position\nf:3:7: a: first\nf:9:1: no path\nf:9:2: b: second"
	if got := errs.Error(); got != want {
		t.Errorf("Errors.Error() =\n%s\nwant\n%s", got, want)
	}
	if errs[0].Path != "b" {
		t.Error("Errors.Error() reordered the receiver")
	}
	if got, want := (Error{File: "f", Line: 4, Msg: "m"}).Error(), "f:4: m"; got != want {
		t.Errorf("Error without column = %q, want %q", got, want)
	}
}
