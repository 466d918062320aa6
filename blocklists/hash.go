package blocklists

import (
	"math/bits"
	"math/rand/v2"
)

// hasher hashes canonical names one label at a time, from the top-level
// label down: the hash of "a.example.com." is label(label(label(root,
// "com"), "example"), "a"). So the hashes of all suffixes of a query name
// come out of one pass over its bytes, instead of one pass per suffix as
// with a whole-string hash (which made hashing a third of Match's time).
//
// A label is taken eight bytes at a time from its end, as Set.Match reads
// it (the word that finds the label's dot holds its last bytes): each
// full eight bytes c is absorbed as s = mix(c^k1, s), starting from
// s = parent^k0, and the last step absorbs the n%8 leading bytes,
// zero-extended, with the label's length: mix(lead^k1, s^n). Mixing in the
// length tells "a" from "a\x00"; chaining from the parent tells "ab.c"
// from "a.bc". So a label of up to 7 bytes (most of them) costs one
// 64x64->128-bit multiply-and-fold.
//
// mix is wyhash's multiply-and-fold (Wang Yi, public domain). root, k0 and
// k1 are drawn at random per process and never leave it, so nobody outside
// can predict which names collide: two distinct names collide only by the
// chance that two keyed multiply-folds agree, about 2^-64 a pair (checked
// empirically in hash_test.go). A collision can only make an unlisted name
// match a listed one (a listed name always finds its own key), and Set's
// false-positive estimate (N/2^62 a suffix) assumes no more than that. A
// stronger keyed hash (SipHash, AES rounds) would cost several times the
// lookup's whole hashing time for no gain against this threat.
type hasher struct {
	root, k0, k1 uint64
}

func newHasher() hasher {
	h := hasher{rand.Uint64(), rand.Uint64() | 1, rand.Uint64() | 1}
	return h
}

// mix is wyhash's multiply-and-fold.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le32(s string, i int) uint64 {
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

func le64(s string, i int) uint64 {
	return le32(s, i) | le32(s, i+4)<<32
}

// label returns the hash of the name l.<parent> from parent's hash. It is
// the reference for the same steps inlined in Set.Match.
func (h *hasher) label(parent uint64, l string) uint64 {
	s := parent ^ h.k0
	e := len(l)
	for ; e >= 8; e -= 8 {
		s = mix(le64(l, e-8)^h.k1, s)
	}
	var lead uint64
	for i := range e {
		lead |= uint64(l[i]) << (8 * i)
	}
	return mix(lead^h.k1, s^uint64(len(l)))
}

// name returns the hash of a canonical name (with its trailing dot).
func (h *hasher) name(n string) uint64 {
	acc := h.root
	end := len(n)
	if end > 0 && n[end-1] == '.' {
		end--
	}
	for {
		i := lastDot(n[:end])
		acc = h.label(acc, n[i+1:end])
		if i < 0 {
			return acc
		}
		end = i
	}
}
