package main

import (
	"context"
	"reflect"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/policy/schedule"
)

// leaseWatch is the running lease watcher for the configured lease files.
type leaseWatch struct {
	sources []config.LeaseSource
	w       *clientmap.LeaseWatcher
	stop    context.CancelFunc
	done    chan struct{}
}

// startLeases starts watching cfg's lease files (nil when there are none).
// A change signals s.leaseCh; the reload loop, the only writer of the
// policy in force, then publishes the current watcher's leases (so a late
// signal from a replaced watcher cannot bring back its old leases).
func (s *site) startLeases(cfg *config.Config) (*leaseWatch, error) {
	if len(cfg.Clients.Leases) == 0 {
		return nil, nil
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	var sources []clientmap.LeaseSource
	for _, l := range cfg.Clients.Leases {
		// A Windows export's times are in the school's zone, not the Pi's.
		sources = append(sources, clientmap.LeaseSource{Path: l.Path, Format: clientmap.LeaseFormat(l.Format), Location: loc})
	}
	w, err := clientmap.NewLeaseWatcher(clientmap.LeaseWatcherConfig{
		Sources: sources,
		OnChange: func(*clientmap.Leases) {
			select {
			case s.leaseCh <- struct{}{}:
			default: // a signal is already pending
			}
		},
		Logger:  s.log,
		Metrics: s.leaseM,
	})
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	lw := &leaseWatch{sources: cfg.Clients.Leases, w: w, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		if err := w.Run(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("lease watcher stopped", "error", err)
		}
	}()
	return lw, nil
}

// leases returns the current leases (nil without a watcher).
func (lw *leaseWatch) leases() *clientmap.Leases {
	if lw == nil {
		return nil
	}
	return lw.w.Leases()
}

func (lw *leaseWatch) close() {
	if lw == nil {
		return
	}
	lw.stop()
	select {
	case <-lw.done:
	case <-time.After(5 * time.Second):
	}
}

// sameSources reports whether cfg reads the lease files lw watches.
func (lw *leaseWatch) sameSources(cfg *config.Config) bool {
	if lw == nil {
		return len(cfg.Clients.Leases) == 0
	}
	return reflect.DeepEqual(lw.sources, cfg.Clients.Leases)
}
