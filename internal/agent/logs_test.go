package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
)

// shipped collects what a log shipper sends; fail makes the next sends
// fail.
type shipped struct {
	mu    sync.Mutex
	lines []string // "group|stream|message"
	posts int
	fail  int
}

func (s *shipped) send(ctx context.Context, streams []agent.LogStream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("server unreachable")
	}
	s.posts++
	for _, st := range streams {
		for _, e := range st.Events {
			if e.TimestampMs == 0 {
				return errors.New("event without a timestamp")
			}
			s.lines = append(s.lines, st.Group+"|"+st.Stream+"|"+e.Message)
		}
	}
	return nil
}

func (s *shipped) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// writer is a fake container that writes what it is told to.
func writer(lines chan string) fake.Behavior {
	return fake.Behavior{Program: func(ctx context.Context, p *fake.Proc) int {
		for {
			select {
			case l := <-lines:
				_, _ = io.WriteString(p.Stdout, l)
			case <-p.Signals:
				return 0
			case <-ctx.Done():
				return 137
			}
		}
	}}
}

func runContainer(t *testing.T, f *fake.Fake, name string) string {
	t.Helper()
	id, err := f.Create(context.Background(), runtime.ContainerSpec{Cluster: testCluster, Task: "t1", Name: name, Image: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func runShipper(t *testing.T, s *logShipper) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("log shipper Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitLines(t *testing.T, got *shipped, want []string) {
	t.Helper()
	eventually(t, fmt.Sprintf("lines %q", want), func() (bool, string) {
		g := got.get()
		return cmp.Equal(g, want), fmt.Sprint(g)
	})
}

func TestLogShipperResumesAfterRestart(t *testing.T) {
	lines := make(chan string)
	f := fake.New(fake.Config{Default: writer(lines)})
	id := runContainer(t, f, "web")
	dir := t.TempDir()
	got := &shipped{}

	first := newLogShipper(f, wallClock{}, testLogger(t), dir, 10*time.Millisecond, 500, got.send)
	stop := runShipper(t, first)
	first.follow(id, "/berth/shop", "web/t1")
	first.follow(id, "/berth/shop", "web/t1") // followed once only
	lines <- "one\n"
	lines <- "two\r\nthr"
	lines <- "ee\n"
	waitLines(t, got, []string{"/berth/shop|web/t1|one", "/berth/shop|web/t1|two", "/berth/shop|web/t1|three"})
	stop()
	if b, err := os.ReadFile(filepath.Join(dir, offsetsFile)); err != nil || !strings.Contains(string(b), fmt.Sprintf("%q:15", id)) {
		t.Errorf("offsets file: got %s, %v; want %s at 15 bytes", b, err, id)
	}

	lines <- "four\n" // while no agent runs
	second := newLogShipper(f, wallClock{}, testLogger(t), dir, 10*time.Millisecond, 500, got.send)
	if err := second.loadOffsets(); err != nil {
		t.Fatal(err)
	}
	runShipper(t, second)
	second.follow(id, "/berth/shop", "web/t1")
	waitLines(t, got, []string{"/berth/shop|web/t1|one", "/berth/shop|web/t1|two", "/berth/shop|web/t1|three", "/berth/shop|web/t1|four"})
}

func TestLogShipperRetriesInOrder(t *testing.T) {
	lines := make(chan string)
	f := fake.New(fake.Config{Default: writer(lines)})
	a, b := runContainer(t, f, "a"), runContainer(t, f, "b")
	got := &shipped{fail: 3}
	s := newLogShipper(f, wallClock{}, testLogger(t), "", 10*time.Millisecond, 500, got.send)
	s.retryMin, s.retryMax = time.Millisecond, 10*time.Millisecond
	runShipper(t, s)
	s.follow(a, "g", "a")
	s.follow(b, "g", "b")
	for i := range 3 {
		lines <- fmt.Sprintf("%d\n", i) // a and b both read from the channel: order per stream is what counts
	}
	eventually(t, "every line after the failures", func() (bool, string) { return len(got.get()) == 3, fmt.Sprint(got.get()) })
	perStream := map[string][]string{}
	for _, l := range got.get() {
		parts := strings.SplitN(l, "|", 3)
		perStream[parts[1]] = append(perStream[parts[1]], parts[2])
	}
	for stream, msgs := range perStream {
		if !slices.IsSorted(msgs) {
			t.Errorf("stream %s: got %v, want the lines in order", stream, msgs)
		}
	}
}

func TestLogShipperFlushesFullBatchAtOnce(t *testing.T) {
	lines := make(chan string)
	f := fake.New(fake.Config{Default: writer(lines)})
	id := runContainer(t, f, "web")
	got := &shipped{}
	// The flush interval never comes: only the batch size can trigger a send.
	s := newLogShipper(f, wallClock{}, testLogger(t), "", time.Hour, 2, got.send)
	runShipper(t, s)
	s.follow(id, "g", "s")
	lines <- "a\nb\n"
	waitLines(t, got, []string{"g|s|a", "g|s|b"})
}

func TestLogShipperShipsLastLineOnExit(t *testing.T) {
	f := fake.New(fake.Config{Default: fake.Behavior{Logs: "done\nno newline", RunTime: time.Millisecond}})
	id := runContainer(t, f, "job")
	got := &shipped{}
	s := newLogShipper(f, wallClock{}, testLogger(t), "", 10*time.Millisecond, 500, got.send)
	runShipper(t, s)
	s.follow(id, "g", "s")
	waitLines(t, got, []string{"g|s|done", "g|s|no newline"})
}

func TestJanitor(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := fake.NewManualClock(start)
	f := fake.New(fake.Config{Clock: clock})
	ctx := context.Background()
	create := func(task, name string) string {
		t.Helper()
		id, err := f.Create(ctx, runtime.ContainerSpec{Cluster: testCluster, Task: task, Name: name, Image: "x",
			Labels: map[string]string{LabelAgent: "me"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	active := create("running-task", "web")
	stoppedID := create("stopped-task", "web")
	orphan := create("orphan-task", "web")
	other, err := f.Create(ctx, runtime.ContainerSpec{Cluster: testCluster, Task: "x", Name: "y", Image: "x",
		Labels: map[string]string{LabelAgent: "another-agent"}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	mustExit(t, f, stoppedID, 1) // exits at +10m

	var removedIDs []string
	j := &janitor{rt: f, clock: clock, log: testLogger(t), grace: time.Hour,
		labels:    map[string]string{runtime.LabelCluster: testCluster, LabelAgent: "me"},
		active:    func(task string) bool { return task == "running-task" },
		onRemove:  func(id string) { removedIDs = append(removedIDs, id) },
		firstSeen: map[string]time.Time{}}

	step := func(wantRemoved ...string) {
		t.Helper()
		got, err := j.step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(wantRemoved)
		if !slices.Equal(got, wantRemoved) {
			t.Errorf("at +%v: removed %v, want %v", clock.Now().Sub(start), got, wantRemoved)
		}
	}
	step() // +10m: the orphan is first seen now
	clock.Advance(61 * time.Minute)
	step(stoppedID, orphan) // +71m: the stopped one exited 61m ago, the orphan was seen 61m ago
	clock.Advance(24 * time.Hour)
	step()
	for _, id := range []string{active, other} {
		if _, err := f.Inspect(ctx, id); err != nil {
			t.Errorf("container %s: %v, want it kept", id, err)
		}
	}
	if !cmp.Equal(removedIDs, []string{stoppedID, orphan}) && !cmp.Equal(removedIDs, []string{orphan, stoppedID}) {
		t.Errorf("onRemove got %v", removedIDs)
	}
}

// breakingOutput is a runtime whose followed output streams end early, as
// when the engine restarts or a connection breaks: the nth followed stream
// (from 1) ends after cuts[n-1] bytes of the output; later ones are whole.
// Logs fails for the first failFollows followed streams.
type breakingOutput struct {
	*fake.Fake
	cuts        []int64
	failFollows int

	mu      sync.Mutex
	follows int
}

func (b *breakingOutput) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	if !follow {
		return b.Fake.Logs(ctx, id, follow)
	}
	b.mu.Lock()
	b.follows++
	n := b.follows
	b.mu.Unlock()
	if n <= b.failFollows {
		return nil, errors.New("the engine cannot read this container's output")
	}
	n -= b.failFollows
	rc, err := b.Fake.Logs(ctx, id, follow)
	if err != nil || n > len(b.cuts) {
		return rc, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, b.cuts[n-1]), rc}, nil
}

func (b *breakingOutput) followed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.follows
}

func TestLogShipperResumesAfterStreamBreaks(t *testing.T) {
	lines := make(chan string)
	f := fake.New(fake.Config{Default: writer(lines)})
	id := runContainer(t, f, "web")
	// The first stream breaks inside "two", the second inside "three".
	rt := &breakingOutput{Fake: f, cuts: []int64{len64("one\ntw"), len64("one\ntwo\nthree")}}
	got := &shipped{}
	s := newLogShipper(rt, wallClock{}, testLogger(t), t.TempDir(), 10*time.Millisecond, 500, got.send)
	s.retryMin, s.retryMax = time.Millisecond, 10*time.Millisecond
	runShipper(t, s)
	s.follow(id, "g", "s")

	lines <- "one\ntwo\n"
	waitLines(t, got, []string{"g|s|one", "g|s|two"})
	lines <- "three\nfour\n"
	waitLines(t, got, []string{"g|s|one", "g|s|two", "g|s|three", "g|s|four"})
	if n := rt.followed(); n != 3 {
		t.Errorf("got %d followed streams, want 3 (two broke)", n)
	}

	lines <- "five\n"
	waitLines(t, got, []string{"g|s|one", "g|s|two", "g|s|three", "g|s|four", "g|s|five"})
	mustExit(t, f, id, 0)
	eventually(t, "the follower to end with the container", func() (bool, string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.followers == 0, fmt.Sprint(s.followers)
	})
	if n := rt.followed(); n != 3 {
		t.Errorf("got %d followed streams, want 3: the last one ended with the container", n)
	}
}

func len64(s string) int64 { return int64(len(s)) }

func TestLogShipperRetriesUnreadableOutput(t *testing.T) {
	f := fake.New(fake.Config{Default: fake.Behavior{Logs: "hello\n"}})
	id := runContainer(t, f, "web")
	rt := &breakingOutput{Fake: f, failFollows: 3}
	got := &shipped{}
	s := newLogShipper(rt, wallClock{}, testLogger(t), "", 10*time.Millisecond, 500, got.send)
	s.retryMin, s.retryMax = time.Millisecond, 10*time.Millisecond
	runShipper(t, s)
	s.follow(id, "g", "s")
	waitLines(t, got, []string{"g|s|hello"})
}

// The follower of a running container whose output cannot be read gives up
// after maxFollowFailures attempts in a row.
func TestLogShipperGivesUpOnUnreadableOutput(t *testing.T) {
	f := fake.New(fake.Config{})
	id := runContainer(t, f, "web")
	rt := &breakingOutput{Fake: f, failFollows: 1000}
	s := newLogShipper(rt, wallClock{}, testLogger(t), "", 10*time.Millisecond, 500, (&shipped{}).send)
	s.retryMin, s.retryMax = time.Microsecond, time.Microsecond
	if err := s.read(t.Context(), followReq{id: id, group: "g", stream: "s"}, 0); err == nil {
		t.Error("read: got nil, want the error it gave up on")
	}
	if n := rt.followed(); n != maxFollowFailures {
		t.Errorf("got %d attempts, want %d", n, maxFollowFailures)
	}
}

// A container's output shorter than the shipped offset was rotated or
// truncated: the shipper ships it from the start, and records the new
// offset, instead of shipping nothing.
func TestLogShipperRewindsShrunkOutput(t *testing.T) {
	for _, running := range []bool{false, true} {
		t.Run(fmt.Sprintf("running=%v", running), func(t *testing.T) {
			beh := fake.Behavior{Logs: "abc\n"}
			if !running {
				beh.RunTime = time.Nanosecond
			}
			f := fake.New(fake.Config{Default: beh})
			id := runContainer(t, f, "web")
			if !running {
				if _, err := f.Wait(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, offsetsFile), fmt.Appendf(nil, `{%q:100}`, id), 0o600); err != nil {
				t.Fatal(err)
			}
			got := &shipped{}
			s := newLogShipper(f, wallClock{}, testLogger(t), dir, 10*time.Millisecond, 500, got.send)
			if err := s.loadOffsets(); err != nil {
				t.Fatal(err)
			}
			stop := runShipper(t, s)
			s.follow(id, "g", "s")
			waitLines(t, got, []string{"g|s|abc"})
			stop()
			if b, err := os.ReadFile(filepath.Join(dir, offsetsFile)); err != nil || string(b) != fmt.Sprintf(`{%q:4}`, id) {
				t.Errorf("offsets file: got %s, %v; want %s at 4 bytes", b, err, id)
			}
		})
	}
}

// With output arriving all the time the queue never drains; the offsets
// are saved anyway, after acknowledged batches, at most once a second.
func TestLogShipperSavesOffsetsWhileBusy(t *testing.T) {
	clock := fake.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	var s *logShipper
	src := followReq{id: "c1", group: "g", stream: "s"}
	sends := 0
	// Before each send of a batch, the offset the file should hold: the
	// first batch is saved at once, then at most one save a second.
	want := []int64{0, 10, 10, 30, 30}
	send := func(ctx context.Context, streams []agent.LogStream) error {
		if b, err := os.ReadFile(filepath.Join(dir, offsetsFile)); want[sends] > 0 && (err != nil || string(b) != fmt.Sprintf(`{"c1":%d}`, want[sends])) {
			t.Errorf("before send %d: offsets file %s, %v; want c1 at %d", sends+1, b, err, want[sends])
		}
		sends++
		clock.Advance(600 * time.Millisecond)
		if sends < len(want) {
			s.add(src, "more", int64(sends+1)*10) // the container keeps writing
		}
		return nil
	}
	s = newLogShipper(fake.New(fake.Config{}), clock, testLogger(t), dir, time.Second, 500, send)
	s.add(src, "first", 10)
	if err := s.flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if sends != len(want) {
		t.Errorf("got %d sends, want %d", sends, len(want))
	}
}
