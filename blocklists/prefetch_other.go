//go:build !amd64 && !arm64

package blocklists

// prefetch2 is a no-op where there is no assembly for it; Match then
// waits for each cache miss in turn.
func prefetch2(a, b uintptr) {}
