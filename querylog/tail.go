package querylog

import (
	"context"
	"sync/atomic"
	"time"
)

type subscriber struct {
	ch      chan Entry
	dropped atomic.Uint64
}

// Subscribe returns the entries this process writes from now on, as each
// batch commits, for the dashboard's live view. The channel has room for
// buf entries; a subscriber that falls behind misses entries (they are
// still in the database) and never slows the writer. Call cancel when done;
// Close also ends every subscription.
func (l *Log) Subscribe(buf int) (entries <-chan Entry, cancel func()) {
	s := &subscriber{ch: make(chan Entry, max(buf, 1))}
	l.subMu.Lock()
	if l.closed.Load() || l.wdb == nil {
		l.subMu.Unlock()
		close(s.ch)
		return s.ch, func() {}
	}
	l.subs[s] = struct{}{}
	l.subMu.Unlock()
	return s.ch, func() {
		l.subMu.Lock()
		if _, ok := l.subs[s]; ok {
			delete(l.subs, s)
			close(s.ch)
		}
		l.subMu.Unlock()
	}
}

// publish fans a committed batch out to subscribers without blocking.
func (l *Log) publish(batch []Entry) {
	l.subMu.Lock()
	defer l.subMu.Unlock()
	for s := range l.subs {
		for i := range batch {
			select {
			case s.ch <- batch[i]:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

// TailPollInterval is how often TailFunc looks for new entries.
const TailPollInterval = 500 * time.Millisecond

// TailFunc calls fn, oldest first, for every entry matching f with an ID
// above after, as entries are written, until ctx ends (it then returns
// nil) or fn or the database fails. It polls the database, so it works
// from another process on a Log from OpenReadOnly: that is "gatehouse logs
// tail". Pass after = 0 to start from entries written from now on, or an
// ID from a Search to continue from it. f.To, f.Limit and f.Cursor are
// ignored.
func (l *Log) TailFunc(ctx context.Context, f Filter, after uint64, fn func(Entry) error) error {
	f.To, f.Cursor = time.Time{}, ""
	if after == 0 {
		last, err := l.lastID(ctx)
		if err != nil {
			return err
		}
		after = last
	}
	t := time.NewTicker(TailPollInterval)
	defer t.Stop()
	for {
		for {
			es, err := l.query(ctx, f, after, true, 1000)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, e := range es {
				if err := fn(e); err != nil {
					return err
				}
				after = e.ID
			}
			if len(es) < 1000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tail is TailFunc as a channel, closed when ctx ends or on a database
// error (which is logged).
func (l *Log) Tail(ctx context.Context, f Filter, after uint64) <-chan Entry {
	ch := make(chan Entry, 64)
	go func() {
		defer close(ch)
		err := l.TailFunc(ctx, f, after, func(e Entry) error {
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			l.log.Warn("query log tail stopped", "err", err)
		}
	}()
	return ch
}

func (l *Log) lastID(ctx context.Context) (uint64, error) {
	var id *int64
	if err := l.rdb.QueryRowContext(ctx, `SELECT coalesce((SELECT max(id) FROM recent), (SELECT max(id) FROM entries))`).Scan(&id); err != nil {
		return 0, err
	}
	if id == nil {
		return 0, nil
	}
	return uint64(*id), nil
}
