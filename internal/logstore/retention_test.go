package logstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const day = 24 * time.Hour

// ms returns the epoch milliseconds of t0 minus ago.
func ago(d time.Duration) int { return int(t0.Add(-d).UnixMilli()) }

func TestSweepAppliesRetention(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	// One day of retention.
	if err := s.CreateGroup(bg, Group{Name: "short", RetentionDays: 1}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "short", "mixed", events(ago(3*day), "old", ago(25*time.Hour), "old2", ago(23*time.Hour), "kept", ago(time.Hour), "new"))
	mustAppend(t, s, "short", "expired", events(ago(2*day), "gone", ago(30*time.Hour), "gone2"))
	if err := s.CreateStream(bg, "short", "never-written"); err != nil {
		t.Fatal(err)
	}
	// No policy: the 7-day default applies.
	mustAppend(t, s, "default", "s", events(ago(8*day), "old", ago(6*day), "kept"))
	// A long policy keeps everything here.
	if err := s.CreateGroup(bg, Group{Name: "long", RetentionDays: 3653}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "long", "s", events(ago(100*day), "kept"))

	n, err := s.Sweep(bg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("deleted %d events, want 5", n)
	}
	if diff := cmp.Diff([]string{"kept", "new"}, messages(readAll(t, s, "short", "mixed"))); diff != "" {
		t.Errorf("short/mixed (-want +got):\n%s", diff)
	}
	st, err := s.Stream(bg, "short", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	if st.FirstEventTimestamp != int64(ago(23*time.Hour)) || st.StoredBytes != int64(len("keptnew")) || st.Events != 2 {
		t.Errorf("short/mixed after sweep: got %+v, want first event %d, 7 bytes, 2 events", st, ago(23*time.Hour))
	}
	// A stream whose events all expired goes; so does one never written
	// but older than the retention? Not yet: it was created just now.
	sts, _ := s.Streams(bg, "short", "", ByName, false)
	var got []string
	for _, st := range sts {
		got = append(got, st.Name)
	}
	if diff := cmp.Diff([]string{"mixed", "never-written"}, got); diff != "" {
		t.Errorf("streams of short (-want +got):\n%s", diff)
	}
	if g, _ := s.Group(bg, "short"); g.StoredBytes != int64(len("keptnew")) {
		t.Errorf("group bytes: got %d, want %d", g.StoredBytes, len("keptnew"))
	}
	if diff := cmp.Diff([]string{"kept"}, messages(readAll(t, s, "default", "s"))); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kept"}, messages(readAll(t, s, "long", "s"))); diff != "" {
		t.Errorf("long (-want +got):\n%s", diff)
	}

	// Two days on, the empty stream has outlived the retention too.
	if _, err := s.Sweep(bg, t0.Add(2*day)); err != nil {
		t.Fatal(err)
	}
	sts, _ = s.Streams(bg, "short", "", ByName, false)
	if len(sts) != 0 {
		t.Errorf("streams of short two days later: got %d, want none", len(sts))
	}
	if _, err := s.Group(bg, "short"); err != nil {
		t.Errorf("the group itself must stay: %v", err)
	}
}

func TestSweepKeepsForeverWithoutDefault(t *testing.T) {
	s, _, _ := newTestStore(t, Options{DefaultRetention: -1})
	mustAppend(t, s, "g", "s", events(ago(1000*day), "ancient"))
	if n, err := s.Sweep(bg, t0); err != nil || n != 0 {
		t.Fatalf("got %d, %v; want nothing deleted", n, err)
	}
	if err := s.SetRetention(bg, "g", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(bg, t0); err != nil || n != 1 {
		t.Fatalf("with a policy: got %d, %v; want 1 deleted", n, err)
	}
}

func TestSweepCapsStreamBytes(t *testing.T) {
	s, _, _ := newTestStore(t, Options{MaxStreamBytes: 10, DefaultRetention: -1})
	mustAppend(t, s, "g", "s", events(1, "aaaa", 2, "bbbb", 3, "cccc", 4, "dddd"))
	mustAppend(t, s, "g", "small", events(1, "x"))
	n, err := s.Sweep(bg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	if diff := cmp.Diff([]string{"cccc", "dddd"}, messages(readAll(t, s, "g", "s"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if g, _ := s.Group(bg, "g"); g.StoredBytes != 9 {
		t.Errorf("group bytes: got %d, want 9", g.StoredBytes)
	}
}

func TestSweepInChunks(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	s.sweepChunk = 3
	var evs []Event
	for i := range 10 {
		evs = append(evs, Event{Timestamp: int64(ago(30*day)) + int64(i), Message: "old"})
	}
	evs = append(evs, Event{Timestamp: int64(ago(time.Hour)), Message: "new"})
	mustAppend(t, s, "g", "s", evs)
	n, err := s.Sweep(bg, t0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("deleted %d, want 10", n)
	}
	if diff := cmp.Diff([]string{"new"}, messages(readAll(t, s, "g", "s"))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestSweepStopsWithContext(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	mustAppend(t, s, "g", "s", events(ago(30*day), "old"))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Sweep(ctx, t0); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestRunSweepsOnTheClock(t *testing.T) {
	s, clk, _ := newTestStore(t, Options{SweepInterval: time.Minute})
	mustAppend(t, s, "g", "s", events(ago(8*day), "old", ago(7*day-30*time.Second), "soon", ago(time.Hour), "new"))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	count := func() int { return len(readAll(t, s, "g", "s")) }
	// The first sweep runs at once.
	eventually(t, "the first sweep", func() bool { return count() == 2 })
	eventually(t, "Run to wait for the next tick", func() bool { return clk.Timers() == 1 })
	clk.Advance(time.Minute)
	eventually(t, "the second sweep", func() bool { return count() == 1 })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
}

func TestRunEndsOnClose(t *testing.T) {
	s, clk, _ := newTestStore(t, Options{})
	done := make(chan error, 1)
	go func() { done <- s.Run(bg) }()
	eventually(t, "Run to wait for the next tick", func() bool { return clk.Timers() == 1 })
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
}
