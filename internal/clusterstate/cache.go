package clusterstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/berth-io/berth/internal/store"
)

// Sentinel errors.
var (
	// ErrStopped is returned by WaitFor once Run has returned: the cache
	// no longer follows the store.
	ErrStopped = errors.New("clusterstate: cache stopped")
	// errWatchClosed says the watch channel closed while ctx was live: the
	// store dropped a slow watcher, so events were missed.
	errWatchClosed = errors.New("clusterstate: watch channel closed")
)

// watchPrefix is the prefix every indexed key (and every key of package
// state) starts with. One watch on it sees every change in revision order,
// so the changes of one Txn arrive together and in op order.
const watchPrefix = "ecs/"

// maxBatch bounds the events applied under one write lock, so readers
// wait at most that long.
const maxBatch = 256

// Cache is a watch-fed, in-memory index of the store's ECS records. See
// the package comment. Create it with New and start it with Run; its
// methods are safe for concurrent use.
type Cache struct {
	st  store.Store
	log *slog.Logger

	mu  sync.RWMutex
	idx *index // guarded by mu; never nil
	rev int64  // guarded by mu: revision of the last change applied, or of the listing

	ready     chan struct{} // closed after the first listing is indexed
	readyOnce sync.Once
	stopped   chan struct{} // closed when Run returns
	ran       atomic.Bool

	// done is the revision through which every change is known applied,
	// whole. WaitFor waits on it. It trails rev while the applier has seen
	// part of a revision's events and cannot yet know it has them all.
	done atomic.Int64
	kick chan struct{} // buffered (1): WaitFor asks the applier for a fence

	wmu     sync.Mutex
	waiters []*waiter // guarded by wmu

	relists atomic.Int64 // listings indexed, for tests
}

// waiter is one WaitFor call.
type waiter struct {
	rev int64
	// published is the store revision when WaitFor was called. When rev <=
	// published, the events of rev were in the watch channel (or already
	// applied) before the waiter was registered, so a fence may release
	// it.
	published int64
	ch        chan struct{} // closed on release
}

// New returns a cache over st. It indexes nothing until Run runs. logger
// receives one line per (re-)listing.
func New(st store.Store, logger *slog.Logger) *Cache {
	return &Cache{
		st:      st,
		log:     logger.With("component", "clusterstate"),
		idx:     emptyIndex(),
		ready:   make(chan struct{}),
		stopped: make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}
}

// Ready is closed once the cache has indexed its first listing; until then
// every accessor answers as for an empty store.
func (c *Cache) Ready() <-chan struct{} { return c.ready }

// Revision returns the store revision of the last change the cache has
// applied (or of its listing).
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// Run lists the store, indexes the listing and follows the store's watch
// until ctx ends; then it returns nil. When the watch cannot continue (the
// store compacted the revisions the cache needs, or dropped the cache as
// a slow watcher), Run lists again, builds a new index aside and swaps it
// in whole, so readers see either the old state or the new one, never a
// half-built one. Run returns an error when the store fails (for example
// store.ErrClosed) or holds a record that does not decode; the accessors
// then keep answering from the last state, which no longer moves. Call it
// once.
func (c *Cache) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("clusterstate: Run called twice")
	}
	defer close(c.stopped)
	for {
		ch, err := c.resync(ctx)
		if err == nil {
			err = c.follow(ctx, ch)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrCompacted), errors.Is(err, errWatchClosed):
			c.log.Info("watch fell behind; listing again", "reason", err, "revision", c.Revision())
		default:
			return err
		}
	}
}

// resync lists everything, swaps in the index built from the listing and
// watches from the listed revision.
func (c *Cache) resync(ctx context.Context) (<-chan store.Event, error) {
	kvs, rev, err := c.st.List(ctx, watchPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", watchPrefix, err)
	}
	n := len(kvs)
	x, err := buildIndex(kvs)
	if err != nil {
		return nil, err
	}
	x.publish()
	c.mu.Lock()
	c.idx, c.rev = x, rev
	c.mu.Unlock()
	c.relists.Add(1)
	c.readyOnce.Do(func() { close(c.ready) })
	c.log.Info("indexed listing", "revision", rev, "keys", n)
	c.advance(rev)
	// Watch after indexing: the store replays what happened meanwhile
	// from its history.
	ch, err := c.st.Watch(ctx, watchPrefix, rev)
	if err != nil {
		return nil, fmt.Errorf("watch %s from revision %d: %w", watchPrefix, rev, err)
	}
	return ch, nil
}

// follow applies the watch's events until ctx ends (it returns nil), the
// channel closes (errWatchClosed) or an event does not decode.
func (c *Cache) follow(ctx context.Context, ch <-chan store.Event) error {
	var (
		events  = make([]store.Event, 0, maxBatch)
		changes = make([]change, 0, maxBatch)
	)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				return errWatchClosed
			}
			events = append(events[:0], e)
			closed := drain(ch, &events)
			if err := c.applyEvents(events, &changes); err != nil {
				return err
			}
			if closed {
				return errWatchClosed
			}
		case <-c.kick:
			if err := c.fence(ch, &events, &changes); err != nil {
				return err
			}
		}
	}
}

// drain appends the events ready in ch to events, up to maxBatch, without
// blocking. It reports whether ch is closed.
func drain(ch <-chan store.Event, events *[]store.Event) (closed bool) {
	for len(*events) < maxBatch {
		select {
		case e, ok := <-ch:
			if !ok {
				return true
			}
			*events = append(*events, e)
		default:
			return false
		}
	}
	return false
}

// applyEvents decodes events (without the lock) and applies them under one
// write lock.
func (c *Cache) applyEvents(events []store.Event, changes *[]change) error {
	if len(events) == 0 {
		return nil
	}
	cs, err := decodeEvents(events, *changes)
	if err != nil {
		return err
	}
	last := events[len(events)-1].KV.ModRevision
	c.mu.Lock()
	for i := range cs {
		c.idx.apply(&cs[i])
	}
	c.rev = last
	c.mu.Unlock()
	clear(cs) // drop the records; the index holds them
	*changes = cs[:0]
	// Events come in revision order: having seen one of revision last,
	// every earlier revision is whole.
	c.advance(last - 1)
	return nil
}

// fence serves WaitFor calls whose revision had been published when they
// were made: their events are in ch already, so once ch has been drained
// after they registered, they are applied. Waiters that registered after
// the fence started wait for the next one (they kicked again).
func (c *Cache) fence(ch <-chan store.Event, events *[]store.Event, changes *[]change) error {
	c.wmu.Lock()
	var fenced []*waiter
	for _, w := range c.waiters {
		if w.rev <= w.published {
			fenced = append(fenced, w)
		}
	}
	c.wmu.Unlock()
	if len(fenced) == 0 {
		return nil
	}
	for {
		*events = (*events)[:0]
		closed := drain(ch, events)
		if err := c.applyEvents(*events, changes); err != nil {
			return err
		}
		if closed {
			return errWatchClosed
		}
		if len(*events) < maxBatch {
			break // ch was empty
		}
	}
	var through int64
	for _, w := range fenced {
		through = max(through, w.rev)
	}
	c.advance(through)
	return nil
}

// advance records that every change through rev is applied and releases
// the waiters it satisfies.
func (c *Cache) advance(rev int64) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if rev > c.done.Load() {
		c.done.Store(rev)
	}
	done := c.done.Load()
	c.waiters = slices.DeleteFunc(c.waiters, func(w *waiter) bool {
		if w.rev <= done {
			close(w.ch)
			return true
		}
		return false
	})
}

// WaitFor returns once the cache has applied every change committed at or
// before revision rev — all the ops of each Txn, not part of one — so a
// writer that committed at rev reads its own write from the cache after
// WaitFor(ctx, rev). rev should be one a Txn returned (the store publishes
// a Txn's events before returning): then WaitFor returns as soon as the
// cache has drained its watch, even when rev changed no key the cache
// watches. For a revision not yet published, it waits for the first later
// change under ecs/ (or a re-listing) to show rev is past. It returns
// ctx.Err() if ctx ends first, and ErrStopped once Run has returned.
func (c *Cache) WaitFor(ctx context.Context, rev int64) error {
	if rev <= c.done.Load() {
		return nil
	}
	published, err := c.st.Revision(ctx)
	if err != nil {
		return fmt.Errorf("wait for revision %d: %w", rev, err)
	}
	w := &waiter{rev: rev, published: published, ch: make(chan struct{})}
	c.wmu.Lock()
	if rev <= c.done.Load() {
		c.wmu.Unlock()
		return nil
	}
	c.waiters = append(c.waiters, w)
	c.wmu.Unlock()
	if rev <= published {
		select {
		case c.kick <- struct{}{}:
		default: // a fence is already due; it will see w
		}
	}
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		c.dropWaiter(w)
		return ctx.Err()
	case <-c.stopped:
		c.dropWaiter(w)
		select {
		case <-w.ch: // released just before Run returned
			return nil
		default:
			return ErrStopped
		}
	}
}

func (c *Cache) dropWaiter(w *waiter) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.waiters = slices.DeleteFunc(c.waiters, func(x *waiter) bool { return x == w })
}
