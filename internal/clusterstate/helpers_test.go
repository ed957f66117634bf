package clusterstate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

// waitTimeout bounds every wait in the tests.
const waitTimeout = 20 * time.Second

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

func openStore(t testing.TB, opts bolt.Options) *bolt.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	st, err := bolt.Open(path, opts)
	if err != nil {
		t.Fatalf("bolt.Open(%s): got error %v, want nil", path, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// hookStore is a store whose List can be followed by a test's action
// (function-field fake around a real store).
type hookStore struct {
	store.Store
	afterList func(rev int64)
}

func (h *hookStore) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	kvs, rev, err := h.Store.List(ctx, prefix)
	if err == nil && h.afterList != nil {
		h.afterList(rev)
	}
	return kvs, rev, err
}

// running is a cache with Run in a goroutine.
type running struct {
	*Cache
	cancel context.CancelFunc
	errc   chan error // Run's result
}

// startCache runs a cache over st until the test ends and waits until it
// is ready.
func startCache(t testing.TB, st store.Store) *running {
	t.Helper()
	r := startCacheNoWait(t, st)
	select {
	case <-r.Ready():
	case err := <-r.errc:
		t.Fatalf("Run: returned %v before the cache was ready", err)
	case <-time.After(waitTimeout):
		t.Fatalf("Ready: not closed after %s", waitTimeout)
	}
	return r
}

func startCacheNoWait(t testing.TB, st store.Store) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Cache: New(st, testLogger(t)), cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.errc:
		case <-time.After(waitTimeout):
			t.Errorf("Run: still running %s after cancel", waitTimeout)
		}
	})
	return r
}

// stop cancels Run and returns its result.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errc:
		r.errc <- err // for the cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("Run: still running %s after cancel", waitTimeout)
		return nil
	}
}

func mustTxn(t testing.TB, st store.Store, ops ...store.Op) int64 {
	t.Helper()
	rev, err := st.Txn(context.Background(), ops...)
	if err != nil {
		t.Fatalf("Txn: got error %v, want nil", err)
	}
	return rev
}

func mustWait(t testing.TB, c *Cache, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.WaitFor(ctx, rev); err != nil {
		t.Fatalf("WaitFor(%d): got error %v, want nil", rev, err)
	}
}

func putOp(t testing.TB, key string, v any) store.Op {
	t.Helper()
	op, err := state.PutOp(key, v, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func instanceARN(cluster, id string) string {
	return "arn:aws:ecs:us-east-1:000000000000:container-instance/" + cluster + "/" + id
}

func taskARN(cluster, id string) string {
	return "arn:aws:ecs:us-east-1:000000000000:task/" + cluster + "/" + id
}

// view is everything the accessors answer about a universe of names. The
// oracle builds it by scanning a fresh List; the cache's is built by
// asking the accessors. They must be equal.
type view struct {
	Clusters []state.Record[ecs.Cluster]
	Cluster  map[string]state.Record[ecs.Cluster]
	TaskDefs map[string]state.Record[state.TaskDefinition]
	Per      map[string]*clusterView
}

type clusterView struct {
	Instances      []state.Record[ecs.ContainerInstance]
	Instance       map[string]state.Record[ecs.ContainerInstance] // by ID
	InstanceByARN  map[string]state.Record[ecs.ContainerInstance]
	Services       []state.Record[ecs.Service]
	Service        map[string]state.Record[ecs.Service]
	Task           map[string]state.Record[ecs.Task]
	InstanceTasks  map[string][]state.Record[ecs.Task]            // by instance ARN
	InstanceGroups map[string]map[string]int                      // by instance ARN
	GroupTasks     map[string]map[string][]state.Record[ecs.Task] // group → status ("*": all) → tasks
	GroupCounts    map[string]GroupCounts
	Counts         ClusterCounts
}

// universe is every name a test may have written.
type universe struct {
	clusters, instanceIDs, taskIDs, services, groups, statuses []string
	arns                                                       func(cluster string) []string
	taskDefs                                                   []struct {
		family string
		rev    int32
	}
}

// oracleView scans a listing the simple way.
func oracleView(t testing.TB, kvs []store.KV, u universe) *view {
	t.Helper()
	v := &view{Cluster: map[string]state.Record[ecs.Cluster]{}, TaskDefs: map[string]state.Record[state.TaskDefinition]{}, Per: map[string]*clusterView{}}
	decodeInto := func(kv store.KV, p any) {
		if err := json.Unmarshal(kv.Value, p); err != nil {
			t.Fatalf("decode %s: %v", kv.Key, err)
		}
	}
	type rec[T any] = state.Record[T]
	var (
		insts = map[string][]rec[ecs.ContainerInstance]{}
		svcs  = map[string][]rec[ecs.Service]{}
		tasks = map[string][]rec[ecs.Task]{}
	)
	cutName := func(key, prefix string) (cluster, name string, ok bool) {
		rest, ok := strings.CutPrefix(key, prefix)
		if !ok {
			return "", "", false
		}
		cluster, name, ok = strings.Cut(rest, "/")
		return cluster, name, ok && cluster != "" && name != "" && !strings.Contains(name, "/")
	}
	for _, kv := range kvs {
		if c, ok := strings.CutPrefix(kv.Key, state.ClustersPrefix); ok && c != "" && !strings.Contains(c, "/") {
			r := rec[ecs.Cluster]{Value: new(ecs.Cluster), Revision: kv.ModRevision}
			decodeInto(kv, r.Value)
			v.Clusters = append(v.Clusters, r)
			continue
		}
		if strings.HasPrefix(kv.Key, state.TaskDefsPrefix) {
			r := rec[state.TaskDefinition]{Value: new(state.TaskDefinition), Revision: kv.ModRevision}
			decodeInto(kv, r.Value)
			v.TaskDefs[kv.Key] = r
			continue
		}
		if c, _, ok := cutName(kv.Key, state.InstancesPrefix); ok {
			r := rec[ecs.ContainerInstance]{Value: new(ecs.ContainerInstance), Revision: kv.ModRevision}
			decodeInto(kv, r.Value)
			insts[c] = append(insts[c], r)
		}
		if c, _, ok := cutName(kv.Key, state.ServicesPrefix); ok {
			r := rec[ecs.Service]{Value: new(ecs.Service), Revision: kv.ModRevision}
			decodeInto(kv, r.Value)
			svcs[c] = append(svcs[c], r)
		}
		if c, _, ok := cutName(kv.Key, state.TasksPrefix); ok {
			r := rec[ecs.Task]{Value: new(ecs.Task), Revision: kv.ModRevision}
			decodeInto(kv, r.Value)
			tasks[c] = append(tasks[c], r)
		}
	}
	// The tests write ClusterName as the key's name.
	for _, r := range v.Clusters {
		v.Cluster[r.Value.ClusterName] = r
	}
	idOf := func(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }
	for _, cl := range u.clusters {
		cv := &clusterView{
			Instances: insts[cl], Instance: map[string]rec[ecs.ContainerInstance]{}, InstanceByARN: map[string]rec[ecs.ContainerInstance]{},
			Services: svcs[cl], Service: map[string]rec[ecs.Service]{}, Task: map[string]rec[ecs.Task]{},
			InstanceTasks: map[string][]rec[ecs.Task]{}, InstanceGroups: map[string]map[string]int{},
			GroupTasks: map[string]map[string][]rec[ecs.Task]{}, GroupCounts: map[string]GroupCounts{},
		}
		for _, r := range insts[cl] {
			cv.Instance[idOf(r.Value.ContainerInstanceArn)] = r
			cv.InstanceByARN[r.Value.ContainerInstanceArn] = r
			if r.Value.Status != "INACTIVE" {
				cv.Counts.RegisteredInstances++
			}
		}
		for _, r := range svcs[cl] {
			cv.Service[r.Value.ServiceName] = r
			switch r.Value.Status {
			case "ACTIVE":
				cv.Counts.ActiveServices++
			case "DRAINING":
				cv.Counts.DrainingServices++
			}
		}
		for _, r := range tasks[cl] {
			t := r.Value
			cv.Task[idOf(t.TaskArn)] = r
			count := func(c *TaskCounts) {
				switch t.LastStatus {
				case "RUNNING":
					c.Running++
				case "STOPPED":
					c.Stopped++
				case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
					c.Stopping++
				default:
					c.Pending++
				}
			}
			count(&cv.Counts.Tasks)
			gc, ok := cv.GroupCounts[t.Group]
			if !ok {
				gc.ByStartedBy = map[string]TaskCounts{}
			}
			count(&gc.TaskCounts)
			if t.StartedBy != "" {
				sc := gc.ByStartedBy[t.StartedBy]
				count(&sc)
				gc.ByStartedBy[t.StartedBy] = sc
			}
			cv.GroupCounts[t.Group] = gc
			if cv.GroupTasks[t.Group] == nil {
				cv.GroupTasks[t.Group] = map[string][]rec[ecs.Task]{}
			}
			cv.GroupTasks[t.Group]["*"] = append(cv.GroupTasks[t.Group]["*"], r)
			cv.GroupTasks[t.Group][t.LastStatus] = append(cv.GroupTasks[t.Group][t.LastStatus], r)
			if t.LastStatus != "STOPPED" && t.ContainerInstanceArn != "" {
				cv.InstanceTasks[t.ContainerInstanceArn] = append(cv.InstanceTasks[t.ContainerInstanceArn], r)
				if cv.InstanceGroups[t.ContainerInstanceArn] == nil {
					cv.InstanceGroups[t.ContainerInstanceArn] = map[string]int{}
				}
				cv.InstanceGroups[t.ContainerInstanceArn][t.Group]++
			}
		}
		v.Per[cl] = cv
	}
	return v
}

// cacheView asks the cache's accessors about every name in u.
func cacheView(c *Cache, u universe) *view {
	v := &view{Clusters: c.Clusters(), Cluster: map[string]state.Record[ecs.Cluster]{}, TaskDefs: map[string]state.Record[state.TaskDefinition]{}, Per: map[string]*clusterView{}}
	if len(v.Clusters) == 0 {
		v.Clusters = nil
	}
	for _, cl := range u.clusters {
		if r, ok := c.Cluster(cl); ok {
			v.Cluster[cl] = r
		}
	}
	for _, td := range u.taskDefs {
		if r, ok := c.TaskDefinition(td.family, td.rev); ok {
			v.TaskDefs[state.TaskDefKey(td.family, td.rev)] = r
		}
	}
	for _, cl := range u.clusters {
		cv := &clusterView{
			Instances: c.Instances(cl), Instance: map[string]state.Record[ecs.ContainerInstance]{}, InstanceByARN: map[string]state.Record[ecs.ContainerInstance]{},
			Services: c.Services(cl), Service: map[string]state.Record[ecs.Service]{}, Task: map[string]state.Record[ecs.Task]{},
			InstanceTasks: map[string][]state.Record[ecs.Task]{}, InstanceGroups: map[string]map[string]int{},
			GroupTasks: map[string]map[string][]state.Record[ecs.Task]{}, GroupCounts: map[string]GroupCounts{},
			Counts: c.ClusterCounts(cl),
		}
		if len(cv.Instances) == 0 {
			cv.Instances = nil
		}
		if len(cv.Services) == 0 {
			cv.Services = nil
		}
		for _, id := range u.instanceIDs {
			if r, ok := c.Instance(cl, id); ok {
				cv.Instance[id] = r
			}
		}
		for _, arn := range u.arns(cl) {
			if r, ok := c.InstanceByARN(cl, arn); ok {
				cv.InstanceByARN[arn] = r
			}
			if ts := c.InstanceTasks(cl, arn); len(ts) > 0 {
				cv.InstanceTasks[arn] = ts
			}
			if g := c.InstanceGroups(cl, arn); g != nil {
				cv.InstanceGroups[arn] = g
			}
		}
		for _, n := range u.services {
			if r, ok := c.Service(cl, n); ok {
				cv.Service[n] = r
			}
		}
		for _, id := range u.taskIDs {
			if r, ok := c.Task(cl, id); ok {
				cv.Task[id] = r
			}
		}
		for _, g := range u.groups {
			if gc := c.GroupCounts(cl, g); gc.Total() > 0 || len(gc.ByStartedBy) > 0 {
				cv.GroupCounts[g] = gc
			}
			byStatus := map[string][]state.Record[ecs.Task]{}
			if ts := c.GroupTasks(cl, g); len(ts) > 0 {
				byStatus["*"] = ts
			}
			for _, s := range u.statuses {
				if ts := c.GroupTasks(cl, g, s); len(ts) > 0 {
					byStatus[s] = ts
				}
			}
			if len(byStatus) > 0 {
				cv.GroupTasks[g] = byStatus
			}
		}
		// GroupsByInstance must agree with InstanceGroups.
		all := c.GroupsByInstance(cl)
		if len(all) != len(cv.InstanceGroups) {
			cv.InstanceGroups["<GroupsByInstance>"] = map[string]int{"len": len(all)}
		}
		for arn, g := range all {
			if !mapsEqual(g, cv.InstanceGroups[arn]) {
				cv.InstanceGroups["<GroupsByInstance differs>"+arn] = g
			}
		}
		v.Per[cl] = cv
	}
	return v
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkConverged compares the cache with a fresh listing of st.
func checkConverged(t *testing.T, c *Cache, st store.Store, u universe) {
	t.Helper()
	kvs, _, err := st.List(context.Background(), watchPrefix)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := oracleView(t, kvs, u)
	got := cacheView(c, u)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("cache differs from a fresh List (-list +cache):\n%s", diff)
	}
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
