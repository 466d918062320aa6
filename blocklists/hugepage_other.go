//go:build !linux

package blocklists

func adviseHugePages[E any]([]E) {}
