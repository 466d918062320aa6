package resolver

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit is a per-client-address token bucket: QPS tokens a second, at
// most Burst saved up. QPS 0 turns limiting off. Exempt clients (by default
// loopback) are never limited.
type RateLimit struct {
	QPS    float64
	Burst  float64
	Exempt []netip.Prefix
}

// limiter holds one bucket per recently seen client. Buckets live in shards
// so the cores rarely contend; a client's bucket is allocated once, on its
// first query.
type limiter struct {
	cfg    atomic.Pointer[RateLimit]
	shards [64]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	m  map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(r RateLimit) *limiter {
	l := &limiter{}
	for i := range l.shards {
		l.shards[i].m = make(map[netip.Addr]*bucket)
	}
	l.set(r)
	return l
}

func (l *limiter) set(r RateLimit) {
	if r.Burst <= 0 {
		r.Burst = 2 * r.QPS
	}
	r.Burst = max(r.Burst, 1)
	l.cfg.Store(&r)
}

// allow takes a token from addr's bucket, reporting whether there was one.
func (l *limiter) allow(addr netip.Addr, now time.Time) bool {
	r := l.cfg.Load()
	if r.QPS <= 0 {
		return true
	}
	for _, p := range r.Exempt {
		if p.Contains(addr) {
			return true
		}
	}
	sh := &l.shards[shardOf(addr)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[addr]
	if b == nil {
		b = &bucket{tokens: r.Burst, last: now}
		sh.m[addr] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(r.Burst, b.tokens+el*r.QPS)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have been full for a while: their clients are
// quiet, and a new bucket would start full anyway.
func (l *limiter) sweep(now time.Time) {
	r := l.cfg.Load()
	idle := time.Minute
	if r.QPS > 0 {
		idle = max(idle, time.Duration(r.Burst/r.QPS*float64(time.Second)))
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for a, b := range sh.m {
			if now.Sub(b.last) > idle {
				delete(sh.m, a)
			}
		}
		sh.mu.Unlock()
	}
}

func (l *limiter) len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// shardOf mixes an address into a shard index.
func shardOf(a netip.Addr) uint64 {
	b := a.As16()
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
