package querylog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A reference is the form of an entry ID that people read out and type:
// the block page shows it, a pupil quotes it to a teacher, a technician
// finds the entry with it. It is the ID's 64 bits in Crockford's base32
// (digits and upper-case letters without I, L, O and U, so no two symbols
// look or sound alike), 13 symbols in groups of four, four and five:
// "1V4G-8ZK2-QM3XA". Reading is forgiving: case does not matter, hyphens
// and spaces may be anywhere or missing, and I, L (read as 1) and O (read
// as 0) are taken for the symbols they are mistaken for.
//
// Older references were the ID in decimal (18 or more digits); ParseRef
// still takes those.

// refAlphabet is Crockford's base32 alphabet.
const refAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// refLen is the number of symbols of a reference: 13 × 5 bits ≥ 64.
const refLen = 13

// ErrBadRef is wrapped by ParseRef's errors.
var ErrBadRef = errors.New("not a query log reference")

// Ref returns the reference of the entry ID id.
func Ref(id uint64) string {
	var b [refLen + 2]byte
	j := len(b) - 1
	for i := range refLen {
		if i == 5 || i == 9 { // groups of 4-4-5, counted from the left
			b[j] = '-'
			j--
		}
		b[j] = refAlphabet[id&31]
		id >>= 5
		j--
	}
	return string(b[:])
}

// refValue maps an upper-cased symbol to its value, -1 for none.
func refValue(c byte) int {
	switch {
	case c == 'O':
		return 0
	case c == 'I', c == 'L':
		return 1
	case c == 'U':
		return -1
	}
	return strings.IndexByte(refAlphabet, c)
}

// ParseRef returns the entry ID a reference names (see Ref), or the ID of
// a decimal reference of 14 digits or more.
func ParseRef(s string) (uint64, error) {
	if len(s) > 64 {
		return 0, fmt.Errorf("%w: too long", ErrBadRef)
	}
	var sym [64]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		sym[n] = c
		n++
	}
	digits := sym[:n]
	if n > refLen {
		id, err := strconv.ParseUint(string(digits), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q has %d symbols, want %d", ErrBadRef, s, n, refLen)
		}
		return id, nil
	}
	if n != refLen {
		return 0, fmt.Errorf("%w: %q has %d symbols, want %d", ErrBadRef, s, n, refLen)
	}
	var id uint64
	for i, c := range digits {
		v := refValue(c)
		if v < 0 {
			return 0, fmt.Errorf("%w: %q: %q is not one of its symbols", ErrBadRef, s, c)
		}
		if i == 0 && v > 15 { // the first symbol carries 4 bits only
			return 0, fmt.Errorf("%w: %q is out of range", ErrBadRef, s)
		}
		id = id<<5 | uint64(v)
	}
	return id, nil
}
