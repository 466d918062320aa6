package recursor

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Server selection tuning, after Unbound's infra cache
// (services/cache/infra.c, util/rtt.c).
const (
	// unknownRTO is the timeout for, and the selection score of, a server
	// never measured (Unbound's UNKNOWN_SERVER_NICENESS is 376 ms).
	unknownRTO = 400 * time.Millisecond
	// minRTO and maxRTO bound the per-exchange timeout derived from a
	// server's smoothed RTT (Unbound: RTT_MIN_TIMEOUT 50 ms; our floor is
	// higher for jittery school links). maxRTO is also the longest a
	// backed-off server is waited for.
	minRTO = 100 * time.Millisecond
	maxRTO = 3 * time.Second
	// rttBand: servers at most this much slower than the fastest are chosen
	// at random, so unmeasured servers get tried and load spreads (Unbound's
	// RTT band is 400 ms).
	rttBand = 400 * time.Millisecond
	// statsTTL: a server's measurements older than this are forgotten, so
	// a server that was slow or dead gets a fresh chance (Unbound's
	// infra-host-ttl is 900 s).
	statsTTL = 15 * time.Minute
	// After holdAfterTimeouts consecutive timeouts a server is held
	// (tried only when no other server is left) for unresponsiveHold,
	// doubling with each further timeout up to maxUnresponsiveHold.
	holdAfterTimeouts   = 2
	unresponsiveHold    = 30 * time.Second
	maxUnresponsiveHold = 15 * time.Minute
	// How long a server is held for a zone after a reply of each kind.
	lameHold     = 15 * time.Minute // not authoritative, REFUSED, broken replies
	servfailHold = time.Minute      // SERVFAIL may be about one name only
	mismatchHold = time.Minute      // wrong question or 0x20 case: perhaps spoofed
	// noEDNSHold is how long a server that rejected EDNS is queried without.
	noEDNSHold = 15 * time.Minute
)

// selector chooses among a zone's servers and remembers how each behaved.
// Its memory is bounded: LRU caches of server statistics and of (server,
// zone) pairs set aside. It is safe for concurrent use.
type selector struct {
	m *Metrics

	mu    sync.Mutex
	stats *simplelru.LRU[netip.Addr, *serverStats]
	lame  *simplelru.LRU[lameKey, time.Time] // until when
}

// serverStats is what is known about one server address.
type serverStats struct {
	srtt, rttvar time.Duration // smoothed RTT and its variation (RFC 6298)
	rto          time.Duration // timeout for the next exchange; also the selection score
	measured     bool
	timeouts     int       // consecutive
	heldUntil    time.Time // unresponsive: set aside until then
	noEDNSUntil  time.Time
	updated      time.Time
}

type lameKey struct {
	addr netip.Addr
	zone string
}

// candidate is a server address ranked for a query.
type candidate struct {
	addr  netip.Addr
	score time.Duration
	held  bool // unresponsive, or lame for the zone: last resort only
}

func newSelector(size int, m *Metrics) (*selector, error) {
	stats, err := simplelru.NewLRU[netip.Addr, *serverStats](size, nil)
	if err != nil {
		return nil, fmt.Errorf("creating server statistics cache: %w", err)
	}
	lame, err := simplelru.NewLRU[lameKey, time.Time](size, nil)
	if err != nil {
		return nil, fmt.Errorf("creating lame server cache: %w", err)
	}
	return &selector{m: m, stats: stats, lame: lame}, nil
}

// stat returns addr's statistics, fresh ones if none or stale. The caller
// holds s.mu.
func (s *selector) stat(addr netip.Addr, now time.Time) *serverStats {
	st, ok := s.stats.Get(addr)
	if !ok || now.Sub(st.updated) > statsTTL {
		st = &serverStats{rto: unknownRTO, updated: now}
		s.stats.Add(addr, st)
	}
	return st
}

// peek is stat without creating an entry. The caller holds s.mu.
func (s *selector) peek(addr netip.Addr, now time.Time) serverStats {
	if st, ok := s.stats.Peek(addr); ok && now.Sub(st.updated) <= statsTTL {
		return *st
	}
	return serverStats{rto: unknownRTO}
}

// rank orders addrs for a query to zone: servers not held first, then by
// score (expected response time), then by address.
func (s *selector) rank(addrs []netip.Addr, zone string, now time.Time) []candidate {
	s.mu.Lock()
	cands := make([]candidate, 0, len(addrs))
	for _, a := range addrs {
		st := s.peek(a, now)
		held := now.Before(st.heldUntil)
		if until, ok := s.lame.Peek(lameKey{a, zone}); ok && now.Before(until) {
			held = true
		}
		cands = append(cands, candidate{addr: a, score: st.rto, held: held})
	}
	s.mu.Unlock()
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.held != b.held {
			if a.held {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.score, b.score), a.addr.Compare(b.addr))
	})
	return cands
}

// pick chooses from ranked candidates (at least one): at random among the
// servers not held whose score is within rttBand of the best, else the best
// held one, as a probe.
func pick(cands []candidate, randIntN func(int) int) candidate {
	if cands[0].held {
		return cands[0]
	}
	n := 1
	for n < len(cands) && !cands[n].held && cands[n].score <= cands[0].score+rttBand {
		n++
	}
	return cands[randIntN(n)]
}

// timeout is how long to wait for addr's reply.
func (s *selector) timeout(addr netip.Addr, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peek(addr, now).rto
}

// replied records that addr answered after rtt, which ends any
// unresponsiveness.
func (s *selector) replied(addr netip.Addr, rtt time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stat(addr, now)
	if !st.measured {
		st.srtt, st.rttvar, st.measured = rtt, rtt/2, true
	} else { // RFC 6298 section 2.3
		st.rttvar = (3*st.rttvar + (st.srtt - rtt).Abs()) / 4
		st.srtt = (7*st.srtt + rtt) / 8
	}
	st.rto = min(max(st.srtt+4*st.rttvar, minRTO), maxRTO)
	st.timeouts = 0
	st.heldUntil = time.Time{}
	st.updated = now
}

// timedOut records that addr did not answer in time: its timeout doubles
// (RFC 6298 section 5.5), and after a few in a row it is held.
func (s *selector) timedOut(addr netip.Addr, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stat(addr, now)
	st.rto = min(2*st.rto, maxRTO)
	st.timeouts++
	st.updated = now
	if st.timeouts >= holdAfterTimeouts {
		d := unresponsiveHold << min(st.timeouts-holdAfterTimeouts, 10)
		st.heldUntil = now.Add(min(d, maxUnresponsiveHold))
		s.m.holds[holdUnresponsive].Inc()
	}
}

// hold sets addr aside for zone until now+d, for reason.
func (s *selector) hold(addr netip.Addr, zone string, reason hold, d time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lame.Add(lameKey{addr, zone}, now.Add(d))
	s.m.holds[reason].Inc()
}

// noEDNS reports whether addr is to be queried without EDNS.
func (s *selector) noEDNS(addr netip.Addr, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Before(s.peek(addr, now).noEDNSUntil)
}

// setNoEDNS records that addr rejected a query with EDNS.
func (s *selector) setNoEDNS(addr netip.Addr, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stat(addr, now)
	st.noEDNSUntil = now.Add(noEDNSHold)
	st.updated = now
	s.m.holds[holdNoEDNS].Inc()
}

// sizes returns the number of servers with statistics and of held
// (server, zone) pairs, including expired ones not yet evicted.
func (s *selector) sizes() (servers, lame int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Len(), s.lame.Len()
}
