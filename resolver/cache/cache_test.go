package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

func TestNewRejectsBadConfig(t *testing.T) {
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	for name, tc := range map[string]struct {
		up  resolver.Resolver
		cfg Config
	}{
		"nil upstream":      {nil, Config{Size: 10}},
		"negative size":     {up, Config{Size: -1}},
		"negative min TTL":  {up, Config{MinTTL: -time.Second}},
		"negative max TTL":  {up, Config{MaxTTL: -time.Second}},
		"negative neg TTL":  {up, Config{NegativeMaxTTL: -time.Second}},
		"negative SERVFAIL": {up, Config{ServfailTTL: -time.Second}},
		"negative stale":    {up, Config{StaleMaxAge: -time.Second}},
		"min above max":     {up, Config{MinTTL: time.Hour, MaxTTL: time.Minute}},
		"min above default": {up, Config{MinTTL: 48 * time.Hour}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(tc.up, tc.cfg); err == nil {
				t.Fatal("New accepted a bad config")
			}
		})
	}
}

func TestLookupAndGet(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	c, _ := newTestCache(t, up, Config{Size: 100, Now: clk.Now})
	q := question("example.org.", dns.TypeA)

	if _, ok := c.Lookup(q, clk.Now()); ok {
		t.Fatal("Lookup hit on an empty cache")
	}
	r, err := c.Get(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if r.FromCache || r.Stale || r.Answer == nil || r.Answer.Rcode != dns.RcodeSuccess {
		t.Fatalf("first Get = %+v, want a fresh upstream answer", r)
	}
	first := r.Answer

	hit, ok := c.Lookup(q, clk.Now())
	if !ok || !hit.FromCache || hit.Answer != first || hit.Age != 0 {
		t.Fatalf("Lookup after Get = %+v, %v; want the stored answer, age 0", hit, ok)
	}
	r, err = c.Get(context.Background(), q)
	if err != nil || !r.FromCache || r.Answer != first {
		t.Fatalf("second Get = %+v, %v; want the stored answer", r, err)
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("upstream called %d times, want 1", n)
	}
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c.Len())
	}
}

// TestAgeing checks that TTLs in the reply count down with the entry's age
// and that the entry stops being served when its lifetime ends.
func TestAgeing(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(t, q, dns.RcodeSuccess,
			[]string{"%s 300 IN CNAME target.example.", "target.example. 500 IN A 192.0.2.1"},
			[]string{"example. 900 IN NS ns.example."}), nil
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, Now: clk.Now})
	q := question("www.example.", dns.TypeA)
	if _, err := c.Get(context.Background(), q); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		after time.Duration
		want  []uint32 // TTLs of CNAME, A, NS
	}{
		{0, []uint32{300, 500, 900}},
		{40*time.Second + 900*time.Millisecond, []uint32{260, 460, 860}},
		{299 * time.Second, []uint32{1, 201, 601}},
	} {
		r, ok := c.Lookup(q, t0.Add(tc.after))
		if !ok {
			t.Fatalf("after %v: miss", tc.after)
		}
		if want := uint32(tc.after / time.Second); r.Age != want {
			t.Errorf("after %v: Age = %d, want %d", tc.after, r.Age, want)
		}
		wire := r.Answer.AppendReply(nil, &resolver.ReplyOptions{ID: 7, Age: r.Age})
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		got := []uint32{m.Answer[0].Header().Ttl, m.Answer[1].Header().Ttl, m.Ns[0].Header().Ttl}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("after %v: TTLs %v, want %v", tc.after, got, tc.want)
				break
			}
		}
	}
	if _, ok := c.Lookup(q, t0.Add(300*time.Second)); ok {
		t.Error("entry still served at the end of its lifetime")
	}
}

// TestLifetimes checks how long each kind of reply is stored (0: not at all).
func TestLifetimes(t *testing.T) {
	soaLine := func(ttl, minimum int) string {
		return fmt.Sprintf("example. %d IN SOA ns.example. admin.example. 1 7200 3600 1209600 %d", ttl, minimum)
	}
	for name, tc := range map[string]struct {
		cfg    Config
		rcode  int
		answer []string
		ns     []string
		want   time.Duration
	}{
		"positive, smallest TTL": {
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 200 IN CNAME t.example.", "t.example. 300 IN A 192.0.2.1"},
			ns:     []string{"example. 3600 IN NS ns.example."},
			want:   200 * time.Second,
		},
		"positive raised to MinTTL": {
			cfg:    Config{MinTTL: 30 * time.Second},
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 5 IN A 192.0.2.1"},
			want:   30 * time.Second,
		},
		"positive capped at MaxTTL": {
			cfg:    Config{MaxTTL: time.Hour},
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 100000 IN A 192.0.2.1"},
			want:   time.Hour,
		},
		"positive capped at default MaxTTL": {
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 200000 IN A 192.0.2.1"},
			want:   DefaultMaxTTL,
		},
		"TTL 0 not stored": {
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 0 IN A 192.0.2.1"},
		},
		"TTL 0 raised to MinTTL": {
			cfg:    Config{MinTTL: 10 * time.Second},
			rcode:  dns.RcodeSuccess,
			answer: []string{"%s 0 IN A 192.0.2.1"},
			want:   10 * time.Second,
		},
		"NXDOMAIN uses SOA minimum": {
			rcode: dns.RcodeNameError,
			ns:    []string{soaLine(3600, 300)},
			want:  300 * time.Second,
		},
		"NXDOMAIN uses SOA TTL below minimum": {
			rcode: dns.RcodeNameError,
			ns:    []string{soaLine(60, 300)},
			want:  60 * time.Second,
		},
		"NXDOMAIN capped at NegativeMaxTTL": {
			cfg:   Config{NegativeMaxTTL: 15 * time.Minute},
			rcode: dns.RcodeNameError,
			ns:    []string{soaLine(86400, 86400)},
			want:  15 * time.Minute,
		},
		"NXDOMAIN capped at default NegativeMaxTTL": {
			rcode: dns.RcodeNameError,
			ns:    []string{soaLine(86400, 86400)},
			want:  DefaultNegativeMaxTTL,
		},
		"NXDOMAIN raised to MinTTL": {
			cfg:   Config{MinTTL: 5 * time.Second},
			rcode: dns.RcodeNameError,
			ns:    []string{soaLine(3600, 0)},
			want:  5 * time.Second,
		},
		"NXDOMAIN without SOA not stored": {
			rcode: dns.RcodeNameError,
		},
		"NXDOMAIN without SOA not stored despite MinTTL": {
			cfg:   Config{MinTTL: 5 * time.Second},
			rcode: dns.RcodeNameError,
			ns:    []string{"example. 3600 IN NS ns.example."},
		},
		"NODATA uses SOA minimum": {
			rcode: dns.RcodeSuccess,
			ns:    []string{soaLine(3600, 120)},
			want:  120 * time.Second,
		},
		"NODATA without SOA not stored": {
			rcode: dns.RcodeSuccess,
		},
		"SERVFAIL not stored by default": {
			rcode: dns.RcodeServerFailure,
		},
		"SERVFAIL stored for ServfailTTL": {
			cfg:   Config{ServfailTTL: 5 * time.Second, MinTTL: time.Minute},
			rcode: dns.RcodeServerFailure,
			want:  5 * time.Second,
		},
		"REFUSED not stored": {
			cfg:   Config{MinTTL: time.Minute, ServfailTTL: time.Minute},
			rcode: dns.RcodeRefused,
		},
		"NOTIMP not stored": {
			cfg:   Config{MinTTL: time.Minute, ServfailTTL: time.Minute},
			rcode: dns.RcodeNotImplemented,
		},
		"FORMERR not stored": {
			cfg:   Config{MinTTL: time.Minute, ServfailTTL: time.Minute},
			rcode: dns.RcodeFormatError,
			ns:    []string{soaLine(3600, 300)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
				return reply(t, q, tc.rcode, tc.answer, tc.ns), nil
			}}
			cfg := tc.cfg
			cfg.Size, cfg.Now = 100, clk.Now
			c, reg := newTestCache(t, up, cfg)
			q := question("www.example.", dns.TypeA)

			r, err := c.Get(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if r.FromCache || r.Answer.Rcode != tc.rcode {
				t.Fatalf("Get = %+v, want a fresh answer with rcode %s", r, dns.RcodeToString[tc.rcode])
			}
			if tc.want == 0 {
				if _, ok := c.Lookup(q, t0); ok {
					t.Fatal("reply was stored")
				}
				if _, err := c.Get(context.Background(), q); err != nil {
					t.Fatal(err)
				}
				if n := up.calls.Load(); n != 2 {
					t.Fatalf("upstream called %d times, want 2", n)
				}
				if n := testutil.ToFloat64(c.m.inserts); n != 0 {
					t.Fatalf("inserts_total = %v, want 0", n)
				}
				return
			}
			if r, ok := c.Lookup(q, t0.Add(tc.want-time.Second)); !ok || r.Answer.Rcode != tc.rcode {
				t.Fatalf("miss %v after storing, want a hit", tc.want-time.Second)
			}
			if _, ok := c.Lookup(q, t0.Add(tc.want)); ok {
				t.Fatalf("hit %v after storing, want a miss", tc.want)
			}
			if got, err := testutil.GatherAndCount(reg, "gatehouse_cache_inserts_total"); err != nil || got != 1 {
				t.Fatalf("inserts_total series = %d, %v", got, err)
			}
			if n := testutil.ToFloat64(c.m.inserts); n != 1 {
				t.Fatalf("inserts_total = %v, want 1", n)
			}
		})
	}
}

// TestKeyFields checks that type, DO and CD each make a separate entry, and
// that upstream is asked exactly the question that missed. Names are
// compared byte for byte: callers canonicalise them (see the package doc).
func TestKeyFields(t *testing.T) {
	clk := newClock()
	var asked []resolver.Question
	up := &fakeUpstream{OnResolve: func(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
		asked = append(asked, q) // Gets below run one at a time
		return answering(t, 300)(ctx, q)
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, Now: clk.Now})
	base := question("example.org.", dns.TypeA)
	variants := []resolver.Question{
		base,
		{Name: base.Name, Type: dns.TypeAAAA},
		{Name: base.Name, Type: dns.TypeA, DO: true},
		{Name: base.Name, Type: dns.TypeA, CD: true},
		{Name: base.Name, Type: dns.TypeA, DO: true, CD: true},
		{Name: "www.example.org.", Type: dns.TypeA},
	}
	for i, q := range variants {
		for _, other := range variants[i:] {
			if _, ok := c.Lookup(other, t0); ok {
				t.Fatalf("%v: hit before %v was stored", other, q)
			}
		}
		if _, err := c.Get(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		if asked[len(asked)-1] != q {
			t.Fatalf("upstream asked %v, want %v", asked[len(asked)-1], q)
		}
		for _, other := range variants[:i+1] {
			if _, ok := c.Lookup(other, t0); !ok {
				t.Fatalf("%v: miss after it was stored", other)
			}
		}
	}
	if len(asked) != len(variants) || c.Len() != len(variants) {
		t.Fatalf("%d upstream queries, %d entries; want %d of each", len(asked), c.Len(), len(variants))
	}
}

func TestServfailCachedBrieflyThenRetried(t *testing.T) {
	clk := newClock()
	rcode := dns.RcodeServerFailure
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		if rcode == dns.RcodeSuccess {
			return reply(t, q, rcode, []string{"%s 300 IN A 192.0.2.1"}, nil), nil
		}
		return reply(t, q, rcode, nil, nil), nil
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, ServfailTTL: 5 * time.Second, Now: clk.Now})
	q := question("example.org.", dns.TypeA)

	r, err := c.Get(context.Background(), q)
	if err != nil || r.Answer.Rcode != dns.RcodeServerFailure {
		t.Fatalf("Get = %+v, %v; want SERVFAIL", r, err)
	}
	rcode = dns.RcodeSuccess
	clk.Advance(4 * time.Second)
	r, err = c.Get(context.Background(), q)
	if err != nil || !r.FromCache || r.Answer.Rcode != dns.RcodeServerFailure || up.calls.Load() != 1 {
		t.Fatalf("Get within ServfailTTL = %+v, %v (%d upstream calls); want the cached SERVFAIL", r, err, up.calls.Load())
	}
	clk.Advance(time.Second)
	r, err = c.Get(context.Background(), q)
	if err != nil || r.FromCache || r.Answer.Rcode != dns.RcodeSuccess || up.calls.Load() != 2 {
		t.Fatalf("Get after ServfailTTL = %+v, %v (%d upstream calls); want a new upstream answer", r, err, up.calls.Load())
	}
	if r, ok := c.Lookup(q, clk.Now()); !ok || r.Answer.Rcode != dns.RcodeSuccess {
		t.Fatal("the good answer did not replace the SERVFAIL")
	}
}

func TestBadUpstreamReplies(t *testing.T) {
	q := question("example.org.", dns.TypeA)
	for name, tc := range map[string]struct {
		msg     func() *dns.Msg
		wantErr bool
	}{
		"nil message": {msg: func() *dns.Msg { return nil }, wantErr: true},
		"truncated": {msg: func() *dns.Msg {
			m := reply(t, q, dns.RcodeSuccess, []string{"%s 300 IN A 192.0.2.1"}, nil)
			m.Truncated = true
			return m
		}, wantErr: true},
		"other name": {msg: func() *dns.Msg {
			return reply(t, question("evil.example.", dns.TypeA), dns.RcodeSuccess, []string{"%s 300 IN A 192.0.2.1"}, nil)
		}, wantErr: true},
		"other type": {msg: func() *dns.Msg {
			return reply(t, question(q.Name, dns.TypeAAAA), dns.RcodeSuccess, []string{"%s 300 IN AAAA 2001:db8::1"}, nil)
		}, wantErr: true},
		"extended rcode": {msg: func() *dns.Msg { return reply(t, q, dns.RcodeBadVers, nil, nil) }, wantErr: true},
		"name in other case": {msg: func() *dns.Msg {
			return reply(t, question("Example.ORG.", dns.TypeA), dns.RcodeSuccess, []string{"%s 300 IN A 192.0.2.1"}, nil)
		}},
		"no question": {msg: func() *dns.Msg {
			m := reply(t, q, dns.RcodeRefused, nil, nil)
			m.Question = nil
			return m
		}},
	} {
		t.Run(name, func(t *testing.T) {
			up := &fakeUpstream{OnResolve: func(context.Context, resolver.Question) (*dns.Msg, error) { return tc.msg(), nil }}
			c, _ := newTestCache(t, up, Config{Size: 100, Now: newClock().Now})
			r, err := c.Get(context.Background(), q)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Get = %+v, want an error", r)
				}
				if c.Len() != 0 {
					t.Fatal("a bad reply was stored")
				}
				return
			}
			if err != nil || r.Answer == nil {
				t.Fatalf("Get = %+v, %v", r, err)
			}
		})
	}
}

func TestUpstreamPanicIsAnError(t *testing.T) {
	panicking := true
	up := &fakeUpstream{}
	up.OnResolve = func(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
		if panicking {
			panic("boom")
		}
		return answering(t, 300)(ctx, q)
	}
	c, _ := newTestCache(t, up, Config{Size: 100, Now: newClock().Now})
	q := question("example.org.", dns.TypeA)
	if _, err := c.Get(context.Background(), q); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Get = %v, want the panic as an error", err)
	}
	panicking = false
	if r, err := c.Get(context.Background(), q); err != nil || r.Answer == nil {
		t.Fatalf("Get after a panic = %+v, %v", r, err)
	}
}

func TestSizeZeroStoresNothing(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	c, _ := newTestCache(t, up, Config{Size: 0, MinTTL: time.Minute, ServeStale: true, Prefetch: true, Now: clk.Now})
	q := question("example.org.", dns.TypeA)
	for i := range 3 {
		r, err := c.Get(context.Background(), q)
		if err != nil || r.FromCache {
			t.Fatalf("Get %d = %+v, %v", i, r, err)
		}
		if _, ok := c.Lookup(q, clk.Now()); ok {
			t.Fatal("Lookup hit with Size 0")
		}
	}
	if up.calls.Load() != 3 || c.Len() != 0 {
		t.Fatalf("%d upstream calls, Len %d; want 3 and 0", up.calls.Load(), c.Len())
	}
	c.Flush() // must not panic
}

// TestEvictsLeastRecentlyUsed uses a cache small enough for one shard, so
// the order is exact.
func TestEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	c, _ := newTestCache(t, up, Config{Size: 2, Now: clk.Now})
	a, b, d := question("a.example.", dns.TypeA), question("b.example.", dns.TypeA), question("d.example.", dns.TypeA)
	get := func(q resolver.Question) {
		t.Helper()
		if _, err := c.Get(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	get(a)
	get(b)
	if _, ok := c.Lookup(a, clk.Now()); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	get(d)
	if _, ok := c.Lookup(b, clk.Now()); ok {
		t.Error("b, the least recently used, was not evicted")
	}
	for _, q := range []resolver.Question{a, d} {
		if _, ok := c.Lookup(q, clk.Now()); !ok {
			t.Errorf("%v was evicted", q)
		}
	}
	if c.Len() != 2 || testutil.ToFloat64(c.m.evictions) != 1 {
		t.Fatalf("Len %d, evictions %v; want 2 and 1", c.Len(), testutil.ToFloat64(c.m.evictions))
	}

	// Replacing an expired entry is not an eviction.
	clk.Advance(301 * time.Second)
	get(a)
	if testutil.ToFloat64(c.m.evictions) != 1 || testutil.ToFloat64(c.m.inserts) != 4 {
		t.Fatalf("after a replacement: evictions %v, inserts %v; want 1 and 4",
			testutil.ToFloat64(c.m.evictions), testutil.ToFloat64(c.m.inserts))
	}
}

// Entries are found by a hash of the question; one stored under another
// question's key (two questions whose hashes collide) must never answer
// it, fresh or stale, and the colliding question then resolves upstream
// and takes the slot.
func TestKeyCollisionIsAMiss(t *testing.T) {
	clk := newClock()
	var asked []string
	up := &fakeUpstream{OnResolve: func(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
		asked = append(asked, q.Name)
		return answering(t, 300)(ctx, q)
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, ServeStale: true, Now: clk.Now})
	a, b := question("a.example.", dns.TypeA), question("b.example.", dns.TypeA)
	r, err := c.Get(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	kb, sh := c.key(b)
	ka, _ := c.key(a)
	e, ok := c.shards[ka>>c.shift].Peek(ka)
	if !ok || e.answer != r.Answer {
		t.Fatalf("a's entry not found under its key")
	}
	sh.Add(kb, e) // as if b's hash were a's
	if hit, ok := c.Lookup(b, clk.Now()); ok {
		t.Fatalf("Lookup(b) = %+v: served a's entry", hit)
	}
	if got, ok := c.usable(b, clk.Now()); ok {
		t.Fatalf("usable(b) = %+v: served a's entry", got)
	}
	rb, err := c.Get(context.Background(), b)
	if err != nil || rb.FromCache || rb.Answer == r.Answer || !slices.Equal(asked, []string{"a.example.", "b.example."}) {
		t.Fatalf("Get(b) = %+v, %v, upstream asked %v; want b resolved upstream", rb, err, asked)
	}
	if hit, ok := c.Lookup(b, clk.Now()); !ok || hit.Answer != rb.Answer {
		t.Fatalf("Lookup(b) after Get = %+v, %v; want b's own answer", hit, ok)
	}
}

func TestShardCount(t *testing.T) {
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	for _, tc := range []struct{ size, shards, per int }{
		{1, 1, 1}, {255, 1, 255}, {256, 2, 128}, {1000, 4, 250}, {100000, 32, 3125},
	} {
		c, err := New(up, Config{Size: tc.size})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.shards) != tc.shards {
			t.Errorf("Size %d: %d shards, want %d", tc.size, len(c.shards), tc.shards)
			continue
		}
		s := c.shards[0]
		for i := range tc.per + 10 {
			s.Add(uint64(i), &entry{})
		}
		if s.Len() != tc.per {
			t.Errorf("Size %d: shard holds %d, want %d", tc.size, s.Len(), tc.per)
		}
	}
}

func TestFlush(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 300)}
	c, _ := newTestCache(t, up, Config{Size: 1000, ServeStale: true, Now: clk.Now})
	var qs []resolver.Question
	for _, n := range []string{"a.example.", "b.example.", "c.example."} {
		q := question(n, dns.TypeA)
		qs = append(qs, q)
		if _, err := c.Get(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	c.Flush()
	if c.Len() != 0 {
		t.Fatalf("Len after Flush = %d", c.Len())
	}
	for _, q := range qs {
		if _, ok := c.Lookup(q, clk.Now()); ok {
			t.Fatalf("%v survived Flush", q)
		}
	}
	// Nothing is left to serve stale either.
	up.OnResolve = func(context.Context, resolver.Question) (*dns.Msg, error) { return nil, resolver.ErrNoUpstream }
	if _, err := c.Get(context.Background(), qs[0]); !errors.Is(err, resolver.ErrNoUpstream) {
		t.Fatalf("Get after Flush with upstream down = %v, want ErrNoUpstream", err)
	}
	if n := testutil.ToFloat64(c.m.evictions); n != 0 {
		t.Fatalf("Flush counted %v evictions", n)
	}
}

// TestTTLCap checks that a reply never claims longer than the cache keeps
// the answer fresh when max_ttl cut its lifetime short.
func TestTTLCap(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		ttl := "7200"
		if q.Name == "short.example." {
			ttl = "60"
		}
		return reply(t, q, dns.RcodeSuccess, []string{"%s " + ttl + " IN A 192.0.2.1"}, nil), nil
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, MaxTTL: time.Hour, Now: clk.Now})
	long, short := question("long.example.", dns.TypeA), question("short.example.", dns.TypeA)
	for _, q := range []resolver.Question{long, short} {
		r, err := c.Get(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]uint32{"long.example.": 3600}[q.Name]; r.TTLCap != want {
			t.Errorf("fresh %s: TTLCap = %d, want %d", q.Name, r.TTLCap, want)
		}
	}
	r, ok := c.Lookup(long, t0.Add(600*time.Second))
	if !ok || r.TTLCap != 3000 {
		t.Errorf("long after 600s: TTLCap = %d (hit %v), want 3000", r.TTLCap, ok)
	}
	wire := r.Answer.AppendReply(nil, &resolver.ReplyOptions{ID: 1, Age: r.Age, MaxTTL: r.TTLCap})
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	if got := m.Answer[0].Header().Ttl; got != 3000 {
		t.Errorf("reply TTL = %d, want 3000 (the cache's remaining lifetime, not 7200-600)", got)
	}
	if r, ok := c.Lookup(short, t0.Add(30*time.Second)); !ok || r.TTLCap != 0 {
		t.Errorf("short: TTLCap = %d, want none (its TTL is within max_ttl)", r.TTLCap)
	}
}

// secureUpstream is a SecurityResolver that reports one status.
type secureUpstream struct {
	fakeUpstream
	status resolver.Security
}

func (s *secureUpstream) ResolveSecurity(ctx context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	m, err := s.Resolve(ctx, q)
	return m, s.status, err
}

func TestSecurityStoredWithAnswer(t *testing.T) {
	up := &secureUpstream{status: resolver.SecuritySecure}
	up.OnResolve = func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(t, q, dns.RcodeSuccess, []string{"%s 300 IN A 192.0.2.1"}, nil), nil
	}
	c, _ := newTestCache(t, up, Config{Size: 10})
	q := question("signed.example.", dns.TypeA)
	r, err := c.Get(context.Background(), q)
	if err != nil || r.Answer.Security != resolver.SecuritySecure {
		t.Fatalf("Get = %v, %v; want a secure answer", r.Answer.Security, err)
	}
	if r, ok := c.Lookup(q, time.Now()); !ok || r.Answer.Security != resolver.SecuritySecure {
		t.Errorf("cached answer lost its status: %v", r.Answer.Security)
	}
}

// TestFailuresWithEDECached checks RFC 9520: a validation failure is
// remembered for servfail_ttl (with its EDE), so retries cost nothing
// upstream, while a plain network error is not cached.
func TestFailuresWithEDECached(t *testing.T) {
	clk := newClock()
	var calls atomic.Int64
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		calls.Add(1)
		if q.Name == "bogus.example." {
			return nil, &resolver.ExtendedError{Code: dns.ExtendedErrorCodeSignatureExpired, Text: "signature expired"}
		}
		return nil, resolver.ErrNetwork
	}}
	c, _ := newTestCache(t, up, Config{Size: 10, ServfailTTL: 5 * time.Second, Now: clk.Now})
	bogus := question("bogus.example.", dns.TypeA)
	if _, err := c.Get(context.Background(), bogus); err == nil {
		t.Fatal("first Get of a bogus name succeeded")
	}
	r, err := c.Get(context.Background(), bogus)
	if err != nil || r.Answer.Rcode != dns.RcodeServerFailure || r.Answer.EDE == nil || r.Answer.EDE.InfoCode != dns.ExtendedErrorCodeSignatureExpired {
		t.Fatalf("second Get = %+v, %v; want the cached SERVFAIL with EDE 7", r, err)
	}
	if calls.Load() != 1 {
		t.Errorf("upstream called %d times, want 1", calls.Load())
	}
	clk.Advance(6 * time.Second)
	c.Get(context.Background(), bogus)
	if calls.Load() != 2 {
		t.Errorf("after servfail_ttl: upstream called %d times, want 2", calls.Load())
	}
	down := question("down.example.", dns.TypeA)
	c.Get(context.Background(), down)
	c.Get(context.Background(), down)
	if calls.Load() != 4 {
		t.Errorf("network errors were cached: %d upstream calls, want 4", calls.Load())
	}
}
