package dnstest

import (
	"crypto"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Key is a DNSSEC key pair for signing test zones.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer
}

// NewKey generates a key for zone with algorithm alg (RSASHA256,
// RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384 or ED25519). ksk sets the
// Secure Entry Point flag (flags 257 instead of 256): such keys sign the
// DNSKEY RRset and are what the parent's DS points at. RSA keys are 1024
// bits, the smallest Go accepts, to keep tests fast; never use them for
// anything but tests.
func NewKey(t testing.TB, zone string, alg uint8, ksk bool) *Key {
	t.Helper()
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     dns.ZONE,
		Protocol:  3,
		Algorithm: alg,
	}
	if ksk {
		k.Flags |= dns.SEP
	}
	bits := 0
	switch alg {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512:
		bits = 1024
	case dns.ECDSAP256SHA256, dns.ED25519:
		bits = 256
	case dns.ECDSAP384SHA384:
		bits = 384
	default:
		t.Fatalf("dnstest.NewKey: unsupported algorithm %d", alg)
	}
	priv, err := k.Generate(bits)
	if err != nil {
		t.Fatalf("dnstest.NewKey: generating %s key: %v", dns.AlgorithmToString[alg], err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		t.Fatalf("dnstest.NewKey: %T is not a crypto.Signer", priv)
	}
	return &Key{DNSKEY: k, Signer: signer}
}

// DS returns the DS record (SHA-256 digest) for the key, as the parent zone
// publishes it.
func (k *Key) DS() *dns.DS { return k.DNSKEY.ToDS(dns.SHA256) }

// NSEC3Options selects NSEC3 (RFC 5155) instead of NSEC for a signed zone.
type NSEC3Options struct {
	Iterations uint16
	Salt       string // hex, "" for none
	// OptOut leaves delegations without DS out of the chain and sets the
	// Opt-Out flag on every NSEC3 record.
	OptOut bool
}

// SignOptions controls how NewSignedZone signs a zone. The zero value
// signs with one fresh ECDSA P-256 key and NSEC, valid from an hour ago
// for thirty days.
type SignOptions struct {
	// Algorithm of the key generated when Keys is empty (default
	// ECDSAP256SHA256).
	Algorithm uint8
	// Keys are published in the DNSKEY RRset and sign: keys with the SEP
	// flag sign the DNSKEY RRset, the others sign everything else; when all
	// keys (or none) have the flag, every key signs everything.
	Keys []*Key
	// ExtraKeys are published in the DNSKEY RRset but sign nothing.
	ExtraKeys []*Key
	// ExtraSigners sign every RRset but are not published: signatures by
	// a key the validator cannot find.
	ExtraSigners []*Key
	// NSEC3, when set, builds an NSEC3 chain instead of an NSEC chain.
	NSEC3 *NSEC3Options
	// Inception and Expiration bound every signature (defaults: an hour
	// ago and thirty days from now).
	Inception, Expiration time.Time
}

// SignedZone is an authoritative server for one DNSSEC-signed zone given as
// zone-file text. Like Zone it answers data, CNAMEs inside the zone,
// NODATA, NXDOMAIN and referrals; in addition it expands wildcards and
// DNAMEs (with an unsigned synthesized CNAME), and when the query has the
// DO bit it adds RRSIGs and the NSEC or NSEC3 records that prove denials,
// wildcard expansions and delegations without DS (RFC 4035 section 3.1,
// RFC 5155 section 7.2).
//
// A SignedZone is immutable after NewSignedZone and safe for concurrent
// use.
type SignedZone struct {
	origin string
	soa    dns.RR
	negTTL uint32
	rrs    map[string]map[uint16][]dns.RR // authoritative data, plus NS and glue at and below cuts
	sigs   map[string]map[uint16][]dns.RR // RRSIGs by owner and type covered
	cuts   map[string]bool                // delegation points
	exists map[string]bool                // authoritative owners and their ancestors up to origin
	keys   []*Key                         // published keys
	nsec   []*dns.NSEC                    // sorted canonically by owner
	nsec3  []*dns.NSEC3                   // sorted by hash
	n3opts *NSEC3Options                  // nil for NSEC
	n3hash map[string]string              // hash of each existing name in the chain
}

// NewSignedZone parses text as NewZone does, adds the DNSKEY RRset and an
// NSEC or NSEC3 chain, and signs every authoritative RRset. DS records at
// delegation points are signed; NS records there and glue are not.
func NewSignedZone(t testing.TB, text string, opts SignOptions) *SignedZone {
	t.Helper()
	z := &SignedZone{
		rrs:    make(map[string]map[uint16][]dns.RR),
		sigs:   make(map[string]map[uint16][]dns.RR),
		cuts:   make(map[string]bool),
		exists: make(map[string]bool),
		n3opts: opts.NSEC3,
	}
	var all []dns.RR
	all, z.soa = parseZone(t, "dnstest.NewSignedZone", text)
	z.origin = z.soa.Header().Name
	z.negTTL = min(z.soa.Header().Ttl, z.soa.(*dns.SOA).Minttl)

	if opts.Algorithm == 0 {
		opts.Algorithm = dns.ECDSAP256SHA256
	}
	if len(opts.Keys) == 0 {
		opts.Keys = []*Key{NewKey(t, z.origin, opts.Algorithm, true)}
	}
	for _, k := range append(slices.Clip(opts.Keys), opts.ExtraKeys...) {
		dk := dns.Copy(k.DNSKEY).(*dns.DNSKEY)
		dk.Hdr.Name = z.origin
		all = append(all, dk)
		z.keys = append(z.keys, k)
	}
	for _, rr := range all {
		name := rr.Header().Name
		if !dns.IsSubDomain(z.origin, name) {
			t.Fatalf("dnstest.NewSignedZone: %s is outside zone %s", name, z.origin)
		}
		if z.rrs[name] == nil {
			z.rrs[name] = make(map[uint16][]dns.RR)
		}
		typ := rr.Header().Rrtype
		z.rrs[name][typ] = append(z.rrs[name][typ], rr)
		if typ == dns.TypeNS && name != z.origin {
			z.cuts[name] = true
		}
	}
	// Authoritative names: everything not strictly below a cut.
	var owners []string
	for name := range z.rrs {
		if z.below(name) {
			continue
		}
		owners = append(owners, name)
		for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
			z.exists[name[off:]] = true
			if name[off:] == z.origin {
				break
			}
		}
	}

	if opts.NSEC3 == nil {
		z.buildNSEC(owners)
	} else {
		z.buildNSEC3()
	}

	inception, expiration := opts.Inception, opts.Expiration
	if inception.IsZero() {
		inception = time.Now().Add(-time.Hour)
	}
	if expiration.IsZero() {
		expiration = time.Now().Add(30 * 24 * time.Hour)
	}
	ksks, zsks := splitKeys(opts.Keys)
	for name, sets := range z.rrs {
		if z.below(name) {
			continue
		}
		for typ, set := range sets {
			if z.cuts[name] && typ != dns.TypeDS && typ != dns.TypeNSEC {
				continue // the NS set at a cut belongs to the child
			}
			signers := zsks
			if typ == dns.TypeDNSKEY {
				signers = ksks
			}
			for _, k := range append(slices.Clip(signers), opts.ExtraSigners...) {
				z.addSig(t, k, set, inception, expiration)
			}
		}
	}
	for _, n3 := range z.nsec3 {
		for _, k := range append(slices.Clip(zsks), opts.ExtraSigners...) {
			z.addSig(t, k, []dns.RR{n3}, inception, expiration)
		}
	}
	return z
}

// splitKeys returns the keys that sign the DNSKEY RRset and those that sign
// the rest.
func splitKeys(keys []*Key) (ksks, zsks []*Key) {
	for _, k := range keys {
		if k.DNSKEY.Flags&dns.SEP != 0 {
			ksks = append(ksks, k)
		} else {
			zsks = append(zsks, k)
		}
	}
	if len(ksks) == 0 {
		return keys, keys
	}
	if len(zsks) == 0 {
		return keys, keys
	}
	return ksks, zsks
}

func (z *SignedZone) addSig(t testing.TB, k *Key, set []dns.RR, inception, expiration time.Time) {
	t.Helper()
	h := set[0].Header()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  k.DNSKEY.Algorithm,
		SignerName: z.origin,
		KeyTag:     k.DNSKEY.KeyTag(),
		Inception:  uint32(inception.Unix()),
		Expiration: uint32(expiration.Unix()),
	}
	if err := sig.Sign(k.Signer, set); err != nil {
		t.Fatalf("dnstest.NewSignedZone: signing %s %s: %v", h.Name, dns.Type(h.Rrtype), err)
	}
	if z.sigs[h.Name] == nil {
		z.sigs[h.Name] = make(map[uint16][]dns.RR)
	}
	z.sigs[h.Name][h.Rrtype] = append(z.sigs[h.Name][h.Rrtype], sig)
}

// below reports whether name is strictly below a delegation point (glue or
// occluded data).
func (z *SignedZone) below(name string) bool {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if name[off:] == z.origin {
			return false
		}
		if off > 0 && z.cuts[name[off:]] {
			return true
		}
	}
	return false
}

// types returns the type bitmap for name: its types plus extra.
func (z *SignedZone) types(name string, extra ...uint16) []uint16 {
	var ts []uint16
	for typ := range z.rrs[name] {
		if z.cuts[name] && typ != dns.TypeNS && typ != dns.TypeDS {
			continue
		}
		ts = append(ts, typ)
	}
	ts = append(ts, extra...)
	slices.Sort(ts)
	return slices.Compact(ts)
}

// signed reports whether name holds RRsets this zone signs.
func (z *SignedZone) signed(name string) bool {
	if !z.cuts[name] {
		return len(z.rrs[name]) > 0
	}
	return len(z.rrs[name][dns.TypeDS]) > 0
}

func (z *SignedZone) buildNSEC(owners []string) {
	slices.SortFunc(owners, CanonicalCompare)
	for i, name := range owners {
		next := owners[(i+1)%len(owners)]
		nsec := &dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: z.negTTL},
			NextDomain: next,
			TypeBitMap: z.types(name, dns.TypeNSEC, dns.TypeRRSIG),
		}
		z.nsec = append(z.nsec, nsec)
	}
	for _, n := range z.nsec {
		z.rrs[n.Hdr.Name][dns.TypeNSEC] = []dns.RR{n}
	}
}

func (z *SignedZone) buildNSEC3() {
	o := z.n3opts
	z.n3hash = make(map[string]string)
	var flags uint8
	if o.OptOut {
		flags = 1
	}
	for name := range z.exists {
		if o.OptOut && z.cuts[name] && len(z.rrs[name][dns.TypeDS]) == 0 {
			continue // an insecure delegation: opted out
		}
		h := dns.HashName(name, dns.SHA1, o.Iterations, o.Salt)
		z.n3hash[name] = h
		var ts []uint16
		if len(z.rrs[name]) > 0 {
			ts = z.types(name)
			if z.signed(name) {
				ts = append(ts, dns.TypeRRSIG)
			}
			if name == z.origin {
				ts = append(ts, dns.TypeNSEC3PARAM)
			}
			slices.Sort(ts)
		}
		z.nsec3 = append(z.nsec3, &dns.NSEC3{
			Hdr:        dns.RR_Header{Name: strings.ToLower(h) + "." + z.origin, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: z.negTTL},
			Hash:       dns.SHA1,
			Flags:      flags,
			Iterations: o.Iterations,
			SaltLength: uint8(hex.DecodedLen(len(o.Salt))),
			Salt:       saltText(o.Salt),
			HashLength: 20,
			TypeBitMap: ts,
		})
	}
	slices.SortFunc(z.nsec3, func(a, b *dns.NSEC3) int { return strings.Compare(hashOf(a), hashOf(b)) })
	for i, n := range z.nsec3 {
		n.NextDomain = hashOf(z.nsec3[(i+1)%len(z.nsec3)])
	}
	z.rrs[z.origin][dns.TypeNSEC3PARAM] = []dns.RR{&dns.NSEC3PARAM{
		Hdr:        dns.RR_Header{Name: z.origin, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET},
		Hash:       dns.SHA1,
		Iterations: o.Iterations,
		SaltLength: uint8(hex.DecodedLen(len(o.Salt))),
		Salt:       saltText(o.Salt),
	}}
}

func saltText(s string) string { return strings.ToUpper(s) }

// hashOf returns the upper-case base32hex hash label of an NSEC3 owner.
func hashOf(n *dns.NSEC3) string {
	h, _, _ := strings.Cut(n.Hdr.Name, ".")
	return strings.ToUpper(h)
}

// Origin returns the zone's apex.
func (z *SignedZone) Origin() string { return z.origin }

// Keys returns the keys published in the zone's DNSKEY RRset.
func (z *SignedZone) Keys() []*Key { return z.keys }

// DS returns the DS records (SHA-256) the parent zone publishes for this
// zone: one per key with the SEP flag, or per key when none has it.
func (z *SignedZone) DS() []dns.RR {
	var out []dns.RR
	ksks, _ := splitKeys(z.keys)
	for _, k := range ksks {
		ds := k.DS()
		ds.Hdr.Name = z.origin
		out = append(out, ds)
	}
	return out
}

// DSText returns DS() as zone-file lines, ready to paste into the parent's
// zone text.
func (z *SignedZone) DSText() string {
	var b strings.Builder
	for _, rr := range z.DS() {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ServeDNS implements dns.Handler.
func (z *SignedZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_ = w.WriteMsg(z.Reply(r))
}

// reply collects one response, adding each record once.
type reply struct {
	m    *dns.Msg
	do   bool
	seen map[string]bool
}

func (r *reply) add(section *[]dns.RR, rrs ...dns.RR) {
	for _, rr := range rrs {
		s := rr.String()
		if r.seen[s] {
			continue
		}
		r.seen[s] = true
		*section = append(*section, dns.Copy(rr))
	}
}

// Reply returns the zone's answer to r, for fake networks that call
// handlers without sockets.
func (z *SignedZone) Reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if len(r.Question) != 1 {
		return m.SetRcode(r, dns.RcodeFormatError)
	}
	m.SetReply(r)
	do := false
	if opt := r.IsEdns0(); opt != nil {
		do = opt.Do()
		m.SetEdns0(1232, do)
	}
	qname := dns.CanonicalName(r.Question[0].Name)
	qtype := r.Question[0].Qtype
	if !dns.IsSubDomain(z.origin, qname) {
		m.Rcode = dns.RcodeRefused
		return m
	}
	rp := &reply{m: m, do: do, seen: make(map[string]bool)}
	m.Authoritative = true
	for range 8 { // CNAMEs inside the zone, with a bound against loops
		target := z.answer(rp, qname, qtype)
		if target == "" {
			return m
		}
		qname = target
		if !dns.IsSubDomain(z.origin, qname) || z.cut(qname, qtype) != "" {
			return m // the target is elsewhere: the resolver follows it
		}
	}
	return m
}

// answer adds to rp the zone's answer for one name and returns the CNAME
// target to follow, if any.
func (z *SignedZone) answer(rp *reply, qname string, qtype uint16) string {
	m := rp.m
	if cut := z.cut(qname, qtype); cut != "" {
		m.Authoritative = false
		z.referral(rp, cut)
		return ""
	}
	if dn := z.dnameAbove(qname); dn != nil {
		// RFC 6672: the signed DNAME and an unsigned CNAME synthesized
		// from it.
		z.addSet(rp, &m.Answer, dn.Hdr.Name, dns.TypeDNAME, dn.Hdr.Name)
		target := qname[:len(qname)-len(dn.Hdr.Name)] + dns.CanonicalName(dn.Target)
		rp.add(&m.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dn.Hdr.Ttl},
			Target: target,
		})
		return target
	}
	if sets := z.rrs[qname]; len(sets) > 0 {
		if set := sets[qtype]; len(set) > 0 {
			z.addSet(rp, &m.Answer, qname, qtype, qname)
			return ""
		}
		if cn := sets[dns.TypeCNAME]; len(cn) > 0 && qtype != dns.TypeCNAME {
			z.addSet(rp, &m.Answer, qname, dns.TypeCNAME, qname)
			return dns.CanonicalName(cn[0].(*dns.CNAME).Target)
		}
		z.nodata(rp, qname)
		return ""
	}
	if z.exists[qname] { // an empty non-terminal
		z.nodata(rp, qname)
		return ""
	}
	ce := z.closestEncloser(qname)
	wild := "*." + ce
	if sets := z.rrs[wild]; len(sets) > 0 {
		typ := qtype
		if len(sets[qtype]) == 0 && len(sets[dns.TypeCNAME]) > 0 {
			typ = dns.TypeCNAME
		}
		if len(sets[typ]) == 0 {
			// Wildcard NODATA (RFC 4035 3.1.3.4, RFC 5155 7.2.5).
			z.addSOA(rp)
			if rp.do {
				z.denyName(rp, qname, ce)
				z.matchProof(rp, wild)
			}
			return ""
		}
		z.addSet(rp, &m.Answer, wild, typ, qname)
		if rp.do { // the proof that qname itself does not exist (RFC 4035 3.1.3.3)
			z.denyName(rp, qname, ce)
		}
		if typ == dns.TypeCNAME {
			return dns.CanonicalName(sets[typ][0].(*dns.CNAME).Target)
		}
		return ""
	}
	m.Rcode = dns.RcodeNameError
	z.addSOA(rp)
	if rp.do {
		z.denyName(rp, qname, ce)
		z.coverProof(rp, wild)
	}
	return ""
}

// addSet adds the RRset (owner, typ) to section, renamed to as (for
// wildcard expansion), with its RRSIGs when DO is set.
func (z *SignedZone) addSet(rp *reply, section *[]dns.RR, owner string, typ uint16, as string) {
	add := func(rrs []dns.RR) {
		for _, rr := range rrs {
			rr = dns.Copy(rr)
			rr.Header().Name = as
			rp.add(section, rr)
		}
	}
	add(z.rrs[owner][typ])
	if rp.do {
		add(z.sigs[owner][typ])
	}
}

func (z *SignedZone) addSOA(rp *reply) {
	soa := dns.Copy(z.soa)
	rp.add(&rp.m.Ns, soa)
	if rp.do {
		rp.add(&rp.m.Ns, z.sigs[z.origin][dns.TypeSOA]...)
	}
}

// nodata adds the SOA and, with DO, the proof that qname exists without
// the type asked (RFC 4035 3.1.3.1, RFC 5155 7.2.3 and 7.2.4).
func (z *SignedZone) nodata(rp *reply, qname string) {
	z.addSOA(rp)
	if !rp.do {
		return
	}
	if z.n3opts == nil {
		if len(z.rrs[qname][dns.TypeNSEC]) > 0 {
			z.matchProof(rp, qname)
		} else {
			z.coverProof(rp, qname) // an empty non-terminal
		}
		return
	}
	if _, ok := z.n3hash[qname]; ok {
		z.matchProof(rp, qname)
		return
	}
	// An opted-out delegation: the closest encloser proof, whose next
	// closer name is covered by an Opt-Out NSEC3 (RFC 5155 7.2.4).
	z.denyName(rp, qname, z.closestEncloser3(qname))
}

// denyName adds the proof that qname does not exist below its closest
// encloser ce: for NSEC the record covering qname, for NSEC3 the records
// matching ce and covering the next closer name.
func (z *SignedZone) denyName(rp *reply, qname, ce string) {
	if z.n3opts == nil {
		z.coverProof(rp, qname)
		return
	}
	z.matchProof(rp, ce)
	z.coverProof(rp, nextCloser(qname, ce))
}

// matchProof adds the NSEC or NSEC3 record whose owner is (the hash of) name.
func (z *SignedZone) matchProof(rp *reply, name string) {
	if z.n3opts == nil {
		for _, n := range z.nsec {
			if n.Hdr.Name == name {
				z.addDenial(rp, n)
			}
		}
		return
	}
	h := dns.HashName(name, dns.SHA1, z.n3opts.Iterations, z.n3opts.Salt)
	for _, n := range z.nsec3 {
		if hashOf(n) == h {
			z.addDenial(rp, n)
		}
	}
}

// coverProof adds the NSEC or NSEC3 record whose span covers (the hash of)
// name.
func (z *SignedZone) coverProof(rp *reply, name string) {
	if z.n3opts == nil {
		i, _ := slices.BinarySearchFunc(z.nsec, name, func(n *dns.NSEC, name string) int {
			return CanonicalCompare(n.Hdr.Name, name)
		})
		z.addDenial(rp, z.nsec[(i-1+len(z.nsec))%len(z.nsec)])
		return
	}
	h := dns.HashName(name, dns.SHA1, z.n3opts.Iterations, z.n3opts.Salt)
	i, _ := slices.BinarySearchFunc(z.nsec3, h, func(n *dns.NSEC3, h string) int {
		return strings.Compare(hashOf(n), h)
	})
	z.addDenial(rp, z.nsec3[(i-1+len(z.nsec3))%len(z.nsec3)])
}

func (z *SignedZone) addDenial(rp *reply, rr dns.RR) {
	rp.add(&rp.m.Ns, rr)
	h := rr.Header()
	rp.add(&rp.m.Ns, z.sigs[h.Name][h.Rrtype]...)
}

// dnameAbove returns the DNAME record owned by a proper ancestor of qname
// inside the zone, if any.
func (z *SignedZone) dnameAbove(qname string) *dns.DNAME {
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		name := qname[off:]
		if off > 0 {
			if dn := z.rrs[name][dns.TypeDNAME]; len(dn) > 0 {
				return dn[0].(*dns.DNAME)
			}
		}
		if name == z.origin {
			break
		}
	}
	return nil
}

// closestEncloser returns the longest existing ancestor of qname.
func (z *SignedZone) closestEncloser(qname string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if z.exists[qname[off:]] {
			return qname[off:]
		}
	}
	return z.origin
}

// closestEncloser3 returns the longest ancestor of qname in the NSEC3 chain.
func (z *SignedZone) closestEncloser3(qname string) string {
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if _, ok := z.n3hash[qname[off:]]; ok && qname[off:] != qname {
			return qname[off:]
		}
	}
	return z.origin
}

// nextCloser returns the ancestor of qname one label longer than ce.
func nextCloser(qname, ce string) string {
	n := dns.CountLabel(qname) - dns.CountLabel(ce) - 1
	off := 0
	for range n {
		off, _ = dns.NextLabel(qname, off)
	}
	return qname[off:]
}

// cut returns the highest delegation point at or above qname, or "". A DS
// query at the cut itself is answered by this zone, the parent side (RFC
// 4035 section 3.1.4.1).
func (z *SignedZone) cut(qname string, qtype uint16) string {
	var above []string
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if qname[off:] == z.origin {
			break
		}
		above = append(above, qname[off:])
	}
	for i := len(above) - 1; i >= 0; i-- {
		name := above[i]
		if name == qname && qtype == dns.TypeDS {
			return ""
		}
		if z.cuts[name] {
			return name
		}
	}
	return ""
}

// referral adds the NS set at cut, glue, and with DO the signed DS set or
// the proof that there is none (RFC 4035 3.1.4, RFC 5155 7.2.7).
func (z *SignedZone) referral(rp *reply, cut string) {
	m := rp.m
	for _, rr := range z.rrs[cut][dns.TypeNS] {
		rp.add(&m.Ns, rr)
		for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
			rp.add(&m.Extra, z.rrs[dns.CanonicalName(rr.(*dns.NS).Ns)][typ]...)
		}
	}
	if !rp.do {
		return
	}
	if len(z.rrs[cut][dns.TypeDS]) > 0 {
		z.addSet(rp, &m.Ns, cut, dns.TypeDS, cut)
		return
	}
	if z.n3opts == nil {
		z.matchProof(rp, cut)
		return
	}
	if _, ok := z.n3hash[cut]; ok {
		z.matchProof(rp, cut)
		return
	}
	z.denyName(rp, cut, z.closestEncloser3(cut))
}

// CanonicalCompare orders domain names canonically (RFC 4034 section
// 6.1): label by label from the root, each compared as lower-cased bytes.
func CanonicalCompare(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// wireLabels returns the lower-cased labels of name as raw bytes (escapes
// resolved), leftmost first.
func wireLabels(name string) []string {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return dns.SplitDomainName(strings.ToLower(name))
	}
	var out []string
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		out = append(out, strings.ToLower(string(buf[off+1:off+1+int(buf[off])])))
	}
	return out
}

// Authority is an authoritative server for one zone: a Zone or a
// SignedZone.
type Authority interface {
	Origin() string
	Reply(r *dns.Msg) *dns.Msg
}

// Recursive answers like a recursive resolver that knows only its zones,
// without any network: for each question it asks the deepest zone holding
// the name (for DS, the deepest zone strictly above a zone apex, the parent
// side), and follows CNAMEs that leave a zone. It keeps the RRSIGs and the
// NSEC and NSEC3 records of every step, as a recursor asked with DO and CD
// does. Questions no zone holds get SERVFAIL.
type Recursive struct {
	zones []Authority
}

// NewRecursive returns a Recursive over zones.
func NewRecursive(zones ...Authority) *Recursive {
	return &Recursive{zones: zones}
}

// zoneFor returns the zone that answers qtype at name.
func (r *Recursive) zoneFor(name string, qtype uint16) Authority {
	var best Authority
	for _, z := range r.zones {
		o := z.Origin()
		if !dns.IsSubDomain(o, name) || (qtype == dns.TypeDS && o == name && name != ".") {
			continue
		}
		if best == nil || dns.CountLabel(o) > dns.CountLabel(best.Origin()) {
			best = z
		}
	}
	return best
}

// Reply answers q as a recursive resolver would.
func (r *Recursive) Reply(q *dns.Msg) *dns.Msg {
	out := new(dns.Msg)
	if len(q.Question) != 1 {
		return out.SetRcode(q, dns.RcodeFormatError)
	}
	out.SetReply(q)
	out.RecursionAvailable = true
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
		out.SetEdns0(1232, do)
	}
	name := dns.CanonicalName(q.Question[0].Name)
	qtype := q.Question[0].Qtype
	var proofs []dns.RR
	for range 8 {
		z := r.zoneFor(name, qtype)
		if z == nil {
			out.Rcode = dns.RcodeServerFailure
			return out
		}
		sub := new(dns.Msg)
		sub.SetQuestion(name, qtype)
		sub.SetEdns0(1232, do)
		resp := z.Reply(sub)
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			out.Rcode = dns.RcodeServerFailure
			return out
		}
		if len(resp.Answer) == 0 && !resp.Authoritative {
			out.Rcode = dns.RcodeServerFailure // a referral to a zone we do not know
			return out
		}
		out.Answer = append(out.Answer, resp.Answer...)
		target := chainEnd(resp.Answer, name)
		hasSOA := slices.ContainsFunc(resp.Ns, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA })
		if target == name || hasSOA || hasData(resp.Answer, target, qtype) {
			out.Rcode = resp.Rcode
			out.Ns = append(proofs, resp.Ns...)
			return out
		}
		// The CNAME leaves the zone: keep its wildcard proofs, chase it.
		proofs = append(proofs, resp.Ns...)
		name = target
	}
	out.Rcode = dns.RcodeServerFailure
	return out
}

// chainEnd follows CNAMEs in answer from name and returns the last target.
func chainEnd(answer []dns.RR, name string) string {
	for range 16 {
		next := ""
		for _, rr := range answer {
			if cn, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(cn.Hdr.Name) == name {
				next = dns.CanonicalName(cn.Target)
			}
		}
		if next == "" {
			return name
		}
		name = next
	}
	return name
}

func hasData(answer []dns.RR, name string, qtype uint16) bool {
	return slices.ContainsFunc(answer, func(rr dns.RR) bool {
		return rr.Header().Rrtype == qtype && dns.CanonicalName(rr.Header().Name) == name
	})
}
