package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/storetest"
)

func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func mustTxn(t testing.TB, s store.Store, ops ...store.Op) int64 {
	t.Helper()
	rev, err := s.Txn(context.Background(), ops...)
	if err != nil {
		t.Fatalf("Txn: got error %v, want nil", err)
	}
	return rev
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t, Options{})
		return s
	})
}

func TestOpenSyncsEveryCommit(t *testing.T) {
	s, _ := openTemp(t, Options{})
	if s.db.NoSync || s.db.NoGrowSync {
		t.Errorf("bbolt sync flags: got NoSync=%v NoGrowSync=%v, want both false", s.db.NoSync, s.db.NoGrowSync)
	}
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	r1 := mustTxn(t, s, store.Put("a", []byte("1")), store.Put("b", []byte("2")))
	r2 := mustTxn(t, s, store.Put("a", []byte("11")), store.Delete("b"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: got error %v, want nil", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if rev, err := s.Revision(ctx); err != nil || rev != r2 {
		t.Fatalf("Revision after reopen: got (%d, %v), want (%d, nil)", rev, err, r2)
	}
	kvs, rev, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	want := []store.KV{{Key: "a", Value: []byte("11"), ModRevision: r2, CreateRevision: r1}}
	if diff := cmp.Diff(want, kvs); diff != "" || rev != r2 {
		t.Errorf("List after reopen: revision got %d, want %d; mismatch (-want +got):\n%s", rev, r2, diff)
	}
	if r3 := mustTxn(t, s, store.Put("c", []byte("3"))); r3 != r2+1 {
		t.Errorf("first Txn after reopen: got revision %d, want %d", r3, r2+1)
	}
	// History before the reopen is gone; from the reopen revision on it is kept.
	if _, err := s.Watch(ctx, "", r2-1); !errors.Is(err, store.ErrCompacted) {
		t.Errorf("Watch from before reopen: got error %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", r2)
	if err != nil {
		t.Fatalf("Watch from reopen revision: got error %v, want nil", err)
	}
	if e := <-ch; e.KV.Key != "c" || e.KV.ModRevision != r2+1 {
		t.Errorf("first event after reopen: got %+v, want put of c at %d", e, r2+1)
	}
}

func TestWatchCompacted(t *testing.T) {
	s, _ := openTemp(t, Options{HistorySize: 4})
	ctx := t.Context()
	var revs []int64
	for i := range 10 {
		revs = append(revs, mustTxn(t, s, store.Put(fmt.Sprintf("k%d", i), []byte("v"))))
	}
	last := revs[len(revs)-1]
	// The ring holds the last 4 events (revisions last-3..last), so a
	// watcher needs afterRev >= last-4.
	for _, after := range []int64{0, 1, last - 5} {
		if _, err := s.Watch(ctx, "", after); !errors.Is(err, store.ErrCompacted) {
			t.Errorf("Watch from %d: got error %v, want ErrCompacted", after, err)
		}
	}
	for _, after := range []int64{last - 4, last, last + 5} {
		ch, err := s.Watch(ctx, "", after)
		if err != nil {
			t.Errorf("Watch from %d: got error %v, want nil", after, err)
			continue
		}
		if got, want := len(ch), int(max(0, last-after)); got != want {
			t.Errorf("Watch from %d: got %d replayed events, want %d", after, got, want)
		}
	}
}

func TestWatchCompactedPartialRevision(t *testing.T) {
	s, _ := openTemp(t, Options{HistorySize: 3})
	r1 := mustTxn(t, s, store.Put("a", nil))
	// Five events at one revision: the ring keeps only part of it.
	r2 := mustTxn(t, s, store.Put("b1", nil), store.Put("b2", nil), store.Put("b3", nil), store.Put("b4", nil), store.Put("b5", nil))
	if _, err := s.Watch(t.Context(), "", r1); !errors.Is(err, store.ErrCompacted) {
		t.Errorf("Watch from %d: got error %v, want ErrCompacted (revision %d is only partly kept)", r1, err, r2)
	}
	if _, err := s.Watch(t.Context(), "", r2); err != nil {
		t.Errorf("Watch from %d: got error %v, want nil", r2, err)
	}
}

func TestSlowWatcherIsDropped(t *testing.T) {
	s, _ := openTemp(t, Options{WatchBuffer: 2})
	ctx := t.Context()
	slow, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	fast, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatalf("Watch: got error %v, want nil", err)
	}
	var fastGot atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast {
			if fastGot.Add(1) == 10 {
				return
			}
		}
	}()
	// Nobody reads slow: writers must not block on it.
	for i := range 10 {
		mustTxn(t, s, store.Put(fmt.Sprintf("k%d", i), nil))
	}
	var got []string
	for e := range slow { // ends only if slow was closed
		got = append(got, e.KV.Key)
	}
	if diff := cmp.Diff([]string{"k0", "k1"}, got); diff != "" {
		t.Errorf("slow watcher events before close mismatch (-want +got):\n%s", diff)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("fast watcher got %d events, want 10", fastGot.Load())
	}
}

func TestGroupCommitKeepsPerTxnSemantics(t *testing.T) {
	s, _ := openTemp(t, Options{})
	const n = 64
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		mu        sync.Mutex
		revs      []int64
		winners   int
		conflicts int
	)
	for i := range n {
		wg.Go(func() {
			<-start
			// Every Txn writes its own key and races to create "leader".
			rev, err := s.Txn(context.Background(),
				store.Put(fmt.Sprintf("own/%02d", i), []byte("x")),
				store.Create("leader", []byte(fmt.Sprint(i))))
			mu.Lock()
			defer mu.Unlock()
			var ce *store.ConflictError
			switch {
			case err == nil:
				winners++
				revs = append(revs, rev)
			case errors.As(err, &ce):
				conflicts++
			default:
				t.Errorf("Txn: got error %v, want nil or conflict", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if winners != 1 || conflicts != n-1 {
		t.Fatalf("got %d winners and %d conflicts, want 1 and %d", winners, conflicts, n-1)
	}
	own, _, err := s.List(t.Context(), "own/")
	if err != nil {
		t.Fatalf("List: got error %v, want nil", err)
	}
	if len(own) != 1 {
		t.Errorf("List(own/): got %d keys, want 1 (only the winner's)", len(own))
	}

	// Now unconditional writes: each gets its own revision, contiguous.
	revs = revs[:0]
	start = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			rev, err := s.Txn(context.Background(), store.Put(fmt.Sprintf("p/%02d", i), nil))
			if err != nil {
				t.Errorf("Txn: got error %v, want nil", err)
				return
			}
			mu.Lock()
			revs = append(revs, rev)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(revs)
	for i := 1; i < len(revs); i++ {
		if revs[i] != revs[i-1]+1 {
			t.Fatalf("revisions of concurrent Txns: got %v, want %d contiguous", revs, n)
		}
	}
	t.Logf("%d txns applied in %d bbolt commits", s.applied.Load(), s.commits.Load())
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, path := openTemp(t, Options{})
	start := time.Now()
	s2, err := Open(path, Options{LockTimeout: time.Second})
	elapsed := time.Since(start)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open of a held file: got nil error, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: got error %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("second Open error %q: want it to name %s", err, path)
	}
	if elapsed > 3*time.Second {
		t.Errorf("second Open took %s, want about 1s", elapsed)
	}
	t.Logf("second Open failed after %s: %v", elapsed.Round(time.Millisecond), err)
}

func TestOpenRejectsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{}); err == nil {
		_ = s.Close()
		t.Fatal("Open of a non-bbolt file: got nil error, want an error")
	}
}

// Durability across kill -9. The parent re-runs this test binary as a child
// that writes in a loop and prints each key once its Txn has returned; the
// parent SIGKILLs it mid-stream and checks every printed key is on disk.

const (
	helperEnv   = "BERTH_BOLT_HELPER_DB"
	helperAck   = "ack "
	helperReady = "ready"
)

func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("only runs as the child of TestKill9KeepsAcknowledgedWrites")
	}
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "open: %v\n", err)
		os.Exit(2)
	}
	fmt.Println(helperReady)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		deadline = time.Now().Add(time.Minute) // never outlive a lost parent
	)
	for w := range 4 { // concurrent writers exercise group commit
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("k/%d/%07d", w, i)
				if _, err := s.Txn(context.Background(), store.Create(key, []byte(key))); err != nil {
					fmt.Fprintf(os.Stderr, "txn %s: %v\n", key, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Println(helperAck + key) // os.Stdout is unbuffered
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}

func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "berth.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("StdoutPipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	const wantAcks = 300
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var acked []string
	timeout := time.After(60 * time.Second)
	for len(acked) < wantAcks {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited after %d acks, want %d; stderr:\n%s", len(acked), wantAcks, stderr.String())
			}
			if k, isAck := strings.CutPrefix(l, helperAck); isAck {
				acked = append(acked, k)
			}
		case <-timeout:
			t.Fatalf("got %d acks within 60s, want %d", len(acked), wantAcks)
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatalf("SIGKILL child: %v", err)
	}
	killed = true
	// Lines written before the kill are acknowledged too.
	for l := range lines {
		if k, isAck := strings.CutPrefix(l, helperAck); isAck {
			acked = append(acked, k)
		}
	}
	werr := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(werr, &exitErr) || exitErr.ExitCode() != -1 {
		t.Fatalf("child wait: got %v, want killed by signal; stderr:\n%s", werr, stderr.String())
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after kill -9: got error %v, want nil", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	kvs, rev, err := s.List(t.Context(), "k/")
	if err != nil {
		t.Fatalf("List after kill -9: got error %v, want nil", err)
	}
	have := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		have[kv.Key] = true
		if string(kv.Value) != kv.Key {
			t.Errorf("value of %s: got %q, want %q", kv.Key, kv.Value, kv.Key)
		}
	}
	var missing []string
	for _, k := range acked {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("got %d of %d acknowledged keys missing after kill -9, want 0: %v", len(missing), len(acked), missing[:min(10, len(missing))])
	}
	if rev != int64(len(kvs)) {
		t.Errorf("revision after kill -9: got %d, want %d (one per stored key)", rev, len(kvs))
	}
	t.Logf("%d acknowledged, %d stored (revision %d) after kill -9", len(acked), len(kvs), rev)
}

// Benchmarks. Values are 256 bytes, about a small JSON record.

var benchValue = []byte(strings.Repeat("v", 256))

func BenchmarkGet(b *testing.B) {
	s, _ := openTemp(b, Options{})
	const n = 10000
	keys := make([]string, n)
	ops := make([]store.Op, 0, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ecs/tasks/default/%08d", i)
		ops = append(ops, store.Put(keys[i], benchValue))
		if len(ops) == cap(ops) {
			mustTxn(b, s, ops...)
			ops = ops[:0]
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(ctx, keys[(i*7919)%n]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxnPut(b *testing.B) {
	s, _ := openTemp(b, Options{})
	ctx := context.Background()
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := s.Txn(ctx, store.Put(fmt.Sprintf("ecs/tasks/default/%08d", i), benchValue)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func BenchmarkParallelTxn(b *testing.B) {
	s, _ := openTemp(b, Options{})
	ctx := context.Background()
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
	)
	b.SetParallelism(16) // 16 × GOMAXPROCS concurrent writers
	commits0, applied0 := s.commits.Load(), s.applied.Load()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			key := fmt.Sprintf("ecs/tasks/default/%08d", next.Add(1))
			if _, err := s.Txn(ctx, store.Put(key, benchValue)); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	reportLatency(b, lat)
	if c := s.commits.Load() - commits0; c > 0 {
		b.ReportMetric(float64(s.applied.Load()-applied0)/float64(c), "txns/commit")
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Nanoseconds()), "p99-ns")
}
