package procs

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func quiet() Sample  { return Sample{CPU: 0.1, Latency: 50 * time.Microsecond} }
func busy() Sample   { return Sample{CPU: 0.9, Latency: 50 * time.Microsecond} }
func queued() Sample { return Sample{CPU: 0.2, Latency: 5 * time.Millisecond} }

func feed(t *testing.T, p *Policy, s Sample, n int) (changes []string) {
	t.Helper()
	for range n {
		if _, why := p.Next(s); why != "" {
			changes = append(changes, why)
		}
	}
	return changes
}

func TestPolicy_stepsDownAfterACalmAndUpAtOnce(t *testing.T) {
	p := NewPolicy(Config{Max: 4, Calm: 10})
	if got := feed(t, p, quiet(), 9); len(got) != 0 || p.Procs() != 4 {
		t.Fatalf("after 9 quiet samples: %v, %d Ps; want no change yet", got, p.Procs())
	}
	if n, why := p.Next(quiet()); n != 1 || why != "quiet" {
		t.Fatalf("10th quiet sample: %d, %q; want 1, quiet", n, why)
	}
	if n, why := p.Next(busy()); n != 4 || why != "busy" {
		t.Fatalf("busy at one P: %d, %q; want 4, busy", n, why)
	}
}

func TestPolicy_waitingGoroutinesBringPsBack(t *testing.T) {
	p := NewPolicy(Config{Max: 2, Calm: 1})
	p.Next(quiet())
	if p.Procs() != 1 {
		t.Fatalf("not down: %d", p.Procs())
	}
	if n, why := p.Next(queued()); n != 2 || why != "goroutines waiting" {
		t.Fatalf("queued at one P: %d, %q; want 2, goroutines waiting", n, why)
	}
}

func TestPolicy_aBusySampleRestartsTheCalm(t *testing.T) {
	p := NewPolicy(Config{Max: 2, Calm: 5})
	feed(t, p, quiet(), 4)
	p.Next(Sample{CPU: 0.8}) // not quiet
	if got := feed(t, p, quiet(), 4); len(got) != 0 {
		t.Fatalf("stepped down %v before 5 quiet samples in a row", got)
	}
	if got := feed(t, p, quiet(), 1); len(got) != 1 {
		t.Fatalf("5 quiet samples in a row: %v, want a step down", got)
	}
}

func TestPolicy_flappingDoublesTheCalmNeeded(t *testing.T) {
	p := NewPolicy(Config{Max: 2, Calm: 2})
	feed(t, p, quiet(), 2) // down
	p.Next(busy())         // up at once: the step down was too eager
	if got := feed(t, p, quiet(), 3); len(got) != 0 {
		t.Fatalf("stepped down after 3 quiet samples; a flap should need 4: %v", got)
	}
	if got := feed(t, p, quiet(), 1); len(got) != 1 || p.Procs() != 1 {
		t.Fatalf("no step down after 4 quiet samples: %v", got)
	}
	p.Next(busy()) // and again: 8
	if got := feed(t, p, quiet(), 7); len(got) != 0 {
		t.Fatalf("second flap: stepped down after 7: %v", got)
	}
	feed(t, p, quiet(), 1)
	if p.Procs() != 1 {
		t.Fatal("no step down after 8")
	}
	// A long calm at one P forgives: the next flap starts from Calm again.
	feed(t, p, quiet(), 64*2+1)
	p.Next(busy())
	if got := feed(t, p, quiet(), 2); len(got) != 1 {
		t.Fatalf("after a long calm, 2 quiet samples should step down again: %v", got)
	}
}

func TestPolicy_holdKeepsEveryPAndRestartsTheCalm(t *testing.T) {
	p := NewPolicy(Config{Max: 2, Calm: 3})
	feed(t, p, quiet(), 3)
	if n, why := p.Hold(); n != 2 || why != "heavy work" {
		t.Fatalf("Hold at one P: %d, %q", n, why)
	}
	if _, why := p.Hold(); why != "" {
		t.Fatalf("Hold at every P reports a change: %q", why)
	}
	feed(t, p, quiet(), 2)
	p.Hold()
	if got := feed(t, p, quiet(), 2); len(got) != 0 {
		t.Fatalf("stepped down 2 samples after a hold; the calm should restart: %v", got)
	}
	if got := feed(t, p, quiet(), 1); len(got) != 1 {
		t.Fatalf("no step down after 3 quiet samples: %v", got)
	}
}

func TestPolicy_startsQuiet(t *testing.T) {
	p := NewPolicy(Config{Max: 4, Calm: 3})
	if n, why := p.Start(); n != 1 || why == "" {
		t.Fatalf("Start() = %d, %q; want 1 and a reason", n, why)
	}
	if n, why := p.Start(); n != 1 || why != "" {
		t.Errorf("second Start() = %d, %q; want 1 and no change", n, why)
	}
	// The first busy sample brings every P back at once...
	if n, _ := p.Next(busy()); n != 4 {
		t.Fatalf("busy after start: %d Ps, want 4", n)
	}
	// ...and is not a flap: the next step down still needs only Calm.
	if got := feed(t, p, quiet(), 2); len(got) != 0 {
		t.Fatalf("stepped down %v before Calm quiet samples", got)
	}
	if got := feed(t, p, quiet(), 1); len(got) != 1 || p.Procs() != 1 {
		t.Fatalf("after Calm quiet samples: %v, %d Ps; want a step down to 1", got, p.Procs())
	}
	if n, why := NewPolicy(Config{Max: 1}).Start(); n != 1 || why != "" {
		t.Errorf("one processor: Start() = %d, %q; want no change", n, why)
	}
}

func TestPolicy_oneProcessorNeverChanges(t *testing.T) {
	p := NewPolicy(Config{Max: 1, Calm: 1})
	if got := append(feed(t, p, quiet(), 5), feed(t, p, busy(), 5)...); len(got) != 0 || p.Procs() != 1 {
		t.Fatalf("Max 1 changed: %v", got)
	}
}

func TestP99(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{0, 1e-6, 1e-3, 1e-2, 1},
		Counts:  []uint64{0, 0, 0, 0},
	}
	prev := []uint64{0, 5, 0, 0}
	// Counts[i] is [Buckets[i], Buckets[i+1]). Since prev: 990 under 1ms,
	// 5 under 10ms, 5 under 1s.
	h.Counts = []uint64{0, 5 + 990, 5, 5}
	if got := p99(h, prev, 100); got != time.Millisecond {
		t.Errorf("p99 = %v, want 1ms (990 of 1000 below it)", got)
	}
	h.Counts = []uint64{0, 5 + 900, 80, 20} // 980 under 10ms: the 990th is above
	if got := p99(h, prev, 100); got != time.Second {
		t.Errorf("p99 = %v, want 1s", got)
	}
	if got := p99(h, h.Counts, 0); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
	if got := p99(h, prev, 1001); got != 0 {
		t.Errorf("p99 of 1000 events with a minimum of 1001 = %v, want 0", got)
	}
}

// The real loop on this (idle) test process: it steps down to one P, and
// gives every P back when its context ends.
func TestRun_stepsDownWhenIdleAndRestores(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	runtime.GOMAXPROCS(2)
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan int, 16)
	sc := New(Config{Max: 2, Interval: 20 * time.Millisecond, Calm: 2, Latency: time.Second,
		OnChange: func(n int, why string) { changed <- n }})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc.Run(ctx)
	}()
	select {
	case n := <-changed:
		if n != 1 || runtime.GOMAXPROCS(0) != 1 {
			t.Errorf("first change to %d (GOMAXPROCS %d), want 1", n, runtime.GOMAXPROCS(0))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an idle process never stepped down to one P")
	}
	// Heavy work announced: every P back at once, before any sample.
	sc.Busy(time.Hour)
	select {
	case n := <-changed:
		if n != 2 || runtime.GOMAXPROCS(0) != 2 {
			t.Errorf("after Busy: change to %d (GOMAXPROCS %d), want 2", n, runtime.GOMAXPROCS(0))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Busy did not give the Ps back")
	}
	// and held: an idle process does not step down during the hour.
	select {
	case n := <-changed:
		t.Errorf("changed to %d while held busy", n)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS after Run = %d, want 2 restored", got)
	}
}
