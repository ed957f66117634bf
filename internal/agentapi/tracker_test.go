package agentapi

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
)

// blockingRecords records SetAgentConnected; a write of false blocks until
// released, so a test can land a heartbeat in the middle of a disconnect.
type blockingRecords struct {
	mu        sync.Mutex
	connected bool
	inFalse   chan struct{}
	release   chan struct{}
	once      sync.Once
}

func (f *blockingRecords) RegisterAgent(context.Context, *agent.RegisterRequest) (*agent.RegisterResponse, error) {
	return nil, nil
}
func (f *blockingRecords) AgentTasks(context.Context, string, string) ([]agent.AssignedTask, bool, error) {
	return nil, false, nil
}
func (f *blockingRecords) ReportTaskStatus(context.Context, *agent.StatusReport) (*agent.StatusResponse, error) {
	return nil, nil
}
func (f *blockingRecords) InstanceARN(c, id string) string { return c + "/" + id }
func (f *blockingRecords) SetAgentConnected(_ context.Context, _, _ string, c bool) error {
	if !c {
		f.once.Do(func() {
			f.inFalse <- struct{}{}
			<-f.release
		})
	}
	f.mu.Lock()
	f.connected = c
	f.mu.Unlock()
	return nil
}

// A heartbeat that lands while the tracker is writing "disconnected" must not
// leave the records disconnected for good: the next heartbeat repairs them.
func TestHeartbeatDuringDisconnectIsNotLost(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	rec := &blockingRecords{inFalse: make(chan struct{}), release: make(chan struct{})}
	tr := NewTracker(rec, 5*time.Second, clk, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	tr.Seen(ctx, "c1", "i1")
	advance(6 * time.Second)
	done := make(chan int)
	go func() { done <- tr.Step(ctx) }()
	<-rec.inFalse            // Step is writing agentConnected=false ...
	tr.Seen(ctx, "c1", "i1") // ... when the agent's heartbeat arrives
	close(rec.release)
	<-done
	for range 3 { // the agent keeps heartbeating every second
		advance(time.Second)
		tr.Seen(ctx, "c1", "i1")
		tr.Step(ctx)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.connected {
		t.Fatal("the agent heartbeats every second but the records say agentConnected=false")
	}
}
