//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// benchZone holds every benchmark name. The backend is its only authority
// and refuses everything else, so no query can leave the machine.
const benchZone = "bench.test."

var (
	nameLabels = []string{"www", "www", "www", "api", "cdn", "static", "mail", "img"}
	nameWords  = []string{
		"maple", "river", "school", "news", "cloud", "shop", "media", "games",
		"library", "science", "maths", "history", "music", "sports", "weather", "travel",
		"garden", "kitchen", "photo", "video", "radio", "comic", "puzzle", "planet",
		"ocean", "forest", "castle", "rocket", "pixel", "atlas", "harbour", "meadow",
	}
)

// benchName is one name of the warmed set and the A record it resolves to.
type benchName struct {
	Name string     // fully qualified, lower case
	Addr netip.Addr // in 198.18.0.0/15, the benchmarking range (RFC 2544)
}

// makeNames returns n distinct realistic-looking names such as
// "www.maple17.bench.test.".
func makeNames(n int) []benchName {
	out := make([]benchName, n)
	for i := range out {
		label := nameLabels[i%len(nameLabels)]
		word := nameWords[(i/len(nameLabels))%len(nameWords)]
		out[i] = benchName{
			Name: fmt.Sprintf("%s.%s%d.%s", label, word, i, benchZone),
			Addr: netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)}),
		}
	}
	return out
}

// dnsperfInput is the data file: "name A" per line.
func dnsperfInput(names []benchName) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(strings.TrimSuffix(n.Name, "."))
		b.WriteString(" A\n")
	}
	return b.String()
}

// unboundCommon is the part every Unbound instance shares: foreground, no
// privilege drop, no chroot, everything in dir, IPv4 loopback only.
func unboundCommon(dir, name string, port int) string {
	return fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  outgoing-interface: 127.0.0.1
  do-ip6: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  do-daemonize: no
  use-syslog: no
  logfile: %q
  log-time-ascii: yes
  access-control: 127.0.0.0/8 allow
`, port, dir, dir+"/"+name+".pid", dir+"/"+name+".log")
}

// backendConfig is the authority behind both servers: a static local zone
// with one A record per name (TTL 3600), and REFUSED for anything else.
func backendConfig(dir string, port int, names []benchName) string {
	var b strings.Builder
	b.WriteString(unboundCommon(dir, "backend", port))
	b.WriteString(`  num-threads: 1
  module-config: "iterator"
  local-zone: "." refuse
  local-zone: "` + benchZone + `" static
`)
	for _, n := range names {
		fmt.Fprintf(&b, "  local-data: \"%s 3600 IN A %s\"\n", n.Name, n.Addr)
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	return b.String()
}

// unboundFrontConfig is the comparison Unbound: a caching forwarder to the
// backend without validation, two threads on SO_REUSEPORT sockets, caches
// far larger than the name set. Everything else is Unbound 1.17's default
// (minimal-responses yes, prefetch no, so-rcvbuf 0 = the system default,
// 4 cache slabs, outgoing-range 4096), except that "test." loses its
// built-in NXDOMAIN local zone (RFC 6761) so the bench names are forwarded.
//
// With logReplies it also writes a line per reply to its log file (client,
// name, type, rcode, time taken, size): Unbound's nearest to a query log.
func unboundFrontConfig(dir, name string, port, backendPort int, logReplies bool) string {
	conf := unboundCommon(dir, name, port)
	if logReplies {
		conf += "  log-replies: yes\n"
	}
	return conf + fmt.Sprintf(`  num-threads: 2
  so-reuseport: yes
  module-config: "iterator"
  do-not-query-localhost: no
  msg-cache-size: 64m
  rrset-cache-size: 128m
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@%d
remote-control:
  control-enable: no
`, backendPort)
}

// gatehouseConfig runs the full pipeline (access control, client
// identification, policy, cache, forwarder, and the query log unless
// queryLog is false) with the shipped defaults except: loopback addresses,
// no rate limit, a cache of at least twice the name set (so sharding cannot
// evict any), and state in stateDir.
func gatehouseConfig(dnsPort, httpPort, backendPort, names int, stateDir string, queryLog bool) string {
	size := max(100000, 2*names)
	return fmt.Sprintf(`version: 1
state_dir: %q
query_log:
  enabled: %v
log:
  level: info
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
server:
  udp_sockets: 0
access:
  allow: [127.0.0.0/8]
  rate_limit:
    queries_per_second: 0
resolver:
  mode: forward
  upstreams:
    - address: "127.0.0.1:%d"
      protocol: udp
cache:
  size: %d
groups:
  - name: bench
`, stateDir, queryLog, dnsPort, httpPort, backendPort, size)
}
