// Package storetest is the contract test suite that every store.Store
// implementation must pass. An implementation's tests call Run with a
// function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-io/berth/internal/store"
)

// waitTimeout bounds every wait for a watch event or a channel close.
const waitTimeout = 10 * time.Second

// Run runs the contract suite. open must return a new, empty store each time
// it is called, and clean up anything else it created (t.TempDir, servers);
// Run closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"PutGetRoundtrip", testPutGetRoundtrip},
		{"EmptyValue", testEmptyValue},
		{"ValuesAreCopied", testValuesAreCopied},
		{"CreateRevisionStays", testCreateRevisionStays},
		{"RevisionBumpsOncePerTxn", testRevisionBumpsOncePerTxn},
		{"EmptyTxnDoesNotBump", testEmptyTxnDoesNotBump},
		{"DeleteMissing", testDeleteMissing},
		{"CreateExistingConflicts", testCreateExistingConflicts},
		{"PutIfStaleConflicts", testPutIfStaleConflicts},
		{"PutIfMissingConflicts", testPutIfMissingConflicts},
		{"TxnAtomic", testTxnAtomic},
		{"DeleteIf", testDeleteIf},
		{"RecreateAfterDelete", testRecreateAfterDelete},
		{"InvalidOps", testInvalidOps},
		{"CanceledContext", testCanceledContext},
		{"ListPrefix", testListPrefix},
		{"ListRevision", testListRevision},
		{"WatchReplayAndStream", testWatchReplayAndStream},
		{"WatchPrefix", testWatchPrefix},
		{"WatchFromCurrentRevision", testWatchFromCurrentRevision},
		{"WatchListThenWatch", testWatchListThenWatch},
		{"WatchCancel", testWatchCancel},
		{"WatchClose", testWatchClose},
		{"ConcurrentCAS", testConcurrentCAS},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

// cmpOpts treat nil and empty values alike.
var cmpOpts = cmp.Options{cmpopts.EquateEmpty()}

// txn runs ops and fails the test on error.
func txn(t *testing.T, s store.Store, ops ...store.Op) int64 {
	t.Helper()
	rev, err := s.Txn(t.Context(), ops...)
	if err != nil {
		t.Fatalf("Txn(%v): got error %v, want nil", opKeys(ops), err)
	}
	return rev
}

func opKeys(ops []store.Op) []string {
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = op.Key
	}
	return keys
}

func get(t *testing.T, s store.Store, key string) store.KV {
	t.Helper()
	kv, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): got error %v, want nil", key, err)
	}
	return kv
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(t.Context())
	if err != nil {
		t.Fatalf("Revision: got error %v, want nil", err)
	}
	return rev
}

func wantNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	if kv, err := s.Get(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q): got (%+v, %v), want ErrNotFound", key, kv, err)
	}
}

// wantConflict checks that err is a *store.ConflictError on key.
func wantConflict(t *testing.T, err error, key string, want, have int64) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("Txn: got error %v, want *store.ConflictError", err)
	}
	if diff := cmp.Diff(store.ConflictError{Key: key, Want: want, Have: have}, *ce); diff != "" {
		t.Errorf("ConflictError mismatch (-want +got):\n%s", diff)
	}
}

// recv reads n events from ch, failing if they do not come in time or the
// channel closes first.
func recv(t *testing.T, ch <-chan store.Event, n int) []store.Event {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	var got []store.Event
	for len(got) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed after %d events, want %d: %+v", len(got), n, got)
			}
			got = append(got, e)
		case <-deadline.C:
			t.Fatalf("got %d watch events within %s, want %d: %+v", len(got), waitTimeout, n, got)
		}
	}
	return got
}

// waitClosed drains ch until it is closed, failing if it stays open.
func waitClosed(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline.C:
			t.Fatalf("watch channel still open after %s, want closed", waitTimeout)
		}
	}
}

func putEvent(key, value string, mod, create int64) store.Event {
	return store.Event{Type: store.EventPut, KV: store.KV{
		Key: key, Value: []byte(value), ModRevision: mod, CreateRevision: create,
	}}
}

func deleteEvent(key string, rev int64) store.Event {
	return store.Event{Type: store.EventDelete, KV: store.KV{Key: key, ModRevision: rev}}
}

func wantEvents(t *testing.T, got, want []store.Event) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("watch events mismatch (-want +got):\n%s", diff)
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	wantNotFound(t, s, "missing")
	if got := revision(t, s); got != 0 {
		t.Errorf("Revision of empty store: got %d, want 0", got)
	}
}

func testPutGetRoundtrip(t *testing.T, s store.Store) {
	rev := txn(t, s, store.Put("a", []byte("1")))
	if rev != 1 {
		t.Errorf("first Txn revision: got %d, want 1", rev)
	}
	want := store.KV{Key: "a", Value: []byte("1"), ModRevision: rev, CreateRevision: rev}
	if diff := cmp.Diff(want, get(t, s, "a")); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}
	if got := revision(t, s); got != rev {
		t.Errorf("Revision: got %d, want %d", got, rev)
	}
}

func testEmptyValue(t *testing.T, s store.Store) {
	txn(t, s, store.Put("empty", nil))
	kv := get(t, s, "empty")
	if len(kv.Value) != 0 {
		t.Errorf("Get value: got %q, want empty", kv.Value)
	}
}

func testValuesAreCopied(t *testing.T, s store.Store) {
	v := []byte("original")
	txn(t, s, store.Put("k", v))
	copy(v, "MUTATED!")
	kv := get(t, s, "k")
	if got := string(kv.Value); got != "original" {
		t.Fatalf("Get after caller mutated its Put value: got %q, want %q", got, "original")
	}
	copy(kv.Value, "MUTATED!")
	if got := string(get(t, s, "k").Value); got != "original" {
		t.Errorf("Get after caller mutated a Get result: got %q, want %q", got, "original")
	}
}

func testCreateRevisionStays(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Create("k", []byte("v1")))
	txn(t, s, store.Put("other", []byte("x")))
	r3 := txn(t, s, store.PutIf("k", []byte("v2"), r1))
	if r3 <= r1 {
		t.Fatalf("revision after update: got %d, want > %d", r3, r1)
	}
	want := store.KV{Key: "k", Value: []byte("v2"), ModRevision: r3, CreateRevision: r1}
	if diff := cmp.Diff(want, get(t, s, "k")); diff != "" {
		t.Errorf("Get mismatch (-want +got):\n%s", diff)
	}
}

func testRevisionBumpsOncePerTxn(t *testing.T, s store.Store) {
	base := revision(t, s)
	rev := txn(t, s, store.Put("x", []byte("1")), store.Put("y", []byte("2")), store.Put("z", []byte("3")))
	if rev != base+1 {
		t.Fatalf("revision after 3-op Txn: got %d, want %d", rev, base+1)
	}
	for _, k := range []string{"x", "y", "z"} {
		if kv := get(t, s, k); kv.ModRevision != rev || kv.CreateRevision != rev {
			t.Errorf("Get(%q) revisions: got mod %d create %d, want both %d", k, kv.ModRevision, kv.CreateRevision, rev)
		}
	}
	rev2 := txn(t, s, store.Delete("x"), store.Put("y", []byte("22")))
	if rev2 != rev+1 {
		t.Errorf("revision after next Txn: got %d, want %d", rev2, rev+1)
	}
	if got := revision(t, s); got != rev2 {
		t.Errorf("Revision: got %d, want %d", got, rev2)
	}
}

func testEmptyTxnDoesNotBump(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("a", []byte("1")))
	if got := txn(t, s); got != r1 {
		t.Errorf("empty Txn: got revision %d, want %d", got, r1)
	}
	if got := revision(t, s); got != r1 {
		t.Errorf("Revision after empty Txn: got %d, want %d", got, r1)
	}
}

func testDeleteMissing(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("a", []byte("1")))
	ch, err := s.Watch(t.Context(), "", r1)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	if got := txn(t, s, store.Delete("missing")); got != r1 {
		t.Errorf("Txn(Delete missing): got revision %d, want %d (no change, no bump)", got, r1)
	}
	// A delete of a missing key beside a real change: one bump, one event.
	r2 := txn(t, s, store.Delete("missing"), store.Put("b", []byte("2")))
	if r2 != r1+1 {
		t.Errorf("Txn(Delete missing, Put): got revision %d, want %d", r2, r1+1)
	}
	// The first event is the put: the no-op delete produced none.
	wantEvents(t, recv(t, ch, 1), []store.Event{putEvent("b", "2", r2, r2)})
	wantNotFound(t, s, "missing")
}

func testCreateExistingConflicts(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Create("k", []byte("v1")))
	_, err := s.Txn(t.Context(), store.Put("side", []byte("x")), store.Create("k", []byte("v2")))
	wantConflict(t, err, "k", store.Absent, r1)
	if got := string(get(t, s, "k").Value); got != "v1" {
		t.Errorf("Get(k) after failed Create: got %q, want %q", got, "v1")
	}
	wantNotFound(t, s, "side")
	if got := revision(t, s); got != r1 {
		t.Errorf("Revision after conflict: got %d, want %d", got, r1)
	}
}

func testPutIfStaleConflicts(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("k", []byte("v1")))
	r2 := txn(t, s, store.PutIf("k", []byte("v2"), r1))
	_, err := s.Txn(t.Context(), store.PutIf("k", []byte("v3"), r1))
	wantConflict(t, err, "k", r1, r2)
	if got := get(t, s, "k"); string(got.Value) != "v2" || got.ModRevision != r2 {
		t.Errorf("Get(k) after stale PutIf: got (%q, rev %d), want (%q, rev %d)", got.Value, got.ModRevision, "v2", r2)
	}
}

func testPutIfMissingConflicts(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("other", []byte("x")))
	_, err := s.Txn(t.Context(), store.PutIf("k", []byte("v"), r1))
	wantConflict(t, err, "k", r1, 0)
	wantNotFound(t, s, "k")
}

func testTxnAtomic(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("a", []byte("a1")), store.Put("b", []byte("b1")), store.Put("d", []byte("d1")))
	r2 := txn(t, s, store.Put("b", []byte("b2")))
	// The failing condition comes last, then first: in neither case may the
	// other ops (which would succeed alone) apply.
	_, err := s.Txn(t.Context(),
		store.PutIf("a", []byte("a2"), r1),
		store.Delete("d"),
		store.Create("c", []byte("c1")),
		store.PutIf("b", []byte("b3"), r1),
	)
	wantConflict(t, err, "b", r1, r2)
	_, err = s.Txn(t.Context(),
		store.PutIf("b", []byte("b3"), r1),
		store.PutIf("a", []byte("a2"), r1),
		store.Delete("d"),
		store.Create("c", []byte("c1")),
	)
	wantConflict(t, err, "b", r1, r2)
	// Two failing conditions: the error names the first in ops order.
	_, err = s.Txn(t.Context(),
		store.Put("c", []byte("c1")),
		store.Create("a", []byte("a2")),
		store.DeleteIf("b", r1),
	)
	wantConflict(t, err, "a", store.Absent, r1)
	kvs, rev, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	want := []store.KV{
		{Key: "a", Value: []byte("a1"), ModRevision: r1, CreateRevision: r1},
		{Key: "b", Value: []byte("b2"), ModRevision: r2, CreateRevision: r1},
		{Key: "d", Value: []byte("d1"), ModRevision: r1, CreateRevision: r1},
	}
	if diff := cmp.Diff(want, kvs, cmpOpts); diff != "" {
		t.Errorf("List after failed Txns mismatch (-want +got):\n%s", diff)
	}
	if rev != r2 {
		t.Errorf("List revision after failed Txns: got %d, want %d", rev, r2)
	}
}

func testDeleteIf(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("k", []byte("v1")))
	r2 := txn(t, s, store.Put("k", []byte("v2")))
	_, err := s.Txn(t.Context(), store.DeleteIf("k", r1))
	wantConflict(t, err, "k", r1, r2)
	get(t, s, "k")
	_, err = s.Txn(t.Context(), store.DeleteIf("missing", r1))
	wantConflict(t, err, "missing", r1, 0)
	r3 := txn(t, s, store.DeleteIf("k", r2))
	if r3 != r2+1 {
		t.Errorf("DeleteIf revision: got %d, want %d", r3, r2+1)
	}
	wantNotFound(t, s, "k")
}

func testRecreateAfterDelete(t *testing.T, s store.Store) {
	txn(t, s, store.Put("k", []byte("v1")))
	txn(t, s, store.Delete("k"))
	r3 := txn(t, s, store.Create("k", []byte("v2")))
	want := store.KV{Key: "k", Value: []byte("v2"), ModRevision: r3, CreateRevision: r3}
	if diff := cmp.Diff(want, get(t, s, "k")); diff != "" {
		t.Errorf("Get after re-create mismatch (-want +got):\n%s", diff)
	}
}

func testInvalidOps(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("a", []byte("1")))
	for _, tc := range []struct {
		name string
		ops  []store.Op
	}{
		{"empty key", []store.Op{store.Put("b", []byte("2")), store.Put("", []byte("x"))}},
		{"duplicate key", []store.Op{store.Put("b", []byte("2")), store.Put("b", []byte("3"))}},
	} {
		_, err := s.Txn(t.Context(), tc.ops...)
		var ce *store.ConflictError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("Txn with %s: got error %v, want a non-conflict error", tc.name, err)
		}
	}
	wantNotFound(t, s, "b")
	if got := revision(t, s); got != r1 {
		t.Errorf("Revision after invalid Txns: got %d, want %d", got, r1)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Txn(c, store.Put("k", []byte("v"))); !errors.Is(err, context.Canceled) {
		t.Errorf("Txn with canceled ctx: got error %v, want context.Canceled", err)
	}
	wantNotFound(t, s, "k")
	// Either an error now or a channel that closes at once is fine.
	if ch, err := s.Watch(c, "", 0); err == nil {
		waitClosed(t, ch)
	}
}

func testListPrefix(t *testing.T, s store.Store) {
	// Written out of order; "a/" must not match "ab/..." nor "a".
	keys := []string{"ab/1", "a/c", "a", "a/a", "b/1", "a/b/x", "a/b", "ab"}
	for _, k := range keys {
		txn(t, s, store.Put(k, []byte("v-"+k)))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/a", "a/b", "a/b/x", "a/c"}},
		{"ab/", []string{"ab/1"}},
		{"a/b", []string{"a/b", "a/b/x"}},
		{"", []string{"a", "a/a", "a/b", "a/b/x", "a/c", "ab", "ab/1", "b/1"}},
		{"c/", nil},
	} {
		kvs, _, err := s.List(t.Context(), tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): got error %v, want nil", tc.prefix, err)
		}
		var got []string
		for _, kv := range kvs {
			got = append(got, kv.Key)
			if want := "v-" + kv.Key; string(kv.Value) != want {
				t.Errorf("List(%q) value of %q: got %q, want %q", tc.prefix, kv.Key, kv.Value, want)
			}
		}
		if diff := cmp.Diff(tc.want, got, cmpOpts); diff != "" {
			t.Errorf("List(%q) keys mismatch (-want +got):\n%s", tc.prefix, diff)
		}
	}
}

func testListRevision(t *testing.T, s store.Store) {
	_, rev, err := s.List(t.Context(), "x/")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	if rev != 0 {
		t.Errorf("List revision of empty store: got %d, want 0", rev)
	}
	txn(t, s, store.Put("x/1", []byte("1")))
	r2 := txn(t, s, store.Put("y/1", []byte("1")))
	// The revision is the store's, not the newest key's under the prefix.
	kvs, rev, err := s.List(t.Context(), "x/")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	if rev != r2 {
		t.Errorf("List revision: got %d, want %d", rev, r2)
	}
	if len(kvs) != 1 {
		t.Errorf("List(x/): got %d keys, want 1", len(kvs))
	}
}

func testWatchReplayAndStream(t *testing.T, s store.Store) {
	r1 := txn(t, s, store.Put("k/a", []byte("a1")))
	r2 := txn(t, s, store.Put("k/b", []byte("b1")), store.Put("k/a", []byte("a2")))
	r3 := txn(t, s, store.Delete("k/b"))

	ch, err := s.Watch(t.Context(), "k/", r1)
	if err != nil {
		t.Fatalf("Watch from %d: got error %v, want nil", r1, err)
	}
	wantEvents(t, recv(t, ch, 3), []store.Event{
		putEvent("k/b", "b1", r2, r2),
		putEvent("k/a", "a2", r2, r1),
		deleteEvent("k/b", r3),
	})

	r4 := txn(t, s, store.Put("k/c", []byte("c1")))
	r5 := txn(t, s, store.Delete("k/a"), store.Put("k/c", []byte("c2")))
	r6 := txn(t, s, store.Create("k/a", []byte("a3")))
	wantEvents(t, recv(t, ch, 4), []store.Event{
		putEvent("k/c", "c1", r4, r4),
		deleteEvent("k/a", r5),
		putEvent("k/c", "c2", r5, r4),
		putEvent("k/a", "a3", r6, r6),
	})

	// From revision 0: the whole history.
	all, err := s.Watch(t.Context(), "k/", 0)
	if err != nil {
		t.Fatalf("Watch from 0: got error %v, want nil", err)
	}
	got := recv(t, all, 8)
	if diff := cmp.Diff(putEvent("k/a", "a1", r1, r1), got[0], cmpOpts); diff != "" {
		t.Errorf("first event from 0 mismatch (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i].KV.ModRevision < got[i-1].KV.ModRevision {
			t.Errorf("event %d revision %d before event %d revision %d: want non-decreasing",
				i, got[i].KV.ModRevision, i-1, got[i-1].KV.ModRevision)
		}
	}
}

func testWatchPrefix(t *testing.T, s store.Store) {
	ch, err := s.Watch(t.Context(), "a/", 0)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	txn(t, s, store.Put("ab/1", []byte("no")), store.Put("a", []byte("no")))
	r2 := txn(t, s, store.Put("a/1", []byte("yes")), store.Put("b/1", []byte("no")))
	txn(t, s, store.Put("ab/2", []byte("no")))
	r4 := txn(t, s, store.Delete("a/1"), store.Delete("ab/1"))
	wantEvents(t, recv(t, ch, 2), []store.Event{
		putEvent("a/1", "yes", r2, r2),
		deleteEvent("a/1", r4),
	})
	// A later matching event proves nothing unmatched was queued between.
	r5 := txn(t, s, store.Put("x", []byte("no")), store.Put("a/2", []byte("yes")))
	wantEvents(t, recv(t, ch, 1), []store.Event{putEvent("a/2", "yes", r5, r5)})
}

func testWatchFromCurrentRevision(t *testing.T, s store.Store) {
	txn(t, s, store.Put("k", []byte("old")))
	cur := revision(t, s)
	ch, err := s.Watch(t.Context(), "", cur)
	if err != nil {
		t.Fatalf("Watch from current: got error %v, want nil", err)
	}
	r := txn(t, s, store.Put("k", []byte("new")))
	got := recv(t, ch, 1)
	if got[0].KV.ModRevision != r || string(got[0].KV.Value) != "new" {
		t.Errorf("first event from current revision: got %+v, want the put at %d", got[0], r)
	}
}

func testWatchListThenWatch(t *testing.T, s store.Store) {
	// The documented pattern: List, then Watch from the listed revision,
	// sees every later change and nothing the listing already had.
	txn(t, s, store.Put("p/1", []byte("1")))
	_, rev, err := s.List(t.Context(), "p/")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5 {
			if _, err := s.Txn(t.Context(), store.Put(fmt.Sprintf("p/w%d", i), []byte("w"))); err != nil {
				t.Errorf("Txn: got error %v, want nil", err)
			}
		}
	})
	ch, err := s.Watch(t.Context(), "p/", rev)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	got := recv(t, ch, 5)
	wg.Wait()
	for i, e := range got {
		if want := fmt.Sprintf("p/w%d", i); e.KV.Key != want {
			t.Errorf("event %d key: got %q, want %q", i, e.KV.Key, want)
		}
		if e.KV.ModRevision <= rev {
			t.Errorf("event %d revision: got %d, want > %d", i, e.KV.ModRevision, rev)
		}
	}
}

func testWatchCancel(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(c, "", 0)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	txn(t, s, store.Put("k", []byte("v")))
	recv(t, ch, 1)
	cancel()
	waitClosed(t, ch)
	// The store keeps working after a watcher leaves.
	txn(t, s, store.Put("k", []byte("v2")))
}

func testWatchClose(t *testing.T, s store.Store) {
	ch, err := s.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	waitClosed(t, ch)
}

func testConcurrentCAS(t *testing.T, s store.Store) {
	const (
		workers = 8
		each    = 10
	)
	txn(t, s, store.Create("counter", []byte("0")))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := increment(t.Context(), s, "counter"); err != nil {
					t.Errorf("increment: got error %v, want nil", err)
					return
				}
			}
		})
	}
	wg.Wait()
	kv := get(t, s, "counter")
	if got, want := string(kv.Value), strconv.Itoa(workers*each); got != want {
		t.Errorf("counter: got %s, want %s", got, want)
	}
}

// increment adds one to the decimal counter at key, retrying on conflict.
func increment(ctx context.Context, s store.Store, key string) error {
	for attempt := 0; attempt < 10000; attempt++ {
		kv, err := s.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("get counter: %w", err)
		}
		n, err := strconv.Atoi(string(kv.Value))
		if err != nil {
			return fmt.Errorf("parse counter: %w", err)
		}
		_, err = s.Txn(ctx, store.PutIf(key, []byte(strconv.Itoa(n+1)), kv.ModRevision))
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return fmt.Errorf("put counter: %w", err)
		}
		return nil
	}
	return errors.New("increment counter: too many conflicts")
}

func testClosed(t *testing.T, s store.Store) {
	txn(t, s, store.Put("k", []byte("v")))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	c := t.Context()
	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: got error %v, want ErrClosed", name, err)
		}
	}
	_, err := s.Get(c, "k")
	check("Get", err)
	_, _, err = s.List(c, "")
	check("List", err)
	_, err = s.Txn(c, store.Put("k", []byte("v2")))
	check("Txn", err)
	_, err = s.Txn(c)
	check("empty Txn", err)
	_, err = s.Watch(c, "", 0)
	check("Watch", err)
	_, err = s.Revision(c)
	check("Revision", err)
	check("second Close", s.Close())
}
