package main

import (
	"context"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"

	"gatehouse/blocklists"
	"gatehouse/config"
)

// refresher runs the downloads of the config's URL lists.
type refresher struct {
	remotes []blocklists.Remote
	r       *blocklists.Refresher
	stop    context.CancelFunc
	done    chan struct{}
}

// openListStore opens (creating) the store of downloaded lists in dir.
func openListStore(dir string) (*blocklists.Store, error) {
	return blocklists.OpenStore(filepath.Join(dir, "lists"))
}

// remotes lists cfg's downloaded lists, locked categories first so a first
// start fetches the illegal-content lists before anything else.
func remotes(cfg *config.Config) []blocklists.Remote {
	var out []blocklists.Remote
	for _, l := range cfg.Lists {
		if l.URL == "" {
			continue
		}
		format, _ := blocklists.ParseFormat(l.Format) // validated
		out = append(out, blocklists.Remote{Name: l.Name, URL: l.URL, Format: format, Interval: l.Refresh})
	}
	locked := func(r blocklists.Remote) bool {
		for _, l := range cfg.Lists {
			if l.Name == r.Name {
				c, err := blocklists.ParseCategory(l.Category)
				return err == nil && c.Locked()
			}
		}
		return false
	}
	slices.SortStableFunc(out, func(a, b blocklists.Remote) int {
		switch la, lb := locked(a), locked(b); {
		case la && !lb:
			return -1
		case lb && !la:
			return 1
		}
		return 0
	})
	return out
}

// startRefresher starts downloading cfg's URL lists (nil when there are
// none). A changed copy signals s.listsCh, so the reload loop rebuilds.
func (s *site) startRefresher(cfg *config.Config) (*refresher, error) {
	rs := remotes(cfg)
	if len(rs) == 0 {
		return nil, nil
	}
	f, err := blocklists.NewFetcher(blocklists.FetcherConfig{TempDir: s.listStore.Dir()})
	if err != nil {
		return nil, err
	}
	r, err := blocklists.NewRefresher(blocklists.RefresherConfig{
		Store:   s.listStore,
		Fetcher: f,
		Lists:   rs,
		OnChange: func() {
			select {
			case s.listsCh <- struct{}{}:
			default: // a rebuild is already pending
			}
		},
		Metrics: s.listM,
		Logger:  s.log,
	})
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	rf := &refresher{remotes: rs, r: r, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(rf.done)
		if err := r.Run(ctx); err != nil {
			s.log.Error("list downloads stopped", "error", err)
		}
	}()
	return rf, nil
}

func (rf *refresher) close() {
	if rf == nil {
		return
	}
	rf.stop()
	<-rf.done
}

// same reports whether cfg downloads exactly the lists rf does.
func (rf *refresher) same(cfg *config.Config) bool {
	rs := remotes(cfg)
	if rf == nil {
		return len(rs) == 0
	}
	return reflect.DeepEqual(rf.remotes, rs)
}

// listsBuilt updates the list metrics after a policy was built: name
// lists, and address lists (answer checks) alike. When the name lists were
// rebuilt it also hands the memory of the build (key scratch, the Set
// replaced) back to the system at once: a Set is tens of megabytes and the
// query path allocates almost nothing, so the garbage collector would
// otherwise leave it resident until the next reload, which then builds on
// top of it (issue 4: peak RSS during a reload at most 1.5 times the
// steady RSS; see docs/performance.md, Blocklists).
func (s *site) listsBuilt(set *blocklists.Set, addrs *blocklists.IPSet) {
	var infos []blocklists.ListInfo
	if set != nil {
		infos = set.Lists()
	}
	for _, l := range addrs.Lists() {
		infos = append(infos, l.ListInfo())
	}
	if set != nil || len(infos) > 0 {
		s.listM.SetLists(infos, s.listStore)
	}
	if set != s.lists {
		s.lists = set
		// In the background: a forced collection takes a while (tens of
		// milliseconds under the race detector) and the reload's own
		// bookkeeping should not wait for it.
		go debug.FreeOSMemory()
	}
}

// recheck asks for every downloaded list to be checked again now (a
// conditional GET), as `gatehouse lists reload` promises.
func (rf *refresher) recheck() {
	if rf == nil {
		return
	}
	for _, r := range rf.remotes {
		rf.r.Refresh(r.Name, false) // the names are rf's own: never unknown
	}
}
