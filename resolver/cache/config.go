package cache

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultMaxTTL caps positive lifetimes when Config.MaxTTL is zero
	// (Unbound's cache-max-ttl default).
	DefaultMaxTTL = 24 * time.Hour
	// DefaultNegativeMaxTTL caps negative lifetimes when
	// Config.NegativeMaxTTL is zero (RFC 2308 section 5 suggests one to
	// three hours; Unbound's cache-max-negative-ttl default is one).
	DefaultNegativeMaxTTL = time.Hour
	// DefaultStaleMaxAge bounds serve-stale when Config.StaleMaxAge is zero
	// (RFC 8767 section 4 suggests one to three days).
	DefaultStaleMaxAge = 24 * time.Hour
)

// Tuning that is not worth a config knob.
const (
	// upstreamTimeout bounds a shared upstream query whose first caller
	// had no deadline, so a stuck upstream cannot pin a goroutine forever.
	upstreamTimeout = 10 * time.Second
	// prefetchTimeout bounds a background refresh.
	prefetchTimeout = 5 * time.Second
	// Prefetch starts only for entries that lived at least
	// prefetchMinLifetime, were hit at least prefetchMinHits times, and have
	// less than 1/prefetchWindow of their lifetime left (Unbound prefetches
	// in the last 10%).
	prefetchMinLifetime = 10 * time.Second
	prefetchMinHits     = 3
	prefetchWindow      = 10
	// maxShards is the shard count for a large cache; smaller caches use
	// fewer so each shard holds at least minShardSize entries.
	maxShards    = 32
	minShardSize = 128
)

// Config configures a Cache. The zero value of each field is usable.
type Config struct {
	// Size is the most entries held. Zero disables storing: Get always goes
	// upstream (still sharing identical concurrent misses) and Lookup
	// always misses. The entries are spread over up to 32 shards, each an
	// LRU of Size/shards entries, so eviction order is LRU per shard; a
	// cache smaller than 256 entries has a single shard (exact LRU).
	Size int
	// MinTTL and MaxTTL clamp the lifetime of positive answers. MinTTL also
	// floors negative lifetimes. A zero MaxTTL means DefaultMaxTTL.
	MinTTL, MaxTTL time.Duration
	// NegativeMaxTTL caps the lifetime of NXDOMAIN and NODATA answers
	// (RFC 2308). Zero means DefaultNegativeMaxTTL.
	NegativeMaxTTL time.Duration
	// ServfailTTL is how long an upstream SERVFAIL is cached. Zero: not
	// cached.
	ServfailTTL time.Duration
	// ServeStale keeps entries for StaleMaxAge past expiry and serves them,
	// marked stale, when upstream fails (RFC 8767).
	ServeStale bool
	// StaleMaxAge is how long past expiry a stale entry may be served.
	// Zero means DefaultStaleMaxAge.
	StaleMaxAge time.Duration
	// Prefetch refreshes popular entries shortly before they expire.
	Prefetch bool
	// Logger receives debug records about upstream failures and errors
	// about recovered panics. Nil discards.
	Logger *slog.Logger
	// Metrics, if not nil, is updated by the cache. A Metrics serves one
	// Cache at a time.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Size < 0 {
		return c, fmt.Errorf("size %d is negative", c.Size)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"min TTL", c.MinTTL},
		{"max TTL", c.MaxTTL},
		{"negative max TTL", c.NegativeMaxTTL},
		{"SERVFAIL TTL", c.ServfailTTL},
		{"stale max age", c.StaleMaxAge},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("%s %s is negative", d.name, d.v)
		}
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.MinTTL > c.MaxTTL {
		return c, errors.New("min TTL is above max TTL")
	}
	if c.NegativeMaxTTL == 0 {
		c.NegativeMaxTTL = DefaultNegativeMaxTTL
	}
	if c.StaleMaxAge == 0 {
		c.StaleMaxAge = DefaultStaleMaxAge
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
