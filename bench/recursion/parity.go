//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// question is one case of the parity table and of the benchmark's name set.
type question struct {
	label string
	name  string
	qtype uint16
	// What a validating resolver must answer with DO and without CD: the
	// table checks the fake internet is built as intended, so that two
	// resolvers failing alike cannot pass.
	rcode int
	ad    bool
}

// questions covers each kind of zone and answer of the fake internet.
var questions = []question{
	{"secure A (NSEC zone)", "www.secure.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"secure AAAA", "www.secure.test.", dns.TypeAAAA, dns.RcodeSuccess, true},
	{"NXDOMAIN, NSEC", "nope.secure.test.", dns.TypeA, dns.RcodeNameError, true},
	{"NODATA, NSEC", "www.secure.test.", dns.TypeMX, dns.RcodeSuccess, true},
	{"NODATA, empty non-terminal", "wild.secure.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"wildcard, NSEC", "foo.wild.secure.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"wildcard NODATA, NSEC", "foo.wild.secure.test.", dns.TypeMX, dns.RcodeSuccess, true},
	{"secure A (NSEC3 zone, Ed25519)", "www.nsec3.example.", dns.TypeA, dns.RcodeSuccess, true},
	{"NXDOMAIN, NSEC3", "nope.nsec3.example.", dns.TypeA, dns.RcodeNameError, true},
	{"NODATA, NSEC3", "www.nsec3.example.", dns.TypeTXT, dns.RcodeSuccess, true},
	{"wildcard, NSEC3", "foo.wild.nsec3.example.", dns.TypeA, dns.RcodeSuccess, true},
	{"secure A (NSEC3 opt-out zone)", "www.optout.example.", dns.TypeA, dns.RcodeSuccess, true},
	{"NXDOMAIN, NSEC3 opt-out", "nope.optout.example.", dns.TypeA, dns.RcodeNameError, false},
	{"insecure: opted-out delegation", "www.sub.optout.example.", dns.TypeA, dns.RcodeSuccess, false},
	{"insecure: opted-out under TLD", "www.plain.example.", dns.TypeA, dns.RcodeSuccess, false},
	{"insecure: no DS (NSEC proof)", "www.insecure.test.", dns.TypeA, dns.RcodeSuccess, false},
	{"insecure NXDOMAIN", "nope.insecure.test.", dns.TypeA, dns.RcodeNameError, false},
	{"CNAME across signed zones", "cross.secure.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"CNAME chain signed>unsigned>signed", "chain.secure.test.", dns.TypeA, dns.RcodeSuccess, false},
	{"CNAME to NXDOMAIN", "dangling.secure.test.", dns.TypeA, dns.RcodeNameError, true},
	{"DNAME to another zone", "www.dname.secure.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"glueless delegation", "www.glueless.test.", dns.TypeA, dns.RcodeSuccess, true},
	{"bogus: expired signatures", "www.expired.test.", dns.TypeA, dns.RcodeServerFailure, false},
	{"bogus: DS matches no key", "www.badds.test.", dns.TypeA, dns.RcodeServerFailure, false},
	{"NXDOMAIN in a TLD (NSEC)", "nope.test.", dns.TypeA, dns.RcodeNameError, true},
	{"NXDOMAIN in an opt-out TLD", "nope.example.", dns.TypeA, dns.RcodeNameError, false},
	{"NXDOMAIN at the root", "nosuchtld.", dns.TypeA, dns.RcodeNameError, true},
	{"DS of a signed zone", "secure.test.", dns.TypeDS, dns.RcodeSuccess, true},
	{"DS of an unsigned zone (NODATA)", "insecure.test.", dns.TypeDS, dns.RcodeSuccess, true},
	{"DNSKEY", "nsec3.example.", dns.TypeDNSKEY, dns.RcodeSuccess, true},
}

func (q question) String() string { return q.name + " " + dns.Type(q.qtype).String() }

// variant is how a client asks: with DO, with DO and CD, or plainly.
type variant struct {
	label  string
	do, cd bool
}

var variants = []variant{{"DO", true, false}, {"DO+CD", true, true}, {"plain", false, false}}

// outcome is what a resolver answered, in the parts compared.
type outcome struct {
	rcode  int
	ad     bool
	answer []string // normalised answer section, sorted
	ede    []uint16 // Extended DNS Error codes
	err    error
}

func (o outcome) short() string {
	if o.err != nil {
		return "error"
	}
	s := dns.RcodeToString[o.rcode]
	if o.ad {
		s += " AD"
	}
	for _, c := range o.ede {
		s += fmt.Sprintf(" EDE%d", c)
	}
	return s
}

func outcomeOf(m *dns.Msg, err error) outcome {
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{rcode: m.Rcode, ad: m.AuthenticatedData, answer: normalise(m.Answer)}
	if opt := m.IsEdns0(); opt != nil {
		for _, e := range opt.Option {
			if ede, ok := e.(*dns.EDNS0_EDE); ok {
				o.ede = append(o.ede, ede.InfoCode)
			}
		}
	}
	return o
}

// normalise turns a section into comparable strings: records without TTL,
// lower case, and for RRSIGs only owner and type covered (their timing
// fields and signatures are the zone's and the same for both, but TTLs
// are clamped differently).
func normalise(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if sig, ok := rr.(*dns.RRSIG); ok {
			out = append(out, fmt.Sprintf("%s RRSIG %s", strings.ToLower(sig.Hdr.Name), dns.Type(sig.TypeCovered)))
			continue
		}
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		out = append(out, strings.ToLower(rr.String()))
	}
	slices.Sort(out)
	return out
}

// parityRow is one question asked one way of both resolvers.
type parityRow struct {
	q        question
	v        variant
	g, u     outcome
	diffs    []string // parts where Gatehouse and Unbound differ
	expected string   // how the DO answer differs from the table, if it does
}

func (r parityRow) ok() bool { return len(r.diffs) == 0 && r.expected == "" }

// runParity asks both resolvers every question in every variant, in the
// same order, and compares rcode, AD and the answer section. Authority
// and additional sections are not compared: Unbound's minimal-responses
// and the two resolvers' choice of denial records differ legitimately.
// EDE codes are reported, not compared (each names its own reason).
func runParity(ctx context.Context, gatehouse, unbound string) []parityRow {
	var rows []parityRow
	for _, q := range questions {
		for _, v := range variants {
			row := parityRow{q: q, v: v}
			row.g = outcomeOf(ask(ctx, gatehouse, q.name, q.qtype, v.do, v.cd))
			row.u = outcomeOf(ask(ctx, unbound, q.name, q.qtype, v.do, v.cd))
			row.diffs = compare(row.g, row.u, v)
			if v.do && !v.cd {
				row.expected = expect(q, row.g, row.u)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// compare lists the parts where g and u differ, less the one justified
// difference: asked with CD, Unbound validates anyway and sets AD on
// secure data, while Gatehouse passes CD answers through unvalidated
// (README "Recursion and DNSSEC") and so never sets AD on them. Both are
// right: CD asks the resolver not to validate (RFC 4035 section 3.2.2),
// and AD may be set only on data the resolver found authentic (section
// 3.2.3), never must. Gatehouse setting AD on a CD answer Unbound did not
// mark is still a difference.
func compare(g, u outcome, v variant) []string {
	var d []string
	if g.err != nil || u.err != nil {
		return []string{"error"}
	}
	if g.rcode != u.rcode {
		d = append(d, "rcode")
	}
	if g.ad != u.ad && !(v.cd && !g.ad) {
		d = append(d, "AD")
	}
	if !slices.Equal(g.answer, u.answer) {
		d = append(d, "answer")
	}
	return d
}

// expect reports how either answer differs from the table's rcode and AD.
func expect(q question, outs ...outcome) string {
	var bad []string
	for i, o := range outs {
		who := []string{gatehouseName, unboundName}[i]
		if o.err == nil && (o.rcode != q.rcode || o.ad != q.ad) {
			bad = append(bad, fmt.Sprintf("%s answered %s", who, o.short()))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	want := dns.RcodeToString[q.rcode]
	if q.ad {
		want += " AD"
	}
	return fmt.Sprintf("want %s: %s", want, strings.Join(bad, ", "))
}

// printParity writes the table: every row, with the differences marked.
func printParity(w io.Writer, rows []parityRow) (mismatches int) {
	fmt.Fprintf(w, "%-36s %-30s %-6s %-22s %-22s %s\n", "case", "question", "asked", "gatehouse", "unbound", "result")
	for _, r := range rows {
		res := "same"
		if r.v.cd && r.u.ad && !r.g.ad {
			res = "same (AD on CD: see compare)"
		}
		if !r.ok() {
			mismatches++
			res = "DIFFERENT: " + strings.Join(r.diffs, ", ")
			if r.expected != "" {
				res += " (" + r.expected + ")"
			}
		}
		fmt.Fprintf(w, "%-36s %-30s %-6s %-22s %-22s %s\n", r.q.label, r.q.String(), r.v.label, r.g.short(), r.u.short(), res)
		if slices.Contains(r.diffs, "answer") {
			fmt.Fprintf(w, "    gatehouse answer: %s\n    unbound answer:   %s\n", strings.Join(r.g.answer, " | "), strings.Join(r.u.answer, " | "))
		}
		for _, o := range []struct {
			who string
			o   outcome
		}{{gatehouseName, r.g}, {unboundName, r.u}} {
			if o.o.err != nil {
				fmt.Fprintf(w, "    %s: %v\n", o.who, o.o.err)
			}
		}
	}
	fmt.Fprintf(w, "%d of %d rows differ\n", mismatches, len(rows))
	return mismatches
}
