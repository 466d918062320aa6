// Package procs runs the Go scheduler on one processor (GOMAXPROCS=1)
// while Gatehouse is nearly idle and on all of them while it is busy.
//
// Why: a school's resolver is idle most of the time, then answers a query
// every few hundred microseconds. With several Ps, each query that wakes
// the process also wakes a second OS thread that looks for work, finds
// none and sleeps again; that wake-up costs more CPU than answering a cache
// hit. With one P there is no second thread to wake. Under load, the
// scaler gives the scheduler every P again, so both cores serve.
//
// The signals are the process's CPU use (getrusage) and the Go
// scheduler's own latency histogram (how long runnable goroutines waited
// for a P). Going down needs a sustained calm; going up is immediate. A
// step down that had to be undone soon after makes the next step down
// wait twice as long, so a workload that needs two Ps only now and then
// (a query log writing its batches, a list reload) does not flap.
package procs

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"syscall"
	"time"
)

// Config tunes a Scaler. Zero fields take the defaults.
type Config struct {
	// Max is the most Ps; 0 means the runtime's default (the CPUs this
	// process may use, cgroup limits included).
	Max int
	// Interval between samples (default 500ms).
	Interval time.Duration
	// Up is the CPU use, in cores, above which the scaler on one P gives
	// every P back at once (default 0.6).
	Up float64
	// Down is the CPU use, measured while on every P, below which it may
	// step down to one P (default 0.7). On every P the same work costs
	// 1.3 to 1.7 times as much (each query wakes a second thread), so this
	// is higher than Up, which is measured on one P.
	Down float64
	// Latency is the scheduling delay (99th percentile over a sample)
	// above which one P is not enough (default 1ms).
	Latency time.Duration
	// Calm is how many quiet samples in a row it takes to step down
	// (default 6; doubled after each step down undone within 4 × Calm
	// samples, up to 64 × Calm).
	Calm int
	// OnChange, if set, is told every change (for metrics and logs).
	OnChange func(procs int, why string)
}

func (c *Config) defaults() {
	if c.Max <= 0 {
		c.Max = runtime.GOMAXPROCS(0)
	}
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.Up <= 0 {
		c.Up = 0.6
	}
	if c.Down <= 0 {
		c.Down = 0.7
	}
	if c.Latency <= 0 {
		c.Latency = time.Millisecond
	}
	if c.Calm <= 0 {
		c.Calm = 6
	}
}

// Sample is what the process did over one interval.
type Sample struct {
	CPU     float64       // cores used on average
	Latency time.Duration // 99th percentile scheduling delay
}

// Policy is the scaler's decision logic, apart from the clock and the
// runtime so tests can drive it.
type Policy struct {
	cfg       Config
	procs     int
	calm      int // quiet samples in a row
	need      int // quiet samples needed to step down
	sinceDown int // samples since the last step down; -1 if none yet
}

// NewPolicy starts at cfg.Max Ps; Start then steps down to one.
func NewPolicy(cfg Config) *Policy {
	cfg.defaults()
	return &Policy{cfg: cfg, procs: cfg.Max, need: cfg.Calm, sinceDown: -1}
}

// Procs is the current choice.
func (p *Policy) Procs() int { return p.procs }

// Start is the first choice, before any sample: one P. A resolver starts
// quiet (the work of starting up is done before the scaler runs) and
// spends most of its life so; waiting for a calm spell first would run
// the first seconds, a fresh process's cold questions included, with
// every P's wake-ups. The first busy sample gives every P back, and does
// not count as a flap.
func (p *Policy) Start() (int, string) {
	if p.cfg.Max <= 1 || p.procs == 1 {
		return p.procs, ""
	}
	p.procs, p.calm, p.sinceDown = 1, 0, -1
	return p.procs, "starting quiet"
}

// Hold keeps every P (a Busy period): it returns cfg.Max, and why if
// that is a change. The calm starts again afterwards.
func (p *Policy) Hold() (int, string) {
	p.calm = 0
	if p.procs == p.cfg.Max {
		return p.procs, ""
	}
	p.procs, p.sinceDown = p.cfg.Max, -1
	return p.procs, "heavy work"
}

// Next takes one sample and returns the Ps to run with and why it changed
// ("" if it did not).
func (p *Policy) Next(s Sample) (int, string) {
	if p.cfg.Max <= 1 {
		return p.procs, ""
	}
	if p.sinceDown >= 0 {
		p.sinceDown++
	}
	busy := s.CPU > p.cfg.Up || s.Latency > p.cfg.Latency
	quiet := s.CPU < p.cfg.Down && s.Latency <= p.cfg.Latency
	switch {
	case p.procs == 1 && busy:
		p.procs, p.calm = p.cfg.Max, 0
		if p.sinceDown >= 0 && p.sinceDown <= 4*p.cfg.Calm {
			p.need = min(2*p.need, 64*p.cfg.Calm) // stepped down too eagerly
		}
		p.sinceDown = -1
		if s.CPU > p.cfg.Up {
			return p.procs, "busy"
		}
		return p.procs, "goroutines waiting"
	case p.procs > 1 && quiet:
		p.calm++
		if p.calm >= p.need {
			p.procs, p.calm, p.sinceDown = 1, 0, 0
			return p.procs, "quiet"
		}
	case p.procs > 1:
		p.calm = 0
	}
	if p.procs == 1 && p.sinceDown > 64*p.cfg.Calm {
		p.need = p.cfg.Calm // a long calm spell forgives earlier flaps
	}
	return p.procs, ""
}

// Scaler applies a Policy to this process.
type Scaler struct {
	cfg  Config
	busy chan time.Duration
}

// New returns a Scaler; Run starts it.
func New(cfg Config) *Scaler {
	return &Scaler{cfg: cfg, busy: make(chan time.Duration, 1)}
}

// Busy gives every P back at once and keeps them for at least d: the
// caller knows heavy work is about to start (a list or config reload),
// which on one P would hold up DNS replies until the next sample noticed.
// It never blocks; it does nothing before Run or after it ends.
func (s *Scaler) Busy(d time.Duration) {
	select {
	case s.busy <- d:
	default:
	}
}

// Run samples the process every interval and applies the policy's choice
// with runtime.GOMAXPROCS until ctx ends, then restores cfg.Max, or the
// runtime's default if cfg.Max was 0.
func (s *Scaler) Run(ctx context.Context) {
	cfg := s.cfg
	if cfg.Max <= 0 {
		// Read the default afresh: another Scaler in this process (tests)
		// may have left GOMAXPROCS at 1.
		runtime.SetDefaultGOMAXPROCS()
		defer runtime.SetDefaultGOMAXPROCS()
	} else {
		defer runtime.GOMAXPROCS(cfg.Max)
	}
	cfg.defaults()
	if cfg.Max <= 1 {
		return
	}
	p := NewPolicy(cfg)
	if n, why := p.Start(); why != "" {
		runtime.GOMAXPROCS(n)
		if cfg.OnChange != nil {
			cfg.OnChange(n, why)
		}
	}
	m := newMeter()
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	var holdUntil time.Time
	for {
		var n int
		var why string
		select {
		case <-ctx.Done():
			return
		case d := <-s.busy:
			holdUntil = time.Now().Add(d)
			n, why = p.Hold()
		case <-t.C:
			smp := m.sample()
			if time.Now().Before(holdUntil) {
				n, why = p.Hold()
			} else {
				n, why = p.Next(smp)
			}
		}
		if why == "" {
			continue
		}
		runtime.GOMAXPROCS(n)
		if cfg.OnChange != nil {
			cfg.OnChange(n, why)
		}
	}
}

// meter reads CPU time and the scheduler's latency histogram, and turns
// two readings into a Sample.
type meter struct {
	at   time.Time
	cpu  time.Duration
	s    []metrics.Sample
	prev []uint64
}

const schedLatency = "/sched/latencies:seconds"

func newMeter() *meter {
	m := &meter{s: []metrics.Sample{{Name: schedLatency}}}
	m.sample()
	return m
}

func (m *meter) sample() Sample {
	now, cpu := time.Now(), processCPU()
	var out Sample
	if el := now.Sub(m.at); !m.at.IsZero() && el > 0 {
		out.CPU = float64(cpu-m.cpu) / float64(el)
	}
	m.at, m.cpu = now, cpu

	metrics.Read(m.s)
	if m.s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return out
	}
	h := m.s[0].Value.Float64Histogram()
	if len(m.prev) == len(h.Counts) {
		out.Latency = p99(h, m.prev, minLatencySamples)
	}
	m.prev = append(m.prev[:0], h.Counts...)
	return out
}

// minLatencySamples is the fewest scheduling events in a sample for their
// latency to count: in an idle spell a handful of timers decide the 99th
// percentile, and one of them waiting behind a GC is no reason for every P.
const minLatencySamples = 100

// p99 is the 99th percentile of the counts added since prev, taken as the
// upper bound of its bucket; 0 if fewer than min were added.
func p99(h *metrics.Float64Histogram, prev []uint64, min uint64) time.Duration {
	var total uint64
	for i, c := range h.Counts {
		total += c - prev[i]
	}
	if total == 0 || total < min {
		return 0
	}
	want := total - total/100 // the count at or below the percentile
	var seen uint64
	for i, c := range h.Counts {
		seen += c - prev[i]
		if seen >= want {
			hi := h.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = h.Buckets[i]
			}
			return time.Duration(hi * float64(time.Second))
		}
	}
	return 0
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
