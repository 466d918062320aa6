package validator

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
)

// sigCacheSize bounds the signature cache: 32-byte keys, about 100 bytes
// an entry with the LRU's bookkeeping, so under 1 MiB.
const sigCacheSize = 8192

// sigCache remembers which (RRSIG, DNSKEY, RRset) triples verified, so the
// same signature is not checked again: an ECDSA P-256 or Ed25519
// verification costs tens of microseconds, and the same RRset is validated
// again for the DO and the plain form of a question, along CNAME and DNAME
// chains whose targets the recursor reuses, and when proofs (NSEC, NSEC3,
// SOA, DS) recur across questions. Only the mathematical check is
// remembered: the validity period, the key's trust and every other rule
// are applied each time.
//
// The key is a SHA-256 digest of everything the verification reads: the
// key's algorithm, flags, protocol and public key; the RRSIG's RDATA
// (signature included); and each record's owner, type, class and RDATA in
// the order given. Only the records' TTLs are left out (the signature
// covers its original TTL, which is in the RDATA), so an aged copy of the
// same RRset still hits. Anything else that differs, down to the case of
// a name or the order of the records, is a miss and is verified afresh:
// a false miss costs a verification, a false hit would let data through
// unverified, so the digest errs on the side of including more.
type sigCache struct {
	seen *lru.Cache[[sha256.Size]byte, struct{}]
	bufs sync.Pool // *sigHasher
}

// sigHasher is a reusable digest and packing buffer.
type sigHasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newSigCache() *sigCache {
	seen, _ := lru.New[[sha256.Size]byte, struct{}](sigCacheSize) // size is positive: cannot fail
	return &sigCache{
		seen: seen,
		bufs: sync.Pool{New: func() any { return &sigHasher{h: sha256.New(), buf: make([]byte, 0, 512)} }},
	}
}

// key digests one verification's inputs; ok is false when the records
// cannot be packed (such a verification is simply not cached).
func (c *sigCache) key(sig *dns.RRSIG, k *dns.DNSKEY, rrs []dns.RR) (key [sha256.Size]byte, ok bool) {
	sh := c.bufs.Get().(*sigHasher)
	defer c.bufs.Put(sh)
	h := sh.h
	h.Reset()
	var fixed [18]byte
	binary.BigEndian.PutUint16(fixed[0:], k.Flags)
	fixed[2], fixed[3] = k.Protocol, k.Algorithm
	h.Write(fixed[:4])
	writeString(h, k.PublicKey)

	binary.BigEndian.PutUint16(fixed[0:], sig.TypeCovered)
	fixed[2], fixed[3] = sig.Algorithm, sig.Labels
	binary.BigEndian.PutUint32(fixed[4:], sig.OrigTtl)
	binary.BigEndian.PutUint32(fixed[8:], sig.Expiration)
	binary.BigEndian.PutUint32(fixed[12:], sig.Inception)
	binary.BigEndian.PutUint16(fixed[16:], sig.KeyTag)
	h.Write(fixed[:])
	writeString(h, sig.Hdr.Name)
	writeString(h, sig.SignerName)
	writeString(h, sig.Signature)

	for _, rr := range rrs {
		// A private copy: PackRR writes the header's Rdlength, and
		// records (cached keys above all) are shared between goroutines.
		// Verify copies each record the same way.
		cp := dns.Copy(rr)
		cp.Header().Ttl = 0
		buf := sh.buf[:cap(sh.buf)]
		if n := dns.Len(cp); n > len(buf) {
			buf = make([]byte, n)
		}
		end, err := dns.PackRR(cp, buf, 0, nil, false)
		if err != nil {
			return key, false
		}
		sh.buf = buf[:0]
		binary.BigEndian.PutUint32(fixed[:], uint32(end))
		h.Write(fixed[:4])
		h.Write(buf[:end])
	}
	h.Sum(sh.sum[:0])
	return sh.sum, true
}

// verified reports whether the verification digested as key succeeded
// before.
func (c *sigCache) verified(key [sha256.Size]byte) bool {
	_, ok := c.seen.Get(key)
	return ok
}

// add records a successful verification.
func (c *sigCache) add(key [sha256.Size]byte) { c.seen.Add(key, struct{}{}) }

// writeString writes s with its length in front, so fields cannot run
// into each other.
func writeString(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	io.WriteString(h, s)
}
