package logstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

type waitResult struct {
	seq uint64
	err error
}

func waitAsync(s *Store, ctx context.Context, group, stream string, after uint64) chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		seq, err := s.Wait(ctx, group, stream, after)
		ch <- waitResult{seq, err}
	}()
	return ch
}

// waiters returns how many Waits are registered on group/stream.
func waiters(s *Store, group, stream string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.watches[streamKey{group, stream}]; w != nil {
		return w.waiters
	}
	return 0
}

func TestWaitWakesOnAppend(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	mustAppend(t, s, "g", "s", events(1, "a"))
	p, err := s.GetEvents(bg, "g", "s", Query{StartFromHead: true})
	if err != nil {
		t.Fatal(err)
	}

	ch := waitAsync(s, bg, "g", "s", p.LastSeq)
	eventually(t, "Wait to block", func() bool { return waiters(s, "g", "s") == 1 })
	select {
	case r := <-ch:
		t.Fatalf("Wait returned %+v before any append", r)
	default:
	}
	mustAppend(t, s, "g", "other", events(2, "elsewhere"))
	mustAppend(t, s, "g", "s", events(2, "b"))
	r := <-ch
	if r.err != nil || r.seq <= p.LastSeq {
		t.Fatalf("got %+v, want a seq after %d", r, p.LastSeq)
	}
	p, err = s.GetEvents(bg, "g", "s", Query{Token: p.ForwardToken})
	if err != nil || len(p.Events) != 1 || p.Events[0].Message != "b" {
		t.Fatalf("read after wake: got %+v, %v; want event b", p.Events, err)
	}
	eventually(t, "the watch to go", func() bool { return waiters(s, "g", "s") == 0 })
}

func TestWaitReturnsAtOnceWhenBehind(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	mustAppend(t, s, "g", "s", events(1, "a", 2, "b"))
	seq, err := s.Wait(bg, "g", "s", 0)
	if err != nil || seq != 2 {
		t.Fatalf("got %d, %v; want 2", seq, err)
	}
}

func TestWaitForAStreamNotYetCreated(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	ch := waitAsync(s, bg, "g", "later", 0)
	eventually(t, "Wait to block", func() bool { return waiters(s, "g", "later") == 1 })
	mustAppend(t, s, "g", "later", events(1, "hello"))
	if r := <-ch; r.err != nil || r.seq == 0 {
		t.Fatalf("got %+v, want a seq", r)
	}
}

func TestWaitAfterDeleteAndRecreate(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	mustAppend(t, s, "g", "s", events(1, "a"))
	ch := waitAsync(s, bg, "g", "s", 1)
	eventually(t, "Wait to block", func() bool { return waiters(s, "g", "s") == 1 })
	if err := s.DeleteGroup(bg, "g"); err != nil {
		t.Fatal(err)
	}
	// Deleting does not wake it (nothing new to read); a new event does.
	mustAppend(t, s, "g", "s", events(1, "again"))
	if r := <-ch; r.err != nil || r.seq <= 1 {
		t.Fatalf("got %+v, want a seq after 1", r)
	}
}

func TestWaitEnds(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, "g", "s", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: got %v, want DeadlineExceeded", err)
	}

	ch := waitAsync(s, bg, "g", "s", 0)
	eventually(t, "Wait to block", func() bool { return waiters(s, "g", "s") == 1 })
	s.Close()
	if r := <-ch; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("close: got %+v, want ErrClosed", r)
	}
	if _, err := s.Wait(bg, "g", "s", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: got %v, want ErrClosed", err)
	}
	if err := s.Append(bg, "g", "s", events(1, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: got %v, want ErrClosed", err)
	}
}
