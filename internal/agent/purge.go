package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/berth-io/berth/internal/runtime"
)

// RemoveContainers stops and removes every container this agent created
// (by its cluster and agent labels), running or exited, and returns how
// many it removed. Call it after Run has returned, to leave nothing
// running behind (`berth up` without --keep-tasks): the server learns
// what happened from the next agent on the same data dir, which finds the
// tasks' containers gone. Each container gets its stop signal and stop
// timeout, all at once.
func (a *Agent) RemoveContainers(ctx context.Context) (int, error) {
	id, err := loadIdentity(a.cfg.DataDir)
	if err != nil {
		return 0, err
	}
	labels := map[string]string{runtime.LabelCluster: a.cfg.Cluster, LabelAgent: id.AgentID}
	cs, err := a.cfg.Runtime.List(ctx, labels)
	if err != nil {
		return 0, fmt.Errorf("list containers to remove: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range cs {
		wg.Go(func() {
			err := a.cfg.Runtime.Stop(ctx, c.ID, 0)
			if err == nil || errors.Is(err, runtime.ErrNotFound) {
				err = a.cfg.Runtime.Remove(ctx, c.ID)
			}
			if err != nil && !errors.Is(err, runtime.ErrNotFound) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.ID, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return len(cs) - len(errs), errors.Join(errs...)
	}
	if len(cs) > 0 {
		a.log.Info("removed this agent's containers", "containers", len(cs))
	}
	return len(cs), nil
}
