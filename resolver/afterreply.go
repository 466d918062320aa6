package resolver

import (
	"context"
	"slices"
	"sync"
)

// afterReply collects housekeeping that can wait until the client has its
// answer; the server runs it right after writing the reply. On a 2-core
// machine whose name servers answer within a few hundred microseconds, work
// done while an exchange waits (closing and opening pooled sockets,
// udpPool.service) competed with the name server for the CPU and now and
// then was still running when the reply came: after the reply it delays
// nobody (docs/performance.md, Recursion, session 4).
type afterReply struct {
	mu    sync.Mutex
	ran   bool
	pools []*udpPool // to service, each once
}

type afterReplyKey struct{}

func withAfterReply(ctx context.Context, a *afterReply) context.Context {
	return context.WithValue(ctx, afterReplyKey{}, a)
}

// serviceAfterReply arranges for p to be serviced once the reply to the
// query ctx belongs to is written. It reports false when that cannot be
// arranged (no reply is waiting: a prefetch, say, or it is already
// written), and the caller should service p itself.
func serviceAfterReply(ctx context.Context, p *udpPool) bool {
	a, _ := ctx.Value(afterReplyKey{}).(*afterReply)
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ran {
		return false
	}
	if !slices.Contains(a.pools, p) {
		a.pools = append(a.pools, p)
	}
	return true
}

// run does what was put off; later requests are done at once by their
// callers.
func (a *afterReply) run() {
	a.mu.Lock()
	a.ran = true
	pools := a.pools
	a.pools = nil
	a.mu.Unlock()
	for _, p := range pools {
		p.service()
	}
}
