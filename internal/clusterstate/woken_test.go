package clusterstate_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterstate"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

// A reader woken by its own watch reads Revision(), waits for the cache to
// reach it (as ecsapi.freshCache does), and looks for the record it was
// woken for (as agentapi.poll does).
func TestWokenReaderSeesItsEvent(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := clusterstate.New(st, slog.New(slog.DiscardHandler))
	go c.Run(ctx)
	<-c.Ready()
	op, _ := state.PutOp(state.ClusterKey("c"), &ecs.Cluster{ClusterName: "c", ClusterArn: "arn:c", Status: "ACTIVE"}, store.Any)
	if _, err := st.Txn(ctx, op); err != nil {
		t.Fatal(err)
	}
	// Other watchers, as the controller and other polls have.
	for range 40 {
		ch, _ := st.Watch(ctx, "ecs/", 0)
		go func() {
			for range ch {
			}
		}()
	}
	stale, n := 0, 1000
	for i := range n {
		rev0, _ := st.Revision(ctx)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		ch, _ := st.Watch(wctx, state.TasksOf("c"), rev0)
		id := fmt.Sprintf("%032x", i)
		op, _ := state.PutOp(state.TaskKey("c", id), &ecs.Task{TaskArn: "arn:aws:ecs:us-east-1:0:task/c/" + id, ClusterArn: "arn:c", LastStatus: "PENDING", DesiredStatus: "RUNNING", ContainerInstanceArn: "ci"}, store.Any)
		done := make(chan bool)
		go func() {
			<-ch
			rev, _ := st.Revision(ctx)
			if err := c.WaitFor(ctx, rev); err != nil {
				t.Error(err)
			}
			_, ok := c.Task("c", id)
			done <- ok
		}()
		if _, err := st.Txn(ctx, op); err != nil {
			t.Fatal(err)
		}
		if !<-done {
			stale++
		}
		wcancel()
	}
	t.Logf("woken by the watch, Revision() then WaitFor(rev): the record missing from the cache in %d of %d tries", stale, n)
	if stale > 0 {
		t.Errorf("stale reads: %d", stale)
	}
}
