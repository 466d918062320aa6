package validator

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultClockSkew is how far outside an RRSIG's inception and
	// expiration times the clock may be before the signature is refused.
	// An hour is Unbound's minimum skew (val-sig-skew-min): enough for a
	// clock that is a little off or a signer that dates signatures "now",
	// small next to the days-to-weeks validity of real signatures, so a
	// replayed signature gains at most an hour of life.
	DefaultClockSkew = time.Hour
	// DefaultNSEC3MaxIterations: denials using NSEC3 with more iterations
	// are treated as insecure (RFC 9276 section 3.2). PowerDNS Recursor
	// lowered its default to 50 "following the general consensus between
	// open source vendors" (PowerDNS pull request 13478); BIND 9.16.16
	// started at 150, which Unbound still allows. RFC 9276 asks validators
	// to lower the limit over time, and signers to use 0. At 50 a proof
	// costs a Raspberry Pi well under a millisecond of SHA-1.
	DefaultNSEC3MaxIterations = 50
	// DefaultMaxValidations bounds the signature verifications one client
	// query may cause, cold caches and CNAME chains included. A legitimate
	// cold lookup three zones deep needs about eight; KeyTrap needs
	// thousands (CVE-2023-50387).
	DefaultMaxValidations = 64
	// DefaultKeyCacheSize is how many zones' validated DNSKEY sets, and
	// separately how many DS results, are kept.
	DefaultKeyCacheSize = 4096
)

// Work limits that are not worth a config knob. Each is per client query
// unless it says otherwise.
const (
	// maxSigsPerRRset is how many RRSIGs over one RRset are tried before
	// the RRset is declared bogus (a rollover needs two or three).
	maxSigsPerRRset = 8
	// maxKeysPerTag is how many DNSKEYs sharing one key tag and algorithm
	// are tried against one RRSIG: colliding tags are what KeyTrap
	// multiplies work with (CVE-2023-50387; RFC 4034 Appendix B expects
	// collisions to be rare).
	maxKeysPerTag = 4
	// maxDSPerZone is how many DS records of one zone are matched against
	// its DNSKEYs.
	maxDSPerZone = 16
	// maxFetches bounds the DS and DNSKEY queries sent upstream.
	maxFetches = 32
	// maxHashWork bounds NSEC3 hashing, counted in SHA-1 computations
	// (iterations+1 per name), against CVE-2023-50868.
	maxHashWork = 8192
	// maxDepth bounds the nesting of chain-of-trust lookups.
	maxDepth = 48
	// maxChain bounds CNAME and DNAME hops in one answer.
	maxChain = 16
	// maxKeyTTL caps how long a validated key or proof is cached.
	maxKeyTTL = 24 * time.Hour
	// bogusTTL is how long a bogus key or DS result is cached, so a broken
	// zone is not refetched on every query (Unbound's val-bogus-ttl).
	bogusTTL = 60 * time.Second
)

// Config configures a Validator.
type Config struct {
	// Upstream answers the validator's questions, all asked with DO and
	// CD: in production the recursor. Required. If it also implements
	// ReferralDS (the recursor does), DS records are taken from the
	// referrals it followed instead of asked for; a wrapper put between
	// the validator and the recursor should forward that method.
	Upstream resolver.Resolver
	// TrustAnchors are DS or DNSKEY records (ParseTrustAnchors reads a
	// file of them). Nil means the built-in root anchors
	// (BuiltinTrustAnchors).
	TrustAnchors []dns.RR
	// ClockSkew is the tolerance on RRSIG inception and expiration times.
	// Zero means DefaultClockSkew.
	ClockSkew time.Duration
	// NSEC3MaxIterations: NSEC3 denials with more iterations are insecure.
	// Zero means DefaultNSEC3MaxIterations.
	NSEC3MaxIterations uint16
	// MaxValidations bounds signature verifications per client query.
	// Zero means DefaultMaxValidations.
	MaxValidations int
	// KeyCacheSize bounds the cache of validated DNSKEY sets and, apart,
	// of DS results and insecurity proofs. Zero means DefaultKeyCacheSize.
	KeyCacheSize int
	// DisableAggressiveNSEC turns off the aggressive use of validated NSEC
	// and NSEC3 records (RFC 8198): by default NXDOMAIN and NODATA answers
	// that cached denial records of a secure zone prove are answered
	// without asking upstream (see aggressive.go).
	DisableAggressiveNSEC bool
	// Logger receives debug records about bogus answers and a warning when
	// signatures fail en masse for time reasons. Nil discards.
	Logger *slog.Logger
	// Metrics, if not nil, is updated by the validator.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults validates c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Upstream == nil {
		errs = append(errs, errors.New("validator: no upstream"))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("validator: negative clock skew %s", c.ClockSkew))
	}
	if c.MaxValidations < 0 {
		errs = append(errs, fmt.Errorf("validator: negative max validations %d", c.MaxValidations))
	}
	if c.KeyCacheSize < 0 {
		errs = append(errs, fmt.Errorf("validator: negative key cache size %d", c.KeyCacheSize))
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.TrustAnchors == nil {
		c.TrustAnchors = BuiltinTrustAnchors()
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.NSEC3MaxIterations == 0 {
		c.NSEC3MaxIterations = DefaultNSEC3MaxIterations
	}
	if c.MaxValidations == 0 {
		c.MaxValidations = DefaultMaxValidations
	}
	if c.KeyCacheSize == 0 {
		c.KeyCacheSize = DefaultKeyCacheSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		m, _ := NewMetrics(nil)
		c.Metrics = m
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
