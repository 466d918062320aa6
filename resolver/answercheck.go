package resolver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"gatehouse/policy"
)

// answerBlocked runs the answer-side checks on a cached or resolved answer:
// its CNAME and DNAME targets against the lists (CNAME cloaking), and its
// addresses against address lists, GeoIP and rebinding protection, all with
// the client's group masks (policy.Snapshot.DecideAnswer). The targets and
// addresses were extracted once, when the Answer was built, so a cache hit
// costs only the lookups and does not allocate.
//
// It runs on every answer, cache hits included, so a policy change applies
// to answers cached before it. When the answer is blocked, the query's
// decision becomes the answer-side block (logged and counted as such) and
// it reports true; the caller answers in the group's block style.
func (s *Server) answerBlocked(qu *query, a *Answer) bool {
	if len(a.Targets) == 0 && len(a.Addrs) == 0 {
		return false
	}
	d := qu.snap.DecideAnswer(qu.client, qu.d, qu.wq.q.Name, a.Targets, a.Addrs, qu.start)
	if d.Action != policy.Block {
		// An answer a temporary override lets through (its CNAME target is
		// in an allowed category) must not outlive the override.
		qu.d.TTLCap = d.TTLCap
		return false
	}
	qu.d, qu.blockedAnswer = d, a
	s.m.decided(d)
	return true
}

// addService adds what an SVCB or HTTPS record points clients at to the
// checked targets and addresses: its target name (unless "." for the
// owner itself) and its address hints, which browsers connect to directly.
func (a *Answer) addService(rr *dns.SVCB) {
	if t := strings.ToLower(rr.Target); t != "." && t != "" {
		a.Targets = append(a.Targets, t)
	}
	for _, kv := range rr.Value {
		var hints []net.IP
		switch v := kv.(type) {
		case *dns.SVCBIPv4Hint:
			hints = v.Hint
		case *dns.SVCBIPv6Hint:
			hints = v.Hint
		}
		for _, h := range hints {
			if ip, ok := netip.AddrFromSlice(h); ok {
				a.addAddr(ip.Unmap())
			}
		}
	}
}
