package recursor

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// askZone asks dp's servers about qname and qtype, one after another in the
// selector's order, until one gives a usable reply. Servers set aside for
// misbehaving are not asked, except for one probe when no other is left.
// When no server address is known (or only ones set aside), it first looks
// up the addresses of a few name server names, in parallel. Only terminal errors
// (budget, context) and "no server answered" (resolver.ErrNoUpstream) are
// returned.
//
// Concurrent identical steps (same zone, question, DO and CD) share one
// exchange (see flights).
func (r *Recursor) askZone(ctx context.Context, st *state, dp *deleg, qname string, qtype uint16, p *path) (*reply, error) {
	k := askKey{zone: dp.zone, qname: qname, qtype: qtype, do: st.do, cd: st.cd}
	return r.asks.do(ctx, k, func() (*reply, error) { return r.askServers(ctx, st, dp, qname, qtype, p) })
}

// askKey identifies one step of a resolution, for sharing it.
type askKey struct {
	zone, qname string
	qtype       uint16
	do, cd      bool
}

// askServers is askZone's work.
func (r *Recursor) askServers(ctx context.Context, st *state, dp *deleg, qname string, qtype uint16, p *path) (*reply, error) {
	tried := make(map[netip.Addr]bool)
	looked := make(map[string]bool)       // name server names looked up in this step
	probed := false                       // a held server was tried
	timedOut := make(map[netip.Addr]bool) // servers whose only failure here was a timeout
	retried := false
	for tries := 0; tries < maxZoneTries; {
		now := r.now()
		addrs, unresolved := r.servers(dp, now, looked, p)
		addrs = slices.DeleteFunc(addrs, func(a netip.Addr) bool { return tried[a] })
		cands := r.sel.rank(addrs, dp.zone, now)
		if len(unresolved) > 0 && (len(cands) == 0 || cands[0].held) {
			if err := r.lookupServers(ctx, st, unresolved, looked, p); err != nil {
				return nil, err
			}
			continue
		}
		if len(cands) == 0 {
			if !retried && len(timedOut) > 0 {
				// Every server was tried and some only timed out: a lost
				// packet or a stalled host. Try those once more, with their
				// doubled timeouts, rather than fail the zone (a SERVFAIL
				// the cache above would then serve for a while).
				retried = true
				for a := range timedOut {
					delete(tried, a)
				}
				clear(timedOut)
				continue
			}
			break
		}
		c := pick(cands, r.randIntN)
		if c.held {
			// Every server left is set aside: probe one, in case it has
			// recovered, but do not spend a timeout on each.
			if probed {
				break
			}
			probed = true
		}
		tried[c.addr] = true
		tries++
		rep, timeout, err := r.exchange(ctx, st, dp.zone, c.addr, qname, qtype)
		if err != nil {
			return nil, err
		}
		if timeout {
			timedOut[c.addr] = true
		}
		if rep != nil {
			return rep, nil
		}
	}
	return nil, fmt.Errorf("asking the servers of %s about %s %s: %w", dp.zone, qname, dns.Type(qtype), resolver.ErrNoUpstream)
}

// servers returns the known addresses of dp's name servers, and the names
// whose addresses are unknown and may be looked up: not already looked up
// in this step, not inside dp's zone (finding them needs the zone's own
// servers), not being looked up further up this resolution, and not too
// deep in nested lookups.
func (r *Recursor) servers(dp *deleg, now time.Time, looked map[string]bool, p *path) (addrs []netip.Addr, unresolved []string) {
	// The root hints' addresses are configured, so trusted; everything
	// else came from the network.
	hints := dp.expires.IsZero()
	add := func(as []netip.Addr, trusted bool) {
		for _, a := range as {
			if !trusted && !r.loopOK && localAddr(a) {
				continue
			}
			if (r.ipv6 || a.Is4()) && !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	}
	for _, ns := range dp.ns {
		n := len(addrs)
		add(dp.glue[ns], hints)
		v4, known := r.infra.lookupAddrs(ns, false, now)
		add(v4, false)
		if r.ipv6 {
			v6, _ := r.infra.lookupAddrs(ns, true, now)
			add(v6, false)
		}
		if len(addrs) == n && !known && !looked[ns] && !dns.IsSubDomain(dp.zone, ns) &&
			!p.has(ns) && p.len() < maxLookupDepth {
			unresolved = append(unresolved, ns)
		}
	}
	return addrs, unresolved
}

// lookupServers looks up the addresses of up to gluelessBatch of names, in
// parallel, in random order (so a zone cannot choose which of its names
// get looked up), and caches them. Each name costs one glueless lookup from
// the budget.
func (r *Recursor) lookupServers(ctx context.Context, st *state, names []string, looked map[string]bool, p *path) error {
	for i := len(names) - 1; i > 0; i-- {
		j := r.randIntN(i + 1)
		names[i], names[j] = names[j], names[i]
	}
	left := int64(st.budget.MaxGlueless) - st.glueless.Load()
	names = names[:min(int64(len(names)), gluelessBatch, max(left, 1))]
	for _, n := range names {
		looked[n] = true
		if err := st.spend(&st.glueless, 1, st.budget.MaxGlueless, budgetGlueless); err != nil {
			return err
		}
	}
	errs := make([]error, len(names))
	panics := make([]any, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			// A panic is re-raised on the query's goroutine, where the
			// server's per-query recovery handles it.
			defer func() { panics[i] = recover() }()
			// Concurrent resolutions looking up the same name share it.
			_, errs[i] = r.lookups.do(ctx, n, func() (struct{}, error) {
				return struct{}{}, r.lookupAddrs(ctx, st, n, p.push(n))
			})
		})
	}
	wg.Wait()
	for _, v := range panics {
		if v != nil {
			panic(v)
		}
	}
	for _, err := range errs {
		if err != nil {
			return err // only terminal errors come back
		}
	}
	return nil
}

// lookupAddrs resolves name's A records (and AAAA with IPv6) and caches
// them, or their absence. Only terminal errors are returned: a name that
// cannot be resolved just leaves its server unusable.
func (r *Recursor) lookupAddrs(ctx context.Context, st *state, name string, p *path) error {
	types := []uint16{dns.TypeA}
	if r.ipv6 {
		types = append(types, dns.TypeAAAA)
	}
	for _, t := range types {
		res, err := r.resolve(ctx, st, name, t, p)
		if err != nil {
			if terminal(err) {
				return err
			}
			r.log.Debug("looking up name server address failed", "name", name, "type", dns.Type(t), "err", err)
			continue
		}
		var (
			addrs []netip.Addr
			ttl   uint32
		)
		d := &deleg{ns: []string{res.final}, glue: make(map[string][]netip.Addr)}
		for _, rr := range res.answer {
			if h := rr.Header(); h.Rrtype == t && h.Name == res.final {
				d.addGlue(rr, true)
				if len(addrs) == 0 || h.Ttl < ttl {
					ttl = h.Ttl
				}
				addrs = d.glue[res.final]
			}
		}
		life := max(infraTTL(ttl), minInfraTTL)
		if len(addrs) == 0 {
			life = minNegAddrTTL
			if res.hasSOA {
				life = min(max(infraTTL(res.negTTL), minNegAddrTTL), maxNegAddrTTL)
			}
		}
		r.infra.putAddrs(name, t == dns.TypeAAAA, addrs, r.now().Add(life))
	}
	return nil
}

// exchange sends one question to one server of zone and classifies the
// reply. It returns nil and no error when the server failed (after noting
// how, so it is avoided for a while; timeout says whether it failed by not
// answering in time), and an error only when the whole resolution must
// end. A server that rejects EDNS gets the question again without it.
func (r *Recursor) exchange(ctx context.Context, st *state, zone string, addr netip.Addr, qname string, qtype uint16) (rep *reply, timeout bool, err error) {
	edns := !r.sel.noEDNS(addr, r.now())
	for {
		if err := st.spend(&st.queries, 1, st.budget.MaxQueries, budgetQueries); err != nil {
			return nil, false, err
		}
		sent := qname
		if r.use0x20 {
			sent = randomCase(qname)
		}
		q := new(dns.Msg)
		q.Id = dns.Id()
		q.Opcode = dns.OpcodeQuery
		q.CheckingDisabled = st.cd
		q.Question = []dns.Question{{Name: sent, Qtype: qtype, Qclass: dns.ClassINET}}
		if edns {
			q.SetEdns0(resolver.DefaultBufSize, st.do)
		}

		start := r.now()
		resp, err := r.send(ctx, q, addr, r.sel.timeout(addr, start))
		now := r.now()
		r.m.duration.Observe(now.Sub(start).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			res := resultError
			if errors.Is(err, context.DeadlineExceeded) {
				res = resultTimeout
			}
			r.m.results[res].Inc()
			r.sel.timedOut(addr, now)
			r.log.Debug("no reply", "server", addr, "zone", zone, "qname", qname, "err", err)
			return nil, res == resultTimeout, nil
		}
		if !sameQuestion(resp, q, r.use0x20) {
			r.fail(addr, zone, resultMismatch, holdMismatch, mismatchHold, now)
			return nil, false, nil
		}
		r.sel.replied(addr, now.Sub(start), now)
		rep = classify(resp, zone, qname, qtype)
		switch rep.kind {
		case kindFormerr:
			if edns {
				// RFC 6891 section 7: a server that does not understand
				// EDNS may answer FORMERR or NOTIMP; ask again without.
				r.m.results[resultFormerr].Inc()
				r.sel.setNoEDNS(addr, now)
				edns = false
				continue
			}
			r.fail(addr, zone, resultFormerr, holdBroken, lameHold, now)
		case kindLame:
			r.fail(addr, zone, resultLame, holdLame, lameHold, now)
		case kindRefused:
			r.fail(addr, zone, resultRefused, holdRefused, lameHold, now)
		case kindServfail:
			r.fail(addr, zone, resultServfail, holdServfail, servfailHold, now)
		case kindBroken:
			r.fail(addr, zone, resultBroken, holdBroken, lameHold, now)
		default:
			r.m.results[resultOK].Inc()
			return rep, false, nil
		}
		return nil, false, nil
	}
}

// fail records a server's unusable reply and sets it aside for zone.
func (r *Recursor) fail(addr netip.Addr, zone string, res outcome, why hold, d time.Duration, now time.Time) {
	r.m.results[res].Inc()
	r.sel.hold(addr, zone, why, d, now)
	r.log.Debug("server set aside", "server", addr, "zone", zone, "reason", why.String(), "for", d)
}

// send exchanges q with addr on port 53 within timeout. A truncated reply
// that reaches it (the Exchanger did not retry over TCP itself) is retried
// over TCP if the Exchanger can, else it is an error.
func (r *Recursor) send(ctx context.Context, q *dns.Msg, addr netip.Addr, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	server := netip.AddrPortFrom(addr, 53)
	resp, err := r.ex.Exchange(ctx, q, server)
	if err == nil && resp.Truncated && r.tcp != nil {
		resp, err = r.tcp.ExchangeTCP(ctx, q, server)
	}
	if err == nil && resp.Truncated {
		return nil, fmt.Errorf("exchanging with %s: truncated reply", server)
	}
	return resp, err
}

// sameQuestion reports whether resp answers q's question. With exact, the
// name's case must match too (0x20); the Exchanger only compares names
// case-insensitively.
func sameQuestion(resp, q *dns.Msg, exact bool) bool {
	if len(resp.Question) != 1 {
		return false
	}
	got, want := resp.Question[0], q.Question[0]
	if got.Qtype != want.Qtype || got.Qclass != want.Qclass {
		return false
	}
	if exact {
		return got.Name == want.Name
	}
	return strings.EqualFold(got.Name, want.Name)
}

// randomCase flips the case of each ASCII letter of name at random
// (draft-vixie-dnsext-dns0x20). The bits come from crypto/rand: like the
// message ID, they are what an off-path spoofer must guess.
func randomCase(name string) string {
	var bits [32]byte
	_, _ = rand.Read(bits[:]) // never fails (Go 1.24+)
	b := []byte(name)
	for i, c := range b {
		if ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && bits[(i/8)%len(bits)]>>(i%8)&1 == 1 {
			b[i] ^= 0x20
		}
	}
	return string(b)
}
