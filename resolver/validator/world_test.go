package validator_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// A small signed Internet: a root with a test trust anchor, org., the
// signed example.org., and the unsigned plain.org. delegated from org.
// without DS.

const rootText = `
. 86400 IN SOA a.root.test. admin.root.test. 1 1800 900 604800 86400
. 86400 IN NS  a.root.test.
org. 86400 IN NS ns.org.
ns.org. 86400 IN A 198.51.100.1
`

const orgText = `
org. 3600 IN SOA ns.org. admin.org. 1 1800 900 604800 3600
org. 3600 IN NS  ns.org.
ns.org. 3600 IN A 198.51.100.1
plain.org. 3600 IN NS ns.plain.org.
ns.plain.org. 3600 IN A 198.51.100.3
example.org. 3600 IN NS ns.example.org.
ns.example.org. 3600 IN A 198.51.100.2
`

const exampleText = `
example.org. 3600 IN SOA ns.example.org. admin.example.org. 1 1800 900 604800 300
example.org. 3600 IN NS  ns.example.org.
ns.example.org. 3600 IN A 198.51.100.2
www.example.org. 300 IN A 192.0.2.1
www.example.org. 300 IN A 192.0.2.2
alias.example.org. 300 IN CNAME www.example.org.
away.example.org. 300 IN CNAME www.plain.org.
*.wild.example.org. 300 IN TXT "wild"
a.deep.example.org. 300 IN TXT "deep"
dn.example.org. 300 IN DNAME example.org.
`

const plainText = `
plain.org. 3600 IN SOA ns.plain.org. admin.plain.org. 1 1800 900 604800 300
plain.org. 3600 IN NS  ns.plain.org.
ns.plain.org. 3600 IN A 198.51.100.3
www.plain.org. 300 IN A 203.0.113.7
back.plain.org. 300 IN CNAME www.example.org.
`

// worldOpts varies the world from the default: everything P-256 and NSEC.
type worldOpts struct {
	example dnstest.SignOptions // how example.org. is signed
	org     dnstest.SignOptions // how org. is signed
	// exampleDS, when set, replaces the DS lines org. publishes for
	// example.org.
	exampleDS string
}

type world struct {
	up      *upstream
	anchors []dns.RR
	root    *dnstest.SignedZone
	org     *dnstest.SignedZone
	example *dnstest.SignedZone
	plain   *dnstest.Zone
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	example := dnstest.NewSignedZone(t, exampleText, o.example)
	ds := o.exampleDS
	if ds == "" {
		ds = example.DSText()
	}
	org := dnstest.NewSignedZone(t, orgText+ds, o.org)
	root := dnstest.NewSignedZone(t, rootText+org.DSText(), dnstest.SignOptions{})
	plain := dnstest.NewZone(t, plainText)
	return &world{
		up:      &upstream{rec: dnstest.NewRecursive(root, org, example, plain)},
		anchors: root.DS(),
		root:    root,
		org:     org,
		example: example,
		plain:   plain,
	}
}

// upstream is the fake recursor: it answers from the world's zones and
// lets a test tamper with the replies.
type upstream struct {
	rec *dnstest.Recursive
	// tamper, if set, may change each reply before the validator sees it.
	tamper func(q resolver.Question, m *dns.Msg)
	// err, if set, is returned instead of any reply.
	err error

	mu    sync.Mutex
	asked []resolver.Question
}

func (u *upstream) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	u.mu.Lock()
	u.asked = append(u.asked, q)
	u.mu.Unlock()
	if u.err != nil {
		return nil, u.err
	}
	r := new(dns.Msg)
	r.SetQuestion(q.Name, q.Type)
	r.SetEdns0(1232, q.DO)
	r.CheckingDisabled = q.CD
	m := u.rec.Reply(r)
	if u.tamper != nil {
		u.tamper(q, m)
	}
	return m, nil
}

func (u *upstream) questions() []resolver.Question {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]resolver.Question(nil), u.asked...)
}

// newValidator builds a validator over w with metrics on a fresh
// registry; cfg's Upstream and TrustAnchors are filled in when empty.
func newValidator(t testing.TB, w *world, cfg validator.Config) (*validator.Validator, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	met, err := validator.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream == nil {
		cfg.Upstream = w.up
	}
	if cfg.TrustAnchors == nil {
		cfg.TrustAnchors = w.anchors
	}
	cfg.Metrics = met
	v, err := validator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v, reg
}

// metric returns the value of the counter gatehouse_validator_<name> with
// the given label value (if any), or 0 when there is none.
func metric(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_validator_"+name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// ede returns the RFC 8914 code of a validation error, or 0 for nil.
func ede(t testing.TB, err error) uint16 {
	t.Helper()
	if err == nil {
		return 0
	}
	var e *resolver.ExtendedError
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *resolver.ExtendedError", err)
	}
	if !errors.Is(err, validator.ErrBogus) {
		t.Fatalf("error %v does not wrap ErrBogus", err)
	}
	return e.Code
}

// strip removes records of the given types from a section; with owner set
// only those owned by it.
func strip(rrs []dns.RR, owner string, types ...uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		drop := false
		for _, x := range types {
			if t == x && (owner == "" || strings.EqualFold(rr.Header().Name, owner)) {
				drop = true
			}
		}
		if !drop {
			out = append(out, rr)
		}
	}
	return out
}
