// Package bolt implements store.Store over an embedded bbolt file.
//
// Layout: bucket "kv" maps each key to a record (format byte, ModRevision,
// CreateRevision, value); bucket "meta" holds the store-wide revision, which
// is written in the same bbolt transaction as the change it counts, so the
// two can never disagree after a crash.
//
// Durability: every commit is fsync'd (bbolt's NoSync stays false), and Txn
// returns only after its commit is on disk. The freelist is not synced
// (NoFreelistSync): commits write fewer pages, and on open bbolt rebuilds the
// freelist by scanning the file, which is cheap at berth's sizes. Both modes
// are equally crash-safe; not syncing the freelist saves writing it on every
// commit, which matters more as the file grows and fragments (at small sizes
// the fsyncs dominate and the two measure the same). etcd makes the same
// choice.
//
// Writes go through one committer goroutine that does group commit: Txns
// that arrive while a commit is being fsync'd are applied together in the
// next bbolt transaction, one after another, each against the state left by
// the ones before it, so each keeps its own conditions, its own revision
// and its own outcome (a conflict fails only that Txn), but they share one
// fsync. Reads (Get, List) are bbolt read transactions and run in parallel.
//
// Watch is served from an in-memory ring of recent events (Options.
// HistorySize); history older than the ring, or older than the last Open,
// is compacted.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/berth-io/berth/internal/store"
)

// ErrLocked is returned (wrapped) by Open when another process holds the
// database file, typically a second berth server on the same data directory.
var ErrLocked = errors.New("bolt: database file is locked by another process")

// Defaults for Options fields left zero.
const (
	DefaultHistorySize = 10000
	DefaultWatchBuffer = 1024
	DefaultLockTimeout = time.Second
)

// Limits of one group commit. A single Txn larger than maxBatchOps still
// commits alone.
const (
	maxBatchTxns = 512
	maxBatchOps  = 16384
)

// File layout names.
const (
	kvBucket     = "kv"
	metaBucket   = "meta"
	revisionKey  = "revision"
	formatKey    = "format"
	formatValue  = "berth-store-1"
	recordFormat = byte(1)
)

// recordHeader is the size of a record's header: format byte, ModRevision,
// CreateRevision (big-endian uint64 each).
const recordHeader = 1 + 8 + 8

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// HistorySize is how many recent events are kept in memory for Watch to
	// replay (default DefaultHistorySize). A Watch from a revision whose
	// events have left the ring returns store.ErrCompacted.
	HistorySize int
	// WatchBuffer is each watcher's channel buffer beyond its replay
	// (default DefaultWatchBuffer). A watcher whose buffer fills is closed.
	WatchBuffer int
	// LockTimeout is how long Open waits for the file lock before failing
	// with ErrLocked (default DefaultLockTimeout).
	LockTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.HistorySize <= 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = DefaultWatchBuffer
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	return o
}

// Store is a store.Store backed by a bbolt file. It is safe for concurrent
// use.
type Store struct {
	db   *bbolt.DB
	opts Options

	closed atomic.Bool
	// rev is the latest revision published to watchers (and returned by
	// Revision). It trails the on-disk revision only for the instant between
	// a commit and its publication.
	rev atomic.Int64

	reqs     chan *txnReq
	quit     chan struct{} // closed by Close: the committer stops
	loopDone chan struct{} // closed by the committer when it has stopped

	// Counters for tests and benchmarks: bbolt commits and Txns applied.
	commits atomic.Int64
	applied atomic.Int64

	mu         sync.Mutex // guards history, compactRev and watchers
	history    ring
	compactRev int64 // events with revision > compactRev are all in history
	watchers   map[*watcher]struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path. If another process
// holds the file, Open fails after opts.LockTimeout with an error wrapping
// ErrLocked.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        opts.LockTimeout,
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w (waited %s; is another berth server using this data directory?): %w",
				path, ErrLocked, opts.LockTimeout, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	var rev int64
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists([]byte(kvBucket)); err != nil {
			return fmt.Errorf("create bucket %s: %w", kvBucket, err)
		}
		meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", metaBucket, err)
		}
		switch f := meta.Get([]byte(formatKey)); {
		case f == nil:
			if err := meta.Put([]byte(formatKey), []byte(formatValue)); err != nil {
				return fmt.Errorf("write format: %w", err)
			}
		case string(f) != formatValue:
			return fmt.Errorf("check format: file has format %q, want %q", f, formatValue)
		}
		if b := meta.Get([]byte(revisionKey)); b != nil {
			if len(b) != 8 {
				return fmt.Errorf("read revision: bad length %d", len(b))
			}
			rev = int64(binary.BigEndian.Uint64(b))
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if created {
		// bbolt fsyncs the file but not the directory entry that names it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}

	s := &Store{
		db:         db,
		opts:       opts,
		reqs:       make(chan *txnReq, maxBatchTxns),
		quit:       make(chan struct{}),
		loopDone:   make(chan struct{}),
		history:    newRing(opts.HistorySize),
		compactRev: rev,
		watchers:   make(map[*watcher]struct{}),
	}
	s.rev.Store(rev)
	go s.commitLoop(rev)
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// mapClosed turns bbolt's "database not open" (a read racing Close) into
// store.ErrClosed.
func mapClosed(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	if s.closed.Load() {
		return store.KV{}, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return store.KV{}, err
	}
	var kv store.KV
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket([]byte(kvBucket)).Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		kv, err = decodeRecord(key, v)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.KV{}, store.ErrNotFound
		}
		return store.KV{}, fmt.Errorf("get %q: %w", key, mapClosed(err))
	}
	return kv, nil
}

// List implements store.Store. The listing and the revision come from one
// read transaction, so they are consistent.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	if s.closed.Load() {
		return nil, 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var (
		out []store.KV
		rev int64
	)
	err := s.db.View(func(tx *bbolt.Tx) error {
		rev = readRevision(tx)
		p := []byte(prefix)
		c := tx.Bucket([]byte(kvBucket)).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list %q: %w", prefix, mapClosed(err))
	}
	return out, rev, nil
}

// Revision implements store.Store. It reads no file. It takes s.mu, so it
// never returns a revision whose events are still being handed to the
// watchers: a caller that saw revision R (from a Txn or its own watch)
// and then reads Revision gets at least R, and every watcher already holds
// R's events — which is what a watch-fed cache's WaitFor relies on.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev.Load(), nil
}

// Txn implements store.Store. Once queued, a Txn always waits for its
// definite outcome: if its ctx ends before the committer reaches it, it is
// skipped and returns ctx.Err(); if the committer has already applied it,
// it returns the new revision even though ctx has ended meanwhile. So an
// error from Txn means nothing was applied. (Should the bbolt commit itself
// fail, e.g. on a full disk, every Txn of that group commit gets the error
// and none is applied.)
func (s *Store) Txn(ctx context.Context, ops ...store.Op) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(ops) == 0 {
		return s.rev.Load(), nil
	}
	prepared, err := prepareOps(ops)
	if err != nil {
		return 0, err
	}
	r := &txnReq{ctx: ctx, ops: prepared, reply: make(chan txnResult, 1)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return 0, store.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.rev, res.err
	case <-s.loopDone:
		// The committer has stopped; it may have answered just before.
		select {
		case res := <-r.reply:
			return res.rev, res.err
		default:
			return 0, store.ErrClosed
		}
	}
}

// prepareOps validates ops and copies them with their values, so the caller
// may reuse its slices and the copies can be shared with watchers.
func prepareOps(ops []store.Op) ([]store.Op, error) {
	out := make([]store.Op, len(ops))
	var seen map[string]struct{}
	if len(ops) > 1 {
		seen = make(map[string]struct{}, len(ops))
	}
	for i, op := range ops {
		switch {
		case op.Key == "":
			return nil, fmt.Errorf("check op %d: empty key", i)
		case len(op.Key) > bbolt.MaxKeySize:
			return nil, fmt.Errorf("check op %d: key of %d bytes exceeds %d", i, len(op.Key), bbolt.MaxKeySize)
		case op.Kind != store.OpPut && op.Kind != store.OpDelete:
			return nil, fmt.Errorf("check op %d on %q: unknown kind %d", i, op.Key, op.Kind)
		case op.Want < store.Any:
			return nil, fmt.Errorf("check op %d on %q: invalid revision condition %d", i, op.Key, op.Want)
		case len(op.Value) > bbolt.MaxValueSize-recordHeader:
			return nil, fmt.Errorf("check op %d on %q: value of %d bytes is too large", i, op.Key, len(op.Value))
		}
		if seen != nil {
			if _, dup := seen[op.Key]; dup {
				return nil, fmt.Errorf("check op %d: duplicate key %q in one txn", i, op.Key)
			}
			seen[op.Key] = struct{}{}
		}
		out[i] = store.Op{Kind: op.Kind, Key: op.Key, Want: op.Want}
		if op.Kind == store.OpPut {
			out[i].Value = bytes.Clone(op.Value)
			if out[i].Value == nil {
				out[i].Value = []byte{}
			}
		}
	}
	return out, nil
}

type txnReq struct {
	ctx   context.Context
	ops   []store.Op
	reply chan txnResult // buffered (1): the committer never blocks on it
}

type txnResult struct {
	rev int64
	err error
}

// commitLoop is the single writer. It takes every Txn queued while the
// previous commit was in flight and commits them together.
func (s *Store) commitLoop(rev int64) {
	defer close(s.loopDone)
	batch := make([]*txnReq, 0, maxBatchTxns)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.quit:
			s.failQueued()
			return
		}
		nops := len(batch[0].ops)
	gather:
		for len(batch) < maxBatchTxns && nops < maxBatchOps {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				nops += len(r.ops)
			default:
				break gather
			}
		}
		rev = s.commit(batch, rev)
		clear(batch) // drop references to answered requests
	}
}

// failQueued answers every queued Txn with ErrClosed.
func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.reqs:
			r.reply <- txnResult{err: store.ErrClosed}
		default:
			return
		}
	}
}

// commit applies batch in one bbolt transaction and returns the revision
// after it. Events are published to watchers before any Txn is answered,
// so a caller that sees its Txn succeed also sees it in Revision.
func (s *Store) commit(batch []*txnReq, rev int64) int64 {
	results := make([]txnResult, len(batch))
	var events []store.Event
	newRev := rev
	applied := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(kvBucket))
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			// Check every condition before applying anything. Keys are
			// unique within a Txn, so checking against the state before the
			// Txn is the same as checking op by op.
			creates := make([]int64, len(r.ops)) // 0: key absent
			var conflict error
			for j, op := range r.ops {
				mod, create, exists, err := readHeader(b.Get([]byte(op.Key)))
				if err != nil {
					return fmt.Errorf("read %q: %w", op.Key, err)
				}
				if !conditionHolds(op.Want, exists, mod) {
					conflict = &store.ConflictError{Key: op.Key, Want: op.Want, Have: mod}
					break
				}
				if exists {
					creates[j] = create
				}
			}
			if conflict != nil {
				results[i].err = conflict
				continue
			}
			next := newRev + 1
			changed := false
			for j, op := range r.ops {
				switch op.Kind {
				case store.OpPut:
					create := creates[j]
					if create == 0 {
						create = next
					}
					if err := b.Put([]byte(op.Key), encodeRecord(op.Value, next, create)); err != nil {
						return fmt.Errorf("put %q: %w", op.Key, err)
					}
					events = append(events, store.Event{Type: store.EventPut, KV: store.KV{
						Key: op.Key, Value: op.Value, ModRevision: next, CreateRevision: create,
					}})
					changed = true
				case store.OpDelete:
					if creates[j] == 0 {
						continue // deleting a missing key changes nothing
					}
					if err := b.Delete([]byte(op.Key)); err != nil {
						return fmt.Errorf("delete %q: %w", op.Key, err)
					}
					events = append(events, store.Event{Type: store.EventDelete, KV: store.KV{
						Key: op.Key, ModRevision: next,
					}})
					changed = true
				}
			}
			if changed {
				newRev = next
				applied++
			}
			results[i].rev = newRev
		}
		if newRev == rev {
			return nil
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(newRev))
		if err := tx.Bucket([]byte(metaBucket)).Put([]byte(revisionKey), buf[:]); err != nil {
			return fmt.Errorf("put revision: %w", err)
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("commit txn: %w", mapClosed(err))
		for _, r := range batch {
			r.reply <- txnResult{err: err}
		}
		return rev
	}
	s.commits.Add(1)
	s.applied.Add(int64(applied))
	if newRev != rev {
		s.publish(events, newRev)
	}
	for i, r := range batch {
		r.reply <- results[i]
	}
	return newRev
}

func conditionHolds(want int64, exists bool, mod int64) bool {
	switch want {
	case store.Any:
		return true
	case store.Absent:
		return !exists
	default:
		return exists && mod == want
	}
}

func encodeRecord(value []byte, mod, create int64) []byte {
	b := make([]byte, recordHeader+len(value))
	b[0] = recordFormat
	binary.BigEndian.PutUint64(b[1:9], uint64(mod))
	binary.BigEndian.PutUint64(b[9:17], uint64(create))
	copy(b[recordHeader:], value)
	return b
}

// readHeader decodes a record's revisions; a nil record is a missing key.
func readHeader(b []byte) (mod, create int64, exists bool, err error) {
	if b == nil {
		return 0, 0, false, nil
	}
	if len(b) < recordHeader || b[0] != recordFormat {
		return 0, 0, false, fmt.Errorf("decode record: bad header (%d bytes)", len(b))
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), int64(binary.BigEndian.Uint64(b[9:17])), true, nil
}

// decodeRecord copies a record out of bbolt's memory map.
func decodeRecord(key string, b []byte) (store.KV, error) {
	mod, create, _, err := readHeader(b)
	if err != nil {
		return store.KV{}, fmt.Errorf("decode %q: %w", key, err)
	}
	return store.KV{
		Key:            key,
		Value:          bytes.Clone(b[recordHeader:]),
		ModRevision:    mod,
		CreateRevision: create,
	}, nil
}

func readRevision(tx *bbolt.Tx) int64 {
	b := tx.Bucket([]byte(metaBucket)).Get([]byte(revisionKey))
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Watch implements store.Store. The returned channel's buffer holds the
// whole replay plus Options.WatchBuffer events. A watcher whose buffer is
// full when an event arrives has its channel closed: it must re-list and
// watch again.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (<-chan store.Event, error) {
	if afterRev < 0 {
		return nil, fmt.Errorf("watch %q: negative revision %d", prefix, afterRev)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if afterRev < s.compactRev {
		return nil, fmt.Errorf("watch %q from revision %d (oldest kept: %d): %w",
			prefix, afterRev, s.compactRev+1, store.ErrCompacted)
	}
	var replay []store.Event
	for i := s.history.search(afterRev); i < s.history.len(); i++ {
		if e := s.history.at(i); strings.HasPrefix(e.KV.Key, prefix) {
			replay = append(replay, e)
		}
	}
	w := &watcher{
		prefix: prefix,
		after:  afterRev,
		ch:     make(chan store.Event, len(replay)+s.opts.WatchBuffer),
	}
	for _, e := range replay {
		w.ch <- e
	}
	s.watchers[w] = struct{}{}
	w.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.dropWatcher(w)
	})
	return w.ch, nil
}

type watcher struct {
	prefix string
	after  int64 // events at or before this revision are not for this watcher
	ch     chan store.Event
	stop   func() bool // releases the ctx hook
}

// dropWatcher closes w's channel once. s.mu must be held.
func (s *Store) dropWatcher(w *watcher) {
	if _, ok := s.watchers[w]; !ok {
		return
	}
	delete(s.watchers, w)
	close(w.ch)
	if w.stop != nil {
		w.stop()
	}
}

// publish records events in the history and hands them to watchers without
// ever blocking.
func (s *Store) publish(events []store.Event, rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if evicted, ok := s.history.push(e); ok && evicted.KV.ModRevision > s.compactRev {
			s.compactRev = evicted.KV.ModRevision
		}
	}
	s.rev.Store(rev)
	for w := range s.watchers {
		s.send(w, events)
	}
}

// send hands w the events it wants, or drops w if its buffer is full (it
// fell behind and must re-list). s.mu must be held.
func (s *Store) send(w *watcher, events []store.Event) {
	for _, e := range events {
		if e.KV.ModRevision <= w.after || !strings.HasPrefix(e.KV.Key, w.prefix) {
			continue
		}
		select {
		case w.ch <- e:
		default:
			s.dropWatcher(w)
			return
		}
	}
}

// Close implements store.Store: it waits for the commit in flight, fails
// queued Txns with store.ErrClosed, closes every watch channel and closes
// the file.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return store.ErrClosed
	}
	close(s.quit)
	<-s.loopDone
	s.mu.Lock()
	for w := range s.watchers {
		s.dropWatcher(w)
	}
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// ring is a fixed-capacity FIFO of events in revision order.
type ring struct {
	buf   []store.Event
	start int
	n     int
}

func newRing(size int) ring { return ring{buf: make([]store.Event, size)} }

func (r *ring) len() int { return r.n }

func (r *ring) at(i int) store.Event { return r.buf[(r.start+i)%len(r.buf)] }

// push appends e, evicting and returning the oldest event when full.
func (r *ring) push(e store.Event) (evicted store.Event, ok bool) {
	if r.n == len(r.buf) {
		evicted, ok = r.buf[r.start], true
		r.buf[r.start] = e
		r.start = (r.start + 1) % len(r.buf)
		return evicted, ok
	}
	r.buf[(r.start+r.n)%len(r.buf)] = e
	r.n++
	return store.Event{}, false
}

// search returns the index of the first event with revision > rev.
func (r *ring) search(rev int64) int {
	return sort.Search(r.n, func(i int) bool { return r.at(i).KV.ModRevision > rev })
}
