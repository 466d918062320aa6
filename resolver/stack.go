package resolver

// missStack is roughly the stack a cache miss needs: the server, cache,
// validator, recursor and transport frames, and ECDSA or Ed25519
// verification at the bottom.
const missStack = 32 << 10

// growStack grows the calling goroutine's stack, once, to hold a whole
// cache miss. A goroutine starts with a 2 KiB stack that the runtime
// doubles, by copying it, whenever a call needs more: a miss resolved on a
// fresh goroutine went through four or five such copies, each walking
// every frame on the stack to adjust it (5% of the CPU time of a cold
// question in bench/recursion, docs/performance.md). Called first thing on
// a goroutine that may resolve a miss, it makes one copy of a stack that
// is still shallow; the stack stays grown (the garbage collector shrinks
// stacks only when they are mostly unused at a collection, rare in a
// quiet resolver).
//
//go:noinline
func growStack() {
	var pad [missStack]byte
	touch(pad[:])
}

// touch keeps pad (and so the frame holding it) from being optimised away.
//
//go:noinline
func touch(b []byte) { b[len(b)-1] = 1 }
