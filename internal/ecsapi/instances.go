package ecsapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Container instances are the hosts tasks run on. Each is one record at
// state.InstanceKey(cluster, id) holding the full ecs.ContainerInstance.
//
//	RegisterContainerInstance
//	          │          UpdateContainerInstancesState
//	          ▼          ───────────────────────────▶
//	       ACTIVE                                    DRAINING
//	          │          ◀───────────────────────────    │
//	          │                                          │
//	          └────── DeregisterContainerInstance ───────┴──▶ INACTIVE
//
// REGISTERING, DEREGISTERING and REGISTRATION_FAILED exist in the model (they
// belong to ECS's awsvpc trunking) but berth never sets them; the List
// filter accepts them and matches nothing.
//
// Resources follow ECS's bookkeeping. registeredResources is what the agent
// reported; remainingResources is registered minus what placed tasks hold.
// CPU and MEMORY are INTEGER amounts. PORTS and PORTS_UDP are STRINGSETs of
// ports that are *taken*: registered lists the reserved ports (ECS's agent
// default: 22, 2375, 2376, 51678, 51679), remaining adds every static host
// port a placed task holds. Reservations are made by RunTask/StartTask in the
// same transaction that creates the task (compare-and-swap on the instance
// record), and released when the task reaches STOPPED.
//
// runningTasksCount counts the instance's tasks whose lastStatus is RUNNING
// and pendingTasksCount those not yet RUNNING (PROVISIONING, PENDING,
// ACTIVATING); STOPPED tasks count in neither.
//
// A deregistered instance is kept as an INACTIVE record: ListContainerInstances
// and the cluster's registeredContainerInstancesCount leave it out, but
// DescribeContainerInstances still returns it (status INACTIVE), as ECS
// does for a while after deregistration, and RegisterContainerInstance with
// its ARN fails with ECS's "Container instance ID is inactive." error.

const instanceInactive = "INACTIVE"

// Resource names and types as the ECS agent reports them.
const (
	resourceCPU       = "CPU"
	resourceMemory    = "MEMORY"
	resourcePorts     = "PORTS"
	resourcePortsUDP  = "PORTS_UDP"
	resourceGPU       = "GPU"
	resourceInteger   = "INTEGER"
	resourceLong      = "LONG"
	resourceDouble    = "DOUBLE"
	resourceStringSet = "STRINGSET"
)

// defaultReservedPorts are the TCP ports ECS's agent reserves by default
// (ssh, the Docker daemon and the agent's own endpoints).
func defaultReservedPorts() []string { return []string{"22", "2375", "2376", "51678", "51679"} }

func (s *Service) addInstanceOps(m map[string]awsjson.Op) {
	m["RegisterContainerInstance"] = awsjson.Handle(s.RegisterContainerInstance)
	m["ListContainerInstances"] = awsjson.Handle(s.ListContainerInstances)
	m["DescribeContainerInstances"] = awsjson.Handle(s.DescribeContainerInstances)
	m["UpdateContainerInstancesState"] = awsjson.Handle(s.UpdateContainerInstancesState)
	m["DeregisterContainerInstance"] = awsjson.Handle(s.DeregisterContainerInstance)
}

// RegisterContainerInstance registers a host with a cluster (the ECS
// agent's call). See registerInstance.
func (s *Service) RegisterContainerInstance(ctx context.Context, in *ecs.RegisterContainerInstanceRequest) (*ecs.RegisterContainerInstanceResponse, error) {
	ci, err := s.registerInstance(ctx, in.Cluster, in)
	if err != nil {
		return nil, err
	}
	return &ecs.RegisterContainerInstanceResponse{ContainerInstance: instanceView(ci, []string{ecs.ContainerInstanceFieldTAGS})}, nil
}

// registerInstance registers a container instance with cluster (a name or
// ARN; in.Cluster is ignored) and returns the stored record. It is shared by
// the ECS API and berth's own agent.
//
// With in.ContainerInstanceArn set it re-registers that instance (an agent
// restarting): the ID, status, registration time and tags stay; resources,
// attributes and version info are replaced, and what placed tasks hold is
// carried over to the new remainingResources. Re-registering an INACTIVE
// (deregistered) instance fails as in ECS.
//
// The record is agentConnected: registration comes from a live agent. The
// agent API's liveness tracker (internal/agentapi) turns it false when the
// agent falls silent.
//
// ec2InstanceId is the instanceId of in.InstanceIdentityDocument (a JSON
// document as EC2 serves it; berth does not check the signature) or, with
// no document, a generated "i-" + 17 hex digits. The document's
// availabilityZone, instanceType and imageId become the ecs.availability-zone,
// ecs.instance-type and ecs.ami-id attributes unless given explicitly.
func (s *Service) registerInstance(ctx context.Context, cluster string, in *ecs.RegisterContainerInstanceRequest) (*ecs.ContainerInstance, error) {
	registered, err := registrationResources(in.TotalResources, in.PlatformDevices)
	if err != nil {
		return nil, err
	}
	if err := validateInstanceAttributes(in.Attributes, "attributes"); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags, "tags"); err != nil {
		return nil, err
	}
	doc, err := parseIdentityDocument(in.InstanceIdentityDocument)
	if err != nil {
		return nil, err
	}
	attrs := registrationAttributes(in.Attributes, doc)

	s.mu.Lock()
	defer s.mu.Unlock()
	name, _, err := s.activeCluster(ctx, cluster, "cluster")
	if err != nil {
		return nil, err
	}
	now := ecs.NewTime(s.nowUTC())
	if in.ContainerInstanceArn != "" {
		return s.reregisterLocked(ctx, name, in, registered, attrs, now)
	}
	id := newID()
	ec2ID := doc.InstanceID
	if ec2ID == "" {
		ec2ID = newEC2InstanceID()
	}
	ci := &ecs.ContainerInstance{
		ContainerInstanceArn: s.instanceARN(name, id),
		Ec2InstanceId:        ec2ID,
		Status:               ecs.ContainerInstanceStatusACTIVE,
		AgentConnected:       true,
		RegisteredResources:  registered,
		RemainingResources:   cloneResources(registered),
		Attributes:           attrs,
		VersionInfo:          in.VersionInfo,
		RegisteredAt:         now,
		Tags:                 in.Tags,
		Version:              1,
	}
	op, err := state.PutOp(state.InstanceKey(name, id), ci, store.Absent)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return ci, nil
}

func (s *Service) reregisterLocked(ctx context.Context, cluster string, in *ecs.RegisterContainerInstanceRequest, registered []ecs.Resource, attrs []ecs.Attribute, now *ecs.Time) (*ecs.ContainerInstance, error) {
	refCluster, id, err := idRef(in.ContainerInstanceArn, "container-instance", "containerInstanceArn")
	if err != nil {
		return nil, err
	}
	if refCluster != "" && refCluster != cluster {
		return nil, errInvalidParameter("containerInstanceArn: %s belongs to cluster %s, not %s", in.ContainerInstanceArn, refCluster, cluster)
	}
	rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(cluster, id))
	if state.IsNotFound(err) {
		return nil, errInvalidParameter("containerInstanceArn: container instance %s is not registered in cluster %s", id, cluster)
	}
	if err != nil {
		return nil, errServer(err)
	}
	ci := rec.Value
	if ci.Status == instanceInactive {
		return nil, errClient("Container instance %s is inactive.", id)
	}
	ci.RemainingResources = rebaseRemaining(ci.RegisteredResources, ci.RemainingResources, registered)
	ci.RegisteredResources = registered
	ci.Attributes = mergeInstanceAttributes(ci.Attributes, attrs)
	if in.VersionInfo != nil {
		ci.VersionInfo = in.VersionInfo
	}
	if len(in.Tags) > 0 {
		ci.Tags = mergeInstanceTags(ci.Tags, in.Tags)
	}
	ci.AgentConnected = true
	ci.Version++
	op, err := state.PutOp(state.InstanceKey(cluster, id), ci, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return ci, nil
}

// ListContainerInstances lists the ARNs of a cluster's container instances:
// every one but INACTIVE ones by default, or those with the given status,
// narrowed by a cluster query language filter (internal/clusterquery; its
// task:group subject sees the groups of the instance's tasks that are not
// STOPPED).
func (s *Service) ListContainerInstances(ctx context.Context, in *ecs.ListContainerInstancesRequest) (*ecs.ListContainerInstancesResponse, error) {
	if in.Status != "" && !ecs.ValidContainerInstanceStatus(in.Status) {
		return nil, errInvalidParameter("status: %q is not one of ACTIVE, DRAINING, REGISTERING, DEREGISTERING, REGISTRATION_FAILED", in.Status)
	}
	match, err := s.instanceFilter(in.Filter)
	if err != nil {
		return nil, err
	}
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	recs, err := state.List[ecs.ContainerInstance](ctx, s.st, state.InstancesOf(name))
	if err != nil {
		return nil, errServer(err)
	}
	var groups map[string][]string
	if match.needsTasks {
		tasks, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(name))
		if err != nil {
			return nil, errServer(err)
		}
		groups = taskGroupsByInstance(tasks)
	}
	var items []*ecs.ContainerInstance
	for _, r := range recs {
		ci := r.Value
		switch {
		case in.Status == "" && ci.Status == instanceInactive:
			continue
		case in.Status != "" && ci.Status != in.Status:
			continue
		}
		if !match.eval(ci, groups[ci.ContainerInstanceArn]) {
			continue
		}
		items = append(items, ci)
	}
	pg, next, err := page(items, instanceIDOf, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListContainerInstancesResponse{ContainerInstanceArns: make([]string, 0, len(pg)), NextToken: next}
	for _, ci := range pg {
		out.ContainerInstanceArns = append(out.ContainerInstanceArns, ci.ContainerInstanceArn)
	}
	return out, nil
}

// DescribeContainerInstances describes up to 100 container instances by ID
// or ARN; unknown ones come back as failures with reason MISSING.
func (s *Service) DescribeContainerInstances(ctx context.Context, in *ecs.DescribeContainerInstancesRequest) (*ecs.DescribeContainerInstancesResponse, error) {
	switch {
	case len(in.ContainerInstances) == 0:
		return nil, errInvalidParameter("containerInstances: must list at least one container instance")
	case len(in.ContainerInstances) > 100:
		return nil, errInvalidParameter("containerInstances: at most 100 container instances per request, got %d", len(in.ContainerInstances))
	}
	for i, f := range in.Include {
		if !ecs.ValidContainerInstanceField(f) {
			return nil, errInvalidParameter("include[%d]: %q is not one of TAGS, CONTAINER_INSTANCE_HEALTH", i, f)
		}
	}
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	out := &ecs.DescribeContainerInstancesResponse{ContainerInstances: []ecs.ContainerInstance{}, Failures: []ecs.Failure{}}
	for _, ref := range in.ContainerInstances {
		rec, failure, err := s.lookupInstance(ctx, name, ref)
		if err != nil {
			return nil, err
		}
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, *instanceView(rec.Value, in.Include))
	}
	return out, nil
}

// lookupInstance resolves an instance ID-or-ARN in cluster. An unknown or
// malformed reference, or an ARN of another cluster, is a MISSING failure.
func (s *Service) lookupInstance(ctx context.Context, cluster, ref string) (state.Record[ecs.ContainerInstance], *ecs.Failure, error) {
	refCluster, id, err := idRef(ref, "container-instance", "containerInstances")
	if err != nil {
		return state.Record[ecs.ContainerInstance]{}, &ecs.Failure{Arn: ref, Reason: "MISSING"}, nil
	}
	if refCluster != "" && refCluster != cluster {
		return state.Record[ecs.ContainerInstance]{}, &ecs.Failure{Arn: ref, Reason: "MISSING"}, nil
	}
	rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(cluster, id))
	if state.IsNotFound(err) {
		return rec, &ecs.Failure{Arn: s.instanceARN(cluster, id), Reason: "MISSING"}, nil
	}
	if err != nil {
		return rec, nil, errServer(err)
	}
	return rec, nil, nil
}

// UpdateContainerInstancesState sets up to 10 container instances ACTIVE or
// DRAINING. Unknown and INACTIVE instances are MISSING failures; instances
// in a status other than ACTIVE or DRAINING (berth never sets one) fail with
// that status as the reason. Setting the status an instance already has is
// a no-op that still returns it.
//
// Draining itself (stopping PENDING service tasks, replacing RUNNING ones)
// is the service scheduler's job: it reads the status from the record.
func (s *Service) UpdateContainerInstancesState(ctx context.Context, in *ecs.UpdateContainerInstancesStateRequest) (*ecs.UpdateContainerInstancesStateResponse, error) {
	if in.Status != ecs.ContainerInstanceStatusACTIVE && in.Status != ecs.ContainerInstanceStatusDRAINING {
		return nil, errInvalidParameter("status: %q must be ACTIVE or DRAINING", in.Status)
	}
	switch {
	case len(in.ContainerInstances) == 0:
		return nil, errInvalidParameter("containerInstances: must list at least one container instance")
	case len(in.ContainerInstances) > 10:
		return nil, errInvalidParameter("containerInstances: at most 10 container instances per request, got %d", len(in.ContainerInstances))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	out := &ecs.UpdateContainerInstancesStateResponse{ContainerInstances: []ecs.ContainerInstance{}, Failures: []ecs.Failure{}}
	var ops []store.Op
	seen := map[string]bool{}
	for _, ref := range in.ContainerInstances {
		rec, failure, err := s.lookupInstance(ctx, name, ref)
		if err != nil {
			return nil, err
		}
		if failure == nil && rec.Value.Status == instanceInactive {
			failure = &ecs.Failure{Arn: rec.Value.ContainerInstanceArn, Reason: "MISSING"}
		}
		if failure == nil && rec.Value.Status != ecs.ContainerInstanceStatusACTIVE && rec.Value.Status != ecs.ContainerInstanceStatusDRAINING {
			failure = &ecs.Failure{Arn: rec.Value.ContainerInstanceArn, Reason: rec.Value.Status,
				Detail: "only ACTIVE or DRAINING container instances can change status"}
		}
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		ci := rec.Value
		if seen[ci.ContainerInstanceArn] {
			continue
		}
		seen[ci.ContainerInstanceArn] = true
		if ci.Status != in.Status {
			ci.Status = in.Status
			ci.Version++
			op, err := state.PutOp(state.InstanceKey(name, instanceIDOf(ci)), ci, rec.Revision)
			if err != nil {
				return nil, errServer(err)
			}
			ops = append(ops, op)
		}
		out.ContainerInstances = append(out.ContainerInstances, *instanceView(ci, nil))
	}
	if len(ops) > 0 {
		if _, err := s.st.Txn(ctx, ops...); err != nil {
			return nil, errServer(conflictAsServer(err))
		}
	}
	return out, nil
}

// DeregisterContainerInstance deregisters a container instance: its record
// becomes INACTIVE (see the package notes above). It refuses while tasks on
// the instance are not STOPPED, unless force is set. With force those tasks
// are orphaned, as ECS describes it: berth no longer tracks them, so their
// records are set STOPPED at once (desired and last status, stoppedReason
// saying why) and a service scheduler replaces them elsewhere.
func (s *Service) DeregisterContainerInstance(ctx context.Context, in *ecs.DeregisterContainerInstanceRequest) (*ecs.DeregisterContainerInstanceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	refCluster, id, err := idRef(in.ContainerInstance, "container-instance", "containerInstance")
	if err != nil {
		return nil, err
	}
	rec, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(name, id))
	if (refCluster != "" && refCluster != name) || state.IsNotFound(err) || (err == nil && rec.Value.Status == instanceInactive) {
		return nil, errInvalidParameter("The referenced container instance was not found.")
	}
	if err != nil {
		return nil, errServer(err)
	}
	ci := rec.Value
	tasks, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(name))
	if err != nil {
		return nil, errServer(err)
	}
	force := in.Force != nil && *in.Force
	now := ecs.NewTime(s.nowUTC())
	var ops []store.Op
	for _, r := range tasks {
		t := r.Value
		if t.ContainerInstanceArn != ci.ContainerInstanceArn || t.LastStatus == taskStatusStopped {
			continue
		}
		if !force {
			return nil, errInvalidParameter("Found running tasks on the instance.")
		}
		markTaskStopped(t, now, "Container instance deregistered")
		t.Version++
		op, err := state.PutOp(state.TaskKey(name, taskIDOf(t)), t, r.Revision)
		if err != nil {
			return nil, errServer(err)
		}
		ops = append(ops, op)
	}
	ci.Status = instanceInactive
	ci.AgentConnected = false
	ci.RemainingResources = cloneResources(ci.RegisteredResources)
	ci.RunningTasksCount, ci.PendingTasksCount = 0, 0
	ci.Version++
	op, err := state.PutOp(state.InstanceKey(name, id), ci, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	ops = append(ops, op)
	if _, err := s.st.Txn(ctx, ops...); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return &ecs.DeregisterContainerInstanceResponse{ContainerInstance: instanceView(ci, nil)}, nil
}

// instanceView returns the wire form of ci with only the optional parts
// include asks for. Health comes from the record when the agent has
// reported it, else INSUFFICIENT_DATA.
func instanceView(ci *ecs.ContainerInstance, include []string) *ecs.ContainerInstance {
	v := *ci
	if !slices.Contains(include, ecs.ContainerInstanceFieldTAGS) {
		v.Tags = nil
	}
	switch {
	case !slices.Contains(include, ecs.ContainerInstanceFieldCONTAINERINSTANCEHEALTH):
		v.HealthStatus = nil
	case v.HealthStatus == nil:
		v.HealthStatus = &ecs.ContainerInstanceHealthStatus{OverallStatus: "INSUFFICIENT_DATA"}
	}
	return &v
}

// instanceIDOf is the ID part of a container instance's ARN.
func instanceIDOf(ci *ecs.ContainerInstance) string {
	return ci.ContainerInstanceArn[strings.LastIndexByte(ci.ContainerInstanceArn, '/')+1:]
}

// newEC2InstanceID returns an EC2-style instance ID for hosts that give none.
func newEC2InstanceID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "i-" + hex.EncodeToString(b[:])[:17]
}

// identityDocument is the part of an EC2 instance identity document berth uses.
type identityDocument struct {
	InstanceID       string `json:"instanceId"`
	AvailabilityZone string `json:"availabilityZone"`
	InstanceType     string `json:"instanceType"`
	ImageID          string `json:"imageId"`
}

func parseIdentityDocument(s string) (identityDocument, error) {
	var d identityDocument
	if strings.TrimSpace(s) == "" {
		return d, nil
	}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return d, errInvalidParameter("instanceIdentityDocument: not a JSON instance identity document")
	}
	if len(d.InstanceID) > 255 || strings.ContainsAny(d.InstanceID, " /:") {
		return d, errInvalidParameter("instanceIdentityDocument: instanceId %q is not a valid host identifier", d.InstanceID)
	}
	return d, nil
}

// registrationResources validates an agent's totalResources and returns the
// registeredResources to store: CPU and MEMORY (required, INTEGER), PORTS
// (ECS's default reserved ports when absent) and PORTS_UDP (empty when
// absent) first, then any other resources as given. Platform devices of
// type GPU become a GPU STRINGSET resource, as ECS reports them.
func registrationResources(total []ecs.Resource, devices []ecs.PlatformDevice) ([]ecs.Resource, error) {
	byName := map[string]ecs.Resource{}
	var extra []ecs.Resource
	for i, r := range total {
		p := "totalResources[" + strconv.Itoa(i) + "]"
		if r.Name == "" {
			return nil, errInvalidParameter("%s.name: required", p)
		}
		if _, dup := byName[r.Name]; dup {
			return nil, errInvalidParameter("%s.name: duplicate resource %q", p, r.Name)
		}
		switch r.Type {
		case resourceInteger, resourceLong, resourceDouble, resourceStringSet:
		default:
			return nil, errInvalidParameter("%s.type: %q is not one of INTEGER, LONG, DOUBLE, STRINGSET", p, r.Type)
		}
		switch r.Name {
		case resourceCPU, resourceMemory:
			if r.Type != resourceInteger {
				return nil, errInvalidParameter("%s.type: %s must be INTEGER", p, r.Name)
			}
			if r.IntegerValue < 0 {
				return nil, errInvalidParameter("%s.integerValue: must not be negative", p)
			}
		case resourcePorts, resourcePortsUDP:
			if r.Type != resourceStringSet {
				return nil, errInvalidParameter("%s.type: %s must be STRINGSET", p, r.Name)
			}
			for j, port := range r.StringSetValue {
				if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
					return nil, errInvalidParameter("%s.stringSetValue[%d]: %q is not a port number", p, j, port)
				}
			}
		default:
			extra = append(extra, r)
		}
		r.StringSetValue = slices.Clone(r.StringSetValue)
		byName[r.Name] = r
	}
	for _, n := range []string{resourceCPU, resourceMemory} {
		if _, ok := byName[n]; !ok {
			return nil, errInvalidParameter("totalResources: the %s resource is required", n)
		}
	}
	if _, ok := byName[resourcePorts]; !ok {
		byName[resourcePorts] = ecs.Resource{Name: resourcePorts, Type: resourceStringSet, StringSetValue: defaultReservedPorts()}
	}
	if _, ok := byName[resourcePortsUDP]; !ok {
		byName[resourcePortsUDP] = ecs.Resource{Name: resourcePortsUDP, Type: resourceStringSet, StringSetValue: []string{}}
	}
	out := []ecs.Resource{byName[resourceCPU], byName[resourceMemory], byName[resourcePorts], byName[resourcePortsUDP]}
	for i := range out[2:] {
		if out[2+i].StringSetValue == nil {
			out[2+i].StringSetValue = []string{}
		}
	}
	out = append(out, extra...)
	var gpus []string
	for i, d := range devices {
		if d.Id == "" || d.Type != resourceGPU {
			return nil, errInvalidParameter("platformDevices[%d]: want an id and type GPU", i)
		}
		gpus = append(gpus, d.Id)
	}
	if len(gpus) > 0 {
		if _, ok := byName[resourceGPU]; !ok {
			out = append(out, ecs.Resource{Name: resourceGPU, Type: resourceStringSet, StringSetValue: gpus})
		}
	}
	return out, nil
}

// validateInstanceAttributes applies ECS's attribute rules: names up to 128
// letters, digits, hyphens, underscores, periods, slashes and backslashes;
// values up to 128 characters.
func validateInstanceAttributes(attrs []ecs.Attribute, member string) error {
	for i, a := range attrs {
		if a.Name == "" || len(a.Name) > 128 || strings.IndexFunc(a.Name, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./\\", r))
		}) >= 0 {
			return errInvalidParameter("%s[%d].name: %q: up to 128 letters, digits, hyphens, underscores, periods, slashes or backslashes", member, i, a.Name)
		}
		if len(a.Value) > 128 {
			return errInvalidParameter("%s[%d].value: at most 128 characters", member, i)
		}
	}
	return nil
}

// registrationAttributes is the attributes an instance registers with: those
// given (without targets) and, unless given, ecs.os-type=linux and what the
// identity document says.
func registrationAttributes(given []ecs.Attribute, doc identityDocument) []ecs.Attribute {
	out := make([]ecs.Attribute, 0, len(given)+4)
	for _, a := range given {
		out = append(out, ecs.Attribute{Name: a.Name, Value: a.Value})
	}
	add := func(name, value string) {
		if value == "" || slices.ContainsFunc(out, func(a ecs.Attribute) bool { return a.Name == name }) {
			return
		}
		out = append(out, ecs.Attribute{Name: name, Value: value})
	}
	add("ecs.os-type", "linux")
	add("ecs.availability-zone", doc.AvailabilityZone)
	add("ecs.instance-type", doc.InstanceType)
	add("ecs.ami-id", doc.ImageID)
	return out
}

// mergeInstanceAttributes returns old with upd applied by name.
func mergeInstanceAttributes(old, upd []ecs.Attribute) []ecs.Attribute {
	out := slices.Clone(old)
	for _, u := range upd {
		if i := slices.IndexFunc(out, func(a ecs.Attribute) bool { return a.Name == u.Name }); i >= 0 {
			out[i] = u
		} else {
			out = append(out, u)
		}
	}
	return out
}

// mergeInstanceTags returns old with upd applied by key.
func mergeInstanceTags(old, upd []ecs.Tag) []ecs.Tag {
	out := slices.Clone(old)
	for _, u := range upd {
		if i := slices.IndexFunc(out, func(t ecs.Tag) bool { return t.Key == u.Key }); i >= 0 {
			out[i] = u
		} else {
			out = append(out, u)
		}
	}
	return out
}

func cloneResources(rs []ecs.Resource) []ecs.Resource {
	out := slices.Clone(rs)
	for i := range out {
		out[i].StringSetValue = slices.Clone(out[i].StringSetValue)
	}
	return out
}

// findResource returns the named resource of rs, or nil.
func findResource(rs []ecs.Resource, name string) *ecs.Resource {
	for i := range rs {
		if rs[i].Name == name {
			return &rs[i]
		}
	}
	return nil
}

func resourceInt(rs []ecs.Resource, name string) int32 {
	if r := findResource(rs, name); r != nil {
		return r.IntegerValue
	}
	return 0
}

// rebaseRemaining carries what tasks hold (oldReg - oldRem) over to newReg.
func rebaseRemaining(oldReg, oldRem, newReg []ecs.Resource) []ecs.Resource {
	out := cloneResources(newReg)
	for _, n := range []string{resourceCPU, resourceMemory} {
		held := resourceInt(oldReg, n) - resourceInt(oldRem, n)
		if r := findResource(out, n); r != nil {
			r.IntegerValue -= held
		}
	}
	for _, n := range []string{resourcePorts, resourcePortsUDP} {
		var reg []string
		if r := findResource(oldReg, n); r != nil {
			reg = r.StringSetValue
		}
		rem := findResource(oldRem, n)
		r := findResource(out, n)
		if rem == nil || r == nil {
			continue
		}
		for _, p := range rem.StringSetValue {
			if !slices.Contains(reg, p) && !slices.Contains(r.StringSetValue, p) {
				r.StringSetValue = append(r.StringSetValue, p)
			}
		}
	}
	return out
}

// instanceMatcher is a compiled ListContainerInstances filter.
type instanceMatcher struct {
	// eval reports whether ci, running tasks of the given groups, matches.
	eval       func(ci *ecs.ContainerInstance, groups []string) bool
	needsTasks bool // the filter looks at the groups of the instance's tasks
}

// instanceFilter compiles a cluster query language filter ("" matches all).
func (s *Service) instanceFilter(expr string) (instanceMatcher, error) {
	if strings.TrimSpace(expr) == "" {
		return instanceMatcher{eval: func(*ecs.ContainerInstance, []string) bool { return true }}, nil
	}
	e, err := clusterquery.Parse(expr)
	if err != nil {
		return instanceMatcher{}, errInvalidParameter("filter: %v", err)
	}
	return instanceMatcher{
		eval:       func(ci *ecs.ContainerInstance, groups []string) bool { return e.Eval(instanceFacts(ci, groups)) },
		needsTasks: usesTaskGroups(e),
	}, nil
}

// usesTaskGroups reports whether e looks at task:group.
func usesTaskGroups(e clusterquery.Expr) bool {
	switch x := e.(type) {
	case *clusterquery.And:
		return usesTaskGroups(x.L) || usesTaskGroups(x.R)
	case *clusterquery.Or:
		return usesTaskGroups(x.L) || usesTaskGroups(x.R)
	case *clusterquery.Not:
		return usesTaskGroups(x.X)
	case *clusterquery.Cond:
		return x.Field.Kind == clusterquery.FieldTaskGroup
	}
	return true
}

// instanceFacts is what the cluster query language sees of ci, given the
// groups of the tasks on it.
func instanceFacts(ci *ecs.ContainerInstance, groups []string) *clusterquery.Facts {
	f := &clusterquery.Facts{
		Instance: clusterquery.Instance{
			EC2InstanceID:     ci.Ec2InstanceId,
			AgentConnected:    ci.AgentConnected,
			RunningTasksCount: int(ci.RunningTasksCount),
		},
		Attributes: make(map[string]string, len(ci.Attributes)),
		Groups:     groups,
	}
	if ci.VersionInfo != nil {
		f.Instance.AgentVersion = ci.VersionInfo.AgentVersion
	}
	if ci.RegisteredAt != nil {
		f.Instance.RegisteredAt = ci.RegisteredAt.Time
	}
	for _, a := range ci.Attributes {
		f.Attributes[a.Name] = a.Value
	}
	return f
}

// taskGroupsByInstance maps instance ARNs to the groups of their tasks that
// are not STOPPED.
func taskGroupsByInstance(tasks []state.Record[ecs.Task]) map[string][]string {
	m := map[string][]string{}
	for _, r := range tasks {
		t := r.Value
		if t.LastStatus == taskStatusStopped || t.ContainerInstanceArn == "" {
			continue
		}
		m[t.ContainerInstanceArn] = append(m[t.ContainerInstanceArn], t.Group)
	}
	return m
}
