package recursor

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
)

func TestFlights(t *testing.T) {
	clone := func(p *int) *int { c := *p; return &c }
	tests := []struct {
		name      string
		leaderErr error
		leaderFor time.Duration // how long the leader's work takes
		wantCalls int32         // times the work ran
		wantErr   error         // the waiter's error
	}{
		{name: "shared result", leaderFor: time.Second, wantCalls: 1},
		// A failure may be the leader's own (the names its path forbade):
		// the waiter tries itself.
		{name: "leader's failure", leaderErr: errors.New("no server answered"), leaderFor: time.Second, wantCalls: 2},
		// The leader's budget ran out: the waiter tries with its own.
		{name: "leader's terminal error", leaderErr: ErrBudget, leaderFor: time.Second, wantCalls: 2},
		// The leader is stuck (a circle of waiters): the waiter gives up
		// waiting and does the work.
		{name: "leader too slow", leaderFor: time.Minute, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := newFlights[string](clone)
				var calls atomic.Int32
				leaderIn := make(chan struct{})
				leaderVal := 7
				leaderDone := make(chan struct{})
				defer func() { <-leaderDone }()
				go func() {
					defer close(leaderDone)
					_, _ = g.do(context.Background(), "k", func() (*int, error) {
						calls.Add(1)
						close(leaderIn)
						time.Sleep(tt.leaderFor)
						return &leaderVal, tt.leaderErr
					})
				}()
				<-leaderIn
				start := time.Now()
				v, err := g.do(context.Background(), "k", func() (*int, error) {
					calls.Add(1)
					x := 8
					return &x, nil
				})
				synctest.Wait()
				if got := calls.Load(); got != tt.wantCalls {
					t.Errorf("work ran %d times, want %d", got, tt.wantCalls)
				}
				if (err == nil) != (tt.wantErr == nil) || (err != nil && err.Error() != tt.wantErr.Error()) {
					t.Fatalf("waiter's error = %v, want %v", err, tt.wantErr)
				}
				if err == nil && tt.wantCalls == 1 {
					if *v != 7 || v == &leaderVal {
						t.Errorf("waiter got %d at %p, want a copy of the leader's 7", *v, v)
					}
				}
				if waited := time.Since(start); tt.leaderFor == time.Minute && waited != flightWait {
					t.Errorf("waiter waited %v, want %v", waited, flightWait)
				}
			})
		})
	}
}

func TestInfra_glueRanksBelowAnswers(t *testing.T) {
	c, err := newInfra(10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	answer := []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	glue := []netip.Addr{netip.MustParseAddr("192.0.2.66")}
	c.putAddrs("ns.example.org.", false, answer, now.Add(time.Hour))
	c.putGlue("ns.example.org.", false, glue, now, now.Add(time.Hour))
	if got, _ := c.lookupAddrs("ns.example.org.", false, now); len(got) != 1 || got[0] != answer[0] {
		t.Errorf("after glue over an answer: %v, want the answer %v", got, answer)
	}
	// Once the answer expires, glue may take its place; an answer then
	// replaces glue.
	later := now.Add(2 * time.Hour)
	c.putGlue("ns.example.org.", false, glue, later, later.Add(time.Hour))
	if got, _ := c.lookupAddrs("ns.example.org.", false, later); len(got) != 1 || got[0] != glue[0] {
		t.Errorf("glue after the answer expired: %v, want %v", got, glue)
	}
	c.putAddrs("ns.example.org.", false, answer, later.Add(time.Hour))
	if got, _ := c.lookupAddrs("ns.example.org.", false, later); len(got) != 1 || got[0] != answer[0] {
		t.Errorf("answer over glue: %v, want %v", got, answer)
	}
}

func TestInfra_DSAges(t *testing.T) {
	c, err := newInfra(10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ds := &dns.DS{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 3600}, KeyTag: 1, Algorithm: 13, DigestType: 2, Digest: "AA"}
	c.putDS("example.org.", []dns.RR{ds}, now)
	got := c.lookupDS("example.org.", now.Add(100*time.Second))
	if len(got) != 1 || got[0].Header().Ttl != 3500 {
		t.Errorf("after 100 s: %v, want the DS with TTL 3500", got)
	}
	if ds.Hdr.Ttl != 3600 {
		t.Errorf("lookupDS changed the cached record: TTL %d", ds.Hdr.Ttl)
	}
	if got := c.lookupDS("example.org.", now.Add(3600*time.Second)); got != nil {
		t.Errorf("after its TTL: %v, want nothing", got)
	}
}
