package ecsapi

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Image version consistency. A service deployment resolves each image tag
// to a digest once, and every task of that deployment runs that digest, so
// a tag moved in the middle of a deployment cannot mix versions:
//
//	new deployment ──▶ launches ONE task (image by tag)
//	                     │ its agent pulls, reports containers[].imageDigest
//	                     ▼
//	ReportTaskStatus records the digests in the service record
//	(berthImageDigests[deploymentID][container])
//	                     ▼
//	every later task of the deployment carries containers[].imageDigest;
//	its agent runs image@digest (see internal/agent, runtime/docker)
//
// While the first task has not reported, the deployment launches nothing
// else; if it stops first, the next launch tries again with one task, and
// so it does if the first is stuck (a pull that hangs) for resolveTimeout.
// A first task that reaches RUNNING without a digest (a runtime that has
// none) lets the deployment run by tag.
// Images the runtime cannot pin (process:// host binaries) and images that
// already name a digest need no resolution.

// pinnable reports whether image is resolved to a digest per deployment.
func pinnable(image string) bool {
	return !strings.HasPrefix(image, "process://") && !strings.Contains(image, "@")
}

// pinLaunchLocked completes l, a launch of deployment d of svc, with the
// deployment's resolved digests, and returns how many tasks it may launch
// out of count: all of them once every image is resolved, else one when no
// task of the deployment is on its way to resolve them, else none.
func (s *Service) pinLaunchLocked(ctx context.Context, rec *serviceRecord, l *taskLaunch, deploymentID string, count int) (int, error) {
	l.pins = rec.ImageDigests[deploymentID]
	resolved := true
	for _, c := range l.containers {
		if pinnable(c.image) && l.pins[c.name] == "" {
			resolved = false
		}
	}
	if resolved || count == 0 {
		return count, nil
	}
	tasks, err := s.readTasks(ctx, l.cluster)
	if err != nil {
		return 0, err
	}
	resolving := false
	for _, r := range tasks {
		t := r.Value
		if t.StartedBy != deploymentID || t.LastStatus == taskStatusStopped {
			continue
		}
		if statusRank(t.LastStatus) >= statusRank(taskStatusRunning) {
			// It runs, and reported no digest to pin (a runtime that has
			// none): the deployment runs by tag.
			return count, nil
		}
		if t.CreatedAt == nil || s.now().Sub(t.CreatedAt.Time) < resolveTimeout {
			resolving = true
		}
	}
	if resolving {
		return 0, nil
	}
	// Nothing on its way to resolve them (or only tasks stuck longer than
	// resolveTimeout, in a pull that hangs): one more goes first.
	return 1, nil
}

// resolveTimeout is how long a deployment waits for its first task to
// report its image digests before it lets another task try.
const resolveTimeout = 2 * time.Minute

// recordPinsOp returns the op that records, in the service record, the
// image digests t (a service task that has just reported some) resolved
// for its deployment, or nil when there is nothing new to record.
func (s *Service) recordPinsOp(ctx context.Context, cluster string, t *ecs.Task) (store.Op, bool, error) {
	name, ok := ServiceOfTask(t)
	if !ok {
		return store.Op{}, false, nil
	}
	key := state.ServiceKey(cluster, name)
	rec, err := state.Get[serviceRecord](ctx, s.st, key)
	if state.IsNotFound(err) {
		return store.Op{}, false, nil
	}
	if err != nil {
		return store.Op{}, false, err
	}
	sr := rec.Value
	if !slices.ContainsFunc(sr.Deployments, func(d ecs.Deployment) bool { return d.Id == t.StartedBy }) {
		return store.Op{}, false, nil
	}
	pins := maps.Clone(sr.ImageDigests[t.StartedBy])
	changed := false
	for _, c := range t.Containers {
		if c.ImageDigest == "" || !pinnable(c.Image) || pins[c.Name] != "" {
			continue
		}
		if pins == nil {
			pins = map[string]string{}
		}
		pins[c.Name] = c.ImageDigest
		changed = true
	}
	if !changed {
		return store.Op{}, false, nil
	}
	// Keep the digests of the deployments still in the record only.
	next := map[string]map[string]string{t.StartedBy: pins}
	for id, p := range sr.ImageDigests {
		if id != t.StartedBy && slices.ContainsFunc(sr.Deployments, func(d ecs.Deployment) bool { return d.Id == id }) {
			next[id] = p
		}
	}
	sr.ImageDigests = next
	op, err := state.PutOp(key, sr, rec.Revision)
	if err != nil {
		return store.Op{}, false, err
	}
	return op, true, nil
}

// digestCount counts t's containers that report an image digest.
func digestCount(t *ecs.Task) int {
	n := 0
	for _, c := range t.Containers {
		if c.ImageDigest != "" {
			n++
		}
	}
	return n
}

// InheritPins gives deployment to, in pins, the image digests of
// deployment from, if those are known and to has none yet: a circuit
// breaker rollback runs exactly the images of the deployment it returns
// to, even if their tags have moved since. A from no longer in the record
// (its digests forgotten) leaves to to resolve its tags afresh. It reports
// whether pins changed.
func InheritPins(pins map[string]map[string]string, from, to string) bool {
	p, ok := pins[from]
	if !ok || len(pins[to]) > 0 {
		return false
	}
	pins[to] = maps.Clone(p)
	return true
}
