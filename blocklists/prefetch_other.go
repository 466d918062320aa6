//go:build !amd64 && !arm64

package blocklists

// prefetch3 is a no-op where there is no assembly for it; Match then
// waits for each cache miss in turn.
func prefetch3(a, b, c uintptr) {}
