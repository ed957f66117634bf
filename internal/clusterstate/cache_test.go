package clusterstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

// gen makes random writes over a small universe of names, so keys are
// rewritten and deleted often.
type gen struct {
	rnd *rand.Rand
	u   universe
}

var taskStatuses = []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"}

func newGen(seed uint64) *gen {
	g := &gen{rnd: rand.New(rand.NewPCG(seed, 0x5eed))}
	g.u = universe{
		clusters:    []string{"c0", "c1", "c2"},
		instanceIDs: []string{"i0", "i1", "i2", "i3", "i4", "i5"},
		services:    []string{"web", "db", "cron"},
		groups:      []string{"service:web", "service:db", "family:batch", ""},
		statuses:    taskStatuses,
	}
	for i := range 40 {
		g.u.taskIDs = append(g.u.taskIDs, fmt.Sprintf("t%02d", i))
	}
	g.u.arns = func(cluster string) []string {
		var out []string
		for _, id := range g.u.instanceIDs {
			out = append(out, instanceARN(cluster, id))
		}
		return append(out, instanceARN(cluster, "ghost")) // tasks may name an unregistered instance
	}
	for _, f := range []string{"web", "db"} {
		for rev := range int32(3) {
			g.u.taskDefs = append(g.u.taskDefs, struct {
				family string
				rev    int32
			}{f, rev + 1})
		}
	}
	return g
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// op returns one random put or delete.
func (g *gen) op(t testing.TB) store.Op {
	r := g.rnd
	cl := pick(r, g.u.clusters)
	del := r.IntN(100) < 15
	switch n := r.IntN(100); {
	case n < 55:
		id := pick(r, g.u.taskIDs)
		key := state.TaskKey(cl, id)
		if del {
			return store.Delete(key)
		}
		arn := ""
		if r.IntN(10) > 0 {
			arn = pick(r, g.u.arns(cl))
		}
		task := &ecs.Task{
			TaskArn:              taskARN(cl, id),
			ContainerInstanceArn: arn,
			Group:                pick(r, g.u.groups),
			LastStatus:           pick(r, taskStatuses),
			DesiredStatus:        "RUNNING",
			StartedBy:            pick(r, []string{"", "ecs-svc/1", "ecs-svc/2"}),
			Version:              r.Int64N(1000),
		}
		if r.IntN(4) == 0 {
			task.CreatedAt = ecs.NewTime(time.Unix(r.Int64N(1e9), 0).UTC())
			task.Containers = []ecs.Container{{Name: "app", Image: "img", LastStatus: task.LastStatus}}
		}
		return putOp(t, key, task)
	case n < 72:
		id := pick(r, g.u.instanceIDs)
		key := state.InstanceKey(cl, id)
		if del {
			return store.Delete(key)
		}
		return putOp(t, key, &ecs.ContainerInstance{
			ContainerInstanceArn: instanceARN(cl, id),
			Status:               pick(r, []string{"ACTIVE", "DRAINING", "INACTIVE"}),
			AgentConnected:       r.IntN(2) == 0,
			RunningTasksCount:    r.Int32N(10),
			Attributes:           []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}},
			Version:              r.Int64N(1000),
		})
	case n < 84:
		name := pick(r, g.u.services)
		key := state.ServiceKey(cl, name)
		if del {
			return store.Delete(key)
		}
		return putOp(t, key, &ecs.Service{
			ServiceName:  name,
			Status:       pick(r, []string{"ACTIVE", "DRAINING", "INACTIVE"}),
			DesiredCount: r.Int32N(5),
		})
	case n < 89:
		key := state.ClusterKey(cl)
		if del {
			return store.Delete(key)
		}
		return putOp(t, key, &ecs.Cluster{ClusterName: cl, Status: pick(r, []string{"ACTIVE", "INACTIVE"})})
	case n < 94:
		td := pick(r, g.u.taskDefs)
		key := state.TaskDefKey(td.family, td.rev)
		if del {
			return store.Delete(key)
		}
		v := &state.TaskDefinition{TaskDefinition: ecs.TaskDefinition{Family: td.family, Revision: td.rev, Status: "ACTIVE"}}
		return putOp(t, key, v)
	default:
		// Keys the cache must ignore, with values it must not decode.
		key := pick(r, []string{
			state.FamilyKey("web"), "other/key", "ecs/unknown/x",
			"ecs/tasks/" + cl, "ecs/tasks/" + cl + "/", "ecs/tasks/" + cl + "/a/b", "ecs/instances//i0",
		})
		if del {
			return store.Delete(key)
		}
		return store.Put(key, []byte("not json"))
	}
}

// txn returns 1-4 ops on distinct keys.
func (g *gen) txn(t testing.TB) []store.Op {
	n := 1 + g.rnd.IntN(4)
	var ops []store.Op
	for len(ops) < n {
		op := g.op(t)
		if !slices.ContainsFunc(ops, func(o store.Op) bool { return o.Key == op.Key }) {
			ops = append(ops, op)
		}
	}
	return ops
}

// TestConvergesToList is the property test: after any sequence of puts and
// deletes, once the cache has waited for the last revision, every accessor
// answers what a scan of a fresh List answers.
func TestConvergesToList(t *testing.T) {
	st := openStore(t, bolt.Options{})
	g := newGen(1)
	// Some state before the cache starts, so the listing path is covered.
	for range 200 {
		mustTxn(t, st, g.txn(t)...)
	}
	c := startCache(t, st)
	checkConverged(t, c.Cache, st, g.u)
	for i := range 1500 {
		rev := mustTxn(t, st, g.txn(t)...)
		if i%50 == 49 {
			mustWait(t, c.Cache, rev)
			checkConverged(t, c.Cache, st, g.u)
		}
	}
	if n := c.relists.Load(); n != 1 {
		t.Errorf("listings: got %d, want 1 (the watch should never have fallen behind)", n)
	}
}

// TestConvergesUnderConcurrentWriters has writers race, so the store
// group-commits several Txns into one publication.
func TestConvergesUnderConcurrentWriters(t *testing.T) {
	st := openStore(t, bolt.Options{})
	c := startCache(t, st)
	var (
		wg   sync.WaitGroup
		last atomic.Int64
	)
	u := newGen(0).u
	for w := range 4 {
		wg.Go(func() {
			g := newGen(uint64(100 + w))
			for range 150 {
				rev, err := st.Txn(context.Background(), g.txn(t)...)
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				for {
					old := last.Load()
					if rev <= old || last.CompareAndSwap(old, rev) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	mustWait(t, c.Cache, last.Load())
	checkConverged(t, c.Cache, st, u)
}

// TestRecoversFromCompaction forces the Watch after the listing to find
// its revision compacted: the cache lists again and converges.
func TestRecoversFromCompaction(t *testing.T) {
	inner := openStore(t, bolt.Options{HistorySize: 4})
	g := newGen(2)
	for range 50 {
		mustTxn(t, inner, g.txn(t)...)
	}
	var lists atomic.Int32
	hs := &hookStore{Store: inner}
	hs.afterList = func(int64) {
		if lists.Add(1) != 1 {
			return
		}
		// More events than the history keeps, between List and Watch.
		for range 10 {
			if _, err := inner.Txn(context.Background(), g.txn(t)...); err != nil {
				t.Errorf("Txn: %v", err)
			}
		}
	}
	c := startCache(t, hs)
	rev := mustTxn(t, inner, g.txn(t)...)
	mustWait(t, c.Cache, rev)
	checkConverged(t, c.Cache, inner, g.u)
	if n := c.relists.Load(); n < 2 {
		t.Errorf("listings: got %d, want at least 2 (a re-list after ErrCompacted)", n)
	}
	// And the cache keeps following afterwards.
	for range 100 {
		rev = mustTxn(t, inner, g.txn(t)...)
	}
	mustWait(t, c.Cache, rev)
	checkConverged(t, c.Cache, inner, g.u)
}

// TestRecoversWhenDropped blocks the applier (a reader holds the lock) until
// the store drops the cache as a slow watcher.
func TestRecoversWhenDropped(t *testing.T) {
	st := openStore(t, bolt.Options{WatchBuffer: 2, HistorySize: 8})
	g := newGen(3)
	c := startCache(t, st)
	for round := range 3 {
		c.mu.RLock() // the applier blocks on its next batch
		for range 20 {
			mustTxn(t, st, g.txn(t)...)
		}
		c.mu.RUnlock()
		rev := mustTxn(t, st, g.txn(t)...)
		mustWait(t, c.Cache, rev)
		checkConverged(t, c.Cache, st, g.u)
		if n, want := c.relists.Load(), int64(round+2); n < want {
			t.Errorf("round %d: listings: got %d, want at least %d", round, n, want)
		}
	}
}

// checkIndex verifies the index's derived parts against its records. The
// caller holds c.mu for reading.
func checkIndex(x *index) error {
	for name, ci := range x.byName {
		if len(ci.instanceList.recs) != len(ci.instances) || len(ci.instanceList.names) != len(ci.instances) {
			return fmt.Errorf("cluster %s: %d instances listed, %d by ID", name, len(ci.instanceList.recs), len(ci.instances))
		}
		for i, id := range ci.instanceList.names {
			if ci.instanceList.recs[i] != ci.instances[id] || (i > 0 && ci.instanceList.names[i-1] >= id) {
				return fmt.Errorf("cluster %s: instance list out of order or stale at %s", name, id)
			}
		}
		var counts ClusterCounts
		groups := map[string]TaskCounts{}
		onInst := map[string][]string{}
		instGroups := map[string]map[string]int{}
		for id, r := range ci.tasks {
			t := r.Value
			p := phaseOf(t.LastStatus)
			counts.Tasks.add(p, 1)
			g := groups[t.Group]
			g.add(p, 1)
			groups[t.Group] = g
			if arn := liveOn(t); arn != "" {
				onInst[arn] = append(onInst[arn], id)
				if instGroups[arn] == nil {
					instGroups[arn] = map[string]int{}
				}
				instGroups[arn][t.Group]++
			}
		}
		if counts.Tasks != ci.counts.Tasks {
			return fmt.Errorf("cluster %s: task counts %+v, recount %+v", name, ci.counts.Tasks, counts.Tasks)
		}
		if len(groups) != len(ci.groups) {
			return fmt.Errorf("cluster %s: %d groups, recount %d", name, len(ci.groups), len(groups))
		}
		for grp, want := range groups {
			if got := ci.groups[grp]; got == nil || got.counts != want {
				return fmt.Errorf("cluster %s group %q: counts differ from recount %+v", name, grp, want)
			}
		}
		if len(onInst) != len(ci.onInstance) {
			return fmt.Errorf("cluster %s: %d instances with tasks, recount %d", name, len(ci.onInstance), len(onInst))
		}
		for arn, ids := range onInst {
			slices.Sort(ids)
			it := ci.onInstance[arn]
			if it == nil || !slices.Equal(it.ids, ids) || len(it.tasks) != len(ids) || !mapsEqual(it.groups, instGroups[arn]) {
				return fmt.Errorf("cluster %s instance %s: tasks or groups differ from recount", name, arn)
			}
			for i, id := range ids {
				if it.tasks[i] != ci.tasks[id] {
					return fmt.Errorf("cluster %s instance %s: task %s is stale", name, arn, id)
				}
			}
		}
	}
	return nil
}

// TestReadersNeverSeeHalfBuiltIndex races readers with the applier and
// with forced re-listings: every reader sees all N tasks and M instances
// (the writers only update them) and an index whose parts agree.
func TestReadersNeverSeeHalfBuiltIndex(t *testing.T) {
	const (
		nInstances = 20
		nTasks     = 400
		cluster    = "c"
	)
	st := openStore(t, bolt.Options{WatchBuffer: 4, HistorySize: 16})
	var ops []store.Op
	for i := range nInstances {
		ops = append(ops, putOp(t, state.InstanceKey(cluster, fmt.Sprintf("i%02d", i)),
			&ecs.ContainerInstance{ContainerInstanceArn: instanceARN(cluster, fmt.Sprintf("i%02d", i)), Status: "ACTIVE"}))
	}
	taskRec := func(r *rand.Rand, i int) *ecs.Task {
		return &ecs.Task{
			TaskArn:              taskARN(cluster, fmt.Sprintf("t%03d", i)),
			ContainerInstanceArn: instanceARN(cluster, fmt.Sprintf("i%02d", r.IntN(nInstances))),
			Group:                fmt.Sprintf("service:s%d", r.IntN(5)),
			LastStatus:           pick(r, taskStatuses),
		}
	}
	r0 := rand.New(rand.NewPCG(4, 4))
	for i := range nTasks {
		ops = append(ops, putOp(t, state.TaskKey(cluster, fmt.Sprintf("t%03d", i)), taskRec(r0, i)))
	}
	mustTxn(t, st, ops...)
	c := startCache(t, st)

	stop := make(chan struct{})
	var readers, writers sync.WaitGroup
	var reads atomic.Int64
	for range 3 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if got := c.ClusterCounts(cluster).Tasks.Total(); got != nTasks {
					t.Errorf("ClusterCounts.Tasks.Total: got %d, want %d", got, nTasks)
					return
				}
				if got := len(c.Instances(cluster)); got != nInstances {
					t.Errorf("Instances: got %d, want %d", got, nInstances)
					return
				}
				live := 0
				for _, g := range c.GroupsByInstance(cluster) {
					for _, n := range g {
						live += n
					}
				}
				if live > nTasks {
					t.Errorf("GroupsByInstance: %d live tasks, more than %d", live, nTasks)
					return
				}
				c.mu.RLock()
				err := checkIndex(c.idx)
				c.mu.RUnlock()
				if err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		})
	}
	var written atomic.Int64
	for w := range 2 {
		writers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range 300 {
				i := r.IntN(nTasks)
				j := (i + 1 + r.IntN(nTasks-1)) % nTasks
				_, err := st.Txn(context.Background(),
					putOp(t, state.TaskKey(cluster, fmt.Sprintf("t%03d", i)), taskRec(r, i)),
					putOp(t, state.TaskKey(cluster, fmt.Sprintf("t%03d", j)), taskRec(r, j)))
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				written.Add(1)
			}
		})
	}
	// Force re-listings while the readers read: hold the applier until the
	// writers have overflowed the watch buffer.
	for range 3 {
		c.mu.RLock()
		start := written.Load()
		deadline := time.Now().Add(waitTimeout)
		for written.Load() < start+10 && time.Now().Before(deadline) {
			// Poll: the writers' progress is what we wait for.
			runtime.Gosched()
		}
		c.mu.RUnlock()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	rev, err := st.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustWait(t, c.Cache, rev)
	u := universe{clusters: []string{cluster}, statuses: taskStatuses, arns: func(string) []string { return nil }}
	for i := range nInstances {
		u.instanceIDs = append(u.instanceIDs, fmt.Sprintf("i%02d", i))
	}
	for i := range nTasks {
		u.taskIDs = append(u.taskIDs, fmt.Sprintf("t%03d", i))
	}
	for i := range 5 {
		u.groups = append(u.groups, fmt.Sprintf("service:s%d", i))
	}
	u.arns = func(string) []string {
		var out []string
		for _, id := range u.instanceIDs {
			out = append(out, instanceARN(cluster, id))
		}
		return out
	}
	checkConverged(t, c.Cache, st, u)
	t.Logf("%d consistent reads, %d listings", reads.Load(), c.relists.Load())
	if n := c.relists.Load(); n < 2 {
		t.Errorf("listings: got %d, want at least 2", n)
	}
}

// TestWaitForReadsYourWrites: after WaitFor(rev of a Txn), every op of
// that Txn is visible.
func TestWaitForReadsYourWrites(t *testing.T) {
	st := openStore(t, bolt.Options{})
	c := startCache(t, st)
	arn := instanceARN("c", "i0")
	for i := range 200 {
		id := fmt.Sprintf("t%03d", i)
		rev := mustTxn(t, st,
			putOp(t, state.TaskKey("c", id), &ecs.Task{TaskArn: taskARN("c", id), ContainerInstanceArn: arn, LastStatus: "PROVISIONING", Group: "service:web"}),
			putOp(t, state.InstanceKey("c", "i0"), &ecs.ContainerInstance{ContainerInstanceArn: arn, Status: "ACTIVE", PendingTasksCount: int32(i + 1)}))
		if err := c.WaitFor(context.Background(), rev); err != nil {
			t.Fatalf("WaitFor(%d): got %v, want nil", rev, err)
		}
		if r, ok := c.Task("c", id); !ok || r.Revision != rev {
			t.Fatalf("after WaitFor(%d): Task(%s) = (rev %d, %v), want (rev %d, true)", rev, id, r.Revision, ok, rev)
		}
		if r, ok := c.Instance("c", "i0"); !ok || r.Revision != rev || r.Value.PendingTasksCount != int32(i+1) {
			t.Fatalf("after WaitFor(%d): Instance(i0) = (rev %d, %v), want rev %d with %d pending", rev, r.Revision, ok, rev, i+1)
		}
		if got := len(c.InstanceTasks("c", arn)); got != i+1 {
			t.Fatalf("after WaitFor(%d): InstanceTasks: got %d tasks, want %d", rev, got, i+1)
		}
	}
	if got, want := c.ServiceCounts("c", "web").Pending, 200; got != want {
		t.Errorf("ServiceCounts(web).Pending: got %d, want %d", got, want)
	}
}

// TestWaitForConcurrentWriters: read-your-writes holds for each of several
// writers whose Txns the store group-commits together.
func TestWaitForConcurrentWriters(t *testing.T) {
	st := openStore(t, bolt.Options{})
	c := startCache(t, st)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			inst := fmt.Sprintf("w%d", w)
			arn := instanceARN("c", inst)
			for i := range 100 {
				id := fmt.Sprintf("%s-t%03d", inst, i)
				rev, err := st.Txn(context.Background(),
					putOp(t, state.TaskKey("c", id), &ecs.Task{TaskArn: taskARN("c", id), ContainerInstanceArn: arn, LastStatus: "PENDING"}),
					putOp(t, state.InstanceKey("c", inst), &ecs.ContainerInstance{ContainerInstanceArn: arn, Status: "ACTIVE", PendingTasksCount: int32(i + 1)}))
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				err = c.WaitFor(ctx, rev)
				cancel()
				if err != nil {
					t.Errorf("WaitFor(%d): %v", rev, err)
					return
				}
				if r, ok := c.Task("c", id); !ok || r.Revision != rev {
					t.Errorf("after WaitFor(%d): Task(%s) = (rev %d, %v), want (rev %d, true)", rev, id, r.Revision, ok, rev)
					return
				}
				if r, ok := c.Instance("c", inst); !ok || r.Revision != rev {
					t.Errorf("after WaitFor(%d): Instance(%s) = (rev %d, %v), want (rev %d, true)", rev, inst, r.Revision, ok, rev)
					return
				}
				if got := len(c.InstanceTasks("c", arn)); got != i+1 {
					t.Errorf("after WaitFor(%d): InstanceTasks(%s): got %d, want %d", rev, inst, got, i+1)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWaitFor(t *testing.T) {
	t.Run("RevisionOutsideWatchedPrefix", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		c := startCache(t, st)
		// A revision that changed no key the cache watches produces no
		// event; WaitFor still returns, through a fence.
		rev := mustTxn(t, st, store.Put("other/key", []byte("x")))
		mustWait(t, c.Cache, rev)
		if got := c.Revision(); got >= rev {
			t.Errorf("Revision: got %d, want < %d (no event was applied)", got, rev)
		}
	})
	t.Run("FutureRevision", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		c := startCache(t, st)
		rev := mustTxn(t, st, store.Put(state.ClusterKey("a"), []byte(`{"clusterName":"a"}`)))
		mustWait(t, c.Cache, rev)

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := c.WaitFor(ctx, rev+2); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitFor(unpublished %d): got %v, want context.DeadlineExceeded", rev+2, err)
		}
		errc := make(chan error, 1)
		go func() { errc <- c.WaitFor(context.Background(), rev+2) }()
		// Revision rev+2 was not published when WaitFor was called, so
		// only a later change shows it is whole.
		mustTxn(t, st, store.Put(state.ClusterKey("b"), []byte(`{"clusterName":"b"}`)))
		mustTxn(t, st, store.Put(state.ClusterKey("c"), []byte(`{"clusterName":"c"}`)))
		mustTxn(t, st, store.Put(state.ClusterKey("d"), []byte(`{"clusterName":"d"}`)))
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("WaitFor(%d): got %v, want nil", rev+2, err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("WaitFor(%d): still waiting after the revision was committed", rev+2)
		}
		if _, ok := c.Cluster("c"); !ok {
			t.Errorf("after WaitFor(%d): Cluster(c) not found", rev+2)
		}
		c.wmu.Lock()
		n := len(c.waiters)
		c.wmu.Unlock()
		if n != 0 {
			t.Errorf("waiters left: got %d, want 0 (the timed-out one must be dropped)", n)
		}
	})
	t.Run("BeforeRun", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		rev := mustTxn(t, st, store.Put(state.ClusterKey("a"), []byte(`{"clusterName":"a"}`)))
		c := New(st, testLogger(t))
		if _, ok := c.Cluster("a"); ok {
			t.Errorf("Cluster(a) before Run: found, want nothing")
		}
		errc := make(chan error, 1)
		go func() { errc <- c.WaitFor(context.Background(), rev) }()
		ctx, cancel := context.WithCancel(context.Background())
		runErr := make(chan error, 1)
		go func() { runErr <- c.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-runErr; err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
		}()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("WaitFor: got %v, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("WaitFor: still waiting after Run listed")
		}
		if _, ok := c.Cluster("a"); !ok {
			t.Errorf("Cluster(a) after WaitFor: not found")
		}
	})
	t.Run("AfterStop", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		c := startCache(t, st)
		if err := c.stop(t); err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
		rev := mustTxn(t, st, store.Put(state.ClusterKey("a"), []byte(`{"clusterName":"a"}`)))
		if err := c.WaitFor(context.Background(), rev); !errors.Is(err, ErrStopped) {
			t.Errorf("WaitFor after Run returned: got %v, want ErrStopped", err)
		}
	})
	t.Run("ZeroIsAlwaysDone", func(t *testing.T) {
		c := New(openStore(t, bolt.Options{}), testLogger(t))
		if err := c.WaitFor(context.Background(), 0); err != nil {
			t.Errorf("WaitFor(0): got %v, want nil", err)
		}
	})
}

// TestSnapshotsAreCopyOnWrite: a slice or map an accessor returned keeps
// its contents while the cache moves on.
func TestSnapshotsAreCopyOnWrite(t *testing.T) {
	st := openStore(t, bolt.Options{})
	c := startCache(t, st)
	arn := instanceARN("c", "i0")
	task := func(id, status, group string) store.Op {
		return putOp(t, state.TaskKey("c", id), &ecs.Task{TaskArn: taskARN("c", id), ContainerInstanceArn: arn, LastStatus: status, Group: group})
	}
	rev := mustTxn(t, st, task("a", "PENDING", "service:web"), task("b", "PENDING", "service:web"))
	mustWait(t, c.Cache, rev)
	tasks := c.InstanceTasks("c", arn)
	groups := c.InstanceGroups("c", arn)
	all := c.GroupsByInstance("c")
	wantTasks := slices.Clone(tasks)

	rev = mustTxn(t, st, task("a", "RUNNING", "service:web"), task("b", "PENDING", "service:db"), task("c", "PENDING", "service:web"))
	mustWait(t, c.Cache, rev)
	if diff := cmp.Diff(wantTasks, tasks); diff != "" {
		t.Errorf("InstanceTasks snapshot changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"service:web": 2}, groups); diff != "" {
		t.Errorf("InstanceGroups snapshot changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]map[string]int{arn: {"service:web": 2}}, all); diff != "" {
		t.Errorf("GroupsByInstance snapshot changed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"service:web": 2, "service:db": 1}, c.InstanceGroups("c", arn)); diff != "" {
		t.Errorf("InstanceGroups now (-want +got):\n%s", diff)
	}
	// Appending to a returned slice must not reach the cache.
	_ = append(c.InstanceTasks("c", arn), state.Record[ecs.Task]{})
	if got := len(c.InstanceTasks("c", arn)); got != 3 {
		t.Errorf("InstanceTasks after a caller appended: got %d tasks, want 3", got)
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("UndecodableRecordInListing", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		mustTxn(t, st, store.Put(state.TaskKey("c", "bad"), []byte("{")))
		c := New(st, testLogger(t))
		err := c.Run(t.Context())
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Run: got %v, want a *json.SyntaxError", err)
		}
	})
	t.Run("UndecodableRecordInWatch", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		c := startCache(t, st)
		mustTxn(t, st, store.Put(state.InstanceKey("c", "bad"), []byte(`{"status":1}`)))
		select {
		case err := <-c.errc:
			c.errc <- err
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Errorf("Run: got %v, want a *json.UnmarshalTypeError", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run: still running after an undecodable event")
		}
	})
	t.Run("StoreClosed", func(t *testing.T) {
		st := openStore(t, bolt.Options{})
		c := startCache(t, st)
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-c.errc:
			c.errc <- err
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("Run: got %v, want store.ErrClosed", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Run: still running after the store closed")
		}
	})
	t.Run("Twice", func(t *testing.T) {
		c := startCache(t, openStore(t, bolt.Options{}))
		if err := c.Run(t.Context()); err == nil {
			t.Error("second Run: got nil, want an error")
		}
	})
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key           string
		kind          kind
		cluster, name string
	}{
		{"ecs/tasks/c/t1", kindTask, "c", "t1"},
		{"ecs/instances/c/i1", kindInstance, "c", "i1"},
		{"ecs/services/c/web", kindService, "c", "web"},
		{"ecs/clusters/c", kindCluster, "c", ""},
		{"ecs/taskdefs/web/0000000001", kindTaskDef, "", ""},
		{"ecs/families/web", kindNone, "", ""},
		{"ecs/tasks/c", kindNone, "", ""},
		{"ecs/tasks/c/", kindNone, "", ""},
		{"ecs/tasks//t1", kindNone, "", ""},
		{"ecs/tasks/c/t1/x", kindNone, "", ""},
		{"ecs/clusters/", kindNone, "", ""},
		{"ecs/clusters/a/b", kindNone, "", ""},
		{"other/tasks/c/t1", kindNone, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			k, cl, name := parseKey(tt.key)
			if k != tt.kind || cl != tt.cluster || name != tt.name {
				t.Errorf("parseKey(%q): got (%d, %q, %q), want (%d, %q, %q)", tt.key, k, cl, name, tt.kind, tt.cluster, tt.name)
			}
		})
	}
}

// TestWatchPrefixCoversState: one watch on watchPrefix sees every key
// package state writes.
func TestWatchPrefixCoversState(t *testing.T) {
	for _, p := range []string{state.ClustersPrefix, state.FamiliesPrefix, state.TaskDefsPrefix, state.ServicesPrefix, state.TasksPrefix, state.InstancesPrefix} {
		if len(p) < len(watchPrefix) || p[:len(watchPrefix)] != watchPrefix {
			t.Errorf("state prefix %q is not under the watched prefix %q", p, watchPrefix)
		}
	}
}

func TestTaskCounts(t *testing.T) {
	var c TaskCounts
	for _, s := range taskStatuses {
		c.add(phaseOf(s), 1)
	}
	c.add(phaseOf("SOMETHING_NEW"), 1)
	want := TaskCounts{Running: 1, Pending: 4, Stopping: 3, Stopped: 1}
	if c != want {
		t.Errorf("counts of one task per status: got %+v, want %+v", c, want)
	}
	if c.Live() != 8 || c.Total() != 9 {
		t.Errorf("Live, Total: got %d, %d, want 8, 9", c.Live(), c.Total())
	}
}
