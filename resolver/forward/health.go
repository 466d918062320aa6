package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Passive health tuning.
const (
	// failThreshold consecutive failures make an upstream unhealthy.
	failThreshold = 3
	// An unhealthy upstream is skipped for a backoff that starts at
	// initialBackoff and doubles after each failed probe up to maxBackoff.
	initialBackoff = 5 * time.Second
	maxBackoff     = 60 * time.Second
	// exploreOneIn: about one query in this many tries a random healthy
	// upstream first, so that the SRTT of one that got faster (or recovered
	// from a slow spell) is refreshed.
	exploreOneIn = 20
)

// result is the outcome of one exchange with an upstream.
type result uint8

const (
	resSuccess result = iota // an answer, including NXDOMAIN and NODATA
	resServfail
	resRefused
	resTimeout
	resError // network error, malformed or mismatched reply, other rcodes
	numResults
)

func (r result) String() string {
	switch r {
	case resSuccess:
		return "success"
	case resServfail:
		return "servfail"
	case resRefused:
		return "refused"
	case resTimeout:
		return "timeout"
	default:
		return "error"
	}
}

// classify sorts an exchange's outcome for the question (name, qtype).
func classify(r *dns.Msg, err error, name string, qtype uint16) result {
	switch {
	case err != nil:
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			return resTimeout
		}
		return resError
	case r == nil || len(r.Question) != 1 || r.Question[0].Qtype != qtype ||
		!strings.EqualFold(r.Question[0].Name, name):
		return resError
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return resSuccess
	case dns.RcodeServerFailure:
		return resServfail
	case dns.RcodeRefused:
		return resRefused
	default:
		return resError
	}
}

// upstream is one configured server and its health. One upstream is shared
// by every rule that names the same server, so they share what is learnt.
type upstream struct {
	cfg   Upstream
	label string      // "proto://addr"
	tls   *tls.Config // for ProtoTLS; one per upstream so DoT connections are reused
	m     upstreamMetrics

	mu        sync.Mutex
	srtt      time.Duration // smoothed RTT; 0 until the first measurement
	fails     int           // consecutive failures
	backoff   time.Duration // current backoff while unhealthy
	downUntil time.Time     // while unhealthy: skipped (except as last resort) until then
	probing   bool          // a probe query is in flight
	lastErr   string
	lastErrAt time.Time
}

// report records the outcome of one exchange that took rtt. It returns
// +1 when the upstream became healthy, -1 when it became unhealthy.
func (u *upstream) report(now time.Time, rtt time.Duration, res result, errText string) (change int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.probing = false
	if res == resSuccess || res == resTimeout {
		// EWMA, 7/8 old + 1/8 new (RFC 6298's alpha). A timeout counts
		// with the time it took, which pushes a dead server back.
		if u.srtt == 0 {
			u.srtt = rtt
		} else {
			u.srtt += (rtt - u.srtt) / 8
		}
	}
	if res == resSuccess {
		if u.fails >= failThreshold {
			change = +1
		}
		u.fails, u.backoff, u.downUntil = 0, 0, time.Time{}
		return change
	}
	u.fails++
	u.lastErr, u.lastErrAt = errText, now
	switch {
	case u.fails == failThreshold:
		u.backoff = initialBackoff
		u.downUntil = now.Add(u.backoff)
		change = -1
	case u.fails > failThreshold && !now.Before(u.downUntil):
		// A failed probe (or a last-resort try after the backoff ended).
		u.backoff = min(2*u.backoff, maxBackoff)
		u.downUntil = now.Add(u.backoff)
	}
	return change
}

// release gives up a probe claim that was never used.
func (u *upstream) release() {
	u.mu.Lock()
	u.probing = false
	u.mu.Unlock()
}

// candidate is an upstream in the order one query tries them.
type candidate struct {
	u     *upstream
	class uint8 // classProbe, classHealthy or classDown
	key   int64 // order within the class
}

const (
	classProbe   uint8 = iota // unhealthy, backoff over: this query probes it
	classHealthy              // by SRTT, lowest first
	classDown                 // unhealthy: last resort, soonest-due first
)

// order appends ups to dst in the order to try them: at most one due probe
// (claimed for this query; release it if unused), then healthy upstreams by
// SRTT, then unhealthy ones. With explore, a random healthy upstream goes
// first among the healthy ones.
func order(dst []candidate, ups []*upstream, now time.Time, explore bool) []candidate {
	probed := false
	for _, u := range ups {
		c := candidate{u: u}
		u.mu.Lock()
		switch {
		case u.fails < failThreshold:
			c.class, c.key = classHealthy, int64(u.srtt)
		case !probed && !u.probing && !now.Before(u.downUntil):
			u.probing, probed = true, true
			c.class = classProbe
		default:
			c.class, c.key = classDown, u.downUntil.UnixNano()
		}
		u.mu.Unlock()
		dst = append(dst, c)
	}
	// Insertion sort: stable, allocation-free, and there are only a few.
	for i := 1; i < len(dst); i++ {
		for j := i; j > 0 && less(dst[j], dst[j-1]); j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
	if explore {
		lo, hi := -1, 0
		for i, c := range dst {
			if c.class == classHealthy {
				if lo < 0 {
					lo = i
				}
				hi = i + 1
			}
		}
		if lo >= 0 && hi-lo > 1 {
			j := lo + rand.IntN(hi-lo)
			c := dst[j]
			copy(dst[lo+1:j+1], dst[lo:j])
			dst[lo] = c
		}
	}
	return dst
}

func less(a, b candidate) bool {
	if a.class != b.class {
		return a.class < b.class
	}
	return a.key < b.key
}

// UpstreamHealth is one upstream's state, for the status page.
type UpstreamHealth struct {
	Addr          netip.AddrPort
	Protocol      string
	TLSServerName string
	// SRTT is the smoothed round-trip time; 0 until the first reply.
	SRTT time.Duration
	// Failures is the number of consecutive failures.
	Failures int
	// Healthy is false while the upstream is skipped after failThreshold
	// consecutive failures.
	Healthy bool
	// RetryAt, when not healthy, is when it will be probed again.
	RetryAt time.Time
	// LastError describes the most recent failure, at LastErrorAt.
	LastError   string
	LastErrorAt time.Time
}

func (u *upstream) health() UpstreamHealth {
	u.mu.Lock()
	defer u.mu.Unlock()
	h := UpstreamHealth{
		Addr:          u.cfg.Addr,
		Protocol:      u.cfg.Protocol,
		TLSServerName: u.cfg.TLSServerName,
		SRTT:          u.srtt,
		Failures:      u.fails,
		Healthy:       u.fails < failThreshold,
		LastError:     u.lastErr,
		LastErrorAt:   u.lastErrAt,
	}
	if !h.Healthy {
		h.RetryAt = u.downUntil
	}
	return h
}
