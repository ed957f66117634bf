package ecsapi

import (
	"slices"
	"sync"
	"testing"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

func TestConcurrentRegistrationsGetDistinctRevisions(t *testing.T) {
	s, _ := newTestService(t)
	const n = 40
	revs := make([]int32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}})
			if err != nil {
				t.Error(err)
				return
			}
			revs[i] = out.TaskDefinition.Revision
		}()
	}
	wg.Wait()
	slices.Sort(revs)
	for i, r := range revs {
		if r != int32(i+1) {
			t.Fatalf("revisions %v: want 1..%d, each once", revs, n)
		}
	}
}

// After a restart the counter is seeded from the revisions stored, even if
// the family record lags behind them (its write lost a race before a crash).
func TestRevisionCounterSeedsFromStoredRevisions(t *testing.T) {
	s, _ := newTestService(t)
	reg := func() int32 {
		t.Helper()
		out, err := s.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskDefinition.Revision
	}
	reg()
	reg()
	op, _ := state.PutOp(state.FamilyKey("web"), &state.Family{Name: "web", LastRevision: 1}, store.Any)
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	fresh := New(Config{Store: s.st, Region: "us-east-1", AccountID: "123456789012"})
	out, err := fresh.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.TaskDefinition.Revision != 3 {
		t.Fatalf("got revision %d after a restart, want 3", out.TaskDefinition.Revision)
	}
}
