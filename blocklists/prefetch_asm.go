//go:build amd64 || arm64

package blocklists

// prefetch3 asks the CPU to start loading the cache lines at a, b and c
// and returns without waiting for them. Unlike a load, a prefetch
// instruction retires at once and never faults, so Match can start the
// filter word and table buckets of every suffix as soon as the suffix is
// hashed: their cache misses overlap each other and the hashing of the
// remaining labels, and a listed suffix's bucket is on its way before the
// filter has answered. Go has no prefetch intrinsic outside the runtime,
// hence the assembly (one instruction per address, amd64 and arm64).
func prefetch3(a, b, c uintptr)
