package logstore

import (
	"context"

	bbolt "go.etcd.io/bbolt"
)

// Following a stream: a watch exists for a stream only while someone waits
// on it. It holds the stream's latest sequence and a channel closed (and
// replaced) on every append, so all waiters wake at once. Writers update it
// after their commit, under writeMu, so watches see commits in order.

type streamKey struct{ group, stream string }

type watch struct {
	seq     uint64        // the stream's last sequence (0: none or deleted)
	ch      chan struct{} // closed when seq changes
	waiters int
}

// Wait blocks until group/stream holds an event whose sequence is greater
// than afterSeq, and returns the stream's latest sequence. It returns at
// once if there already is one. The stream need not exist yet: Wait then
// returns after the first Append creates it. It returns ctx's error when ctx
// ends, and ErrClosed when the store is closed.
//
// A follower reads a page (GetEvents returns Page.LastSeq), handles it, and
// calls Wait with that LastSeq before reading on with the page's forward
// token; no event appended in between is missed.
func (s *Store) Wait(ctx context.Context, group, stream string, afterSeq uint64) (uint64, error) {
	k := streamKey{group, stream}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	w := s.watches[k]
	if w == nil {
		// Read the current sequence while holding mu: a writer that commits
		// after this read notifies after we have registered the watch.
		seq, err := s.lastSeq(group, stream)
		if err != nil {
			s.mu.Unlock()
			return 0, err
		}
		w = &watch{seq: seq, ch: make(chan struct{})}
		s.watches[k] = w
	}
	w.waiters++
	defer func() {
		s.mu.Lock()
		w.waiters--
		if w.waiters == 0 && s.watches[k] == w {
			delete(s.watches, k)
		}
		s.mu.Unlock()
	}()
	for {
		if w.seq > afterSeq {
			seq := w.seq
			s.mu.Unlock()
			return seq, nil
		}
		ch := w.ch
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.done:
			return 0, ErrClosed
		}
		s.mu.Lock()
	}
}

// lastSeq reads a stream's last sequence; 0 if it does not exist.
func (s *Store) lastSeq(group, stream string) (uint64, error) {
	var seq uint64
	err := s.view(func(tx *bbolt.Tx) error {
		_, sb, err := openStream(tx, group, stream)
		if err != nil {
			return nil
		}
		st, err := readStream(sb)
		seq = st.LastSeq
		return err
	})
	return seq, err
}

// notify records that stream k's last sequence is now seq and wakes its waiters.
func (s *Store) notify(k streamKey, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.watches[k]; w != nil && w.seq != seq {
		w.seq = seq
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// resetWatches records that a stream (or, with stream "", every stream of
// group) was deleted: its sequence is 0 again.
func (s *Store) resetWatches(group, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range s.watches {
		if k.group == group && (stream == "" || k.stream == stream) {
			w.seq = 0
		}
	}
}
