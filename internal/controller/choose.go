package controller

import (
	"cmp"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/ecs"
)

// chooseStops picks n of cands to stop, one at a time, the way ECS's
// service scheduler does, least desirable first:
//
//  1. tasks on instances that are gone or INACTIVE, then on instances whose
//     agent is disconnected, then on DRAINING instances;
//  2. to keep the spread balanced, the task in the availability zone that
//     runs the most of the service's tasks, then on the instance that runs
//     the most (counts are taken again after each pick);
//  3. a task that is not healthy before a healthy one;
//  4. the newest task, then by ARN.
//
// The counts are over the service's live tasks not already planned to stop.
func (v *view) chooseStops(cands []*ecs.Task, n int) []*ecs.Task {
	azCount, instCount := map[string]int{}, map[string]int{}
	for _, t := range v.alive(v.live) {
		azCount[v.azOf(t)]++
		instCount[t.ContainerInstanceArn]++
	}
	left := slices.Clone(cands)
	var out []*ecs.Task
	for range min(n, len(left)) {
		best := 0
		for i := 1; i < len(left); i++ {
			if v.stopBefore(left[i], left[best], azCount, instCount) {
				best = i
			}
		}
		t := left[best]
		out = append(out, t)
		left = slices.Delete(left, best, best+1)
		azCount[v.azOf(t)]--
		instCount[t.ContainerInstanceArn]--
	}
	return out
}

// stopBefore reports whether a should be stopped before b.
func (v *view) stopBefore(a, b *ecs.Task, azCount, instCount map[string]int) bool {
	c := cmp.Or(
		cmp.Compare(v.undesirability(b), v.undesirability(a)),
		cmp.Compare(azCount[v.azOf(b)], azCount[v.azOf(a)]),
		cmp.Compare(instCount[b.ContainerInstanceArn], instCount[a.ContainerInstanceArn]),
		cmpBool(v.healthy(a), v.healthy(b)),
		timeOf(b.CreatedAt).Compare(timeOf(a.CreatedAt)),
		strings.Compare(a.TaskArn, b.TaskArn),
	)
	return c < 0
}

// undesirability ranks where a task runs: 3 gone or INACTIVE, 2 agent
// disconnected, 1 DRAINING, 0 ACTIVE and connected.
func (v *view) undesirability(t *ecs.Task) int {
	ci, ok := v.inst[t.ContainerInstanceArn]
	switch {
	case !ok || (ci.Status != instanceActive && ci.Status != instanceDraining):
		return 3
	case !ci.Connected:
		return 2
	case ci.Status == instanceDraining:
		return 1
	}
	return 0
}

// azOf is the availability zone of a task: its instance's, else its own.
func (v *view) azOf(t *ecs.Task) string {
	if ci, ok := v.inst[t.ContainerInstanceArn]; ok && ci.AZ != "" {
		return ci.AZ
	}
	return t.AvailabilityZone
}
