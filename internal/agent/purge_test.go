package agent

import (
	"context"
	"testing"

	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/fake"
)

func TestRemoveContainers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := saveIdentity(dir, identity{AgentID: "mine"}); err != nil {
		t.Fatal(err)
	}
	rt := fake.New(fake.Config{})
	create := func(task, agentID string, start bool) string {
		t.Helper()
		id, err := rt.Create(ctx, runtime.ContainerSpec{Cluster: testCluster, Task: task, Name: "web", Image: "app",
			Labels: map[string]string{LabelAgent: agentID}})
		if err != nil {
			t.Fatal(err)
		}
		if start {
			if err := rt.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	create("task1", "mine", true)
	create("task2", "mine", false) // exited or never started: removed too
	theirs := create("task3", "another agent", true)

	cfg := DefaultConfig()
	cfg.JoinToken, cfg.DataDir, cfg.CPU, cfg.Memory = "0123456789abcdef", dir, 1024, 1024
	cfg.Runtime, cfg.RuntimeName, cfg.Logger = rt, RuntimeDocker, testLogger(t)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.RemoveContainers(ctx)
	if err != nil || n != 2 {
		t.Errorf("RemoveContainers: got %d, %v; want 2 removed", n, err)
	}
	left, err := rt.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != theirs {
		t.Errorf("left: got %+v, want only the other agent's container %s", left, theirs)
	}
}
