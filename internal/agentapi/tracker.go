package agentapi

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Tracker keeps agent liveness: when each instance was last heard from and
// whether the records show it connected.
//
//	          heartbeat / poll / status
//	   ┌──────────────────────────────────┐
//	   ▼                                  │
//	connected ── no word for timeout ──▶ disconnected
//
// The records are written only on a transition, so heartbeats cost no
// store write.
type Tracker struct {
	records Records
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	// writeMu serializes the writes of agentConnected (Seen's and Step's)
	// with the re-check of known before each, so a heartbeat racing a
	// disconnect can never leave the records false while known says true.
	writeMu sync.Mutex

	mu    sync.Mutex
	seen  map[instanceKey]time.Time
	known map[instanceKey]bool // connected as last written to the records
}

type instanceKey struct{ cluster, id string }

// NewTracker returns a tracker that marks an agent disconnected after
// timeout without word from it.
func NewTracker(r Records, timeout time.Duration, now func() time.Time, log *slog.Logger) *Tracker {
	return &Tracker{records: r, timeout: timeout, now: now, log: log,
		seen: map[instanceKey]time.Time{}, known: map[instanceKey]bool{}}
}

// Seen records word from an instance's agent, marking it connected if the
// records show it disconnected.
func (t *Tracker) Seen(ctx context.Context, cluster, id string) {
	k := instanceKey{cluster, id}
	t.mu.Lock()
	t.seen[k] = t.now()
	connected := t.known[k]
	t.mu.Unlock()
	if connected {
		return
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	connected = t.known[k]
	t.mu.Unlock()
	if !connected {
		t.setConnectedLocked(ctx, k, true)
	}
}

// setConnectedLocked writes agentConnected for k and records it in known.
// t.writeMu must be held.
func (t *Tracker) setConnectedLocked(ctx context.Context, k instanceKey, connected bool) bool {
	err := t.records.SetAgentConnected(ctx, k.cluster, k.id, connected)
	if state.IsNotFound(err) {
		t.mu.Lock()
		delete(t.seen, k)
		delete(t.known, k)
		t.mu.Unlock()
		return false
	}
	if err != nil {
		t.log.Warn("record agent connectivity", "cluster", k.cluster, "instance", k.id, "connected", connected, "err", err)
		return false
	}
	t.mu.Lock()
	t.known[k] = connected
	t.mu.Unlock()
	return true
}

// Load seeds the tracker with every instance the store shows connected, as
// if just heard from, so agents that never come back after a server
// restart are marked disconnected after the timeout.
func (t *Tracker) Load(ctx context.Context, st store.Store) error {
	recs, err := state.List[ecs.ContainerInstance](ctx, st, state.InstancesPrefix)
	if err != nil {
		return err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		cluster, id, ok := instanceOf(r.Value.ContainerInstanceArn)
		if !ok || !r.Value.AgentConnected || r.Value.Status == "INACTIVE" {
			continue
		}
		k := instanceKey{cluster, id}
		t.seen[k] = now
		t.known[k] = true
	}
	return nil
}

// Step marks disconnected every instance not heard from within the timeout
// and returns how many it marked. Run calls it; tests call it directly.
func (t *Tracker) Step(ctx context.Context) int {
	cutoff := t.now().Add(-t.timeout)
	var stale []instanceKey
	t.mu.Lock()
	for k, at := range t.seen {
		if at.Before(cutoff) && t.known[k] {
			stale = append(stale, k)
		}
	}
	t.mu.Unlock()
	n := 0
	for _, k := range stale {
		if t.disconnect(ctx, k, cutoff) {
			n++
		}
	}
	return n
}

// disconnect marks k disconnected if it is still silent since cutoff, and
// reports whether it did.
func (t *Tracker) disconnect(ctx context.Context, k instanceKey, cutoff time.Time) bool {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	still := t.known[k] && t.seen[k].Before(cutoff)
	t.mu.Unlock()
	if !still || !t.setConnectedLocked(ctx, k, false) {
		return false
	}
	t.log.Info("agent disconnected", "cluster", k.cluster, "instance", k.id, "silent_for", t.timeout)
	return true
}

// Run calls Step every interval until ctx ends.
func (t *Tracker) Run(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.Step(ctx)
		}
	}
}

// instanceOf splits a container instance ARN into cluster and ID.
func instanceOf(arn string) (cluster, id string, ok bool) {
	// arn:aws:ecs:REGION:ACCOUNT:container-instance/CLUSTER/ID
	const marker = ":container-instance/"
	i := strings.Index(arn, marker)
	if i < 0 {
		return "", "", false
	}
	rest := arn[i+len(marker):]
	j := strings.Index(rest, "/")
	if j < 0 {
		return "", "", false
	}
	return rest[:j], rest[j+1:], true
}
