package ecsapi

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterstate"
	"github.com/berth-io/berth/internal/store/bolt"
)

// With the cluster index configured, what a caller just wrote is what the
// index-backed reads (counts, an agent's desired tasks) show.
func TestReadsThroughTheIndexSeeTheirOwnWrites(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	idx := clusterstate.New(st, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = idx.Run(ctx) }()
	s := New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Cache: idx})

	reg, err := s.RegisterAgent(ctx, &agent.RegisterRequest{Cluster: "c", CPU: 2048, Memory: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		run, err := s.RunTask(ctx, &ecs.RunTaskRequest{Cluster: "c", TaskDefinition: "web"})
		if err != nil || len(run.Tasks) != 1 {
			t.Fatalf("run task: %+v %v", run, err)
		}
		tasks, _, err := s.AgentTasks(ctx, "c", reg.InstanceID)
		if err != nil || len(tasks) != i {
			t.Fatalf("after %d RunTask: agent sees %d tasks (%v), want %d", i, len(tasks), err, i)
		}
		d, err := s.DescribeClusters(ctx, &ecs.DescribeClustersRequest{Clusters: []string{"c"}})
		if err != nil || d.Clusters[0].PendingTasksCount != int32(i) {
			t.Fatalf("after %d RunTask: pending count %d (%v), want %d", i, d.Clusters[0].PendingTasksCount, err, i)
		}
	}
}
