package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-io/berth/internal/runtime"
)

// janitorView is what the janitor's decision needs about one container.
type janitorView struct {
	ID string
	// Active is true when a task runner owns the container's task.
	Active bool
	// Since is when the container became garbage: when it exited, or
	// when the janitor first saw it unclaimed.
	Since time.Time
}

// expired returns the IDs of containers to remove: unclaimed for at least
// grace.
func expired(now time.Time, grace time.Duration, cs []janitorView) []string {
	var out []string
	for _, c := range cs {
		if !c.Active && !c.Since.IsZero() && now.Sub(c.Since) >= grace {
			out = append(out, c.ID)
		}
	}
	return out
}

// janitor removes containers of this agent that no running task claims
// once they have been unclaimed for the grace period: the exited
// containers of STOPPED tasks (kept that long for debugging), and orphans
// (containers of tasks the server does not assign; they are stopped first).
type janitor struct {
	rt       runtime.Runtime
	clock    Clock
	log      *slog.Logger
	grace    time.Duration
	labels   map[string]string
	active   func(taskID string) bool
	onRemove func(id string)

	firstSeen map[string]time.Time // unclaimed containers without an exit time
}

// step removes what has expired and returns the removed IDs.
func (j *janitor) step(ctx context.Context) ([]string, error) {
	cs, err := j.rt.List(ctx, j.labels)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	now := j.clock.Now()
	seen := map[string]bool{}
	views := make([]janitorView, 0, len(cs))
	for _, c := range cs {
		v := janitorView{ID: c.ID, Active: j.active(c.Labels[runtime.LabelTask])}
		seen[c.ID] = true
		if v.Active {
			delete(j.firstSeen, c.ID)
			views = append(views, v)
			continue
		}
		if c.State == runtime.StateExited {
			if st, err := j.rt.Inspect(ctx, c.ID); err == nil && !st.FinishedAt.IsZero() {
				v.Since = st.FinishedAt
			}
		}
		if v.Since.IsZero() {
			if _, ok := j.firstSeen[c.ID]; !ok {
				j.firstSeen[c.ID] = now
			}
			v.Since = j.firstSeen[c.ID]
		}
		views = append(views, v)
	}
	for id := range j.firstSeen {
		if !seen[id] {
			delete(j.firstSeen, id)
		}
	}
	var removed []string
	var errs []error
	for _, id := range expired(now, j.grace, views) {
		err := j.rt.Remove(ctx, id)
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", id, err))
			continue
		}
		j.log.Info("removed container", "id", id, "grace", j.grace)
		delete(j.firstSeen, id)
		removed = append(removed, id)
		if j.onRemove != nil {
			j.onRemove(id)
		}
	}
	return removed, errors.Join(errs...)
}

// interval is how often Run steps: a quarter of the grace, within [1s, 1m].
func (j *janitor) interval() time.Duration {
	return min(max(j.grace/4, time.Second), time.Minute)
}

// Run steps every interval until ctx ends.
func (j *janitor) Run(ctx context.Context) error {
	for {
		if err := sleep(ctx, j.clock, j.interval()); err != nil {
			return nil
		}
		if _, err := j.step(ctx); err != nil && ctx.Err() == nil {
			j.log.Warn("container cleanup", "err", err)
		}
	}
}
