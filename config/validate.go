package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Limits enforced by validation.
const (
	maxUDPSockets = 64
	maxCacheSize  = 10_000_000
	// maxTTL is the largest TTL RFC 2181 section 8 allows, 2^31-1 seconds.
	maxTTL = (1<<31 - 1) * time.Second
	// maxServfailTTL is RFC 2308 section 7.1's cap on caching SERVFAIL.
	maxServfailTTL = 5 * time.Minute
)

// validator checks a decoded Config and positions each problem using the
// paths the decoder recorded. It stays quiet about paths that already failed
// to decode, so one mistake is reported once.
type validator struct {
	file string
	pos  map[string]position
	bad  map[string]bool
	errs Errors

	pageAddrs []netip.Addr // blocking.page_addresses, for groups' block_answer
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.isBad(path) {
		return
	}
	at := v.where(path)
	v.errs = append(v.errs, Error{File: v.file, Line: at.line, Col: at.col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// isBad reports whether path or one of its ancestors failed to decode.
func (v *validator) isBad(path string) bool {
	for {
		if v.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parentPath(path)
	}
}

// anyBadUnder reports whether path or anything below it failed to decode.
func (v *validator) anyBadUnder(path string) bool {
	for p := range v.bad {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return v.isBad(path)
}

// where finds the recorded position of path or its nearest ancestor.
func (v *validator) where(path string) position {
	for {
		if at, ok := v.pos[path]; ok {
			return at
		}
		if path == "" {
			return position{1, 1}
		}
		path = parentPath(path)
	}
}

// parentPath drops the last key or index: "a.b[2]" → "a.b" → "a".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (v *validator) config(c *Config) {
	v.listen(&c.Listen)
	v.server(&c.Server)
	v.access(&c.Access)
	v.resolver(&c.Resolver, c.Server.QueryTimeout)
	v.cache(&c.Cache)
	v.timeAndSchedules(c)
	v.clients(&c.Clients)
	v.queryLog(c)
	v.dashboard(c)
	v.groups(c.Groups, c.DefaultGroup)
	v.blocking(&c.Blocking)
	v.groupPolicies(c.Groups)
	v.groupLists(c, v.lists(c.Lists))
	v.answerChecks(c)
	v.safeguarding(c)
	v.trust(c)
}

func (v *validator) listen(l *Listen) {
	if len(l.DNS) == 0 {
		v.errorf("listen.dns", "needs at least one address to serve DNS on")
	}
	seen := map[ListenAddr]int{}
	for i, a := range l.DNS {
		if j, dup := seen[a]; dup {
			v.errorf(fmt.Sprintf("listen.dns[%d]", i), "%s is already listed at listen.dns[%d]", a, j)
			continue
		}
		seen[a] = i
	}
	if l.HTTP == nil {
		return
	}
	for i, a := range l.DNS {
		if a.Port == l.HTTP.Port && overlaps(a, *l.HTTP) && !v.isBad(fmt.Sprintf("listen.dns[%d]", i)) {
			v.errorf("listen.http", "%s clashes with listen.dns[%d] (%s): both need TCP port %d", l.HTTP, i, a, a.Port)
			return
		}
	}
}

// overlaps reports whether binding a and b on the same port would clash.
func overlaps(a, b ListenAddr) bool {
	all := func(x ListenAddr) bool { return !x.Addr.IsValid() || x.Addr.IsUnspecified() }
	return all(a) || all(b) || a.Addr == b.Addr
}

func (v *validator) server(s *Server) {
	if s.UDPSockets < 0 || s.UDPSockets > maxUDPSockets {
		v.errorf("server.udp_sockets", "must be from 0 (one per CPU) to %d, got %d", maxUDPSockets, s.UDPSockets)
	}
	if s.EDNSBufferSize < 512 || s.EDNSBufferSize > 4096 {
		v.errorf("server.edns_buffer_size", "must be from 512 to 4096 bytes, got %d (1232 avoids IP fragmentation)", s.EDNSBufferSize)
	}
	v.positive("server.query_timeout", s.QueryTimeout)
	if s.TCP.MaxConnections < 1 {
		v.errorf("server.tcp.max_connections", "must be at least 1, got %d", s.TCP.MaxConnections)
	}
	v.positive("server.tcp.idle_timeout", s.TCP.IdleTimeout)
	v.positive("server.tcp.read_timeout", s.TCP.ReadTimeout)
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errorf(path, "must be longer than 0s")
	}
}

func (v *validator) access(a *Access) {
	if len(a.Allow) == 0 {
		v.errorf("access.allow", "must list at least one network; clients outside it are refused")
	}
	for i, p := range a.Allow {
		if p.Bits() == 0 && !a.AllowAny && !v.isBad("access.allow_any") {
			v.errorf(fmt.Sprintf("access.allow[%d]", i),
				"%s lets every address on the internet query gatehouse, which makes it an open resolver that attackers abuse for DDoS amplification; "+
					"list your school's networks instead, or also set allow_any: true if you really mean it", p)
		}
	}
	rl := &a.RateLimit
	if rl.QueriesPerSecond < 0 || rl.QueriesPerSecond > maxQueriesPerSecond {
		v.errorf("access.rate_limit.queries_per_second", "must be from 0 (off) to %d, got %d", maxQueriesPerSecond, rl.QueriesPerSecond)
	}
	if rl.Burst < 0 {
		v.errorf("access.rate_limit.burst", "must not be negative, got %d", rl.Burst)
	}
}

func (v *validator) resolver(r *Resolver, queryTimeout time.Duration) {
	switch r.Mode {
	case ModeRecursive:
		for _, f := range []struct{ path, file string }{
			{"resolver.recursion.root_hints", r.Recursion.RootHints},
			{"resolver.dnssec.trust_anchors", r.DNSSEC.TrustAnchors},
		} {
			if f.file != "" && !strings.HasPrefix(f.file, "/") {
				v.errorf(f.path, "%q must be an absolute path", f.file)
			}
		}
		if n := r.DNSSEC.NSEC3MaxIterations; n < 0 || n > 65535 {
			v.errorf("resolver.dnssec.nsec3_max_iterations", "must be from 0 to 65535, got %d", n)
		}
		if r.DNSSEC.ClockSkew < 0 {
			v.errorf("resolver.dnssec.clock_skew", "must not be negative")
		}
		if len(r.Upstreams) > 0 {
			v.errorf("resolver.upstreams", `upstreams are only used in forward mode, and the mode is recursive (the default): set "mode: forward" to forward to them, or remove them to resolve from the root servers`)
		}
	case ModeForward:
		if len(r.Upstreams) == 0 {
			v.errorf("resolver.upstreams", "forward mode needs at least one upstream server")
		}
	}
	v.positive("resolver.timeout", r.Timeout)
	if r.Timeout > queryTimeout && queryTimeout > 0 && !v.isBad("server.query_timeout") {
		v.errorf("resolver.timeout", "%s is longer than server.query_timeout (%s), so an upstream answer could arrive too late to use",
			FormatDuration(r.Timeout), FormatDuration(queryTimeout))
	}
	v.upstreams("resolver.upstreams", r.Upstreams)

	forwarded := map[string]string{} // domain → path of its first mention
	for i, cond := range r.Conditional {
		path := fmt.Sprintf("resolver.conditional[%d]", i)
		if len(cond.Domains) == 0 {
			v.errorf(path+".domains", "needs at least one domain")
		}
		for j, name := range cond.Domains {
			dpath := fmt.Sprintf("%s.domains[%d]", path, j)
			if err := checkDomain(name); err != nil {
				v.errorf(dpath, "%q is not a valid domain name: %s", name, err)
				continue
			}
			if first, dup := forwarded[name]; dup {
				v.errorf(dpath, "%s is already forwarded by %s", name, first)
				continue
			}
			forwarded[name] = dpath
		}
		if len(cond.Upstreams) == 0 {
			v.errorf(path+".upstreams", "needs at least one upstream server")
		}
		v.upstreams(path+".upstreams", cond.Upstreams)
	}
}

func (v *validator) upstreams(path string, us []Upstream) {
	type server struct {
		addr  netip.AddrPort
		proto Protocol
	}
	seen := map[server]string{}
	for i, u := range us {
		upath := fmt.Sprintf("%s[%d]", path, i)
		if a := u.Address.Addr(); a.IsUnspecified() || a.IsMulticast() {
			v.errorf(upath+".address", "%s cannot be an upstream server", a)
		}
		switch {
		case u.Protocol == ProtocolTLS && u.TLSServerName == "":
			v.errorf(upath+".tls_server_name", `required for protocol "tls": the name on the server's certificate, like "dns.quad9.net"`)
		case u.Protocol != ProtocolTLS && u.TLSServerName != "":
			v.errorf(upath+".tls_server_name", `only used with protocol "tls"; remove it or set protocol: tls`)
		case u.TLSServerName != "":
			if err := checkServerName(u.TLSServerName); err != nil {
				v.errorf(upath+".tls_server_name", "%q is not a valid server name: %s", u.TLSServerName, err)
			}
		}
		if !u.Address.IsValid() {
			continue
		}
		key := server{u.Address, u.Protocol}
		if first, dup := seen[key]; dup {
			v.errorf(upath, "%s over %s is already listed at %s", u.Address, u.Protocol, first)
			continue
		}
		seen[key] = upath
	}
}

func (v *validator) cache(c *Cache) {
	if c.Size < 0 || c.Size > maxCacheSize {
		v.errorf("cache.size", "must be from 0 (no cache) to %d entries, got %d", maxCacheSize, c.Size)
	}
	ttls := []struct {
		path string
		d    time.Duration
	}{
		{"cache.min_ttl", c.MinTTL},
		{"cache.max_ttl", c.MaxTTL},
		{"cache.negative_max_ttl", c.NegativeMaxTTL},
		{"cache.servfail_ttl", c.ServfailTTL},
	}
	for _, ttl := range ttls {
		switch {
		case ttl.d%time.Second != 0:
			v.errorf(ttl.path, "DNS TTLs are whole seconds, got %s", FormatDuration(ttl.d))
		case ttl.d > maxTTL:
			v.errorf(ttl.path, "must be at most %s (RFC 2181), got %s", FormatDuration(maxTTL), FormatDuration(ttl.d))
		}
	}
	if c.MaxTTL < c.MinTTL && !v.isBad("cache.min_ttl") {
		v.errorf("cache.max_ttl", "%s is shorter than cache.min_ttl (%s)", FormatDuration(c.MaxTTL), FormatDuration(c.MinTTL))
	}
	if c.ServfailTTL > maxServfailTTL {
		v.errorf("cache.servfail_ttl", "must be at most %s (RFC 2308), got %s", FormatDuration(maxServfailTTL), FormatDuration(c.ServfailTTL))
	}
}

func (v *validator) groups(groups []Group, defaultGroup string) {
	if len(groups) == 0 {
		v.errorf("groups", "needs at least one group")
	}
	names := map[string]string{} // name → path of its definition
	var known []string
	for i, g := range groups {
		path := fmt.Sprintf("groups[%d]", i)
		if !validGroupName(g.Name) {
			v.errorf(path+".name", "%q is not a valid group name: use 1 to 63 lower-case letters, digits, '-' and '_', starting with a letter or digit", g.Name)
		} else if first, dup := names[g.Name]; dup {
			v.errorf(path+".name", "group %q is already defined at %s", g.Name, first)
		} else {
			names[g.Name] = path
			known = append(known, g.Name)
		}
		if strings.ContainsAny(g.Description, "\r\n") {
			v.errorf(path+".description", "must be a single line")
		}
	}
	if _, ok := names[defaultGroup]; !ok && len(names) > 0 && !v.anyBadUnder("groups") {
		v.errorf("default_group", "%q is not one of the groups (%s)", defaultGroup, strings.Join(known, ", "))
	}
}

// validGroupName matches ^[a-z0-9][a-z0-9_-]{0,62}$.
func validGroupName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkDomain explains why name, in canonical form (lower case, trailing
// dot), is not a usable domain name for conditional forwarding.
func checkDomain(name string) error {
	switch {
	case name == "":
		return errors.New("it is empty")
	case name == ".":
		return errors.New("the root would forward every query; use resolver.upstreams for that")
	case len(name) > 254:
		return errors.New("it is longer than 253 characters")
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			return errors.New("it has an empty label (two dots in a row, or a leading dot)")
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q is longer than 63 characters", label)
		}
		for i := range len(label) {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return errors.New("it is not ASCII; write internationalised names in their xn-- form")
			default:
				return fmt.Errorf("%q is not allowed in a domain name", c)
			}
		}
	}
	return nil
}

// checkServerName explains why s is not a name to verify a TLS certificate
// against. IP addresses are allowed: some servers have IP certificates.
func checkServerName(s string) error {
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if strings.HasSuffix(s, ".") {
		return errors.New("leave out the trailing dot")
	}
	return checkDomain(canonicalName(s))
}

// isHostName reports whether s looks like a host name rather than a broken
// IP address, to explain errors about addresses.
func isHostName(s string) bool {
	return strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") && checkDomain(canonicalName(s)) == nil
}
