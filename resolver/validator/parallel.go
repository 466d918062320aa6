package validator

import (
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// verifyJob is one signature to check ahead of the sequential pass.
type verifyJob struct {
	sig *dns.RRSIG
	key *dns.DNSKEY
	rrs []dns.RR
	id  [sha256.Size]byte // its signature cache key
}

// preverify checks, on as many cores as there are, the signatures by zone
// over the given RRsets that the sequential pass (verifySet) will check
// first, and records those that verify in the signature cache, where that
// pass then finds them. A negative answer carries several signed RRsets
// (the SOA and one to three NSEC or NSEC3 records), each costing an ECDSA
// or Ed25519 verification of 50-150 µs on the benchmark machine; checked
// side by side they cost about as long as the slowest one.
//
// It only guesses: it takes, per RRset, the first signature verifySet
// would try and the first key matching it, and skips the rest. Each check
// is paid for from the query's budget before it starts; whatever fails
// here, or is skipped, verifySet checks (and pays for) as usual, so the
// outcome is the same as without it.
func (r *run) preverify(zone string, keys []zkey, sets []*rrset) {
	if runtime.GOMAXPROCS(0) < 2 {
		return
	}
	var jobs []verifyJob
	for _, s := range sets {
		if j, ok := r.firstCheck(s, zone, keys); ok {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) < 2 {
		return // nothing to overlap
	}
	for range jobs {
		if r.spendVerify() != nil {
			return // verifySet reports the budget
		}
	}
	var next atomic.Int32
	work := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(jobs) {
				return
			}
			j := &jobs[i]
			if j.sig.Verify(j.key, j.rrs) == nil {
				r.v.sigs.add(j.id)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(len(jobs), runtime.GOMAXPROCS(0)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// firstCheck is the verification verifySet would try first for s, unless
// it is already in the signature cache or verifySet would not get that
// far (no usable signature, or one outside its validity period).
func (r *run) firstCheck(s *rrset, zone string, keys []zkey) (verifyJob, bool) {
	owner := labels(s.name)
	for _, sig := range s.sigs {
		if dns.CanonicalName(sig.SignerName) != zone || !supportedAlgorithm(sig.Algorithm) || int(sig.Labels) > owner {
			continue
		}
		if timeCheck(sig, r.now, r.v.cfg.ClockSkew) != 0 {
			return verifyJob{}, false
		}
		for _, k := range keys {
			if k.tag != sig.KeyTag || k.k.Algorithm != sig.Algorithm {
				continue
			}
			id, ok := r.v.sigs.key(sig, k.k, s.rrs)
			if !ok || r.v.sigs.verified(id) {
				return verifyJob{}, false
			}
			return verifyJob{sig: sig, key: k.k, rrs: s.rrs, id: id}, true
		}
		return verifyJob{}, false
	}
	return verifyJob{}, false
}
