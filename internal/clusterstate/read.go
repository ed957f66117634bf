package clusterstate

import (
	"maps"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// The accessors. Each takes the read lock for the time of one lookup and
// copy; none is O(all tasks). Everything they return is shared with the
// cache or with other callers and must not be modified: the records (the
// *T in each state.Record) always, and the slices and maps too (copy them
// with slices.Clone / maps.Clone, and a record's value with a struct copy,
// before changing anything). A Record's Revision is the key's ModRevision,
// for compare-and-swap writes (store.PutIf) that fail if the cache was
// behind.
//
// n below is the size of the result.

// ServiceGroup is the task group of a service's tasks.
func ServiceGroup(service string) string { return "service:" + service }

// Cluster returns a cluster by name. O(1).
func (c *Cache) Cluster(name string) (state.Record[ecs.Cluster], bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.idx.clusters[name]
	return r, ok
}

// Clusters returns every cluster, sorted by name. O(n log n).
func (c *Cache) Clusters() []state.Record[ecs.Cluster] {
	c.mu.RLock()
	names := slices.Sorted(maps.Keys(c.idx.clusters))
	out := make([]state.Record[ecs.Cluster], len(names))
	for i, n := range names {
		out[i] = c.idx.clusters[n]
	}
	c.mu.RUnlock()
	return out
}

// TaskDefinition returns one revision of a task definition family. O(1).
func (c *Cache) TaskDefinition(family string, revision int32) (state.Record[state.TaskDefinition], bool) {
	key := state.TaskDefKey(family, revision)
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.idx.taskDefs[key]
	return r, ok
}

// Instance returns a container instance by ID. O(1).
func (c *Cache) Instance(cluster, id string) (state.Record[ecs.ContainerInstance], bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return state.Record[ecs.ContainerInstance]{}, false
	}
	r, ok := ci.instances[id]
	return r, ok
}

// InstanceByARN returns a container instance by ARN. O(1).
func (c *Cache) InstanceByARN(cluster, arn string) (state.Record[ecs.ContainerInstance], bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return state.Record[ecs.ContainerInstance]{}, false
	}
	id, ok := ci.arnToID[arn]
	if !ok {
		return state.Record[ecs.ContainerInstance]{}, false
	}
	r, ok := ci.instances[id]
	return r, ok
}

// Instances returns every container instance of a cluster (INACTIVE ones
// included), sorted by ID: a new slice. O(n).
func (c *Cache) Instances(cluster string) []state.Record[ecs.ContainerInstance] {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return nil
	}
	return slices.Clone(ci.instanceList.recs)
}

// Service returns a service by name. O(1).
func (c *Cache) Service(cluster, name string) (state.Record[ecs.Service], bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return state.Record[ecs.Service]{}, false
	}
	r, ok := ci.services[name]
	return r, ok
}

// Services returns every service of a cluster, sorted by name: a new
// slice. O(n).
func (c *Cache) Services(cluster string) []state.Record[ecs.Service] {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return nil
	}
	return slices.Clone(ci.serviceList.recs)
}

// Task returns a task by ID. O(1).
func (c *Cache) Task(cluster, id string) (state.Record[ecs.Task], bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return state.Record[ecs.Task]{}, false
	}
	r, ok := ci.tasks[id]
	return r, ok
}

// InstanceTasks returns the tasks placed on a container instance that are
// not STOPPED (what the instance's agent must run), sorted by task ID.
// The slice is a shared snapshot: O(1).
func (c *Cache) InstanceTasks(cluster, instanceARN string) []state.Record[ecs.Task] {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return nil
	}
	it := ci.onInstance[instanceARN]
	if it == nil {
		return nil
	}
	return slices.Clip(it.tasks)
}

// InstanceGroups counts the tasks on a container instance that are not
// STOPPED, by task group (the cluster query language's task:group, the
// scheduler's spread and distinctInstance). The map is a shared snapshot:
// O(1). It is nil when the instance runs nothing.
func (c *Cache) InstanceGroups(cluster, instanceARN string) map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return nil
	}
	if it := ci.onInstance[instanceARN]; it != nil {
		return it.groups
	}
	return nil
}

// GroupsByInstance returns InstanceGroups for every instance of a cluster
// that has live tasks, by instance ARN: a new map of shared snapshots.
// O(instances).
func (c *Cache) GroupsByInstance(cluster string) map[string]map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return map[string]map[string]int{}
	}
	out := make(map[string]map[string]int, len(ci.onInstance))
	for arn, it := range ci.onInstance {
		out[arn] = it.groups
	}
	return out
}

// GroupTasks returns the tasks of a task group whose lastStatus is one of
// lastStatus (every task of the group when none is given), sorted by task
// ID: a new slice. O(n log n); tasks in other statuses cost nothing.
func (c *Cache) GroupTasks(cluster, group string, lastStatus ...string) []state.Record[ecs.Task] {
	type entry struct {
		id  string
		rec state.Record[ecs.Task]
	}
	var entries []entry
	c.mu.RLock()
	if ci := c.idx.byName[cluster]; ci != nil {
		if g := ci.groups[group]; g != nil {
			add := func(set map[string]state.Record[ecs.Task]) {
				for id, r := range set {
					entries = append(entries, entry{id, r})
				}
			}
			if len(lastStatus) == 0 {
				entries = make([]entry, 0, g.counts.Total())
				for _, set := range g.byStatus {
					add(set)
				}
			} else {
				for i, s := range lastStatus {
					if !slices.Contains(lastStatus[:i], s) {
						add(g.byStatus[s])
					}
				}
			}
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.id, b.id) })
	out := make([]state.Record[ecs.Task], len(entries))
	for i, e := range entries {
		out[i] = e.rec
	}
	return out
}

// GroupCounts counts the tasks of a task group by phase, in all and by
// startedBy (ByStartedBy is a new map). O(deployments).
func (c *Cache) GroupCounts(cluster, group string) GroupCounts {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return GroupCounts{ByStartedBy: map[string]TaskCounts{}}
	}
	g := ci.groups[group]
	if g == nil {
		return GroupCounts{ByStartedBy: map[string]TaskCounts{}}
	}
	return GroupCounts{TaskCounts: g.counts, ByStartedBy: maps.Clone(g.byStartedBy)}
}

// ServiceCounts is GroupCounts of the service's group: running and pending
// counts for DescribeServices and the service controller, by deployment ID
// (startedBy) too.
func (c *Cache) ServiceCounts(cluster, service string) GroupCounts {
	return c.GroupCounts(cluster, ServiceGroup(service))
}

// ClusterCounts returns a cluster's task, service and instance counts.
// O(1).
func (c *Cache) ClusterCounts(cluster string) ClusterCounts {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ci := c.idx.byName[cluster]; ci != nil {
		return ci.counts
	}
	return ClusterCounts{}
}

// Tasks returns every task record of a cluster (STOPPED ones included), in
// no particular order. The records are shared: callers must not change
// them. O(tasks of the cluster), with no decoding.
func (c *Cache) Tasks(cluster string) []state.Record[ecs.Task] {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ci := c.idx.byName[cluster]
	if ci == nil {
		return nil
	}
	out := make([]state.Record[ecs.Task], 0, len(ci.tasks))
	for _, r := range ci.tasks {
		out = append(out, r)
	}
	return out
}
