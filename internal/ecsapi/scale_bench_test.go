package ecsapi

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterstate"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

// BenchmarkLargeCluster measures the decisions that used to scan the store
// — DescribeServices' counts, an agent's desired tasks — on a cluster of
// 5,000 instances and 150,000 tasks, read through the cluster index and,
// for comparison, from the store.
func BenchmarkLargeCluster(b *testing.B) {
	const instances, tasks = 5000, 150000
	st, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{WatchBuffer: 16384})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plain := New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012"})
	if _, err := plain.CreateCluster(ctx, &ecs.CreateClusterRequest{ClusterName: "big"}); err != nil {
		b.Fatal(err)
	}
	if _, err := plain.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](16)}}}); err != nil {
		b.Fatal(err)
	}
	if _, err := plain.CreateService(ctx, &ecs.CreateServiceRequest{Cluster: "big", ServiceName: "web", TaskDefinition: "web", DesiredCount: ptr[int32](0)}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var firstInstance string
	var ops []store.Op
	flush := func() {
		if _, err := st.Txn(ctx, ops...); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range instances {
		reg, err := plain.RegisterAgent(ctx, &agent.RegisterRequest{Cluster: "big", CPU: 1 << 20, Memory: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			firstInstance = reg.InstanceID
		}
		for j := range tasks / instances {
			id := fmt.Sprintf("%08x%024x", i, j)
			t := &ecs.Task{TaskArn: plain.taskARN("big", id), ClusterArn: plain.clusterARN("big"), ContainerInstanceArn: reg.ContainerInstanceArn,
				TaskDefinitionArn: plain.taskDefARN("web", 1), Group: "service:web", LastStatus: "RUNNING", DesiredStatus: "RUNNING"}
			op, _ := state.PutOp(state.TaskKey("big", id), t, store.Any)
			ops = append(ops, op)
		}
		if len(ops) >= 3000 {
			flush()
		}
	}
	flush()
	b.Logf("populated %d instances and %d tasks in %v", instances, tasks, time.Since(start).Round(time.Millisecond))

	idx := clusterstate.New(st, slog.New(slog.DiscardHandler))
	go func() { _ = idx.Run(ctx) }()
	<-idx.Ready()
	indexed := New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Cache: idx})

	for _, c := range []struct {
		name string
		svc  *Service
	}{{"index", indexed}, {"store", plain}} {
		b.Run("DescribeServices/"+c.name, func(b *testing.B) {
			for range b.N {
				out, err := c.svc.DescribeServices(ctx, &ecs.DescribeServicesRequest{Cluster: "big", Services: []string{"web"}})
				if err != nil || out.Services[0].RunningCount != tasks {
					b.Fatalf("got %+v, %v; want runningCount %d", out.Services, err, tasks)
				}
			}
		})
		b.Run("AgentTasks/"+c.name, func(b *testing.B) {
			for range b.N {
				got, _, err := c.svc.AgentTasks(ctx, "big", firstInstance)
				if err != nil || len(got) != tasks/instances {
					b.Fatalf("got %d tasks, %v; want %d", len(got), err, tasks/instances)
				}
			}
		})
	}
}
