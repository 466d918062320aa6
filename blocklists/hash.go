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
// Each step is the wyhash construction (Wang Yi, public domain): two
// 64x64->128-bit multiply-and-fold rounds keyed with secrets drawn at
// random per process, so nobody outside can predict which names collide.
// The parent's hash is the step's seed, and the label length is mixed in,
// so "ab.c" and "a.bc" differ.
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

// label returns the hash of the name l.<parent> from parent's hash.
func (h *hasher) label(parent uint64, l string) uint64 {
	n := len(l)
	seed := parent
	var a, b uint64
	switch {
	case n == 0:
	case n < 4:
		a = uint64(l[0])<<16 | uint64(l[n>>1])<<8 | uint64(l[n-1])
	case n <= 16:
		q := (n >> 3) << 2
		a = le32(l, 0)<<32 | le32(l, q)
		b = le32(l, n-4)<<32 | le32(l, n-4-q)
	default:
		i := 0
		for ; n-i > 16; i += 16 {
			seed = mix(le64(l, i)^h.k1, le64(l, i+8)^seed)
		}
		a, b = le64(l, n-16), le64(l, n-8)
	}
	a, b = bits.Mul64(a^h.k1, b^seed)
	return mix(b^h.k0^uint64(n), a^h.k1)
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
