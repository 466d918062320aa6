package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"gatehouse/clientmap"
	"gatehouse/policy/schedule"
)

// Config is the decoded version 1 configuration. Parse fills every field:
// absent keys take their defaults and derived values (ports, burst, default
// group, domain spelling) are normalised, so consumers never re-apply
// defaults.
//
// Struct tags drive the decoder and Marshal: `yaml:"key"` names the key,
// `yaml:"key,required"` makes it mandatory, and `default:"..."` holds the
// default as YAML text, decoded exactly like a value in the file. The tags
// are the single place where defaults are written.
type Config struct {
	// Version is the schema version; only 1 exists.
	Version  int      `yaml:"version,required"`
	Log      Log      `yaml:"log"`
	Listen   Listen   `yaml:"listen"`
	Server   Server   `yaml:"server"`
	Access   Access   `yaml:"access"`
	Resolver Resolver `yaml:"resolver"`
	Cache    Cache    `yaml:"cache"`
	// StateDir holds what Gatehouse writes: the query log database, the
	// last good copy of downloaded lists. Empty means $STATE_DIRECTORY
	// (systemd's StateDirectory=), else the user's state directory
	// (~/.local/state/gatehouse).
	StateDir  string    `yaml:"state_dir"`
	QueryLog  QueryLog  `yaml:"query_log"`
	Dashboard Dashboard `yaml:"dashboard"`
	// TimeZone is the site's IANA zone: schedules, report days and times
	// shown to people are in it.
	TimeZone     string   `yaml:"timezone" default:"Europe/London"`
	Calendar     Calendar `yaml:"calendar"`
	Periods      []Period `yaml:"periods"`
	Clients      Clients  `yaml:"clients"`
	Blocking     Blocking `yaml:"blocking"`
	Lists        []List   `yaml:"lists"`
	Groups       []Group  `yaml:"groups,required"`
	DefaultGroup string   `yaml:"default_group"` // defaults to the first group
	// GeoIP names the databases groups' block_countries and block_asns
	// look answer addresses up in.
	GeoIP GeoIP `yaml:"geoip"`
	// Safeguarding turns blocked lookups into safeguarding concerns and
	// alerts (docs/safeguarding.md).
	Safeguarding Safeguarding `yaml:"safeguarding"`
	// Trust is trust-wide reporting across sites (docs/trust.md).
	Trust Trust `yaml:"trust"`
}

// Log configures application logging (not the query log).
type Log struct {
	Level  slog.Level `yaml:"level" default:"info"` // debug, info, warn or error
	Format LogFormat  `yaml:"format" default:"text"`
}

// Listen holds the addresses Gatehouse serves on.
type Listen struct {
	// DNS addresses are served over UDP and TCP. A bare IP gets port 53.
	DNS []ListenAddr `yaml:"dns" default:"[127.0.0.1:5353]"`
	// HTTP serves the dashboard, /metrics and /healthz; nil when
	// disabled by "". A bare IP gets port 8053.
	HTTP *ListenAddr `yaml:"http" default:"127.0.0.1:8053"`
	// BlockPage serves the block page over plain HTTP for any host name
	// (groups with block_answer: blockpage); nil (the default) when off.
	// A bare IP gets port 80.
	BlockPage *ListenAddr `yaml:"block_page"`
	// BlockPageHTTPS answers HTTPS connections to the block page address
	// with an immediate reset, so browsers fail fast instead of waiting
	// (no certificate can be valid for an arbitrary blocked name); nil
	// when off. A bare IP gets port 443.
	BlockPageHTTPS *ListenAddr `yaml:"block_page_https"`
	// DashboardRedirect answers plain HTTP with a redirect to the HTTPS
	// dashboard (listen.http with dashboard.tls_cert), so a technician who
	// types the bare address lands on the login page; nil when off. A bare
	// IP gets port 80.
	DashboardRedirect *ListenAddr `yaml:"dashboard_redirect"`
}

// Dashboard configures the web dashboard on listen.http.
type Dashboard struct {
	// Enabled serves the dashboard pages; accounts are made with
	// "gatehouse users add".
	Enabled bool `yaml:"enabled" default:"true"`
	// TLSCert and TLSKey (PEM files, both or neither) serve listen.http
	// over HTTPS; session cookies are then Secure.
	TLSCert string        `yaml:"tls_cert"`
	TLSKey  string        `yaml:"tls_key"`
	Metrics MetricsAccess `yaml:"metrics"`
	// AccessLogRetention is how long the record of who looked at the
	// query log is kept (GDPR accountability evidence; whole days, 0s:
	// for ever).
	AccessLogRetention time.Duration `yaml:"access_log_retention" default:"365d"`
	// ClosedReviewRetention is how long a closed review request (a
	// device's address, the blocked name, the pupil's message) is kept
	// after it was closed (whole days, 0s: for ever). Open ones stay.
	ClosedReviewRetention time.Duration `yaml:"closed_review_retention" default:"90d"`
}

// MetricsAccess says who may scrape /metrics without a dashboard login.
type MetricsAccess struct {
	// Allow lists the networks that may scrape without a token.
	Allow []netip.Prefix `yaml:"allow" default:"[127.0.0.0/8, '::1/128']"`
	// TokenFile holds a bearer token (one line, at least 16 characters)
	// that lets a scraper in from anywhere; empty means no token.
	TokenFile string `yaml:"token_file"`
}

// Server tunes the DNS listeners.
type Server struct {
	UDPSockets int `yaml:"udp_sockets" default:"0"` // SO_REUSEPORT sockets per address; 0 = one per CPU
	// AdaptiveProcs runs the Go scheduler on one CPU while the server is
	// nearly idle and on all of them under load (internal/procs): fewer
	// thread wake-ups per query at a school's usual rates. Read at start.
	AdaptiveProcs  bool          `yaml:"adaptive_procs" default:"true"`
	EDNSBufferSize int           `yaml:"edns_buffer_size" default:"1232"`
	QueryTimeout   time.Duration `yaml:"query_timeout" default:"5s"` // whole-query deadline
	TCP            TCP           `yaml:"tcp"`
}

// TCP tunes DNS over TCP (RFC 7766).
type TCP struct {
	MaxConnections int           `yaml:"max_connections" default:"256"`
	IdleTimeout    time.Duration `yaml:"idle_timeout" default:"10s"`
	ReadTimeout    time.Duration `yaml:"read_timeout" default:"2s"` // a started message must complete within this
}

// Access decides who may query. Clients outside Allow get REFUSED.
type Access struct {
	Allow     []netip.Prefix `yaml:"allow" default:"[127.0.0.0/8, '::1/128', 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16, 'fe80::/10', 'fc00::/7']"`
	AllowAny  bool           `yaml:"allow_any"` // acknowledges 0.0.0.0/0 or ::/0 in Allow (an open resolver)
	RateLimit RateLimit      `yaml:"rate_limit"`
}

// RateLimit is a per-client-address token bucket.
type RateLimit struct {
	QueriesPerSecond int            `yaml:"queries_per_second" default:"0"` // 0 = off
	Burst            int            `yaml:"burst" default:"0"`              // 0 in the file = 2 x QueriesPerSecond
	Exempt           []netip.Prefix `yaml:"exempt" default:"[127.0.0.0/8, '::1/128']"`
}

// Resolver says where answers come from.
type Resolver struct {
	// Mode is recursive (resolve from the root servers, validating
	// DNSSEC) or forward (ask upstreams).
	Mode        Mode          `yaml:"mode" default:"recursive"`
	Timeout     time.Duration `yaml:"timeout" default:"2s"` // per upstream exchange (forward mode)
	Upstreams   []Upstream    `yaml:"upstreams"`            // required in forward mode
	Conditional []Conditional `yaml:"conditional"`          // both modes: internal domains to their own servers
	Recursion   Recursion     `yaml:"recursion"`
	DNSSEC      DNSSEC        `yaml:"dnssec"`
}

// Recursion tunes the iterative resolver (recursive mode).
type Recursion struct {
	// RootHints is a root hints file (zone-file format: NS records for "."
	// and their addresses); empty means the IANA root servers built in.
	RootHints         string `yaml:"root_hints"`
	QNameMinimisation bool   `yaml:"qname_minimisation" default:"true"` // RFC 9156, relaxed
	// Use0x20 randomises the case of query names to make spoofing harder;
	// servers that do not echo case then fail, so it is off by default.
	Use0x20 bool `yaml:"use_0x20" default:"false"`
	// IPv6 lets the resolver use name servers' IPv6 addresses: turn it on
	// when the site has IPv6 connectivity.
	IPv6 bool `yaml:"ipv6" default:"false"`
	// AllowLoopback accepts name servers on loopback and link-local
	// addresses: only for a private test hierarchy on one machine.
	AllowLoopback bool `yaml:"allow_loopback" default:"false"`
}

// DNSSEC configures validation (recursive mode).
type DNSSEC struct {
	Enabled bool `yaml:"enabled" default:"true"`
	// TrustAnchors is a file of DS or DNSKEY records; empty means the root
	// KSKs built in (key tags 20326 and 38696).
	TrustAnchors string `yaml:"trust_anchors"`
	// ClockSkew is how far signature validity periods may be off our clock.
	// A Raspberry Pi has no real-time clock: NTP must be working.
	ClockSkew time.Duration `yaml:"clock_skew" default:"1h"`
	// NSEC3MaxIterations: denials using more NSEC3 iterations are treated
	// as insecure (RFC 9276).
	NSEC3MaxIterations int `yaml:"nsec3_max_iterations" default:"50"`
	// AggressiveNSEC answers NXDOMAIN and NODATA from validated NSEC
	// records already held, without asking (RFC 8198).
	AggressiveNSEC bool `yaml:"aggressive_nsec" default:"true"`
}

// Upstream is one server to forward to. Address always carries a port after
// Parse: 53, or 853 for TLS, when the file gave a bare IP.
type Upstream struct {
	Address       netip.AddrPort `yaml:"address,required"`
	Protocol      Protocol       `yaml:"protocol" default:"udp"`
	TLSServerName string         `yaml:"tls_server_name"` // required for TLS
}

// Conditional forwards queries for Domains (and their subdomains) to its own
// Upstreams. Domains are lower-case and fully qualified ("school.internal.").
type Conditional struct {
	Domains   []string   `yaml:"domains,required"`
	Upstreams []Upstream `yaml:"upstreams,required"`
}

// Cache configures the answer cache. TTL bounds are whole seconds.
type Cache struct {
	Size           int           `yaml:"size" default:"100000"` // entries; 0 disables caching
	MinTTL         time.Duration `yaml:"min_ttl" default:"0s"`
	MaxTTL         time.Duration `yaml:"max_ttl" default:"24h"`
	NegativeMaxTTL time.Duration `yaml:"negative_max_ttl" default:"1h"` // RFC 2308
	ServfailTTL    time.Duration `yaml:"servfail_ttl" default:"5s"`     // 0 = do not cache SERVFAIL
	ServeStale     bool          `yaml:"serve_stale" default:"true"`    // RFC 8767
	StaleMaxAge    time.Duration `yaml:"stale_max_age" default:"24h"`
	Prefetch       bool          `yaml:"prefetch" default:"true"`
}

// Group is a set of clients sharing one filtering policy.
type Group struct {
	Name        string `yaml:"name,required"` // ^[a-z0-9][a-z0-9_-]{0,62}$
	Description string `yaml:"description"`
	// Match says which clients belong to the group; see Clients for the
	// precedence between groups' rules.
	Match GroupMatch `yaml:"match"`
	// SafeSearch sets each provider's mode; a provider left out gets the
	// table's recommended default (on; YouTube strict; Yandex blocked).
	SafeSearch SafeSearch `yaml:"safe_search"`
	// LogRetention is how long this group's query log entries are kept;
	// 0 means query_log.retention. Whole days.
	LogRetention time.Duration `yaml:"log_retention" default:"0s"`
	// BlockAnswer is how blocked names are answered: nxdomain (the name
	// does not exist), null (0.0.0.0 and ::), or blockpage (Gatehouse's own
	// address, where a page explains the block; see blocking.page_addresses).
	BlockAnswer string `yaml:"block_answer" default:"nxdomain"`
	// BypassExempt turns off the anti-bypass rules (Firefox DoH canary,
	// iCloud Private Relay, DDR) for this group, e.g. IT staff testing.
	BypassExempt bool `yaml:"bypass_exempt" default:"false"`
	// Block lists the categories blocked for this group at all times. The
	// locked categories (iwf, ctiru) are blocked for everyone anyway.
	Block []string `yaml:"block"`
	// BlockDuring blocks more categories only inside (or outside) named
	// periods: social media in lessons, say.
	BlockDuring []TimedBlock `yaml:"block_during"`
	// AllowLists are allow lists (lists with allow: true) for this group.
	AllowLists []string `yaml:"allow_lists"`
	// Allow and Deny are extra domains (and everything below them) allowed
	// or blocked for this group. Allow never overrides a locked category.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// BlockCountries blocks answers whose addresses are in these countries
	// (ISO 3166 two-letter codes, e.g. KP), by geoip.country_database.
	BlockCountries []string `yaml:"block_countries"`
	// BlockASNs blocks answers whose addresses are in these autonomous
	// systems (numbers, e.g. 64500), by geoip.asn_database.
	BlockASNs []int `yaml:"block_asns"`
	// BlockRebinding blocks answers that point public names at private,
	// loopback, link-local or unique-local addresses (DNS rebinding).
	// Names under conditional-forward domains and blocking.internal_domains
	// are exempt.
	BlockRebinding bool `yaml:"block_rebinding" default:"true"`
}

// TimedBlock blocks Categories while one of the periods During is in
// force, or, with Outside, while none of them is.
type TimedBlock struct {
	Categories []string `yaml:"categories,required"`
	During     []string `yaml:"during,required"` // period names
	Outside    bool     `yaml:"outside" default:"false"`
}

// List is one block or allow list: a local file in one of the list
// formats, or a category directory (one folder per category, each with a
// "domains" file), which becomes one list per category folder.
type List struct {
	// Name identifies the list in logs, reports and explanations; for a
	// directory, lists are named name/folder.
	Name string `yaml:"name,required"`
	// Category is what the list is about (required for a file). Lists in
	// the locked categories iwf and ctiru apply to every group, always.
	Category string `yaml:"category"`
	Path     string `yaml:"path"` // a list file
	// URL is a list downloaded over HTTP(S) and refreshed every Refresh
	// with conditional GET; the last good copy is kept in state_dir, so
	// Gatehouse starts and filters with no network.
	URL     string        `yaml:"url"`
	Refresh time.Duration `yaml:"refresh" default:"6h"`
	Format  string        `yaml:"format" default:"auto"` // auto, hosts, domains, adblock, rpz
	// Directory is a category database; Categories maps its folder names
	// to categories ("adult: pornography"); unmapped folders are skipped.
	Directory  string           `yaml:"directory"`
	Categories []FolderCategory `yaml:"categories"`
	// Allow makes it an allow list, used by groups that name it in
	// allow_lists.
	Allow bool `yaml:"allow" default:"false"`
}

// FolderCategory maps one folder of a category directory to a category.
type FolderCategory struct {
	Folder   string `yaml:"folder,required"`
	Category string `yaml:"category,required"`
}

// Blocking configures block answers for every group.
type Blocking struct {
	// TTL of block answers: short, so an unblock takes effect quickly.
	TTL time.Duration `yaml:"ttl" default:"60s"`
	// PageAddresses are Gatehouse's own addresses on the school network,
	// given as the answer for blocked names in groups with
	// block_answer: blockpage (one IPv4 and/or one IPv6).
	PageAddresses []netip.Addr `yaml:"page_addresses"`
	// InternalDomains are the school's own domains whose names may resolve
	// to private addresses (split-horizon DNS): exempt from groups'
	// block_rebinding, as names under resolver.conditional domains are.
	InternalDomains []string `yaml:"internal_domains"`
}

// GeoIP names MaxMind-format (.mmdb) databases: GeoLite2 or GeoIP2
// Country (or City) and ASN, or their DB-IP lite equivalents. They are
// reloaded when the files change; a file that fails to load leaves the
// last good copy in force.
type GeoIP struct {
	CountryDatabase string `yaml:"country_database"` // needed for groups' block_countries
	ASNDatabase     string `yaml:"asn_database"`     // needed for groups' block_asns
}

// GroupMatch lists the rules that place a client in a group. Precedence
// across all groups: a device rule (address or MAC) beats a hostname
// pattern, which beats a subnet (longest prefix wins), which beats the
// default group.
type GroupMatch struct {
	Addresses []netip.Addr    `yaml:"addresses"` // single devices
	MACs      []clientmap.MAC `yaml:"macs"`      // from DHCP leases
	Hostnames []string        `yaml:"hostnames"` // patterns with *, e.g. "STAFF-*", "*-ipad" (case-insensitive)
	Subnets   []netip.Prefix  `yaml:"subnets"`   // one per VLAN is typical
}

// SafeSearch is one group's safe-search setting per provider: "off", "on",
// and for YouTube "strict" or "moderate". Empty means the recommended
// default.
type SafeSearch struct {
	Google      string `yaml:"google"`
	YouTube     string `yaml:"youtube"`
	Bing        string `yaml:"bing"`
	DuckDuckGo  string `yaml:"duckduckgo"`
	Pixabay     string `yaml:"pixabay"`
	Ecosia      string `yaml:"ecosia"`
	Brave       string `yaml:"brave"`
	Yandex      string `yaml:"yandex"`      // "on" blocks Yandex search (it has no enforceable safe mode)
	Unsupported string `yaml:"unsupported"` // "on" blocks engines with no enforceable safe mode
}

// QueryLog configures the record of every query.
type QueryLog struct {
	Enabled bool `yaml:"enabled" default:"true"`
	// Retention is how long entries are kept, for groups that do not set
	// their own log_retention. Whole days.
	Retention time.Duration `yaml:"retention" default:"90d"`
	// PseudonymiseAfter, when set, replaces client identity (address, MAC,
	// hostname) in entries older than this with keyed hashes. Whole days;
	// 0 keeps identity for the whole retention.
	PseudonymiseAfter time.Duration `yaml:"pseudonymise_after" default:"0s"`
	// MergeInterval is how often entries move from the log's staging
	// table, where each commit (every 250 ms) appends them, into its
	// indexed table (sooner once 65,536 are staged). Longer: fewer bytes
	// written per entry (SD card wear); searches scan the staged entries
	// without an index. 10s to 1h.
	MergeInterval time.Duration `yaml:"merge_interval" default:"5m"`
}

// Safeguarding configures the safeguarding engine. Only the delivery
// infrastructure (mail server, webhooks, syslog) is read on every reload;
// Initial is stored in the safeguarding database the first time Gatehouse
// starts with safeguarding on, and after that changes only through
// proposals approved in the dashboard, never by editing this file.
type Safeguarding struct {
	Enabled bool `yaml:"enabled" default:"false"`
	// SchoolHours names the period (see periods) that is school hours for
	// routing; outside it routes marked out-of-hours apply. Empty: every
	// time is out of hours.
	SchoolHours string `yaml:"school_hours"`
	// Retention is how long closed concerns and incidents are kept after
	// closing; 0 keeps them until deleted (export them to the school's
	// safeguarding record first). Whole days.
	Retention time.Duration      `yaml:"retention" default:"0s"`
	SMTP      SMTP               `yaml:"smtp"`
	Webhooks  []Webhook          `yaml:"webhooks"`
	Syslog    Syslog             `yaml:"syslog"`
	Initial   SafeguardingPolicy `yaml:"initial"`
}

// SMTP is the mail server alerts are sent through.
type SMTP struct {
	// Address is host:port, e.g. "smtp.school.example:587"; empty: no email.
	Address  string `yaml:"address"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	// PasswordFile holds the password (the config file is often readable
	// by more people than the password should be).
	PasswordFile string `yaml:"password_file"`
	// NoTLS allows a server without STARTTLS: only a relay on this host.
	NoTLS         bool   `yaml:"no_tls" default:"false"`
	TLSServerName string `yaml:"tls_server_name"`
	// CAFile is a PEM bundle to verify the server with, instead of the
	// system's roots (for a school's own CA).
	CAFile string `yaml:"ca_file"`
}

// Webhook is one webhook alerts can be posted to. Teams and Slack webhook
// URLs contain their secret: keep them in URLFile.
type Webhook struct {
	Name    string `yaml:"name,required"`
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	Format  string `yaml:"format" default:"json"` // json, teams or slack
}

// Syslog is a collector alerts are copied to, one line each.
type Syslog struct {
	Network string `yaml:"network" default:"udp"` // udp or tcp
	Address string `yaml:"address"`               // host:port; empty: no syslog
}

// SafeguardingPolicy is the initial safeguarding settings. Anything left
// out takes the built-in default (docs/safeguarding.md).
type SafeguardingPolicy struct {
	Priorities   []CategoryPriority `yaml:"priorities"`
	Rules        []AlertRule        `yaml:"rules"`
	Recipients   []Recipient        `yaml:"recipients"`
	Routes       []Route            `yaml:"routes"`
	OnCall       []OnCall           `yaml:"on_call"`
	Timescales   []Timescale        `yaml:"timescales"`
	EscalateTo   []string           `yaml:"escalate_to"`
	WeeklyReport WeeklyReport       `yaml:"weekly_report"`
}

// CategoryPriority sets one category's priority: critical, high, medium,
// low or none.
type CategoryPriority struct {
	Category string `yaml:"category,required"`
	Priority string `yaml:"priority,required"`
}

// AlertRule: Threshold blocked lookups by one device within Window raise a
// concern; for one Category, or for every category of Priority.
type AlertRule struct {
	Priority  string        `yaml:"priority,required"`
	Category  string        `yaml:"category"`
	Threshold int           `yaml:"threshold,required"`
	Window    time.Duration `yaml:"window" default:"10m"`
}

// Recipient is a person or team alerts go to.
type Recipient struct {
	Name     string   `yaml:"name,required"`
	Role     string   `yaml:"role,required"` // safeguarding, technician or pastoral
	Email    []string `yaml:"email"`
	Webhooks []string `yaml:"webhooks"` // names from safeguarding.webhooks
	Syslog   bool     `yaml:"syslog" default:"false"`
}

// Route sends concerns of some priorities to recipients.
type Route struct {
	Priorities []string `yaml:"priorities,required"`
	Categories []string `yaml:"categories"`
	Groups     []string `yaml:"groups"`
	When       string   `yaml:"when" default:"always"`     // always, school-hours, out-of-hours
	To         []string `yaml:"to,required"`               // recipient names, or on-call
	Speed      string   `yaml:"speed" default:"immediate"` // immediate, hourly, daily
}

// OnCall is one line of the on-call rota.
type OnCall struct {
	Recipient string            `yaml:"recipient,required"`
	Weekly    []schedule.Weekly `yaml:"weekly,required"`
}

// Timescale is how soon concerns of a priority must be acknowledged and
// closed before they are escalated.
type Timescale struct {
	Priority    string        `yaml:"priority,required"`
	Acknowledge time.Duration `yaml:"acknowledge,required"`
	Close       time.Duration `yaml:"close,required"`
}

// WeeklyReport is when the weekly report is emailed, and to whom (default:
// the safeguarding recipients with email, Mondays 08:00).
type WeeklyReport struct {
	To      []string `yaml:"to"`
	Weekday string   `yaml:"weekday"`
	At      string   `yaml:"at"`
}

// Calendar holds the school's term dates and closures (holidays, INSET
// days). Dates are "2026-09-03" or ranges "2026-09-03..2026-10-23",
// inclusive, in the site's time zone.
type Calendar struct {
	Terms    []schedule.DateRange `yaml:"terms"`
	Closures []schedule.DateRange `yaml:"closures"`
}

// Period is a named set of weekly windows, e.g. lessons "Mon-Fri
// 08:40-15:20". With term_time_only (the default) it is in force only on
// term days that are not closures.
type Period struct {
	Name         string            `yaml:"name,required"`
	Weekly       []schedule.Weekly `yaml:"weekly,required"`
	TermTimeOnly bool              `yaml:"term_time_only" default:"true"`
}

// Clients configures how clients are identified beyond their address.
type Clients struct {
	// Leases are DHCP lease files read for address -> MAC and hostname.
	Leases []LeaseSource `yaml:"leases"`
	// TrustedForwarders are the DNS forwarders (a router's dnsmasq, say)
	// whose queries may name the real client: EDNS Client Subnet and the
	// dnsmasq add-mac options are believed from them and ignored from
	// everyone else, who could otherwise claim to be a staff device.
	TrustedForwarders []netip.Prefix `yaml:"trusted_forwarders"`
}

// LeaseSource is one DHCP server's lease file.
type LeaseSource struct {
	Path   string `yaml:"path,required"`
	Format string `yaml:"format,required"` // isc-dhcpd, dnsmasq, kea-csv, windows-csv
}

// LogFormat is the application log encoding.
type LogFormat string

// Log formats.
const (
	LogText LogFormat = "text"
	LogJSON LogFormat = "json"
)

func (f LogFormat) String() string { return string(f) }

// MarshalText implements encoding.TextMarshaler.
func (f LogFormat) MarshalText() ([]byte, error) { return []byte(f), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts "text" and
// "json".
func (f *LogFormat) UnmarshalText(b []byte) error {
	return parseEnum(f, string(b), LogText, LogJSON)
}

// Mode is how the resolver finds answers.
type Mode string

// Resolver modes. ModeRecursive is understood but rejected by validation
// until recursion lands.
const (
	ModeForward   Mode = "forward"
	ModeRecursive Mode = "recursive"
)

func (m Mode) String() string { return string(m) }

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	return parseEnum(m, string(b), ModeForward, ModeRecursive)
}

// Protocol is the transport to an upstream.
type Protocol string

// Upstream protocols.
const (
	ProtocolUDP Protocol = "udp" // UDP, retried over TCP when truncated
	ProtocolTCP Protocol = "tcp"
	ProtocolTLS Protocol = "tls" // DNS over TLS (RFC 7858)
)

func (p Protocol) String() string { return string(p) }

// MarshalText implements encoding.TextMarshaler.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Protocol) UnmarshalText(b []byte) error {
	return parseEnum(p, string(b), ProtocolUDP, ProtocolTCP, ProtocolTLS)
}

// DefaultPort is the port an upstream gets when the file gives a bare IP.
func (p Protocol) DefaultPort() uint16 {
	if p == ProtocolTLS {
		return 853
	}
	return 53
}

func parseEnum[T ~string](dst *T, s string, known ...T) error {
	for _, k := range known {
		if string(k) == s {
			*dst = k
			return nil
		}
	}
	quoted := make([]string, len(known))
	for i, k := range known {
		quoted[i] = strconv.Quote(string(k))
	}
	return fmt.Errorf("expected one of %s, got %q", strings.Join(quoted, ", "), s)
}

// ListenAddr is an address to listen on. The zero Addr means every local
// address, IPv4 and IPv6 (written ":53"). Port 0 means "not given" and only
// appears before Parse fills in the default port; Parse never returns it.
type ListenAddr struct {
	Addr netip.Addr
	Port uint16
}

// String returns the form net.Listen accepts: ":53", "127.0.0.1:5353",
// "[::1]:53". With port 0 it is the bare IP, the form UnmarshalText reads
// back as "no port given".
func (l ListenAddr) String() string {
	switch {
	case l.Port == 0:
		if !l.Addr.IsValid() {
			return ""
		}
		return l.Addr.String()
	case !l.Addr.IsValid():
		return ":" + strconv.Itoa(int(l.Port))
	default:
		return netip.AddrPortFrom(l.Addr, l.Port).String()
	}
}

// MarshalText implements encoding.TextMarshaler.
func (l ListenAddr) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It accepts ":port",
// "ip:port", "[ipv6]:port" and a bare IP (which leaves Port 0).
func (l *ListenAddr) UnmarshalText(b []byte) error {
	s := string(b)
	const want = `want "host:port" with an IP address, like "127.0.0.1:53", "[::1]:53" or ":53" for all addresses`
	if s == "" {
		return fmt.Errorf("empty address; %s", want)
	}
	if strings.HasPrefix(s, ":") {
		port, err := parsePort(s[1:])
		if err != nil {
			return fmt.Errorf("%q is not a valid address: %w", s, err)
		}
		*l = ListenAddr{Port: port}
		return nil
	}
	if a, err := parseIP(trimBrackets(s)); err == nil {
		*l = ListenAddr{Addr: a}
		return nil
	}
	ap, err := parseHostPort(s)
	if err != nil {
		return fmt.Errorf("%w; %s", err, want)
	}
	*l = ListenAddr{Addr: ap.Addr(), Port: ap.Port()}
	return nil
}

// FormatDuration writes d in the shortest form Parse reads back: "0s",
// "500ms", "5s", "90m" is written "1h30m", "24h".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParseDuration reads a Go duration ("5s", "90m", "1h30m") optionally
// preceded by whole days ("7d", "1d12h"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf(`expected a duration like "5s", "90m" or "7d", got %q`, s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("expected a duration that is not negative, got %q", s)
	}
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		if i == 0 || s[0] == '+' {
			return 0, bad
		}
		n, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			return 0, bad
		}
		if n > uint64(maxDuration/(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		rest = s[i+1:]
		if rest == "" {
			return days, nil
		}
		if rest[0] == '-' || rest[0] == '+' {
			return 0, bad
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, bad
	}
	if d > maxDuration-days {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return days + d, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// ParsePrefix reads a CIDR ("10.0.0.0/8") or a bare IP (a single-host
// prefix) and returns it masked, with IPv4-mapped IPv6 unmapped.
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := parseIP(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf(`expected an IP address or CIDR prefix like "10.0.0.0/8", got %q`, s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf(`expected an IP address or CIDR prefix like "10.0.0.0/8", got %q`, s)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ParseUpstreamAddr reads an upstream address: an IP literal with an
// optional port ("9.9.9.9", "9.9.9.9:53", "2620:fe::fe", "[2620:fe::fe]:853").
// Without a port the result has port 0, which Parse replaces by the
// protocol's default. Host names are rejected: a resolver cannot look up the
// name of the server it needs to look names up.
func ParseUpstreamAddr(s string) (netip.AddrPort, error) {
	if a, err := parseIP(trimBrackets(s)); err == nil {
		return netip.AddrPortFrom(a, 0), nil
	}
	return parseHostPort(s)
}

// trimBrackets turns "[::1]" into "::1".
func trimBrackets(s string) string {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}

// parseIP parses an IP literal, unmapping IPv4-mapped IPv6.
func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap(), nil
}

// parseHostPort parses "ip:port" and "[ipv6]:port", explaining what is wrong.
func parseHostPort(s string) (netip.AddrPort, error) {
	host, portStr, ok := cutHostPort(s)
	if !ok {
		if isHostName(s) {
			return netip.AddrPort{}, fmt.Errorf("%q is a host name, not an IP address; write the server's IP address", s)
		}
		return netip.AddrPort{}, fmt.Errorf("%q is not a valid address", s)
	}
	a, err := parseIP(host)
	if err != nil {
		if isHostName(host) {
			return netip.AddrPort{}, fmt.Errorf("%q is a host name, not an IP address; write the server's IP address", s)
		}
		return netip.AddrPort{}, fmt.Errorf("%q is not a valid address", s)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not a valid address: %w", s, err)
	}
	return netip.AddrPortFrom(a, port), nil
}

// cutHostPort splits "host:port" or "[host]:port" without resolving.
func cutHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return "", "", false
		}
		return s[1:end], s[end+2:], true
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[:i], ':') >= 0 {
		return "", "", false // no port, or an unbracketed IPv6 address
	}
	return s[:i], s[i+1:], true
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '+' {
		return 0, fmt.Errorf("port must be a number from 1 to 65535")
	}
	return uint16(n), nil
}
