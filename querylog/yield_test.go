package querylog

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// On one P, the writer's yield, once yieldWork has passed since it last
// slept, lets a goroutine the network has woken run before the writer goes
// on, as a DNS read loop parked in the netpoller must. runtime.Gosched did not: the scheduler takes the yielding
// goroutine from the global run queue before it polls the network, so a
// batch held DNS up until the runtime's monitor thread polled (10 ms).
func TestYield_letsTheNetworkInOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for round := range 20 {
		var got atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 16)
			if _, err := srv.Read(buf); err == nil {
				got.Store(true)
			}
		}()
		runtime.Gosched() // the reader runs, finds nothing and parks in the netpoller
		if _, err := cli.Write([]byte("q")); err != nil {
			t.Fatal(err)
		}
		// One yield of a writer that has not slept for yieldWork (a new
		// one) is enough unless the OS stops this thread for longer than
		// yieldSleep on its way to the netpoller; a few tries keep a busy
		// machine from failing the test, and Gosched needs far more than
		// these (the monitor polls every 10 ms).
		yields := 0
		for ; yields < 20 && !got.Load(); yields++ {
			(&writer{}).yield()
		}
		if !got.Load() {
			t.Fatalf("round %d: after %d yields the reader, woken by the network, had not run", round, yields)
		}
		<-done
	}
}

// On one P the writer sleeps at most once every yieldWork, and the time a
// yield is away counts as yielded, not as the writer's work.
func TestYield_sleepsOncePerYieldWorkAndCountsItsTime(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	w := &writer{}
	start, y0 := time.Now(), w.yielded
	w.yield() // never slept: sleeps
	if w.slept.IsZero() {
		t.Fatal("the first yield on one P did not sleep")
	}
	if got := w.yielded - y0; got < yieldSleep {
		t.Errorf("yielded grew by %v over a sleep of %v", got, yieldSleep)
	}
	if work := w.working(start, y0); work > time.Since(start)-yieldSleep {
		t.Errorf("working = %v of %v: the sleep was counted as work", work, time.Since(start))
	}
	slept := w.slept
	before := time.Now()
	w.yield() // less than yieldWork later (unless the OS stalled us): Gosched only
	if since := before.Sub(slept); since < yieldWork && !w.slept.Equal(slept) {
		t.Errorf("a yield %v after the last sleep slept again", since)
	}
	w.slept = w.slept.Add(-yieldWork)
	w.yield() // yieldWork after the last sleep: sleeps again
	if !w.slept.After(slept) {
		t.Error("a yield yieldWork after the last sleep did not sleep")
	}
}
