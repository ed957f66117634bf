package logstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"
)

func TestAppendOrdersByTimestampThenArrival(t *testing.T) {
	s, clk, _ := newTestStore(t, Options{})
	mustAppend(t, s, "/ecs/web", "web/app/1", events(300, "c", 100, "a", 200, "b"))
	clk.Advance(time.Second)
	mustAppend(t, s, "/ecs/web", "web/app/1", events(100, "a2", 50, "z"))

	got := readAll(t, s, "/ecs/web", "web/app/1")
	if diff := cmp.Diff([]string{"z", "a", "a2", "b", "c"}, messages(got)); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	for _, e := range got {
		want := t0.UnixMilli()
		if e.Message == "z" || e.Message == "a2" {
			want = t0.Add(time.Second).UnixMilli()
		}
		if e.IngestionTime != want {
			t.Errorf("%s: got ingestion time %d, want %d", e.Message, e.IngestionTime, want)
		}
	}
	if got[1].Seq >= got[2].Seq {
		t.Errorf("equal timestamps: got seqs %d, %d, want arrival order", got[1].Seq, got[2].Seq)
	}

	st, err := s.Stream(bg, "/ecs/web", "web/app/1")
	if err != nil {
		t.Fatal(err)
	}
	want := Stream{
		Name: "web/app/1", CreationTime: t0.UnixMilli(),
		FirstEventTimestamp: 50, LastEventTimestamp: 300,
		LastIngestionTime: t0.Add(time.Second).UnixMilli(),
		StoredBytes:       int64(len("cab") + len("a2z")), Events: 5, LastSeq: 5,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	g, err := s.Group(bg, "/ecs/web")
	if err != nil {
		t.Fatal(err)
	}
	if g.StoredBytes != want.StoredBytes || g.CreationTime != t0.UnixMilli() {
		t.Errorf("group: got %+v, want storedBytes %d, creationTime %d", g, want.StoredBytes, t0.UnixMilli())
	}
}

func TestAppendExistingNeedsTheStream(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	if err := s.AppendExisting(bg, "g", "s", events(1, "x")); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("no group: got %v, want ErrGroupNotFound", err)
	}
	if err := s.CreateGroup(bg, Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendExisting(bg, "g", "s", events(1, "x")); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("no stream: got %v, want ErrStreamNotFound", err)
	}
	if err := s.CreateStream(bg, "g", "s"); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendExisting(bg, "g", "s", events(1, "x")); err != nil {
		t.Fatalf("existing stream: %v", err)
	}
	if got := messages(readAll(t, s, "g", "s")); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("got %q, want [x]", got)
	}
}

func TestAppendRejectsBadNames(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	for _, tc := range []struct{ name, group, stream string }{
		{"empty group", "", "s"},
		{"empty stream", "g", ""},
		{"long group", strings.Repeat("g", MaxNameBytes+1), "s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Append(bg, tc.group, tc.stream, events(1, "x")); !errors.Is(err, ErrInvalidName) {
				t.Fatalf("got %v, want ErrInvalidName", err)
			}
		})
	}
}

func TestSplitLongMessages(t *testing.T) {
	s, _, _ := newTestStore(t, Options{MaxEventBytes: 10})
	msg := "héllo wörld ✓✓✓ done" // multi-byte characters straddle the 10-byte cuts
	mustAppend(t, s, "g", "s", []Event{{Timestamp: 5, Message: msg}, {Timestamp: 6, Message: "short"}})
	got := readAll(t, s, "g", "s")
	var joined strings.Builder
	for _, e := range got[:len(got)-1] {
		if len(e.Message) > 10 || !utf8.ValidString(e.Message) || e.Timestamp != 5 {
			t.Errorf("piece %q (ts %d): want <= 10 bytes of valid UTF-8 at ts 5", e.Message, e.Timestamp)
		}
		joined.WriteString(e.Message)
	}
	if joined.String() != msg {
		t.Errorf("pieces join to %q, want %q", joined.String(), msg)
	}
	if last := got[len(got)-1]; last.Message != "short" {
		t.Errorf("last event %q, want short", last.Message)
	}
}

func TestGroupsAndStreams(t *testing.T) {
	s, clk, _ := newTestStore(t, Options{})
	if err := s.CreateGroup(bg, Group{Name: "/ecs/a", RetentionDays: 14, Class: "STANDARD", Tags: map[string]string{"team": "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(bg, Group{Name: "/ecs/a"}); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("create twice: got %v, want ErrGroupExists", err)
	}
	if err := s.CreateGroup(bg, Group{Name: "/x", RetentionDays: 2}); !errors.Is(err, ErrInvalidRetention) {
		t.Fatalf("retention 2: got %v, want ErrInvalidRetention", err)
	}
	mustAppend(t, s, "/ecs/b", "s1", events(10, "x"))
	mustAppend(t, s, "/other", "s1", events(10, "x"))

	gs, err := s.Groups(bg, "/ecs/")
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{
		{Name: "/ecs/a", CreationTime: clk.nowMs(), RetentionDays: 14, Class: "STANDARD", Tags: map[string]string{"team": "x"}},
		{Name: "/ecs/b", CreationTime: clk.nowMs(), StoredBytes: 1},
	}
	if diff := cmp.Diff(want, gs); diff != "" {
		t.Fatalf("groups (-want +got):\n%s", diff)
	}

	if err := s.CreateStream(bg, "/nope", "s"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("stream in missing group: got %v, want ErrGroupNotFound", err)
	}
	for _, name := range []string{"web/b", "web/a", "db/c"} {
		if err := s.CreateStream(bg, "/ecs/a", name); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateStream(bg, "/ecs/a", "web/a"); !errors.Is(err, ErrStreamExists) {
		t.Fatalf("create stream twice: got %v, want ErrStreamExists", err)
	}
	mustAppend(t, s, "/ecs/a", "web/a", events(300, "x"))
	mustAppend(t, s, "/ecs/a", "db/c", events(100, "x"))

	names := func(sts []Stream) []string {
		var out []string
		for _, st := range sts {
			out = append(out, st.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		prefix     string
		order      StreamOrder
		descending bool
		want       []string
	}{
		{"by name", "", ByName, false, []string{"db/c", "web/a", "web/b"}},
		{"by name descending", "", ByName, true, []string{"web/b", "web/a", "db/c"}},
		{"prefix", "web/", ByName, false, []string{"web/a", "web/b"}},
		{"by last event", "", ByLastEventTime, false, []string{"web/b", "db/c", "web/a"}},
		{"by last event descending", "", ByLastEventTime, true, []string{"web/a", "db/c", "web/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts, err := s.Streams(bg, "/ecs/a", tc.prefix, tc.order, tc.descending)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(sts)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := s.Streams(bg, "/nope", "", ByName, false); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("streams of missing group: got %v, want ErrGroupNotFound", err)
	}

	// Deleting a stream takes its bytes off the group.
	if err := s.DeleteStream(bg, "/ecs/a", "web/a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStream(bg, "/ecs/a", "web/a"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("delete stream twice: got %v, want ErrStreamNotFound", err)
	}
	if g, _ := s.Group(bg, "/ecs/a"); g.StoredBytes != 1 {
		t.Fatalf("group bytes after deleting a stream: got %d, want 1", g.StoredBytes)
	}

	if err := s.SetRetention(bg, "/ecs/a", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRetention(bg, "/ecs/a", 4); !errors.Is(err, ErrInvalidRetention) {
		t.Fatalf("retention 4: got %v, want ErrInvalidRetention", err)
	}
	if err := s.SetRetention(bg, "/nope", 3); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("retention of missing group: got %v, want ErrGroupNotFound", err)
	}
	if g, _ := s.Group(bg, "/ecs/a"); g.RetentionDays != 3 {
		t.Fatalf("got retention %d, want 3", g.RetentionDays)
	}

	if err := s.DeleteGroup(bg, "/ecs/a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(bg, "/ecs/a"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("delete group twice: got %v, want ErrGroupNotFound", err)
	}
	if _, err := s.GetEvents(bg, "/ecs/a", "db/c", Query{}); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("read deleted group: got %v, want ErrGroupNotFound", err)
	}
}

func TestRetentionOf(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		def  time.Duration
		days int
		want time.Duration
	}{
		{"policy wins", 0, 30, 30 * day},
		{"default is 7 days", 0, 0, 7 * day},
		{"configured default", 2 * day, 0, 2 * day},
		{"negative default keeps forever", -1, 0, 0},
		{"policy wins over forever", -1, 1, day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{opts: Options{DefaultRetention: tc.def}.withDefaults()}
			if got := s.RetentionOf(Group{RetentionDays: tc.days}); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	s, _, path := newTestStore(t, Options{})
	mustAppend(t, s, "g", "s", events(1, "one", 2, "two"))
	if err := s.SetRetention(bg, "g", 30); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, s, "g", "s")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s2, err := Open(path, Options{Clock: newFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if diff := cmp.Diff(before, readAll(t, s2, "g", "s")); diff != "" {
		t.Fatalf("after reopen (-want +got):\n%s", diff)
	}
	if g, _ := s2.Group(bg, "g"); g.RetentionDays != 30 {
		t.Fatalf("retention after reopen: got %d, want 30", g.RetentionDays)
	}
	// Sequences are never reused, even for another stream.
	mustAppend(t, s2, "g", "other", events(1, "three"))
	if got := readAll(t, s2, "g", "other")[0].Seq; got <= before[1].Seq {
		t.Fatalf("seq after reopen: got %d, want > %d", got, before[1].Seq)
	}
}

func TestOpenFailsWhenLocked(t *testing.T) {
	_, _, path := newTestStore(t, Options{})
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(metaBucket).Put(formatKey, []byte("other")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("got %v, want an unknown format error", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	const writers, batches, perBatch = 8, 20, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := "shared"
			if w%2 == 1 {
				stream = fmt.Sprintf("own-%d", w)
			}
			for b := range batches {
				evs := make([]Event, perBatch)
				for i := range evs {
					evs[i] = Event{Timestamp: int64(b*perBatch + i), Message: fmt.Sprintf("w%d b%d i%d", w, b, i)}
				}
				if err := s.Append(bg, "g", stream, evs); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	// Readers run alongside.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 50 {
			if _, err := s.Filter(bg, "g", FilterQuery{Limit: 100}); err != nil && !errors.Is(err, ErrGroupNotFound) {
				t.Errorf("filter: %v", err)
			}
		}
	}()
	wg.Wait()
	<-done

	seqs := map[uint64]bool{}
	total := 0
	sts, err := s.Streams(bg, "g", "", ByName, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		evs := readAll(t, s, "g", st.Name)
		if int64(len(evs)) != st.Events {
			t.Errorf("%s: read %d events, meta says %d", st.Name, len(evs), st.Events)
		}
		for i, e := range evs {
			if seqs[e.Seq] {
				t.Fatalf("seq %d used twice", e.Seq)
			}
			seqs[e.Seq] = true
			if i > 0 && (e.Timestamp < evs[i-1].Timestamp || e.Timestamp == evs[i-1].Timestamp && e.Seq < evs[i-1].Seq) {
				t.Fatalf("%s: events out of order at %d", st.Name, i)
			}
		}
		total += len(evs)
	}
	if want := writers * batches * perBatch; total != want {
		t.Fatalf("got %d events, want %d", total, want)
	}
}

func TestAppendBatchesIsOneTransaction(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	err := s.AppendBatches(bg, []Batch{
		{Group: "g", Stream: "a", Events: events(1, "a1")},
		{Group: "g", Stream: "", Events: events(1, "bad")},
	})
	if !errors.Is(err, ErrInvalidName) {
		t.Fatalf("got %v, want ErrInvalidName", err)
	}
	if _, err := s.Group(bg, "g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("after a failed batch: got %v, want nothing stored", err)
	}

	err = s.AppendBatches(bg, []Batch{
		{Group: "g", Stream: "a", Events: events(2, "a2", 1, "a1")},
		{Group: "g2", Stream: "b", Events: events(1, "b1")},
		{Group: "g", Stream: "a", Events: events(3, "a3")},
		{Group: "g", Stream: "empty"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "a2", "a3"}, messages(readAll(t, s, "g", "a"))); diff != "" {
		t.Errorf("g/a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b1"}, messages(readAll(t, s, "g2", "b"))); diff != "" {
		t.Errorf("g2/b (-want +got):\n%s", diff)
	}
	if st, err := s.Stream(bg, "g", "empty"); err != nil || st.Events != 0 {
		t.Errorf("g/empty: got %+v, %v; want an empty stream", st, err)
	}
	if g, _ := s.Group(bg, "g"); g.StoredBytes != 6 {
		t.Errorf("group bytes: got %d, want 6", g.StoredBytes)
	}
}
