package forward

import (
	"gatehouse/resolver"

	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/netip"

	"github.com/miekg/dns"
)

// Upstream protocols.
const (
	ProtoUDP = "udp" // UDP, retried over TCP when the reply is truncated
	ProtoTCP = "tcp" // TCP only
	ProtoTLS = "tls" // DNS over TLS (RFC 7858)
)

// Upstream is one server to forward to.
type Upstream struct {
	Addr netip.AddrPort
	// Protocol is ProtoUDP (the default when empty), ProtoTCP or ProtoTLS.
	Protocol string
	// TLSServerName is the name the server's certificate must carry, for
	// ProtoTLS. When empty the certificate must carry Addr's IP address.
	TLSServerName string
}

// String returns the upstream as "proto://addr", its metrics label.
func (u Upstream) String() string {
	p := u.Protocol
	if p == "" {
		p = ProtoUDP
	}
	return p + "://" + u.Addr.String()
}

// Rule sends questions for Domains, and every name below them, to Upstreams
// instead of the default ones. Among all rules the longest matching domain
// wins. Domains are fully qualified names, matched on label boundaries:
// "school.internal." covers "a.school.internal." but not
// "evilschool.internal.".
type Rule struct {
	Domains   []string
	Upstreams []Upstream
}

// Exchanger is the network the Forwarder uses: *resolver.Transport, or a
// fake in tests. Implementations must not modify m and must be safe for
// concurrent use.
type Exchanger interface {
	Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)
	ExchangeTCP(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)
	ExchangeTLS(ctx context.Context, m *dns.Msg, server netip.AddrPort, tlsConf *tls.Config) (*dns.Msg, error)
}

// Config configures a Forwarder.
type Config struct {
	// Upstreams receive every question no Rule covers. At least one,
	// unless Fallback is set.
	Upstreams []Upstream
	// Fallback, when set, answers every question no Rule covers instead of
	// Upstreams: in recursive mode the recursor resolves everything except
	// the conditional domains (the school's Active Directory zone).
	Fallback resolver.Resolver
	// Conditional forwarding rules.
	Conditional []Rule
	// Exchanger talks to upstreams (default: a new resolver.Transport with
	// default settings).
	Exchanger Exchanger
	// TLSRoots verifies DoT upstreams (nil: the system roots).
	TLSRoots *x509.CertPool
	// Logger receives upstream health changes (default: discard).
	Logger *slog.Logger
	// Metrics, from NewMetrics (default: unregistered metrics).
	Metrics *Metrics
}
