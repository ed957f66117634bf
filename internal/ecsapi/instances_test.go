package ecsapi

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// taskFixture builds what the task and container instance tests need: a
// service with a "default" cluster, task definitions written straight to the
// store (so these tests do not depend on RegisterTaskDefinition) and
// registered instances.
type taskFixture struct {
	t   *testing.T
	s   *Service
	clk *testClock
}

func newTaskFixture(t *testing.T) *taskFixture {
	t.Helper()
	s, clk := newTestService(t)
	f := &taskFixture{t: t, s: s, clk: clk}
	f.cluster("default")
	return f
}

func (f *taskFixture) cluster(name string) {
	f.t.Helper()
	if _, err := f.s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: name}); err != nil {
		f.t.Fatalf("CreateCluster(%s): %v", name, err)
	}
}

// taskDef stores td as the next revision of its family (ACTIVE unless
// td.Status says otherwise) and returns "family:revision".
func (f *taskFixture) taskDef(td ecs.TaskDefinition, tags ...ecs.Tag) string {
	f.t.Helper()
	fam := state.Family{Name: td.Family}
	famRev := store.Absent
	if rec, err := state.Get[state.Family](bg, f.s.st, state.FamilyKey(td.Family)); err == nil {
		fam, famRev = *rec.Value, rec.Revision
	}
	fam.LastRevision++
	td.Revision = fam.LastRevision
	td.TaskDefinitionArn = f.s.taskDefARN(td.Family, td.Revision)
	if td.Status == "" {
		td.Status = ecs.TaskDefinitionStatusACTIVE
	}
	op1, err := state.PutOp(state.FamilyKey(td.Family), &fam, famRev)
	if err != nil {
		f.t.Fatal(err)
	}
	op2, err := state.PutOp(state.TaskDefKey(td.Family, td.Revision), &state.TaskDefinition{TaskDefinition: td, Tags: tags}, store.Absent)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.st.Txn(bg, op1, op2); err != nil {
		f.t.Fatalf("store task definition: %v", err)
	}
	return fmt.Sprintf("%s:%d", td.Family, td.Revision)
}

// webDef is a one-container definition needing cpu units and mem MiB, with
// the given static host ports (bridge mode).
func webDef(family string, cpu, mem int32, hostPorts ...int32) ecs.TaskDefinition {
	cd := ecs.ContainerDefinition{Name: "web", Image: testImage, Cpu: cpu, Memory: ptr(mem)}
	for _, p := range hostPorts {
		cd.PortMappings = append(cd.PortMappings, ecs.PortMapping{ContainerPort: ptr(int32(80)), HostPort: ptr(p), Protocol: "tcp"})
	}
	return ecs.TaskDefinition{Family: family, ContainerDefinitions: []ecs.ContainerDefinition{cd}}
}

// totalResources is what an agent with cpu units and mem MiB reports.
func totalResources(cpu, mem int32) []ecs.Resource {
	return []ecs.Resource{
		{Name: "CPU", Type: "INTEGER", IntegerValue: cpu},
		{Name: "MEMORY", Type: "INTEGER", IntegerValue: mem},
	}
}

// instance registers an instance with cpu units and mem MiB in cluster.
func (f *taskFixture) instance(cluster string, cpu, mem int32, attrs ...ecs.Attribute) *ecs.ContainerInstance {
	f.t.Helper()
	out, err := f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{
		Cluster: cluster, TotalResources: totalResources(cpu, mem), Attributes: attrs,
		VersionInfo: &ecs.VersionInfo{AgentVersion: "1.89.0", DockerVersion: "27.3.1"},
	})
	if err != nil {
		f.t.Fatalf("RegisterContainerInstance: %v", err)
	}
	return out.ContainerInstance
}

func (f *taskFixture) describeInstance(cluster, arn string) *ecs.ContainerInstance {
	f.t.Helper()
	out, err := f.s.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesRequest{Cluster: cluster, ContainerInstances: []string{arn}})
	if err != nil || len(out.ContainerInstances) != 1 {
		f.t.Fatalf("DescribeContainerInstances(%s): %v, %+v", arn, err, out)
	}
	return &out.ContainerInstances[0]
}

// setAgentConnected flips an instance's agentConnected in the store, as the
// agent work item's heartbeat tracking will.
func (f *taskFixture) setAgentConnected(cluster, arn string, connected bool) {
	f.t.Helper()
	key := state.InstanceKey(cluster, arn[strings.LastIndexByte(arn, '/')+1:])
	rec, err := state.Get[ecs.ContainerInstance](bg, f.s.st, key)
	if err != nil {
		f.t.Fatal(err)
	}
	rec.Value.AgentConnected = connected
	op, err := state.PutOp(key, rec.Value, rec.Revision)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.s.st.Txn(bg, op); err != nil {
		f.t.Fatal(err)
	}
}

// remaining returns an instance's remaining CPU, memory and TCP ports.
func remaining(ci *ecs.ContainerInstance) (cpu, mem int32, ports []string) {
	if r := findResource(ci.RemainingResources, "PORTS"); r != nil {
		ports = r.StringSetValue
	}
	return resourceInt(ci.RemainingResources, "CPU"), resourceInt(ci.RemainingResources, "MEMORY"), ports
}

func TestRegisterContainerInstance(t *testing.T) {
	f := newTaskFixture(t)
	doc := `{"instanceId":"i-0123456789abcdef0","availabilityZone":"us-east-1a","instanceType":"m5.large","imageId":"ami-1234"}`
	out, err := f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{
		TotalResources: append(totalResources(2048, 3928),
			ecs.Resource{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{"53"}}),
		InstanceIdentityDocument: doc,
		Attributes:               []ecs.Attribute{{Name: "stack", Value: "prod"}, {Name: "ecs.instance-type", Value: "custom"}},
		Tags:                     []ecs.Tag{{Key: "team", Value: "infra"}},
		VersionInfo:              &ecs.VersionInfo{AgentVersion: "1.89.0"},
		PlatformDevices:          []ecs.PlatformDevice{{Id: "GPU-1", Type: "GPU"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ci := out.ContainerInstance
	if !regexp.MustCompile(`^arn:aws:ecs:us-east-1:123456789012:container-instance/default/[0-9a-f]{32}$`).MatchString(ci.ContainerInstanceArn) {
		t.Errorf("got ARN %s, want container-instance/default/<32 hex>", ci.ContainerInstanceArn)
	}
	want := &ecs.ContainerInstance{
		ContainerInstanceArn: ci.ContainerInstanceArn,
		Ec2InstanceId:        "i-0123456789abcdef0",
		Status:               "ACTIVE",
		AgentConnected:       true,
		RegisteredResources: []ecs.Resource{
			{Name: "CPU", Type: "INTEGER", IntegerValue: 2048},
			{Name: "MEMORY", Type: "INTEGER", IntegerValue: 3928},
			{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
			{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: []string{"53"}},
			{Name: "GPU", Type: "STRINGSET", StringSetValue: []string{"GPU-1"}},
		},
		Attributes: []ecs.Attribute{
			{Name: "stack", Value: "prod"}, {Name: "ecs.instance-type", Value: "custom"},
			{Name: "ecs.os-type", Value: "linux"}, {Name: "ecs.availability-zone", Value: "us-east-1a"}, {Name: "ecs.ami-id", Value: "ami-1234"},
		},
		VersionInfo:  &ecs.VersionInfo{AgentVersion: "1.89.0"},
		RegisteredAt: ecs.NewTime(f.clk.Now()),
		Tags:         []ecs.Tag{{Key: "team", Value: "infra"}},
		Version:      1,
	}
	want.RemainingResources = cloneResources(want.RegisteredResources)
	if diff := cmp.Diff(want, ci); diff != "" {
		t.Errorf("registered instance (-want +got):\n%s", diff)
	}
	if got := f.describeInstance("default", ci.ContainerInstanceArn); !cmp.Equal(got.RegisteredResources, want.RegisteredResources) {
		t.Errorf("stored registeredResources %+v, want %+v", got.RegisteredResources, want.RegisteredResources)
	}

	// Without an identity document berth makes up an EC2-style ID.
	other := f.instance("default", 1024, 1024)
	if !regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(other.Ec2InstanceId) {
		t.Errorf("got ec2InstanceId %q, want i- and 17 hex digits", other.Ec2InstanceId)
	}
}

func TestRegisterContainerInstanceErrors(t *testing.T) {
	f := newTaskFixture(t)
	tests := []struct {
		name string
		in   ecs.RegisterContainerInstanceRequest
		code string
	}{
		{"unknown cluster", ecs.RegisterContainerInstanceRequest{Cluster: "nope", TotalResources: totalResources(1, 1)}, ecs.ErrClusterNotFound},
		{"no resources", ecs.RegisterContainerInstanceRequest{}, ecs.ErrInvalidParameter},
		{"no memory", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1)[:1]}, ecs.ErrInvalidParameter},
		{"cpu not integer", ecs.RegisterContainerInstanceRequest{TotalResources: []ecs.Resource{
			{Name: "CPU", Type: "DOUBLE", DoubleValue: 1}, {Name: "MEMORY", Type: "INTEGER", IntegerValue: 1}}}, ecs.ErrInvalidParameter},
		{"negative memory", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, -1)}, ecs.ErrInvalidParameter},
		{"duplicate resource", ecs.RegisterContainerInstanceRequest{TotalResources: append(totalResources(1, 1), totalResources(1, 1)[0])}, ecs.ErrInvalidParameter},
		{"bad resource type", ecs.RegisterContainerInstanceRequest{TotalResources: append(totalResources(1, 1), ecs.Resource{Name: "X", Type: "FLOAT"})}, ecs.ErrInvalidParameter},
		{"bad port", ecs.RegisterContainerInstanceRequest{TotalResources: append(totalResources(1, 1),
			ecs.Resource{Name: "PORTS", Type: "STRINGSET", StringSetValue: []string{"http"}})}, ecs.ErrInvalidParameter},
		{"bad attribute name", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1),
			Attributes: []ecs.Attribute{{Name: "has space"}}}, ecs.ErrInvalidParameter},
		{"bad identity document", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1), InstanceIdentityDocument: "{"}, ecs.ErrInvalidParameter},
		{"reserved tag", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1), Tags: []ecs.Tag{{Key: "aws:x"}}}, ecs.ErrInvalidParameter},
		{"bad platform device", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1),
			PlatformDevices: []ecs.PlatformDevice{{Id: "x", Type: "FPGA"}}}, ecs.ErrInvalidParameter},
		{"unknown instance ARN", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1),
			ContainerInstanceArn: f.s.instanceARN("default", "0123")}, ecs.ErrInvalidParameter},
		{"instance ARN of another cluster", ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(1, 1),
			ContainerInstanceArn: f.s.instanceARN("other", "0123")}, ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.RegisterContainerInstance(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestReregisterContainerInstance(t *testing.T) {
	f := newTaskFixture(t)
	ci := f.instance("default", 1024, 2048, ecs.Attribute{Name: "custom", Value: "kept"})
	td := f.taskDef(webDef("web", 256, 512, 8080))
	if out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td}); err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, out)
	}
	f.clk.Advance(time.Minute)

	// The agent restarts with more CPU and reports its ARN: same instance,
	// new totals, the running task's reservation carried over.
	out, err := f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{
		ContainerInstanceArn: ci.ContainerInstanceArn,
		TotalResources:       totalResources(4096, 2048),
		Attributes:           []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}, {Name: "new", Value: "1"}},
		VersionInfo:          &ecs.VersionInfo{AgentVersion: "1.90.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := out.ContainerInstance
	if got.ContainerInstanceArn != ci.ContainerInstanceArn || got.Version != ci.Version+2 || !got.RegisteredAt.Equal(ci.RegisteredAt.Time) {
		t.Errorf("got arn %s version %d registeredAt %v, want %s, %d, %v", got.ContainerInstanceArn, got.Version, got.RegisteredAt, ci.ContainerInstanceArn, ci.Version+2, ci.RegisteredAt)
	}
	cpu, mem, ports := remaining(got)
	if cpu != 4096-256 || mem != 2048-512 || !slices.Contains(ports, "8080") {
		t.Errorf("got remaining cpu %d mem %d ports %v, want %d %d with 8080", cpu, mem, ports, 4096-256, 2048-512)
	}
	names := []string{}
	for _, a := range got.Attributes {
		names = append(names, a.Name+"="+a.Value)
	}
	if !slices.Contains(names, "custom=kept") || !slices.Contains(names, "new=1") {
		t.Errorf("got attributes %v, want custom=kept and new=1", names)
	}
	if got.VersionInfo.AgentVersion != "1.90.0" {
		t.Errorf("got agentVersion %s, want 1.90.0", got.VersionInfo.AgentVersion)
	}

	// A deregistered instance cannot come back under its ARN.
	if _, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: ci.ContainerInstanceArn, Force: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{ContainerInstanceArn: ci.ContainerInstanceArn, TotalResources: totalResources(1, 1)})
	wantCode(t, err, ecs.ErrClient)
}

func TestListContainerInstances(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 1024, ecs.Attribute{Name: "ecs.instance-type", Value: "t3.micro"})
	b := f.instance("default", 1024, 1024, ecs.Attribute{Name: "ecs.instance-type", Value: "m5.large"})
	c := f.instance("default", 1024, 1024)
	if _, err := f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{b.ContainerInstanceArn}, Status: "DRAINING"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: c.ContainerInstanceArn}); err != nil {
		t.Fatal(err)
	}
	td := f.taskDef(webDef("web", 10, 10))
	if _, err := f.s.StartTask(bg, &ecs.StartTaskRequest{TaskDefinition: td, ContainerInstances: []string{a.ContainerInstanceArn}, Group: "service:api"}); err != nil {
		t.Fatal(err)
	}
	sorted := func(arns ...string) []string { slices.Sort(arns); return arns }

	tests := []struct {
		name string
		in   ecs.ListContainerInstancesRequest
		want []string
	}{
		{"default leaves out INACTIVE", ecs.ListContainerInstancesRequest{}, sorted(a.ContainerInstanceArn, b.ContainerInstanceArn)},
		{"status ACTIVE", ecs.ListContainerInstancesRequest{Status: "ACTIVE"}, []string{a.ContainerInstanceArn}},
		{"status DRAINING", ecs.ListContainerInstancesRequest{Status: "DRAINING"}, []string{b.ContainerInstanceArn}},
		{"status REGISTERING", ecs.ListContainerInstancesRequest{Status: "REGISTERING"}, []string{}},
		{"attribute filter", ecs.ListContainerInstancesRequest{Filter: "attribute:ecs.instance-type =~ t3.*"}, []string{a.ContainerInstanceArn}},
		{"task group filter", ecs.ListContainerInstancesRequest{Filter: "task:group == service:api"}, []string{a.ContainerInstanceArn}},
		{"negated filter with status", ecs.ListContainerInstancesRequest{Filter: "not task:group == service:api", Status: "DRAINING"}, []string{b.ContainerInstanceArn}},
		{"by cluster ARN", ecs.ListContainerInstancesRequest{Cluster: f.s.clusterARN("default"), Status: "ACTIVE"}, []string{a.ContainerInstanceArn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.s.ListContainerInstances(bg, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.ContainerInstanceArns); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("paginates", func(t *testing.T) {
		var got []string
		token := ""
		for range 5 {
			out, err := f.s.ListContainerInstances(bg, &ecs.ListContainerInstancesRequest{MaxResults: ptr(int32(1)), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out.ContainerInstanceArns...)
			if token = out.NextToken; token == "" {
				break
			}
		}
		if diff := cmp.Diff(sorted(a.ContainerInstanceArn, b.ContainerInstanceArn), got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})

	errs := []struct {
		name string
		in   ecs.ListContainerInstancesRequest
		code string
	}{
		{"unknown cluster", ecs.ListContainerInstancesRequest{Cluster: "nope"}, ecs.ErrClusterNotFound},
		{"bad status", ecs.ListContainerInstancesRequest{Status: "INACTIVE"}, ecs.ErrInvalidParameter},
		{"bad filter", ecs.ListContainerInstancesRequest{Filter: "attribute:x =="}, ecs.ErrInvalidParameter},
		{"bad maxResults", ecs.ListContainerInstancesRequest{MaxResults: ptr(int32(101))}, ecs.ErrInvalidParameter},
		{"bad token", ecs.ListContainerInstancesRequest{NextToken: "!"}, ecs.ErrInvalidParameter},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.ListContainerInstances(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestDescribeContainerInstances(t *testing.T) {
	f := newTaskFixture(t)
	f.cluster("other")
	out, err := f.s.RegisterContainerInstance(bg, &ecs.RegisterContainerInstanceRequest{TotalResources: totalResources(512, 512), Tags: []ecs.Tag{{Key: "k", Value: "v"}}})
	if err != nil {
		t.Fatal(err)
	}
	a := out.ContainerInstance
	elsewhere := f.instance("other", 1, 1)
	aID := instanceIDOf(a)

	got, err := f.s.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesRequest{
		ContainerInstances: []string{aID, a.ContainerInstanceArn, "feedface", elsewhere.ContainerInstanceArn, "arn:aws:ecs:us-east-1:123456789012:task/default/x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ContainerInstances) != 2 || got.ContainerInstances[0].ContainerInstanceArn != a.ContainerInstanceArn || got.ContainerInstances[1].ContainerInstanceArn != a.ContainerInstanceArn {
		t.Fatalf("got %+v, want instance a twice (by ID and by ARN)", got.ContainerInstances)
	}
	if got.ContainerInstances[0].Tags != nil || got.ContainerInstances[0].HealthStatus != nil {
		t.Errorf("got tags %v health %v without include, want neither", got.ContainerInstances[0].Tags, got.ContainerInstances[0].HealthStatus)
	}
	wantFailures := []ecs.Failure{
		{Arn: f.s.instanceARN("default", "feedface"), Reason: "MISSING"},
		{Arn: elsewhere.ContainerInstanceArn, Reason: "MISSING"},
		{Arn: "arn:aws:ecs:us-east-1:123456789012:task/default/x", Reason: "MISSING"},
	}
	if diff := cmp.Diff(wantFailures, got.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}

	got, err = f.s.DescribeContainerInstances(bg, &ecs.DescribeContainerInstancesRequest{
		ContainerInstances: []string{aID}, Include: []string{"TAGS", "CONTAINER_INSTANCE_HEALTH"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ci := got.ContainerInstances[0]
	if diff := cmp.Diff([]ecs.Tag{{Key: "k", Value: "v"}}, ci.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if ci.HealthStatus == nil || ci.HealthStatus.OverallStatus != "INSUFFICIENT_DATA" {
		t.Errorf("got health %+v, want overallStatus INSUFFICIENT_DATA", ci.HealthStatus)
	}

	many := make([]string, 101)
	for i := range many {
		many[i] = aID
	}
	errs := []struct {
		name string
		in   ecs.DescribeContainerInstancesRequest
		code string
	}{
		{"none", ecs.DescribeContainerInstancesRequest{}, ecs.ErrInvalidParameter},
		{"too many", ecs.DescribeContainerInstancesRequest{ContainerInstances: many}, ecs.ErrInvalidParameter},
		{"bad include", ecs.DescribeContainerInstancesRequest{ContainerInstances: []string{aID}, Include: []string{"STATISTICS"}}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.DescribeContainerInstancesRequest{Cluster: "nope", ContainerInstances: []string{aID}}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.DescribeContainerInstances(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestUpdateContainerInstancesState(t *testing.T) {
	f := newTaskFixture(t)
	a := f.instance("default", 1024, 1024)
	b := f.instance("default", 1024, 1024)
	gone := f.instance("default", 1024, 1024)
	if _, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: gone.ContainerInstanceArn}); err != nil {
		t.Fatal(err)
	}

	out, err := f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{
		ContainerInstances: []string{a.ContainerInstanceArn, instanceIDOf(b), "feedface", gone.ContainerInstanceArn, instanceIDOf(a)},
		Status:             "DRAINING",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ContainerInstances) != 2 {
		t.Fatalf("got %d instances, want 2", len(out.ContainerInstances))
	}
	for _, ci := range out.ContainerInstances {
		if ci.Status != "DRAINING" || ci.Version != 2 {
			t.Errorf("got %s status %s version %d, want DRAINING version 2", ci.ContainerInstanceArn, ci.Status, ci.Version)
		}
	}
	wantFailures := []ecs.Failure{
		{Arn: f.s.instanceARN("default", "feedface"), Reason: "MISSING"},
		{Arn: gone.ContainerInstanceArn, Reason: "MISSING"},
	}
	if diff := cmp.Diff(wantFailures, out.Failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if got := f.describeInstance("default", a.ContainerInstanceArn); got.Status != "DRAINING" {
		t.Errorf("stored status %s, want DRAINING", got.Status)
	}

	// Draining instances take no new tasks.
	td := f.taskDef(webDef("web", 10, 10))
	_, err = f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td})
	wantCode(t, err, ecs.ErrInvalidParameter)

	// Again: no change, no version bump. Then back to ACTIVE.
	out, err = f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{a.ContainerInstanceArn}, Status: "DRAINING"})
	if err != nil || out.ContainerInstances[0].Version != 2 {
		t.Fatalf("repeat DRAINING: %v, %+v; want version 2 unchanged", err, out)
	}
	out, err = f.s.UpdateContainerInstancesState(bg, &ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{a.ContainerInstanceArn}, Status: "ACTIVE"})
	if err != nil || out.ContainerInstances[0].Status != "ACTIVE" || out.ContainerInstances[0].Version != 3 {
		t.Fatalf("back to ACTIVE: %v, %+v; want ACTIVE version 3", err, out)
	}

	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = a.ContainerInstanceArn
	}
	errs := []struct {
		name string
		in   ecs.UpdateContainerInstancesStateRequest
		code string
	}{
		{"bad status", ecs.UpdateContainerInstancesStateRequest{ContainerInstances: []string{a.ContainerInstanceArn}, Status: "INACTIVE"}, ecs.ErrInvalidParameter},
		{"no instances", ecs.UpdateContainerInstancesStateRequest{Status: "ACTIVE"}, ecs.ErrInvalidParameter},
		{"too many", ecs.UpdateContainerInstancesStateRequest{ContainerInstances: eleven, Status: "ACTIVE"}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.UpdateContainerInstancesStateRequest{Cluster: "nope", ContainerInstances: []string{a.ContainerInstanceArn}, Status: "ACTIVE"}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.UpdateContainerInstancesState(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestDeregisterContainerInstance(t *testing.T) {
	f := newTaskFixture(t)
	idle := f.instance("default", 1024, 1024)
	busy := f.instance("default", 1024, 1024)
	td := f.taskDef(webDef("web", 100, 100))
	started, err := f.s.StartTask(bg, &ecs.StartTaskRequest{TaskDefinition: td, ContainerInstances: []string{busy.ContainerInstanceArn}})
	if err != nil || len(started.Tasks) != 1 {
		t.Fatalf("StartTask: %v %+v", err, started)
	}

	out, err := f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: instanceIDOf(idle)})
	if err != nil {
		t.Fatal(err)
	}
	if out.ContainerInstance.Status != "INACTIVE" || out.ContainerInstance.AgentConnected {
		t.Errorf("got status %s agentConnected %v, want INACTIVE and false", out.ContainerInstance.Status, out.ContainerInstance.AgentConnected)
	}
	// Gone from lists and counts, still describable.
	list, err := f.s.ListContainerInstances(bg, &ecs.ListContainerInstancesRequest{})
	if err != nil || !cmp.Equal(list.ContainerInstanceArns, []string{busy.ContainerInstanceArn}) {
		t.Errorf("ListContainerInstances: %v %v, want only %s", err, list, busy.ContainerInstanceArn)
	}
	if got := f.describeInstance("default", idle.ContainerInstanceArn); got.Status != "INACTIVE" {
		t.Errorf("described status %s, want INACTIVE", got.Status)
	}
	cl, err := f.s.DescribeClusters(bg, &ecs.DescribeClustersRequest{})
	if err != nil || cl.Clusters[0].RegisteredContainerInstancesCount != 1 || cl.Clusters[0].PendingTasksCount != 1 {
		t.Errorf("cluster counts %+v (%v), want 1 instance, 1 pending task", cl, err)
	}

	// A task not STOPPED blocks deregistration unless forced.
	_, err = f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: busy.ContainerInstanceArn})
	wantCode(t, err, ecs.ErrInvalidParameter)
	out, err = f.s.DeregisterContainerInstance(bg, &ecs.DeregisterContainerInstanceRequest{ContainerInstance: busy.ContainerInstanceArn, Force: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if cpu, _, _ := remaining(out.ContainerInstance); cpu != 1024 || out.ContainerInstance.PendingTasksCount != 0 {
		t.Errorf("got remaining cpu %d pending %d, want everything released", cpu, out.ContainerInstance.PendingTasksCount)
	}
	tasks, err := f.s.DescribeTasks(bg, &ecs.DescribeTasksRequest{Tasks: []string{started.Tasks[0].TaskArn}})
	if err != nil {
		t.Fatal(err)
	}
	if tk := tasks.Tasks[0]; tk.LastStatus != "STOPPED" || tk.DesiredStatus != "STOPPED" || tk.StoppedReason == "" || tk.Version != 2 {
		t.Errorf("orphaned task: last %s desired %s reason %q version %d, want STOPPED/STOPPED with a reason, version 2", tk.LastStatus, tk.DesiredStatus, tk.StoppedReason, tk.Version)
	}
	// With no instances and no tasks left the cluster can go.
	if _, err := f.s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "default"}); err != nil {
		t.Errorf("DeleteCluster after deregistering everything: %v", err)
	}

	f.cluster("default")
	errs := []struct {
		name string
		in   ecs.DeregisterContainerInstanceRequest
		code string
	}{
		{"already deregistered", ecs.DeregisterContainerInstanceRequest{ContainerInstance: idle.ContainerInstanceArn}, ecs.ErrInvalidParameter},
		{"unknown", ecs.DeregisterContainerInstanceRequest{ContainerInstance: "feedface"}, ecs.ErrInvalidParameter},
		{"malformed", ecs.DeregisterContainerInstanceRequest{ContainerInstance: "a/b"}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.DeregisterContainerInstanceRequest{Cluster: "nope", ContainerInstance: "feedface"}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.DeregisterContainerInstance(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestInstanceOpsAreServed(t *testing.T) {
	s, _ := newTestService(t)
	ops := s.Ops()
	for _, op := range []string{"RegisterContainerInstance", "ListContainerInstances", "DescribeContainerInstances",
		"UpdateContainerInstancesState", "DeregisterContainerInstance", "RunTask", "StartTask", "StopTask", "DescribeTasks", "ListTasks"} {
		if ops[op] == nil {
			t.Errorf("%s is not served", op)
		}
	}
}

// testImage names a digest, so service launches need no resolution first
// (see pins.go; TestImagePins covers tags).
const testImage = "nginx@sha256:abababababababababababababababababababababababababababababababab"
