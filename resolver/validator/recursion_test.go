package validator_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
	"gatehouse/resolver/validator"
)

// The validator in front of the real recursor, on a fake network serving
// the small signed Internet of world_test.go: the root on 192.0.2.1, org.
// on 198.51.100.1, example.org. on 198.51.100.2, plain.org. on
// 198.51.100.3.

const netHints = `
.           3600000 IN NS a.root.test.
a.root.test. 3600000 IN A 192.0.2.1
`

type netWorld struct {
	net     *dnstest.Net
	anchors []dns.RR
	rec     *recursor.Recursor
	val     *validator.Validator
}

// newNetWorld serves the zones on a Net; wrap, if set, may replace each
// server's handler (by address) to tamper with its replies.
func newNetWorld(t *testing.T, o worldOpts, wrap func(addr string, h dns.Handler) dns.Handler, cfg validator.Config) *netWorld {
	t.Helper()
	w := newWorld(t, o)
	n := dnstest.NewNet()
	for addr, h := range map[string]dns.Handler{
		"192.0.2.1":    w.root,
		"198.51.100.1": w.org,
		"198.51.100.2": w.example,
		"198.51.100.3": w.plain,
	} {
		if wrap != nil {
			h = wrap(addr, h)
		}
		n.Handle(addr, h)
	}
	hints, err := recursor.ParseHints("test.hints", []byte(netHints))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recursor.New(recursor.Config{Exchanger: n, RootHints: hints, QNameMinimisation: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = rec
	cfg.TrustAnchors = w.anchors
	v, err := validator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &netWorld{net: n, anchors: w.anchors, rec: rec, val: v}
}

// queries returns the exchanges made, as "name type".
func (w *netWorld) queries() []string {
	var out []string
	for _, e := range w.net.Log() {
		out = append(out, strings.ToLower(e.Name)+" "+dns.Type(e.Type).String())
	}
	return out
}

func (w *netWorld) validate(t *testing.T, name string, qtype uint16) (*dns.Msg, validator.Status) {
	t.Helper()
	m, st, err := w.val.Validate(t.Context(), resolver.Question{Name: name, Type: qtype, DO: true})
	if err != nil {
		t.Fatalf("Validate(%s %s): %v", name, dns.Type(qtype), err)
	}
	return m, st
}

func countType(qs []string, t string) int {
	n := 0
	for _, q := range qs {
		if strings.HasSuffix(q, " "+t) {
			n++
		}
	}
	return n
}

// The DS RRsets (or proofs of no DS) that signed referrals carry are
// validated from the recursor's infrastructure cache: no DS query is sent.
func TestRecursion_referralDS(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts worldOpts
	}{
		{name: "NSEC"},
		{name: "NSEC3", opts: worldOpts{org: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{}}}},
		{name: "NSEC3 opt-out", opts: worldOpts{org: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{OptOut: true}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newNetWorld(t, tt.opts, nil, validator.Config{})
			m, st := w.validate(t, "www.example.org.", dns.TypeA)
			if st != validator.Secure || !m.AuthenticatedData {
				t.Errorf("www.example.org. A: status %v, AD %v; want secure with AD", st, m.AuthenticatedData)
			}
			_, st = w.validate(t, "www.plain.org.", dns.TypeA)
			if st != validator.Insecure {
				t.Errorf("www.plain.org. A: status %v, want insecure (no DS, proven by org.'s referral)", st)
			}
			qs := w.queries()
			if n := countType(qs, "DS"); n != 0 {
				t.Errorf("%d DS queries sent, want none (the referrals carried them):\n\t%s", n, strings.Join(qs, "\n\t"))
			}
			// Priming, org. and example.org. minimised (referrals), then
			// the answer; the DNSKEY sets of the root, org. and
			// example.org.; plain.org. minimised and the answer.
			if len(qs) != 9 {
				t.Errorf("%d queries, want 9:\n\t%s", len(qs), strings.Join(qs, "\n\t"))
			}

			// A client's DS question is answered from the referral too.
			w.net.Reset()
			m, st = w.validate(t, "example.org.", dns.TypeDS)
			if st != validator.Secure || countRR(m.Answer, dns.TypeDS) != 1 || countRR(m.Answer, dns.TypeRRSIG) != 1 {
				t.Errorf("example.org. DS: status %v, answer %v; want secure DS with its RRSIG", st, m.Answer)
			}
			if qs := w.queries(); len(qs) != 0 {
				t.Errorf("example.org. DS sent queries, want none:\n\t%s", strings.Join(qs, "\n\t"))
			}
		})
	}
}

func countRR(rrs []dns.RR, t uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	return n
}

// forgeDS adds a signed-looking DS record for owner, made from a key no
// zone has, with an RRSIG claiming signer, to the authority section of
// every reply.
func forgeDS(t *testing.T, owner, signer string) func(addr string, h dns.Handler) dns.Handler {
	k := dnstest.NewKey(t, owner, dns.ECDSAP256SHA256, true)
	ds := k.DS()
	ds.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 3600}
	sig := &dns.RRSIG{
		Hdr:         dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
		TypeCovered: dns.TypeDS, Algorithm: dns.ECDSAP256SHA256, Labels: uint8(dns.CountLabel(owner)),
		OrigTtl: 3600, Expiration: uint32(time.Now().Add(24 * time.Hour).Unix()), Inception: uint32(time.Now().Add(-time.Hour).Unix()), KeyTag: k.DNSKEY.KeyTag(),
		SignerName: signer, Signature: "AAAA",
	}
	return func(addr string, h dns.Handler) dns.Handler {
		return dnstest.Mangle(h, func(q, r *dns.Msg) {
			if opt := q.IsEdns0(); opt != nil && opt.Do() {
				r.Ns = append(r.Ns, dns.Copy(ds), dns.Copy(sig))
			}
		})
	}
}

// A DS record is taken from a referral only when its owner is the cut the
// referral delegates to, from the servers of the zone above: the root's
// referral to org. cannot speak for example.org., and a zone's own servers
// cannot speak for their zone's DS, nor for a sibling's.
func TestRecursion_referralDSScrubbed(t *testing.T) {
	for _, tt := range []struct {
		name, owner, signer, ask string
	}{
		// The root, referring to org., adds a DS for example.org.
		{name: "DS below the cut", owner: "example.org.", signer: "org.", ask: "www.example.org."},
		// example.org.'s own server, answering, adds a DS for itself.
		{name: "DS at the server's own apex", owner: "example.org.", signer: "org.", ask: "www.example.org."},
		// Every server adds a DS for plain.org., which no referral to
		// plain.org. was followed for.
		{name: "DS of a sibling", owner: "plain.org.", signer: "org.", ask: "www.example.org."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			forge := forgeDS(t, tt.owner, tt.signer)
			wrap := func(addr string, h dns.Handler) dns.Handler {
				switch {
				case tt.name == "DS below the cut" && addr == "192.0.2.1",
					tt.name == "DS at the server's own apex" && addr == "198.51.100.2",
					tt.name == "DS of a sibling":
					return forge(addr, h)
				}
				return h
			}
			w := newNetWorld(t, worldOpts{}, wrap, validator.Config{})
			m, st := w.validate(t, tt.ask, dns.TypeA)
			if st != validator.Secure || !m.AuthenticatedData {
				t.Errorf("%s A: status %v; want secure", tt.ask, st)
			}
			for _, name := range []string{".", "org.", "example.org.", "plain.org."} {
				got := w.rec.ReferralDS(name)
				if got == nil {
					continue
				}
				for _, rr := range append(got.Answer, got.Ns...) {
					if sig, ok := rr.(*dns.RRSIG); ok && sig.Signature == "AAAA" {
						t.Errorf("ReferralDS(%s) holds the forged DS: %v", name, got)
					}
				}
			}
		})
	}
}

// A DS RRset in a referral that does not validate is not used: the
// validator asks the parent, whose answer decides.
func TestRecursion_referralDSBogusRefetched(t *testing.T) {
	// org.'s referral to example.org. carries a DS matching no key, with a
	// broken signature; the DS answer org. gives when asked is the real one.
	forge := forgeDS(t, "example.org.", "org.")
	wrap := func(addr string, h dns.Handler) dns.Handler {
		if addr != "198.51.100.1" {
			return h
		}
		forged := forge(addr, h)
		return dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
			if q.Question[0].Qtype == dns.TypeDS {
				h.ServeDNS(rw, q)
				return
			}
			// Replace the real DS in the referral with the forged one.
			forged.ServeDNS(&dropDS{ResponseWriter: rw}, q)
		})
	}
	w := newNetWorld(t, worldOpts{}, wrap, validator.Config{})
	if got := w.rec.ReferralDS("example.org."); got != nil {
		t.Fatalf("ReferralDS before any resolution = %v, want nil", got)
	}
	m, st := w.validate(t, "www.example.org.", dns.TypeA)
	if st != validator.Secure || !m.AuthenticatedData {
		t.Errorf("www.example.org. A: status %v; want secure from the fetched DS", st)
	}
	if got := w.rec.ReferralDS("example.org."); got == nil {
		t.Error("the referral's (forged) DS was not kept: the test does not test the fallback")
	}
	if n := countType(w.queries(), "DS"); n != 1 {
		t.Errorf("%d DS queries, want 1 (the referral's DS is bogus):\n\t%s", n, strings.Join(w.queries(), "\n\t"))
	}
}

// dropDS removes genuine (validly signed) DS records and their RRSIGs from
// the authority section of a reply, leaving forged ones.
type dropDS struct{ dns.ResponseWriter }

func (d *dropDS) WriteMsg(m *dns.Msg) error {
	m.Ns = slices.DeleteFunc(m.Ns, func(rr dns.RR) bool {
		if sig, ok := rr.(*dns.RRSIG); ok {
			return sig.TypeCovered == dns.TypeDS && sig.Signature != "AAAA"
		}
		return rr.Header().Rrtype == dns.TypeDS && !slices.ContainsFunc(m.Ns, func(o dns.RR) bool {
			s, ok := o.(*dns.RRSIG)
			return ok && s.Signature == "AAAA" && s.KeyTag == rr.(*dns.DS).KeyTag
		})
	})
	return d.ResponseWriter.WriteMsg(m)
}

// A signed zone's keys are fetched as soon as the referral to it arrives,
// side by side with the question to its servers, and validation uses
// that fetch instead of asking again: same queries, one exchange less
// after the answer. example.org.'s server holds its answer to
// www.example.org. A until the DNSKEY query has reached it.
func TestRecursion_keysFetchedWithReferral(t *testing.T) {
	keysAsked := make(chan struct{})
	var once sync.Once
	var keysFirst atomic.Bool
	wrap := func(addr string, h dns.Handler) dns.Handler {
		if addr != "198.51.100.2" {
			return h
		}
		return dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
			switch q.Question[0].Qtype {
			case dns.TypeDNSKEY:
				once.Do(func() { close(keysAsked) })
			case dns.TypeA:
				if strings.EqualFold(q.Question[0].Name, "www.example.org.") {
					select {
					case <-keysAsked:
						keysFirst.Store(true)
					case <-time.After(300 * time.Millisecond): // below the 400 ms timeout for a new server
					}
				}
			}
			h.ServeDNS(rw, q)
		})
	}
	w := newNetWorld(t, worldOpts{}, wrap, validator.Config{})
	m, st := w.validate(t, "www.example.org.", dns.TypeA)
	if st != validator.Secure || !m.AuthenticatedData {
		t.Errorf("www.example.org. A: status %v, AD %v; want secure with AD", st, m.AuthenticatedData)
	}
	if !keysFirst.Load() {
		t.Error("example.org.'s DNSKEY query did not reach its server before the answer was sent: not fetched with the referral")
	}
	// Priming, org. and example.org. minimised (referrals), the answer,
	// and the DNSKEY sets of the root, org. and example.org., once each.
	qs := w.queries()
	if len(qs) != 7 {
		t.Errorf("%d queries, want 7:\n\t%s", len(qs), strings.Join(qs, "\n\t"))
	}
	for _, k := range []string{". DNSKEY", "org. DNSKEY", "example.org. DNSKEY"} {
		if n := slices.Index(qs, k); n < 0 || slices.Index(qs[n+1:], k) >= 0 {
			t.Errorf("%s asked %d times, want once:\n\t%s", k, countQuery(qs, k), strings.Join(qs, "\n\t"))
		}
	}
	// Later questions find the keys cached.
	w.net.Reset()
	if _, st := w.validate(t, "alias.example.org.", dns.TypeA); st != validator.Secure {
		t.Errorf("alias.example.org. A: status %v, want secure", st)
	}
	if n := countType(w.queries(), "DNSKEY"); n != 0 {
		t.Errorf("%d DNSKEY queries for a second name, want none:\n\t%s", n, strings.Join(w.queries(), "\n\t"))
	}
}

func countQuery(qs []string, q string) int {
	n := 0
	for _, x := range qs {
		if x == q {
			n++
		}
	}
	return n
}

// Key fetches started with referrals spend from the budget of the query
// whose recursion started them: the chain to www.example.org. takes six
// verifications (the DNSKEY sets of the root, org. and example.org., the
// DS sets of org. and example.org., and the answer), so a budget of five
// fails the query, however the work is spread over goroutines.
func TestRecursion_keyFetchesSpendQueryBudget(t *testing.T) {
	w := newNetWorld(t, worldOpts{}, nil, validator.Config{MaxValidations: 5})
	_, st, err := w.val.Validate(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true})
	if st != validator.Bogus || !errors.Is(err, validator.ErrBogus) {
		t.Fatalf("www.example.org. A with a budget of 5 verifications: %v, %v; want bogus (work limit)", st, err)
	}
	w2 := newNetWorld(t, worldOpts{}, nil, validator.Config{MaxValidations: 6})
	if _, st, err := w2.val.Validate(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true}); st != validator.Secure {
		t.Fatalf("www.example.org. A with a budget of 6 verifications: %v, %v; want secure", st, err)
	}
}
