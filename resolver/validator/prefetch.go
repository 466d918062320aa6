package validator

import (
	"context"
	"time"

	"github.com/miekg/dns"
)

// prefetchTimeout bounds a key prefetch: the query that started it may
// give up sooner, but the keys serve the questions after it too.
const prefetchTimeout = 5 * time.Second

// keyFlight is a fetch of one zone's keys under way on a goroutine of its
// own (prefetchKeys); e is its result, set before done is closed, nil if it
// failed.
type keyFlight struct {
	done chan struct{}
	e    *zoneKeys
}

// prefetcher is the resolver.ReferralHook a validation hands the
// recursion that fetches its answer. The key fetches it starts spend from
// that validation's budget b, so a chain of referrals cannot make one
// query cost more verifications or fetches than its limits allow.
type prefetcher struct {
	v *Validator
	b *budget
}

// SignedReferral implements resolver.ReferralHook: the recursion was
// referred to a signed zone, whose keys the validation will need, as it
// will those of the trust anchor above it (the referral's DS is checked
// with the keys of the zone above, and so on up to the anchor). Fetching
// them now, side by side with the recursion's next steps, saves an
// exchange and a signature check each after the answer arrives; the
// validation then waits for the fetches under way instead of starting its
// own (keysFor), so no query is added.
func (p *prefetcher) SignedReferral(zone string) {
	zone = dns.CanonicalName(zone)
	if top, ok := p.v.anchors.closest(zone); ok && top != zone {
		p.v.prefetchKeys(top, p.b)
	}
	p.v.prefetchKeys(zone, p.b)
}

// prefetchKeys fetches and validates zone's keys on a new goroutine,
// unless they are cached or already being fetched. Its result goes to the
// key cache as a validation's would; validations needing the keys
// meanwhile wait for it (awaitKeys).
func (v *Validator) prefetchKeys(zone string, b *budget) {
	if e, ok := v.keys.Peek(zone); ok && v.cfg.Now().Before(e.expires) {
		return
	}
	v.flightMu.Lock()
	if _, ok := v.flights[zone]; ok {
		v.flightMu.Unlock()
		return
	}
	f := &keyFlight{done: make(chan struct{})}
	v.flights[zone] = f
	v.flightMu.Unlock()
	v.metrics.keyPrefetches.Inc()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), prefetchTimeout)
		defer cancel()
		r := v.newRun(ctx)
		r.b, r.prefetching = b, zone
		// The DNSKEY RRset first: its exchange need not wait for the DS
		// check, which may wait for the keys of the zone above.
		e, err := (*zoneKeys)(nil), error(nil)
		if r.prefetched, err = r.fetch(zone, dns.TypeDNSKEY); err == nil {
			e, err = r.loadKeys(zone)
		}
		if err == nil {
			f.e = e
		} else {
			v.log.Debug("key prefetch failed", "zone", zone, "error", err)
		}
		v.flightMu.Lock()
		delete(v.flights, zone)
		v.flightMu.Unlock()
		close(f.done)
	}()
}

// awaitKeys waits for a prefetch of zone's keys under way and returns its
// result, or nil when there is none, it failed, or r's context ended
// first: the caller then loads the keys itself. A prefetch does not wait
// for itself (a zone's DS signed by the zone itself would otherwise
// deadlock it until its timeout).
func (r *run) awaitKeys(zone string) *zoneKeys {
	if zone == r.prefetching {
		return nil
	}
	r.v.flightMu.Lock()
	f := r.v.flights[zone]
	r.v.flightMu.Unlock()
	if f == nil {
		return nil
	}
	select {
	case <-f.done:
		return f.e
	case <-r.ctx.Done():
		return nil
	}
}

// fetchKeys asks for zone's DNSKEY RRset, unless this run is the prefetch
// of zone's keys, which fetched it first.
func (r *run) fetchKeys(zone string) (*dns.Msg, error) {
	if m := r.prefetched; m != nil && zone == r.prefetching {
		r.prefetched = nil
		return m, nil
	}
	return r.fetch(zone, dns.TypeDNSKEY)
}
