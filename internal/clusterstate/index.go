package clusterstate

import (
	"maps"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// Task statuses the index tells apart.
const (
	statusRunning = "RUNNING"
	statusStopped = "STOPPED"

	instanceInactive = "INACTIVE"
	serviceActive    = "ACTIVE"
	serviceDraining  = "DRAINING"
)

// TaskCounts counts tasks by phase of their lastStatus.
type TaskCounts struct {
	// Running counts lastStatus RUNNING.
	Running int
	// Pending counts PROVISIONING, PENDING and ACTIVATING (and any status
	// berth does not know, which it never writes).
	Pending int
	// Stopping counts DEACTIVATING, STOPPING and DEPROVISIONING.
	Stopping int
	// Stopped counts STOPPED records the retention sweep has not deleted
	// yet.
	Stopped int
}

// Live counts the tasks that are not STOPPED.
func (c TaskCounts) Live() int { return c.Running + c.Pending + c.Stopping }

// Total counts every task record.
func (c TaskCounts) Total() int { return c.Live() + c.Stopped }

// phase is a task's column in TaskCounts.
type phase uint8

const (
	phasePending phase = iota
	phaseRunning
	phaseStopping
	phaseStopped
)

func phaseOf(lastStatus string) phase {
	switch lastStatus {
	case statusRunning:
		return phaseRunning
	case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
		return phaseStopping
	case statusStopped:
		return phaseStopped
	default:
		return phasePending
	}
}

func (c *TaskCounts) add(p phase, n int) {
	switch p {
	case phaseRunning:
		c.Running += n
	case phaseStopping:
		c.Stopping += n
	case phaseStopped:
		c.Stopped += n
	default:
		c.Pending += n
	}
}

func (c TaskCounts) isZero() bool { return c == TaskCounts{} }

// GroupCounts counts the tasks of one task group ("service:NAME",
// "family:NAME" or a RunTask group).
type GroupCounts struct {
	TaskCounts
	// ByStartedBy splits the counts by the tasks' startedBy (for a service,
	// the deployment ID). Tasks without startedBy are only in the total.
	ByStartedBy map[string]TaskCounts
}

// ClusterCounts are the counts DescribeClusters and DeleteCluster need.
type ClusterCounts struct {
	// Tasks counts every task of the cluster. DescribeClusters reports
	// Tasks.Running as runningTasksCount and Tasks.Pending+Tasks.Stopping
	// as pendingTasksCount.
	Tasks TaskCounts
	// ActiveServices and DrainingServices count services by status.
	ActiveServices, DrainingServices int
	// RegisteredInstances counts container instances that are not INACTIVE.
	RegisteredInstances int
}

// index is every indexed record at one revision. The applier changes it in
// place with Cache.mu held for writing; a re-list builds a new one aside
// and swaps it in whole.
//
// While an index is private (being built, no reader can see it), the
// per-instance snapshots are changed in place; once published, they are
// copy-on-write.
type index struct {
	published bool

	clusters map[string]state.Record[ecs.Cluster]          // by name
	taskDefs map[string]state.Record[state.TaskDefinition] // by store key
	byName   map[string]*clusterIndex                      // by cluster name
}

// publish marks x as seen by readers: from now on its snapshots are
// copy-on-write.
func (x *index) publish() {
	x.published = true
	for _, ci := range x.byName {
		ci.published = true
	}
}

func newIndex() *index {
	return &index{
		clusters: map[string]state.Record[ecs.Cluster]{},
		taskDefs: map[string]state.Record[state.TaskDefinition]{},
		byName:   map[string]*clusterIndex{},
	}
}

// clusterIndex holds one cluster's instances, services and tasks, keyed by
// the names in their store keys.
type clusterIndex struct {
	published    bool                                           // readers may hold its snapshots: copy on write
	instances    map[string]state.Record[ecs.ContainerInstance] // by instance ID
	instanceList sorted[ecs.ContainerInstance]
	arnToID      map[string]string // instance ARN → ID

	services    map[string]state.Record[ecs.Service] // by service name
	serviceList sorted[ecs.Service]

	tasks map[string]state.Record[ecs.Task] // by task ID
	// onInstance holds the live (not STOPPED) tasks of each instance, by
	// instance ARN as tasks record it (the instance need not exist).
	onInstance map[string]*instanceTasks
	groups     map[string]*groupIndex // by task group

	counts ClusterCounts
}

// newClusterIndex returns an empty clusterIndex with room for tasks tasks.
func newClusterIndex(tasks int) *clusterIndex {
	return &clusterIndex{
		instances:  map[string]state.Record[ecs.ContainerInstance]{},
		arnToID:    map[string]string{},
		services:   map[string]state.Record[ecs.Service]{},
		tasks:      make(map[string]state.Record[ecs.Task], tasks),
		onInstance: map[string]*instanceTasks{},
		groups:     map[string]*groupIndex{},
	}
}

func (ci *clusterIndex) empty() bool {
	return len(ci.instances) == 0 && len(ci.services) == 0 && len(ci.tasks) == 0
}

// instanceTasks is the live tasks of one instance. Once the index is
// published its slices and map are copy-on-write snapshots: the applier
// replaces them instead of changing them, so readers may hold them after
// releasing the lock.
type instanceTasks struct {
	ids    []string                 // sorted task IDs
	tasks  []state.Record[ecs.Task] // tasks[i] is task ids[i]
	groups map[string]int           // live task count per task group
}

// groupIndex is the tasks of one task group.
type groupIndex struct {
	byStatus    map[string]map[string]state.Record[ecs.Task] // lastStatus → task ID → task
	counts      TaskCounts
	byStartedBy map[string]TaskCounts
}

// change is one decoded store event: a put (one of the value fields set)
// or a delete of one indexed key.
type change struct {
	kind kind
	key  string
	// cluster and name come from the key: the cluster and the instance ID,
	// service name or task ID (for a cluster, name is empty).
	cluster, name string
	del           bool
	rev           int64

	cl   *ecs.Cluster
	td   *state.TaskDefinition
	svc  *ecs.Service
	task *ecs.Task
	inst *ecs.ContainerInstance
}

// kind is the type of record a key holds.
type kind uint8

const (
	kindNone kind = iota // not indexed (families, anything unknown)
	kindCluster
	kindTaskDef
	kindService
	kindTask
	kindInstance
)

// parseKey says what key holds and, for per-cluster records, the cluster
// and the record's name. Keys that do not follow state's layout are
// kindNone.
func parseKey(key string) (k kind, cluster, name string) {
	perCluster := func(prefix string, k kind) (kind, string, string) {
		rest, _ := strings.CutPrefix(key, prefix)
		cluster, name, ok := strings.Cut(rest, "/")
		if !ok || cluster == "" || name == "" || strings.Contains(name, "/") {
			return kindNone, "", ""
		}
		return k, cluster, name
	}
	switch {
	case strings.HasPrefix(key, state.TasksPrefix):
		return perCluster(state.TasksPrefix, kindTask)
	case strings.HasPrefix(key, state.InstancesPrefix):
		return perCluster(state.InstancesPrefix, kindInstance)
	case strings.HasPrefix(key, state.ServicesPrefix):
		return perCluster(state.ServicesPrefix, kindService)
	case strings.HasPrefix(key, state.ClustersPrefix):
		name := key[len(state.ClustersPrefix):]
		if name == "" || strings.Contains(name, "/") {
			return kindNone, "", ""
		}
		return kindCluster, name, ""
	case strings.HasPrefix(key, state.TaskDefsPrefix):
		return kindTaskDef, "", ""
	}
	return kindNone, "", ""
}

// apply applies one change.
func (x *index) apply(c *change) {
	switch c.kind {
	case kindCluster:
		if c.del {
			delete(x.clusters, c.cluster)
		} else {
			x.clusters[c.cluster] = state.Record[ecs.Cluster]{Value: c.cl, Revision: c.rev}
		}
		return
	case kindTaskDef:
		if c.del {
			delete(x.taskDefs, c.key)
		} else {
			x.taskDefs[c.key] = state.Record[state.TaskDefinition]{Value: c.td, Revision: c.rev}
		}
		return
	}
	ci := x.byName[c.cluster]
	if ci == nil {
		if c.del {
			return
		}
		ci = newClusterIndex(0)
		ci.published = x.published
		x.byName[c.cluster] = ci
	}
	switch c.kind {
	case kindInstance:
		if c.del {
			ci.deleteInstance(c.name)
		} else {
			ci.putInstance(c.name, state.Record[ecs.ContainerInstance]{Value: c.inst, Revision: c.rev})
		}
	case kindService:
		if c.del {
			ci.deleteService(c.name)
		} else {
			ci.putService(c.name, state.Record[ecs.Service]{Value: c.svc, Revision: c.rev})
		}
	case kindTask:
		if c.del {
			ci.deleteTask(c.name)
		} else {
			ci.putTask(c.name, state.Record[ecs.Task]{Value: c.task, Revision: c.rev})
		}
	}
	if ci.empty() {
		delete(x.byName, c.cluster)
	}
}

// sorted is records in name order, so listing them is one copy. It is
// changed in place: readers copy it out under the read lock.
type sorted[T any] struct {
	names []string
	recs  []state.Record[T]
}

func (s *sorted[T]) put(name string, r state.Record[T]) {
	i, found := slices.BinarySearch(s.names, name)
	if found {
		s.recs[i] = r
		return
	}
	s.names = slices.Insert(s.names, i, name)
	s.recs = slices.Insert(s.recs, i, r)
}

func (s *sorted[T]) delete(name string) {
	if i, found := slices.BinarySearch(s.names, name); found {
		s.names = slices.Delete(s.names, i, i+1)
		s.recs = slices.Delete(s.recs, i, i+1)
	}
}

func registered(ci *ecs.ContainerInstance) int {
	if ci.Status == instanceInactive {
		return 0
	}
	return 1
}

func (ci *clusterIndex) putInstance(id string, rec state.Record[ecs.ContainerInstance]) {
	if old, ok := ci.instances[id]; ok {
		ci.counts.RegisteredInstances -= registered(old.Value)
		if ci.arnToID[old.Value.ContainerInstanceArn] == id {
			delete(ci.arnToID, old.Value.ContainerInstanceArn)
		}
	}
	ci.instances[id] = rec
	ci.instanceList.put(id, rec)
	ci.counts.RegisteredInstances += registered(rec.Value)
	if arn := rec.Value.ContainerInstanceArn; arn != "" {
		ci.arnToID[arn] = id
	}
}

func (ci *clusterIndex) deleteInstance(id string) {
	old, ok := ci.instances[id]
	if !ok {
		return
	}
	delete(ci.instances, id)
	ci.instanceList.delete(id)
	ci.counts.RegisteredInstances -= registered(old.Value)
	if ci.arnToID[old.Value.ContainerInstanceArn] == id {
		delete(ci.arnToID, old.Value.ContainerInstanceArn)
	}
}

func (ci *clusterIndex) countService(svc *ecs.Service, n int) {
	switch svc.Status {
	case serviceActive:
		ci.counts.ActiveServices += n
	case serviceDraining:
		ci.counts.DrainingServices += n
	}
}

func (ci *clusterIndex) putService(name string, rec state.Record[ecs.Service]) {
	if old, ok := ci.services[name]; ok {
		ci.countService(old.Value, -1)
	}
	ci.services[name] = rec
	ci.serviceList.put(name, rec)
	ci.countService(rec.Value, 1)
}

func (ci *clusterIndex) deleteService(name string) {
	old, ok := ci.services[name]
	if !ok {
		return
	}
	delete(ci.services, name)
	ci.serviceList.delete(name)
	ci.countService(old.Value, -1)
}

func (ci *clusterIndex) putTask(id string, rec state.Record[ecs.Task]) {
	old, had := ci.tasks[id]
	ci.tasks[id] = rec
	var prev *ecs.Task
	if had {
		prev = old.Value
		ci.unlinkGroup(id, prev)
	}
	ci.linkGroup(id, rec)
	ci.relinkInstance(id, prev, &rec)
}

func (ci *clusterIndex) deleteTask(id string) {
	old, ok := ci.tasks[id]
	if !ok {
		return
	}
	delete(ci.tasks, id)
	ci.unlinkGroup(id, old.Value)
	ci.relinkInstance(id, old.Value, nil)
}

// linkGroup adds a task to its group's index and to the counts.
func (ci *clusterIndex) linkGroup(id string, rec state.Record[ecs.Task]) {
	t := rec.Value
	p := phaseOf(t.LastStatus)
	ci.counts.Tasks.add(p, 1)
	g := ci.groups[t.Group]
	if g == nil {
		g = &groupIndex{byStatus: map[string]map[string]state.Record[ecs.Task]{}, byStartedBy: map[string]TaskCounts{}}
		ci.groups[t.Group] = g
	}
	set := g.byStatus[t.LastStatus]
	if set == nil {
		set = map[string]state.Record[ecs.Task]{}
		g.byStatus[t.LastStatus] = set
	}
	set[id] = rec
	g.counts.add(p, 1)
	if t.StartedBy != "" {
		c := g.byStartedBy[t.StartedBy]
		c.add(p, 1)
		g.byStartedBy[t.StartedBy] = c
	}
}

// unlinkGroup undoes linkGroup for the task's previous record t.
func (ci *clusterIndex) unlinkGroup(id string, t *ecs.Task) {
	p := phaseOf(t.LastStatus)
	ci.counts.Tasks.add(p, -1)
	g := ci.groups[t.Group]
	if g == nil {
		return
	}
	if set := g.byStatus[t.LastStatus]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(g.byStatus, t.LastStatus)
		}
	}
	g.counts.add(p, -1)
	if t.StartedBy != "" {
		c := g.byStartedBy[t.StartedBy]
		c.add(p, -1)
		if c.isZero() {
			delete(g.byStartedBy, t.StartedBy)
		} else {
			g.byStartedBy[t.StartedBy] = c
		}
	}
	if len(g.byStatus) == 0 {
		delete(ci.groups, t.Group)
	}
}

// liveOn returns the instance ARN a task counts on, or "" when it counts
// on none (STOPPED, or not placed).
func liveOn(t *ecs.Task) string {
	if t == nil || t.LastStatus == statusStopped {
		return ""
	}
	return t.ContainerInstanceArn
}

// relinkInstance moves task id's entry in the per-instance index from its
// previous record prev (nil: none) to rec (nil: deleted). The per-instance
// slices and group maps are copy-on-write: they are replaced, never
// changed, so a reader may keep the ones it got.
func (ci *clusterIndex) relinkInstance(id string, prev *ecs.Task, rec *state.Record[ecs.Task]) {
	var next *ecs.Task
	if rec != nil {
		next = rec.Value
	}
	oldArn, newArn := liveOn(prev), liveOn(next)
	if oldArn != "" && oldArn == newArn && prev.Group == next.Group {
		// Same instance, same group (a status update): only the record
		// changes.
		if it := ci.onInstance[oldArn]; it != nil {
			if i, found := slices.BinarySearch(it.ids, id); found {
				ci.setTask(it, i, *rec)
				return
			}
		}
	}
	if oldArn != "" {
		ci.removeFromInstance(oldArn, id, prev.Group)
	}
	if newArn != "" {
		ci.addToInstance(newArn, id, *rec)
	}
}

// setTask replaces the i-th task of it.
func (ci *clusterIndex) setTask(it *instanceTasks, i int, rec state.Record[ecs.Task]) {
	if ci.published {
		it.tasks = slices.Clone(it.tasks)
	}
	it.tasks[i] = rec
}

func (ci *clusterIndex) removeFromInstance(arn, id, group string) {
	it := ci.onInstance[arn]
	if it == nil {
		return
	}
	i, found := slices.BinarySearch(it.ids, id)
	if !found {
		return
	}
	if len(it.ids) == 1 {
		delete(ci.onInstance, arn)
		return
	}
	ids, tasks, groups := it.ids, it.tasks, it.groups
	if ci.published {
		ids, tasks, groups = slices.Clone(ids), slices.Clone(tasks), maps.Clone(groups)
	}
	it.ids = slices.Delete(ids, i, i+1)
	it.tasks = slices.Delete(tasks, i, i+1)
	if groups[group]--; groups[group] <= 0 {
		delete(groups, group)
	}
	it.groups = groups
}

func (ci *clusterIndex) addToInstance(arn, id string, rec state.Record[ecs.Task]) {
	it := ci.onInstance[arn]
	if it == nil {
		it = &instanceTasks{groups: map[string]int{}}
		ci.onInstance[arn] = it
	}
	i, found := slices.BinarySearch(it.ids, id)
	if found {
		// Cannot happen (the caller removed the task first); keep the
		// record current regardless.
		ci.setTask(it, i, rec)
		return
	}
	ids, tasks, groups := it.ids, it.tasks, it.groups
	if ci.published {
		// Clip, so Insert copies instead of writing into an array a
		// reader may hold.
		ids, tasks = slices.Clip(ids), slices.Clip(tasks)
		groups = make(map[string]int, len(it.groups)+1)
		maps.Copy(groups, it.groups)
	}
	it.ids = slices.Insert(ids, i, id)
	it.tasks = slices.Insert(tasks, i, rec)
	groups[rec.Value.Group]++
	it.groups = groups
}

// emptyIndex returns a published index with nothing in it.
func emptyIndex() *index {
	x := newIndex()
	x.publish()
	return x
}
