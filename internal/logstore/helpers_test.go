package logstore

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var bg = context.Background()

// t0 is the fake clock's start.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = kept
}

// Timers returns how many timers are pending.
func (c *fakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// nowMs returns the clock's time in epoch milliseconds.
func (c *fakeClock) nowMs() int64 { return c.Now().UnixMilli() }

// newTestStore opens a store in t.TempDir with a fake clock; opts.Clock
// and opts.Logger are filled in if unset.
func newTestStore(t testing.TB, opts Options) (*Store, *fakeClock, string) {
	t.Helper()
	clk := newFakeClock()
	if opts.Clock == nil {
		opts.Clock = clk
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	path := filepath.Join(t.TempDir(), "logs.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk, path
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// events builds events from (timestamp, message) pairs.
func events(pairs ...any) []Event {
	var out []Event
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Event{Timestamp: int64(pairs[i].(int)), Message: pairs[i+1].(string)})
	}
	return out
}

// messages returns the events' messages.
func messages(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func filteredMessages(evs []FilteredEvent) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Stream+":"+e.Message)
	}
	return out
}

// mustAppend appends or fails the test.
func mustAppend(t testing.TB, s *Store, group, stream string, evs []Event) {
	t.Helper()
	if err := s.Append(bg, group, stream, evs); err != nil {
		t.Fatalf("append %s/%s: %v", group, stream, err)
	}
}

// readAll reads a whole stream from the head.
func readAll(t testing.TB, s *Store, group, stream string) []Event {
	t.Helper()
	p, err := s.GetEvents(bg, group, stream, Query{StartFromHead: true})
	if err != nil {
		t.Fatalf("get events %s/%s: %v", group, stream, err)
	}
	return p.Events
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
