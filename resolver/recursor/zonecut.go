package recursor

import (
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// deleg is a zone cut: a zone and the servers it is delegated to, as the
// parent zone (or the root hints, or priming) described it. It is immutable
// once built and shared through the infrastructure cache.
type deleg struct {
	zone    string                  // canonical zone name
	ns      []string                // canonical name server names, each once
	glue    map[string][]netip.Addr // addresses the parent gave for names in ns
	glueTTL map[string]uint32       // the smallest TTL of each name's glue records
	expires time.Time               // zero: never (root hints)
}

func newDeleg(zone string) *deleg {
	return &deleg{zone: zone, glue: make(map[string][]netip.Addr)}
}

// addNS adds a name server name, once.
func (d *deleg) addNS(name string) {
	name = dns.CanonicalName(name)
	if !slices.Contains(d.ns, name) {
		d.ns = append(d.ns, name)
	}
}

// addGlue adds rr's address if rr is an A or AAAA record for one of d's name
// servers. With filter set, addresses no authoritative server may have
// (loopback, multicast and the like) are dropped: glue pointing at them is a
// way to make the resolver query itself or the local network.
func (d *deleg) addGlue(rr dns.RR, filter bool) {
	var a netip.Addr
	switch rr := rr.(type) {
	case *dns.A:
		a, _ = netip.AddrFromSlice(rr.A.To4())
	case *dns.AAAA:
		a, _ = netip.AddrFromSlice(rr.AAAA.To16())
	default:
		return
	}
	name := dns.CanonicalName(rr.Header().Name)
	if !a.IsValid() || !slices.Contains(d.ns, name) || (filter && !serverAddr(a)) {
		return
	}
	if !slices.Contains(d.glue[name], a) {
		d.glue[name] = append(d.glue[name], a)
	}
	if d.glueTTL == nil {
		d.glueTTL = make(map[string]uint32)
	}
	if ttl, ok := d.glueTTL[name]; !ok || rr.Header().Ttl < ttl {
		d.glueTTL[name] = rr.Header().Ttl
	}
}

// serverAddr reports whether a may be an authoritative server's address
// learnt from the network. Loopback and link-local addresses are kept
// here and refused later, at server selection, unless the recursor allows
// them (a private test hierarchy on one machine).
func serverAddr(a netip.Addr) bool {
	return a.IsValid() && !a.Is4In6() && !a.IsUnspecified() && !a.IsMulticast() &&
		!a.IsLinkLocalMulticast() && !a.IsInterfaceLocalMulticast() &&
		a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// localAddr reports whether a is on this host or its link: a server
// address the network must not be able to point us at, since it would make
// us query ourselves or the local network.
func localAddr(a netip.Addr) bool {
	return a.IsLoopback() || a.IsLinkLocalUnicast()
}
