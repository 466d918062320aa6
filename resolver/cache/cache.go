package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/bits"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// type check
var _ resolver.AnswerCache = (*Cache)(nil)

// Cache is a response cache in front of an upstream resolver.Resolver. It is
// safe for concurrent use.
type Cache struct {
	upstream resolver.Resolver
	cfg      Config
	log      *slog.Logger
	m        *Metrics

	// shards are keyed by a 64-bit keyed hash of the question (key), and
	// each entry holds its question, checked on every read: an integer
	// key spares a hit the compare against the key's name bytes before it
	// can read the entry, one memory access fewer on a hit's dependent
	// path when the caches are cold (BenchmarkLookupHit/cold). Two
	// questions with the same hash only displace each other.
	shards []*lru.Cache[uint64, *entry] // nil when Size is 0
	shift  uint                         // 64 - log2(len(shards))
	seed   maphash.Seed

	// flushMu orders stores against Flush: a store holds it shared and
	// checks gen, so an answer fetched from the upstream configuration a
	// Flush replaced is never stored after the Flush.
	flushMu sync.RWMutex
	gen     atomic.Uint64

	mu      sync.Mutex // guards flights
	flights map[resolver.Question]*flight
}

// entry is one cached answer. Everything but the two atomics is immutable.
type entry struct {
	q          resolver.Question // what it answers
	answer     *resolver.Answer
	stored     time.Time
	expires    time.Time     // fresh until then
	staleUntil time.Time     // servable stale until then; == expires without serve-stale
	lifetime   time.Duration // expires - stored

	hits        atomic.Uint32 // counts up to prefetchMinHits, then stops
	prefetching atomic.Bool   // a prefetch was started for this entry
}

// flight is one upstream query shared by every identical concurrent miss.
// res and err are written once, before done is closed.
type flight struct {
	q      resolver.Question // the key, owned by the flight
	cancel context.CancelFunc
	done   chan struct{}
	res    resolver.Cached
	err    error

	waiters int // callers waiting on it (a prefetch counts as one for good); guarded by Cache.mu
}

// New returns a cache in front of upstream.
func New(upstream resolver.Resolver, cfg Config) (*Cache, error) {
	if upstream == nil {
		return nil, errors.New("creating cache: no upstream resolver")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("creating cache: %w", err)
	}
	c := &Cache{
		upstream: upstream,
		cfg:      cfg,
		log:      cfg.Logger,
		m:        cfg.Metrics,
		seed:     maphash.MakeSeed(),
		flights:  make(map[resolver.Question]*flight),
	}
	if c.m == nil {
		c.m, _ = NewMetrics(nil) // unregistered: cannot fail
	}
	if cfg.Size > 0 {
		n := maxShards
		for n > 1 && cfg.Size/n < minShardSize {
			n /= 2
		}
		c.shards = make([]*lru.Cache[uint64, *entry], n)
		for i := range c.shards {
			if c.shards[i], err = lru.New[uint64, *entry](cfg.Size / n); err != nil {
				return nil, fmt.Errorf("creating cache shard: %w", err)
			}
		}
		c.shift = 64 - uint(bits.TrailingZeros(uint(n)))
	}
	size := c.Len
	c.m.size.Store(&size)
	return c, nil
}

// Lookup returns a fresh cached answer for q, aged to now. It does not
// allocate and does not retain q.Name. A hit may start a background
// refresh (prefetch). A miss is not counted here but by the Get that
// follows it, so each query counts once as a hit or a miss.
func (c *Cache) Lookup(q resolver.Question, now time.Time) (resolver.Cached, bool) {
	if c.shards == nil {
		return resolver.Cached{}, false
	}
	k, sh := c.key(q)
	e, ok := sh.Get(k)
	if !ok || e.q != q || !now.Before(e.expires) {
		return resolver.Cached{}, false
	}
	c.hit(q, e, now)
	return cachedFrom(e, now), true
}

// cachedFrom presents entry e as seen at now.
func cachedFrom(e *entry, now time.Time) resolver.Cached {
	r := resolver.Cached{Answer: e.answer, Age: age(e, now), FromCache: true}
	if e.lifetime < ttl(e.answer.MinTTL) {
		r.TTLCap = ttlCap(e.expires.Sub(now))
	}
	return r
}

// ttlCap turns a remaining lifetime into a TTL cap of at least one second
// (a cap of 0 would mean no cap).
func ttlCap(d time.Duration) uint32 {
	return uint32(max(d/time.Second, 1))
}

// Get answers q through the cache: a fresh entry if there is one; else the
// result of one upstream query shared by every identical concurrent miss;
// else, when upstream fails (an error, or SERVFAIL) and serve-stale is on,
// a stale entry marked Stale.
//
// The first caller to miss runs the shared upstream query itself, on its
// own goroutine (handing it to another goroutine and waiting cost a
// wake-up each way on every miss). The query runs under a context that
// keeps ctx's values and deadline (or a default timeout) but not its
// cancellation, so one impatient client does not fail the others: a later
// caller that gives up returns at once and the query runs on; the first
// caller, if it gives up while others wait, runs the query on for them and
// returns its result when it ends. Only when every caller has been
// cancelled (not merely timed out: the query's own deadline covers that)
// is the query cancelled too, so a server shutting down does not wait for
// queries nobody wants.
func (c *Cache) Get(ctx context.Context, q resolver.Question) (resolver.Cached, error) {
	now := c.cfg.Now()
	if r, ok := c.Lookup(q, now); ok {
		return r, nil
	}
	c.m.misses.Inc()
	if err := ctx.Err(); err != nil {
		return c.served(c.fallback(q, now, err))
	}
	f, run := c.join(ctx, q, upstreamTimeout, false)
	if run != nil {
		stop := context.AfterFunc(ctx, func() { c.leave(f, ctx.Err()) })
		run()
		stop()
		return c.served(f.res, f.err)
	}
	c.m.shared.Inc()
	select {
	case <-f.done:
		return c.served(f.res, f.err)
	case <-ctx.Done():
		c.leave(f, ctx.Err())
		return c.served(c.fallback(q, c.cfg.Now(), ctx.Err()))
	}
}

// served counts a stale answer handed to a caller.
func (c *Cache) served(r resolver.Cached, err error) (resolver.Cached, error) {
	if r.Stale {
		c.m.stale.Inc()
	}
	return r, err
}

// Flush drops every entry, and makes answers from upstream queries already
// in flight go unstored: use it when the upstream configuration changes.
func (c *Cache) Flush() {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.flights) // new misses must not join a query to the old upstream
	c.mu.Unlock()
	for _, s := range c.shards {
		s.Purge()
	}
}

// Len returns the number of entries held, expired ones included.
func (c *Cache) Len() int {
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}

// key returns q's key and the LRU that holds it.
func (c *Cache) key(q resolver.Question) (uint64, *lru.Cache[uint64, *entry]) {
	h := maphash.String(c.seed, q.Name)
	h ^= uint64(q.Type)<<2 | b2u(q.DO)<<1 | b2u(q.CD)
	h *= 0x9e3779b97f4a7c15 // spread the low bits into the high ones
	return h, c.shards[h>>c.shift]
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// age is how many whole seconds ago e was stored.
func age(e *entry, now time.Time) uint32 {
	d := now.Sub(e.stored)
	if d <= 0 {
		return 0
	}
	return uint32(d / time.Second)
}

// hit counts a fresh hit on e and starts a prefetch when e is popular and
// close to expiry.
func (c *Cache) hit(q resolver.Question, e *entry, now time.Time) {
	c.m.hits.Inc()
	if !c.cfg.Prefetch || e.lifetime < prefetchMinLifetime {
		return
	}
	// Stop writing the counter once it is high enough: a popular entry's
	// cache line then stays shared between cores.
	if e.hits.Load() < prefetchMinHits && e.hits.Add(1) < prefetchMinHits {
		return
	}
	if e.expires.Sub(now)*prefetchWindow >= e.lifetime {
		return
	}
	if e.prefetching.Load() || !e.prefetching.CompareAndSwap(false, true) {
		return
	}
	c.m.prefetches.Inc()
	if _, run := c.join(context.Background(), q, prefetchTimeout, true); run != nil {
		go run()
	}
}

// join returns the upstream query in flight for q, joining it as one more
// waiter; if there is none, it registers a new one and returns with it the
// function that performs it (nil when joining), for the caller to run on
// its own goroutine or on a new one. The query's context keeps parent's
// values and deadline (or timeout, if parent has none) but not its
// cancellation. A prefetch, which no caller waits for, counts as a waiter
// that never leaves, so callers joining it cannot cancel it.
func (c *Cache) join(parent context.Context, q resolver.Question, timeout time.Duration, prefetch bool) (f *flight, run func()) {
	c.mu.Lock()
	if f, ok := c.flights[q]; ok {
		f.waiters++
		c.mu.Unlock()
		return f, nil
	}
	q.Name = strings.Clone(q.Name) // it may point into a reused buffer
	ctx := context.WithoutCancel(parent)
	var cancel context.CancelFunc
	if dl, ok := parent.Deadline(); ok {
		ctx, cancel = context.WithDeadline(ctx, dl)
	} else {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	f = &flight{q: q, cancel: cancel, done: make(chan struct{}), waiters: 1}
	if prefetch {
		f.waiters++
	}
	c.flights[q] = f
	gen := c.gen.Load()
	c.mu.Unlock()
	return f, func() { c.run(ctx, f, gen) }
}

// leave takes one waiter off f, which gave up with err. The last one to
// leave cancels the query if it was cancelled itself; one that timed out
// leaves the query to its own deadline. A cancelled query is forgotten at
// once, so the next miss starts afresh instead of joining it.
func (c *Cache) leave(f *flight, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters > 0 || !errors.Is(err, context.Canceled) {
		return
	}
	f.cancel()
	if c.flights[f.q] == f {
		delete(c.flights, f.q)
	}
}

// run performs the upstream query of flight f and publishes its result.
func (c *Cache) run(ctx context.Context, f *flight, gen uint64) {
	q := f.q
	defer func() {
		f.cancel()
		if r := recover(); r != nil {
			c.log.Error("upstream resolver panicked", "question", q.String(), "panic", r, "stack", string(debug.Stack()))
			f.res, f.err = c.fallback(q, c.cfg.Now(), fmt.Errorf("resolving %s: upstream panicked: %v", q, r))
		}
		c.mu.Lock()
		if c.flights[q] == f {
			delete(c.flights, q)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	f.res, f.err = c.fetch(ctx, q, gen)
}

// resolve asks upstream, with the DNSSEC status when it can tell one.
func (c *Cache) resolve(ctx context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	if sr, ok := c.upstream.(resolver.SecurityResolver); ok {
		return sr.ResolveSecurity(ctx, q)
	}
	m, err := c.upstream.Resolve(ctx, q)
	return m, resolver.SecurityUnchecked, err
}

// fetch asks upstream, stores what RFC 2308 and the config allow, and
// returns the result for every caller waiting on q.
func (c *Cache) fetch(ctx context.Context, q resolver.Question, gen uint64) (resolver.Cached, error) {
	m, sec, err := c.resolve(ctx, q)
	now := c.cfg.Now()
	if err != nil {
		r, ferr := c.fallback(q, now, err)
		if ferr != nil && ctx.Err() == nil {
			c.storeFailure(q, err, now, gen)
		}
		return r, ferr
	}
	a, err := answerFor(q, m)
	if err != nil {
		return c.fallback(q, now, err)
	}
	a.Security = sec
	var life time.Duration
	switch {
	case a.Rcode == dns.RcodeServerFailure:
		// Never replace a usable answer with a failure.
		if r, ok := c.usable(q, now); ok {
			c.log.Debug("upstream SERVFAIL, serving cached answer", "question", q.String(), "stale", r.Stale)
			return r, nil
		}
		life = c.cfg.ServfailTTL
	case a.Rcode == dns.RcodeSuccess && len(m.Answer) > 0:
		life = min(max(ttl(a.MinTTL), c.cfg.MinTTL), c.cfg.MaxTTL)
	case a.Rcode == dns.RcodeNameError || a.Rcode == dns.RcodeSuccess:
		// NXDOMAIN or NODATA: cacheable only with an SOA (RFC 2308
		// section 5), whose minimum MinTTL already folds in.
		if a.HasSOA {
			life = max(min(ttl(a.MinTTL), c.cfg.NegativeMaxTTL), c.cfg.MinTTL)
		}
	}
	r := resolver.Cached{Answer: a}
	if life > 0 {
		c.store(q, a, now, life, gen)
		if life < ttl(a.MinTTL) {
			r.TTLCap = ttlCap(life)
		}
	}
	return r, nil
}

func ttl(s uint32) time.Duration { return time.Duration(s) * time.Second }

// answerFor checks that m answers q and converts it for the cache.
func answerFor(q resolver.Question, m *dns.Msg) (*resolver.Answer, error) {
	if m == nil {
		return nil, fmt.Errorf("resolving %s: upstream returned no message", q)
	}
	if m.Truncated {
		return nil, fmt.Errorf("resolving %s: upstream reply is truncated", q)
	}
	switch {
	case len(m.Question) == 0:
		// Some servers leave the question out of error replies.
		m.Question = []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: dns.ClassINET}}
	case m.Question[0].Qtype != q.Type || !strings.EqualFold(m.Question[0].Name, q.Name):
		return nil, fmt.Errorf("resolving %s: upstream answered %s %s", q, m.Question[0].Name, dns.Type(m.Question[0].Qtype))
	}
	a, err := resolver.NewAnswer(m)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", q, err)
	}
	return a, nil
}

// store caches a under q (whose Name the cache may keep) for life, unless
// a Flush happened since the upstream query of generation gen started.
func (c *Cache) store(q resolver.Question, a *resolver.Answer, now time.Time, life time.Duration, gen uint64) {
	if c.shards == nil {
		return
	}
	e := &entry{q: q, answer: a, stored: now, expires: now.Add(life), lifetime: life}
	e.staleUntil = e.expires
	if c.cfg.ServeStale && a.Rcode != dns.RcodeServerFailure {
		e.staleUntil = e.expires.Add(c.cfg.StaleMaxAge)
	}
	c.flushMu.RLock()
	defer c.flushMu.RUnlock()
	if c.gen.Load() != gen {
		return
	}
	k, sh := c.key(q)
	if sh.Add(k, e) {
		c.m.evictions.Inc()
	}
	c.m.inserts.Inc()
}

// usable returns the entry for q if it is fresh, or stale but within the
// serve-stale window (then marked Stale).
func (c *Cache) usable(q resolver.Question, now time.Time) (resolver.Cached, bool) {
	if c.shards == nil {
		return resolver.Cached{}, false
	}
	k, sh := c.key(q)
	e, ok := sh.Peek(k)
	if !ok || e.q != q || !now.Before(e.staleUntil) {
		return resolver.Cached{}, false
	}
	r := cachedFrom(e, now)
	r.Stale = !now.Before(e.expires)
	return r, true
}

// storeFailure caches a resolution failure that carries an Extended DNS
// Error (a bogus DNSSEC chain, a blown work budget) as a SERVFAIL answer
// with that EDE, for ServfailTTL: RFC 9520 asks resolvers to remember
// failures (at least 1 s), so a client retrying does not make us redo the
// work each time. Plain network errors are not cached: they are the
// upstream's state, not the name's, and serve-stale or the next try
// handles them.
func (c *Cache) storeFailure(q resolver.Question, err error, now time.Time, gen uint64) {
	var ext *resolver.ExtendedError
	if c.cfg.ServfailTTL <= 0 || !errors.As(err, &ext) {
		return
	}
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.Response, m.Rcode = true, dns.RcodeServerFailure
	m.SetEdns0(resolver.DefaultBufSize, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: ext.Code, ExtraText: ext.Text})
	a, aerr := resolver.NewAnswer(m)
	if aerr != nil {
		return
	}
	c.store(q, a, now, c.cfg.ServfailTTL, gen)
}

// fallback answers q from the cache when upstream failed with err, or
// returns err.
func (c *Cache) fallback(q resolver.Question, now time.Time, err error) (resolver.Cached, error) {
	if r, ok := c.usable(q, now); ok {
		c.log.Debug("upstream failed, serving cached answer", "question", q.String(), "stale", r.Stale, "err", err)
		return r, nil
	}
	c.log.Debug("upstream failed", "question", q.String(), "err", err)
	return resolver.Cached{}, err
}
