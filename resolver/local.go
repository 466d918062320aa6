package resolver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"gatehouse/policy"
)

// rewriteTTL caps the TTL of a safe-search CNAME: the rewrite is ours, so
// a client should come back soon enough to see a change of policy.
const rewriteTTL = 300

// blockSOA is the SOA in negative block answers: its minimum (and TTL) is
// the block TTL, so resolvers downstream cache the block only that long
// (RFC 2308). The names are under .invalid (RFC 6761): never real.
func blockSOA(zone string, ttl uint32) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "gatehouse.invalid.",
		Mbox:    "hostmaster.gatehouse.invalid.",
		Serial:  1,
		Refresh: 3600, Retry: 600, Expire: 86400,
		Minttl: ttl,
	}
}

// localReply starts a reply to wq that we synthesise ourselves.
func localReply(wq *wireQuery, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.Id = wq.id
	m.Response, m.RecursionAvailable = true, true
	m.RecursionDesired = wq.flags&flagRD != 0
	m.CheckingDisabled = wq.flags&flagCD != 0
	m.Rcode = rcode
	m.Question = []dns.Question{{Name: wq.q.Name, Qtype: wq.q.Type, Qclass: dns.ClassINET}}
	return m
}

// appendMsg packs m for wq's client: the client's own question bytes (its
// letter case, for 0x20), our OPT with ede when the client used EDNS, and
// truncation to its buffer.
func (s *Server) appendMsg(dst []byte, m *dns.Msg, qu *query, ede *dns.EDNS0_EDE) []byte {
	wq := &qu.wq
	if wq.edns {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(s.bufSize)
		opt.SetDo(wq.q.DO)
		if ede != nil {
			opt.Option = append(opt.Option, ede)
		}
		if wq.ecs != nil {
			echo := appendECS(nil, wq.ecs)[4:] // as AppendReply writes it
			opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: echo})
		}
		m.Extra = append(m.Extra, opt)
	}
	if qu.proto == protoUDP {
		size := dns.MinMsgSize
		if wq.edns {
			size = int(min(wq.udpSize, s.bufSize))
		}
		m.Truncate(size)
	}
	m.Compress = true
	out, err := m.PackBuffer(dst[:0])
	if err != nil {
		return appendEmptyReply(dst[:0], wq, dns.RcodeServerFailure, nil, s.bufSize)
	}
	// Echo the client's question bytes: same name but for letter case, so
	// the same length and compression offsets stay valid.
	if end := headerLen + len(wq.question); len(out) >= end && len(m.Question) == 1 {
		if qend, err := skipName(out, headerLen); err == nil && qend+4 == end {
			copy(out[headerLen:end], wq.question)
		}
	}
	return out
}

// blockEDE explains a block to clients that read Extended DNS Errors
// (RFC 8914 code 15, Blocked: by the operator's policy).
func blockEDE(d policy.Decision) *dns.EDNS0_EDE {
	text := "blocked by school policy"
	if d.Category != "" {
		text += ": " + d.Category
	}
	if d.List != "" {
		text += " (" + d.List + ")"
	}
	return &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeBlocked, ExtraText: text}
}

// blocked answers a blocked query in the decision's style. HTTPS and SVCB
// queries never get hints, whatever the style: only NXDOMAIN or no data.
func (s *Server) blocked(qu *query, snap *policy.Snapshot, b *buffers) []byte {
	wq, d := &qu.wq, qu.d
	ttl := minCap(snap.BlockTTL(), d.TTLCap)
	zone := d.Matched
	if zone == "" || !strings.HasSuffix(wq.q.Name, zone) {
		zone = wq.q.Name // an answer-side block explains itself by the answer, not a suffix
	}
	var m *dns.Msg
	switch d.Style {
	case policy.StyleNXDOMAIN:
		m = localReply(wq, dns.RcodeNameError)
	default:
		m = localReply(wq, dns.RcodeSuccess)
		var addr netip.Addr
		switch {
		case d.Style == policy.StyleNull && wq.q.Type == dns.TypeA:
			addr = netip.IPv4Unspecified()
		case d.Style == policy.StyleNull && wq.q.Type == dns.TypeAAAA:
			addr = netip.IPv6Unspecified()
		case d.Style == policy.StyleBlockPage:
			v4, v6 := snap.PageAddresses()
			if wq.q.Type == dns.TypeA {
				addr = v4
			} else if wq.q.Type == dns.TypeAAAA {
				addr = v6
			}
		}
		if addr.IsValid() {
			m.Answer = append(m.Answer, addrRR(wq.q.Name, addr, ttl))
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, blockSOA(zone, ttl))
	}
	s.done(qu, m.Rcode, sourceLocal, qu.blockedAnswer, SecurityUnchecked)
	return s.appendMsg(b.out, m, qu, blockEDE(d))
}

func addrRR(name string, a netip.Addr, ttl uint32) dns.RR {
	h := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
	if a.Is4() {
		h.Rrtype = dns.TypeA
		return &dns.A{Hdr: h, A: net.IP(a.AsSlice())}
	}
	h.Rrtype = dns.TypeAAAA
	return &dns.AAAA{Hdr: h, AAAA: net.IP(a.AsSlice())}
}

// rewritten answers a safe-search rewrite: "name CNAME target" followed by
// the target's own records of the asked type, resolved live through the
// cache (never hard-coded addresses, never the original name's records, so
// an AAAA or HTTPS query gets the target's data or no data).
func (s *Server) rewritten(qu *query, c Cached, b *buffers) []byte {
	wq := &qu.wq
	target, err := c.Answer.Msg()
	if err != nil {
		return s.local(qu, b, dns.RcodeServerFailure, nil)
	}
	m := localReply(wq, target.Rcode)
	ttl := minCap(rewriteTTL, qu.d.TTLCap)
	age := func(rrs []dns.RR) []dns.RR {
		for _, rr := range rrs {
			h := rr.Header()
			h.Ttl = max(h.Ttl, c.Age) - c.Age
			if c.Stale {
				h.Ttl = StaleTTL
			}
			h.Ttl = minCap(h.Ttl, qu.d.TTLCap)
			ttl = min(ttl, h.Ttl)
		}
		return rrs
	}
	answer := age(target.Answer)
	m.Ns = age(target.Ns)
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: wq.q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl}, Target: qu.d.Target}
	m.Answer = append([]dns.RR{cname}, answer...)
	src := sourceCache
	if !c.FromCache {
		src = sourceUpstream
	}
	s.done(qu, m.Rcode, src, c.Answer, SecurityUnchecked)
	return s.appendMsg(b.out, m, qu, nil)
}
