package clusterstate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

// The benchmark cluster: the work item's scale.
const (
	benchCluster   = "prod"
	benchInstances = 5000
	benchTasks     = 150000
	benchServices  = 50
	benchTxnOps    = 5000 // ops per populating Txn
)

// benchFixture is one populated store, shared by the sub-benchmarks.
type benchFixture struct {
	st      *bolt.Store
	arns    []string // instance ARNs
	taskIDs []string

	// listNs is one state.List of the cluster's tasks (read and decode),
	// the part every scan pays; tasks is its result.
	listNs int64
	tasks  []state.Record[ecs.Task]
}

func benchInstanceID(i int) string { return fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15) }
func benchTaskID(i int) string     { return fmt.Sprintf("%032x", uint64(i)*0xc2b2ae3d27d4eb4f+1) }

// benchTask is a task record shaped like the ones RunTask writes.
func benchTask(i int, status string) *ecs.Task {
	id := benchTaskID(i)
	arn := taskARN(benchCluster, id)
	now := ecs.NewTime(time.Unix(1_750_000_000+int64(i), 0).UTC())
	svc := fmt.Sprintf("svc-%02d", i%benchServices)
	t := &ecs.Task{
		TaskArn:              arn,
		ClusterArn:           "arn:aws:ecs:us-east-1:000000000000:cluster/" + benchCluster,
		TaskDefinitionArn:    "arn:aws:ecs:us-east-1:000000000000:task-definition/" + svc + ":3",
		ContainerInstanceArn: instanceARN(benchCluster, benchInstanceID(i%benchInstances)),
		Overrides:            &ecs.TaskOverride{ContainerOverrides: []ecs.ContainerOverride{}, InferenceAcceleratorOverrides: []ecs.InferenceAcceleratorOverride{}},
		LastStatus:           status,
		DesiredStatus:        "RUNNING",
		HealthStatus:         "UNKNOWN",
		Cpu:                  "256",
		Memory:               "512",
		CreatedAt:            now,
		PullStartedAt:        now,
		PullStoppedAt:        now,
		StartedAt:            now,
		Connectivity:         "CONNECTED",
		ConnectivityAt:       now,
		Group:                ServiceGroup(svc),
		StartedBy:            "ecs-svc/" + svc + "-deployment-1",
		LaunchType:           "EC2",
		AvailabilityZone:     "us-east-1a",
		Version:              3,
		Attachments:          []ecs.Attachment{},
		Containers: []ecs.Container{{
			ContainerArn:    "arn:aws:ecs:us-east-1:000000000000:container/" + benchCluster + "/" + id + "/0b6a1f3e-5c1d-4e8b-9f2a-7d3c4b5a6e7f",
			TaskArn:         arn,
			Name:            "app",
			Image:           "registry.example.com/team/" + svc + ":1.42.0",
			RuntimeId:       id + "-app",
			LastStatus:      status,
			HealthStatus:    "UNKNOWN",
			NetworkBindings: []ecs.NetworkBinding{},
			Cpu:             "256",
			Memory:          "512",
		}},
	}
	if status == statusStopped {
		t.DesiredStatus = statusStopped
		t.StoppedAt, t.StopCode, t.StoppedReason = now, "EssentialContainerExited", "Essential container in task exited"
	}
	return t
}

func benchInstance(i int) *ecs.ContainerInstance {
	id := benchInstanceID(i)
	res := func(cpu, mem int32) []ecs.Resource {
		return []ecs.Resource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: cpu},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: mem},
			{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
			{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{}},
		}
	}
	attrs := []ecs.Attribute{
		{Name: "ecs.availability-zone", Value: []string{"us-east-1a", "us-east-1b", "us-east-1c"}[i%3]},
		{Name: "ecs.instance-type", Value: "m5.4xlarge"},
		{Name: "ecs.os-type", Value: "linux"},
		{Name: "ecs.cpu-architecture", Value: "x86_64"},
	}
	for _, c := range []string{"docker-remote-api.1.41", "logging-driver.json-file", "task-eni", "execution-role-awslogs", "container-health-check"} {
		attrs = append(attrs, ecs.Attribute{Name: "ecs.capability." + c})
	}
	return &ecs.ContainerInstance{
		ContainerInstanceArn: instanceARN(benchCluster, id),
		Ec2InstanceId:        fmt.Sprintf("i-%017x", i),
		Status:               "ACTIVE",
		AgentConnected:       true,
		RegisteredResources:  res(16384, 65536),
		RemainingResources:   res(16384-30*256, 65536-30*512),
		Attributes:           attrs,
		RunningTasksCount:    30,
		VersionInfo:          &ecs.VersionInfo{AgentVersion: "1.0.0"},
		RegisteredAt:         ecs.NewTime(time.Unix(1_750_000_000, 0).UTC()),
		Version:              31,
	}
}

// benchStatus spreads statuses: of the 30 tasks on each instance, 28 are
// RUNNING, one PENDING and one STOPPED.
func benchStatus(i int) string {
	switch i / benchInstances {
	case 0:
		return "PENDING"
	case 1:
		return statusStopped
	default:
		return statusRunning
	}
}

// newBenchFixture writes the cluster in batched Txns and times one scan.
func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	start := time.Now()
	f := &benchFixture{st: openStore(b, bolt.Options{})}
	ctx := context.Background()
	var ops []store.Op
	flush := func() {
		if len(ops) > 0 {
			mustTxn(b, f.st, ops...)
			ops = ops[:0]
		}
	}
	for i := range benchInstances {
		f.arns = append(f.arns, instanceARN(benchCluster, benchInstanceID(i)))
		ops = append(ops, putOp(b, state.InstanceKey(benchCluster, benchInstanceID(i)), benchInstance(i)))
	}
	for i := range benchServices {
		name := fmt.Sprintf("svc-%02d", i)
		ops = append(ops, putOp(b, state.ServiceKey(benchCluster, name), &ecs.Service{ServiceName: name, Status: "ACTIVE", DesiredCount: benchTasks / benchServices}))
	}
	flush()
	for i := range benchTasks {
		f.taskIDs = append(f.taskIDs, benchTaskID(i))
		ops = append(ops, putOp(b, state.TaskKey(benchCluster, benchTaskID(i)), benchTask(i, benchStatus(i))))
		if len(ops) == benchTxnOps {
			flush()
		}
	}
	flush()
	populated := time.Since(start)

	runtime.GC()
	t0 := time.Now()
	tasks, err := state.List[ecs.Task](ctx, f.st, state.TasksOf(benchCluster))
	if err != nil {
		b.Fatal(err)
	}
	f.listNs, f.tasks = time.Since(t0).Nanoseconds(), tasks
	b.Logf("fixture: %d instances, %d tasks written in %s; one state.List of the tasks takes %s",
		benchInstances, benchTasks, populated.Round(time.Millisecond), time.Duration(f.listNs).Round(time.Millisecond))
	return f
}

// scanNs is what the scan version of a read costs: the List it needs
// (f.listNs) plus its filter over the decoded tasks, timed here.
func (f *benchFixture) scanNs(filter func([]state.Record[ecs.Task]) int) float64 {
	const reps = 5
	t0 := time.Now()
	for range reps {
		if filter(f.tasks) < 0 {
			panic("unreachable")
		}
	}
	return float64(f.listNs) + float64(time.Since(t0).Nanoseconds())/reps
}

// reportVsScan reports the cache's ns/op next to the scan's.
func reportVsScan(b *testing.B, scanNs float64) {
	cacheNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(scanNs, "scan-ns/op")
	b.ReportMetric(scanNs/cacheNs, "x-faster")
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkClusterState measures the cache at the work item's scale: 5,000
// instances and 150,000 tasks in one cluster. Run it with
//
//	go test ./internal/clusterstate/ -run '^$' -bench ClusterState -benchtime 1x   # quick
//	go test ./internal/clusterstate/ -run '^$' -bench ClusterState                 # figures
func BenchmarkClusterState(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()

	b.Run("InitialLoad", func(b *testing.B) {
		var heap uint64
		for b.Loop() {
			b.StopTimer()
			before := heapInUse()
			b.StartTimer()
			c := New(f.st, testLogger(b))
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- c.Run(runCtx) }()
			<-c.Ready()
			b.StopTimer()
			heap = heapInUse() - before
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(benchTasks+benchInstances)/(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9), "records/s")
		// The scan equivalent: what one decision costs today.
		reportVsScan(b, float64(f.listNs))
	})

	c := startCache(b, f.st)

	b.Run("ApplyTxn", func(b *testing.B) {
		// Task status updates committed through the store by 16 writers
		// (the store group-commits them), until the cache has applied
		// the last one.
		before := c.relists.Load()
		var (
			next atomic.Int64
			last atomic.Int64
		)
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1)) % benchTasks
				status := []string{"RUNNING", "PENDING"}[rand.IntN(2)]
				if benchStatus(i) == statusStopped {
					status = statusStopped
				}
				op := putOp(b, state.TaskKey(benchCluster, f.taskIDs[i]), benchTask(i, status))
				rev, err := f.st.Txn(ctx, op)
				if err != nil {
					b.Error(err)
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
		mustWait(b, c.Cache, last.Load())
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		b.ReportMetric(float64(c.relists.Load()-before), "relists")
	})

	b.Run("ApplyEvents", func(b *testing.B) {
		// The cache's own cost per event (decode and index), without the
		// store: the ceiling on the rate it can follow.
		const pool = 4096
		events := make([]store.Event, pool)
		for j := range pool {
			i := j * (benchTasks / pool)
			v, err := state.PutOp(state.TaskKey(benchCluster, f.taskIDs[i]), benchTask(i, []string{"RUNNING", "PENDING"}[j%2]), store.Any)
			if err != nil {
				b.Fatal(err)
			}
			events[j] = store.Event{Type: store.EventPut, KV: store.KV{Key: v.Key, Value: v.Value}}
		}
		// The running cache's applier is idle (no writes); feed a second
		// cache that shares nothing with it.
		x := New(f.st, testLogger(b))
		kvs, listRev, err := f.st.List(ctx, watchPrefix)
		if err != nil {
			b.Fatal(err)
		}
		idx, err := buildIndex(kvs)
		if err != nil {
			b.Fatal(err)
		}
		x.idx, x.rev = idx, listRev
		var changes []change
		batch := make([]store.Event, 0, maxBatch)
		n := 0
		for b.Loop() {
			e := events[n%pool]
			n++
			e.KV.ModRevision = listRev + int64(n)
			batch = append(batch, e)
			if len(batch) == maxBatch {
				if err := x.applyEvents(batch, &changes); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := x.applyEvents(batch, &changes); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("InstanceTasks", func(b *testing.B) {
		// AgentTasks on every agent poll: the live tasks of one instance.
		arn := f.arns[0]
		scan := f.scanNs(func(ts []state.Record[ecs.Task]) int {
			n := 0
			for _, r := range ts {
				if r.Value.ContainerInstanceArn == arn && r.Value.LastStatus != statusStopped {
					n++
				}
			}
			return n
		})
		i := 0
		for b.Loop() {
			if len(c.InstanceTasks(benchCluster, f.arns[i%benchInstances])) == 0 {
				b.Fatal("no tasks")
			}
			i++
		}
		reportVsScan(b, scan)
	})

	b.Run("GroupsByInstance", func(b *testing.B) {
		// memberOf(task:group ...) and the scheduler's spread and
		// distinctInstance: the groups on every instance.
		scan := f.scanNs(func(ts []state.Record[ecs.Task]) int {
			m := map[string][]string{}
			for _, r := range ts {
				if t := r.Value; t.LastStatus != statusStopped && t.ContainerInstanceArn != "" {
					m[t.ContainerInstanceArn] = append(m[t.ContainerInstanceArn], t.Group)
				}
			}
			return len(m)
		})
		for b.Loop() {
			if len(c.GroupsByInstance(benchCluster)) != benchInstances {
				b.Fatal("missing instances")
			}
		}
		reportVsScan(b, scan)
	})

	b.Run("ServiceCounts", func(b *testing.B) {
		// DescribeServices and the service controller: running and
		// pending counts of one service, per deployment too.
		scan := f.scanNs(func(ts []state.Record[ecs.Task]) int {
			var c TaskCounts
			by := map[string]TaskCounts{}
			for _, r := range ts {
				if r.Value.Group != "service:svc-07" {
					continue
				}
				c.add(phaseOf(r.Value.LastStatus), 1)
				d := by[r.Value.StartedBy]
				d.add(phaseOf(r.Value.LastStatus), 1)
				by[r.Value.StartedBy] = d
			}
			return c.Running + len(by)
		})
		i := 0
		for b.Loop() {
			if c.ServiceCounts(benchCluster, fmt.Sprintf("svc-%02d", i%benchServices)).Total() == 0 {
				b.Fatal("no tasks")
			}
			i++
		}
		reportVsScan(b, scan)
	})

	b.Run("GroupTasksRunning", func(b *testing.B) {
		// The service controller: the RUNNING tasks of one service
		// (about 2,800 of them), sorted.
		group := ServiceGroup("svc-07")
		scan := f.scanNs(func(ts []state.Record[ecs.Task]) int {
			n := 0
			for _, r := range ts {
				if r.Value.Group == group && r.Value.LastStatus == statusRunning {
					n++
				}
			}
			return n
		})
		for b.Loop() {
			if len(c.GroupTasks(benchCluster, group, statusRunning)) == 0 {
				b.Fatal("no tasks")
			}
		}
		reportVsScan(b, scan)
	})

	b.Run("Instances", func(b *testing.B) {
		// RunTask placement: every instance of the cluster. The scan
		// lists only instances, not tasks.
		t0 := time.Now()
		recs, err := state.List[ecs.ContainerInstance](ctx, f.st, state.InstancesOf(benchCluster))
		if err != nil || len(recs) != benchInstances {
			b.Fatalf("List instances: %d, %v", len(recs), err)
		}
		scan := float64(time.Since(t0).Nanoseconds())
		for b.Loop() {
			if len(c.Instances(benchCluster)) != benchInstances {
				b.Fatal("missing instances")
			}
		}
		reportVsScan(b, scan)
	})

	b.Run("InstanceTasksParallel", func(b *testing.B) {
		// Many agents polling at once while status updates stream in.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := putOp(b, state.TaskKey(benchCluster, f.taskIDs[i%benchTasks]), benchTask(i%benchTasks, benchStatus(i%benchTasks)))
				if _, err := f.st.Txn(ctx, op); err != nil {
					b.Error(err)
					return
				}
			}
		})
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if len(c.InstanceTasks(benchCluster, f.arns[i%benchInstances])) == 0 {
					b.Error("no tasks")
					return
				}
			}
		})
		b.StopTimer()
		close(stop)
		wg.Wait()
	})
}
