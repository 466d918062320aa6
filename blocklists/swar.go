package blocklists

import "math/bits"

// lastDot returns the index of the last '.' in s, or -1. It looks at
// eight bytes at a time: labels are short, so most calls take one step.
func lastDot(s string) int {
	const (
		dots = 0x2e2e2e2e2e2e2e2e
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	i := len(s)
	for i >= 8 {
		x := le64(s, i-8) ^ dots
		// High bit set in exactly the bytes of x that are zero, that is
		// the bytes of s that are '.' (no false positives, unlike the
		// shorter (x-0x01..)&^x&0x80.. form).
		z := ^((x&low7 + low7) | x | low7)
		if z != 0 {
			return i - 8 + (63-bits.LeadingZeros64(z))/8
		}
		i -= 8
	}
	for i > 0 {
		i--
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
