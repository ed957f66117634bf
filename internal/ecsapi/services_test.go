package ecsapi

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/state"
)

// Golden files are rewritten with `go test -update`; whichever test file
// defines the flag first wins (see the comment in taskdefs_test.go).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/")
	}
}

func svcUpdatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	svcClusterARN = "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
	svcWebARN     = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
	svcTD1        = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
	svcTD2        = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
	svcTGARN      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
)

var svcDeploymentIDRE = regexp.MustCompile(`^ecs-svc/[1-9][0-9]{18}$`)

// newServiceFixture returns a service over a store with cluster "prod" and
// task definitions web:1 (bridge, container web with containerPort 80) and
// vpc:1 (awsvpc, same container).
func newServiceFixture(t *testing.T) (*Service, *testClock) {
	t.Helper()
	s, clk := newTestService(t)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "prod"}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	svcRegister(t, s, "web", "")
	svcRegister(t, s, "vpc", ecs.NetworkModeAwsvpc)
	return s, clk
}

// svcRegister registers a revision of family with container "web" mapping
// containerPort 80.
func svcRegister(t *testing.T, s *Service, family, networkMode string) {
	t.Helper()
	_, err := s.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{
		Family:      family,
		NetworkMode: networkMode,
		ContainerDefinitions: []ecs.ContainerDefinition{{
			Name:         "web",
			Image:        "nginx:1.27",
			Memory:       ptr(int32(128)),
			PortMappings: []ecs.PortMapping{{ContainerPort: ptr(int32(80))}},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition(%s): %v", family, err)
	}
}

// svcRequest is a minimal valid CreateService request for "web" in "prod".
func svcRequest() *ecs.CreateServiceRequest {
	return &ecs.CreateServiceRequest{Cluster: "prod", ServiceName: "web", TaskDefinition: "web", DesiredCount: ptr(int32(2))}
}

func svcCreate(t *testing.T, s *Service, in *ecs.CreateServiceRequest) *ecs.Service {
	t.Helper()
	out, err := s.CreateService(bg, in)
	if err != nil {
		t.Fatalf("CreateService(%s): %v", in.ServiceName, err)
	}
	return out.Service
}

func svcUpdate(t *testing.T, s *Service, in *ecs.UpdateServiceRequest) *ecs.Service {
	t.Helper()
	if in.Cluster == "" {
		in.Cluster = "prod"
	}
	out, err := s.UpdateService(bg, in)
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	return out.Service
}

func svcDescribe(t *testing.T, s *Service, names ...string) *ecs.DescribeServicesResponse {
	t.Helper()
	out, err := s.DescribeServices(bg, &ecs.DescribeServicesRequest{Cluster: "prod", Services: names})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	return out
}

// svcWantError fails unless err is an *awserr.Error with code whose message
// starts with prefix.
func svcWantError(t *testing.T, err error, code, prefix string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if e.Code != code || !strings.HasPrefix(e.Message, prefix) {
		t.Fatalf("got %s %q, want %s starting %q", e.Code, e.Message, code, prefix)
	}
}

// svcPutTask stores a task record of service svc in cluster prod.
func svcPutTask(t *testing.T, s *Service, id, group, startedBy, lastStatus string) {
	t.Helper()
	task := &ecs.Task{TaskArn: s.taskARN("prod", id), Group: group, StartedBy: startedBy, LastStatus: lastStatus}
	op, err := state.PutOp(state.TaskKey("prod", id), task, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
}

func TestServiceOpsAreServed(t *testing.T) {
	s, _ := newTestService(t)
	ops := s.Ops()
	for _, op := range []string{"CreateService", "UpdateService", "DeleteService", "DescribeServices", "ListServices"} {
		if _, ok := ops[op]; !ok {
			t.Errorf("%s is not served", op)
		}
	}
}

func TestCreateService(t *testing.T) {
	s, clk := newServiceFixture(t)
	svc := svcCreate(t, s, svcRequest())
	now := clk.Now()
	checks := []struct {
		what      string
		got, want any
	}{
		{"serviceArn", svc.ServiceArn, svcWebARN},
		{"clusterArn", svc.ClusterArn, svcClusterARN},
		{"status", svc.Status, "ACTIVE"},
		{"taskDefinition (family resolved to its latest ACTIVE revision)", svc.TaskDefinition, svcTD1},
		{"desiredCount", svc.DesiredCount, int32(2)},
		{"launchType", svc.LaunchType, "EC2"},
		{"schedulingStrategy", svc.SchedulingStrategy, "REPLICA"},
		{"deploymentController", *svc.DeploymentController, ecs.DeploymentController{Type: "ECS"}},
		{"propagateTags", svc.PropagateTags, "NONE"},
		{"healthCheckGracePeriodSeconds", *svc.HealthCheckGracePeriodSeconds, int32(0)},
		{"createdAt", svc.CreatedAt.Time, now},
		{"createdBy", svc.CreatedBy, "arn:aws:iam::123456789012:root"},
		{"minimumHealthyPercent", *svc.DeploymentConfiguration.MinimumHealthyPercent, int32(100)},
		{"maximumPercent", *svc.DeploymentConfiguration.MaximumPercent, int32(200)},
		{"circuit breaker", *svc.DeploymentConfiguration.DeploymentCircuitBreaker, ecs.DeploymentCircuitBreaker{}},
		{"loadBalancers", svc.LoadBalancers, []ecs.LoadBalancer{}},
		{"placementConstraints", svc.PlacementConstraints, []ecs.PlacementConstraint{}},
		{"taskSets", svc.TaskSets, []ecs.TaskSet(nil)},
		{"deployments", len(svc.Deployments), 1},
		{"events", len(svc.Events), 1},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.what, diff)
		}
	}
	d := svc.Deployments[0]
	if !svcDeploymentIDRE.MatchString(d.Id) {
		t.Errorf("deployment id %q, want ecs-svc/ and 19 digits", d.Id)
	}
	wantD := ecs.Deployment{
		Id: d.Id, Status: "PRIMARY", TaskDefinition: svcTD1, DesiredCount: 2,
		CreatedAt: ecs.NewTime(now), UpdatedAt: ecs.NewTime(now), LaunchType: "EC2",
		RolloutState: "IN_PROGRESS", RolloutStateReason: "ECS deployment " + d.Id + " in progress.",
	}
	if diff := cmp.Diff(wantD, d); diff != "" {
		t.Errorf("deployment (-want +got):\n%s", diff)
	}
	ev := svc.Events[0]
	if ev.Message != "(service web) was created." || !ev.CreatedAt.Equal(now) || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(ev.Id) {
		t.Errorf("got event %+v, want a UUID, the creation time and \"(service web) was created.\"", ev)
	}

	t.Run("describe returns the same", func(t *testing.T) {
		got := svcDescribe(t, s, "web").Services[0]
		want := *svc
		want.Tags = nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("DescribeServices differs from the CreateService response (-want +got):\n%s", diff)
		}
	})
	t.Run("cluster counts the service", func(t *testing.T) {
		out, err := s.DescribeClusters(bg, &ecs.DescribeClustersRequest{Clusters: []string{"prod"}})
		if err != nil {
			t.Fatal(err)
		}
		if n := out.Clusters[0].ActiveServicesCount; n != 1 {
			t.Errorf("got activeServicesCount %d, want 1", n)
		}
	})
}

func TestCreateServiceDefaults(t *testing.T) {
	s, _ := newServiceFixture(t)
	t.Run("DAEMON", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName, in.DesiredCount, in.SchedulingStrategy = "agent", nil, "DAEMON"
		svc := svcCreate(t, s, in)
		dc := svc.DeploymentConfiguration
		if svc.DesiredCount != 0 || *dc.MinimumHealthyPercent != 0 || *dc.MaximumPercent != 100 {
			t.Errorf("got desiredCount %d min %d max %d, want 0, 0, 100", svc.DesiredCount, *dc.MinimumHealthyPercent, *dc.MaximumPercent)
		}
	})
	t.Run("cluster default capacity provider strategy", func(t *testing.T) {
		_, err := s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{
			Cluster: "prod", CapacityProviders: []string{"cp"},
			DefaultCapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		in := svcRequest()
		in.ServiceName = "cp"
		svc := svcCreate(t, s, in)
		if svc.LaunchType != "" || len(svc.CapacityProviderStrategy) != 1 || svc.CapacityProviderStrategy[0].CapacityProvider != "cp" {
			t.Errorf("got launchType %q strategy %+v, want the cluster's default strategy", svc.LaunchType, svc.CapacityProviderStrategy)
		}
		// A DAEMON service cannot use it, as ECS answers.
		in = svcRequest()
		in.ServiceName, in.DesiredCount, in.SchedulingStrategy = "agent2", nil, "DAEMON"
		_, err = s.CreateService(bg, in)
		svcWantError(t, err, ecs.ErrInvalidParameter, "capacityProviderStrategy: "+svcMsgDaemonCP)
		in.LaunchType = "EC2"
		svcCreate(t, s, in)
	})
	t.Run("normalized placement strategy", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName = "placed"
		in.PlacementStrategy = []ecs.PlacementStrategy{{Type: "spread", Field: "host"}, {Type: "binpack", Field: "memory"}, {Type: "random"}}
		svc := svcCreate(t, s, in)
		want := []ecs.PlacementStrategy{{Type: "spread", Field: "instanceId"}, {Type: "binpack", Field: "MEMORY"}, {Type: "random"}}
		if diff := cmp.Diff(want, svc.PlacementStrategy); diff != "" {
			t.Errorf("placementStrategy (-want +got):\n%s", diff)
		}
	})
	t.Run("load balancer uses the service-linked role", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName = "lb"
		in.LoadBalancers = []ecs.LoadBalancer{{LoadBalancerName: "classic", ContainerName: "web", ContainerPort: ptr(int32(80))}}
		svc := svcCreate(t, s, in)
		if want := "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"; svc.RoleArn != want {
			t.Errorf("got roleArn %q, want %q", svc.RoleArn, want)
		}
		if d := svc.Deployments[0]; d.RolloutState != "" || d.RolloutStateReason != "" {
			t.Errorf("behind a Classic Load Balancer: got rolloutState %q (%q), want none", d.RolloutState, d.RolloutStateReason)
		}
		in.ServiceName, in.Role = "lb2", "/path/ecsRole"
		if svc := svcCreate(t, s, in); svc.RoleArn != "arn:aws:iam::123456789012:role/path/ecsRole" {
			t.Errorf("got roleArn %q, want the role's ARN", svc.RoleArn)
		}
	})
	t.Run("CODE_DEPLOY and EXTERNAL have no deployments", func(t *testing.T) {
		for _, typ := range []string{"CODE_DEPLOY", "EXTERNAL"} {
			in := svcRequest()
			in.ServiceName = "ctl-" + strings.ToLower(strings.ReplaceAll(typ, "_", ""))
			in.DeploymentController = &ecs.DeploymentController{Type: typ}
			if typ == "EXTERNAL" {
				in.TaskDefinition = ""
			}
			svc := svcCreate(t, s, in)
			if svc.Deployments == nil || len(svc.Deployments) != 0 || svc.TaskSets == nil || len(svc.TaskSets) != 0 {
				t.Errorf("%s: got deployments %v taskSets %v, want both empty lists", typ, svc.Deployments, svc.TaskSets)
			}
		}
	})
}

// TestCreateServiceGolden pins the whole CreateService response. Deployment
// and event IDs are random; they are normalized before comparing.
func TestCreateServiceGolden(t *testing.T) {
	s, _ := newServiceFixture(t)
	in := &ecs.CreateServiceRequest{
		Cluster:              "prod",
		ServiceName:          "web",
		TaskDefinition:       "web:1",
		DesiredCount:         ptr(int32(3)),
		ClientToken:          "token-1",
		LaunchType:           "EC2",
		LoadBalancers:        []ecs.LoadBalancer{{TargetGroupArn: svcTGARN, ContainerName: "web", ContainerPort: ptr(int32(80))}},
		PlacementConstraints: []ecs.PlacementConstraint{{Type: "distinctInstance"}, {Type: "memberOf", Expression: "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"}},
		PlacementStrategy:    []ecs.PlacementStrategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}, {Type: "binpack", Field: "memory"}},
		DeploymentConfiguration: &ecs.DeploymentConfiguration{
			MaximumPercent:           ptr(int32(150)),
			MinimumHealthyPercent:    ptr(int32(50)),
			DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{Enable: true, Rollback: true},
		},
		HealthCheckGracePeriodSeconds: ptr(int32(30)),
		PropagateTags:                 "SERVICE",
		EnableECSManagedTags:          true,
		EnableExecuteCommand:          true,
		Tags:                          []ecs.Tag{{Key: "team", Value: "web"}},
	}
	out, err := s.CreateService(bg, in)
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`ecs-svc/[0-9]{19}`).ReplaceAll(b, []byte("ecs-svc/<deployment>"))
	b = regexp.MustCompile(`"id": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"`).ReplaceAll(b, []byte(`"id": "<event>"`))
	b = append(b, '\n')
	path := filepath.Join("testdata", "create_service.golden.json")
	if svcUpdatingGolden() {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test -run TestCreateServiceGolden -update)", path, err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestCreateServiceIdempotency(t *testing.T) {
	s, _ := newServiceFixture(t)
	in := svcRequest()
	in.ClientToken = "abc"
	first := svcCreate(t, s, in)

	t.Run("identical retry returns the service", func(t *testing.T) {
		again := svcCreate(t, s, svcRequest2(in))
		if again.Deployments[0].Id != first.Deployments[0].Id || len(again.Events) != 1 {
			t.Errorf("got deployment %s and %d events, want the existing service (%s, 1 event)", again.Deployments[0].Id, len(again.Events), first.Deployments[0].Id)
		}
	})
	tests := []struct {
		name   string
		change func(*ecs.CreateServiceRequest)
	}{
		{"different desiredCount", func(r *ecs.CreateServiceRequest) { r.DesiredCount = ptr(int32(3)) }},
		{"different clientToken", func(r *ecs.CreateServiceRequest) { r.ClientToken = "other" }},
		{"no clientToken", func(r *ecs.CreateServiceRequest) { r.ClientToken = "" }},
		{"different tags", func(r *ecs.CreateServiceRequest) { r.Tags = []ecs.Tag{{Key: "k", Value: "v"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := svcRequest2(in)
			tt.change(r)
			_, err := s.CreateService(bg, r)
			svcWantError(t, err, ecs.ErrInvalidParameter, svcMsgNotIdempotent)
		})
	}
	t.Run("draining service", func(t *testing.T) {
		svcPutTask(t, s, "t1", "service:web", first.Deployments[0].Id, "RUNNING")
		if _, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "web", Force: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		_, err := s.CreateService(bg, svcRequest2(in))
		svcWantError(t, err, ecs.ErrInvalidParameter, svcMsgNotIdempotent)
	})
}

// svcRequest2 returns a copy of in.
func svcRequest2(in *ecs.CreateServiceRequest) *ecs.CreateServiceRequest {
	c := *in
	return &c
}

func TestCreateServiceErrors(t *testing.T) {
	s, _ := newServiceFixture(t)
	svcRegister(t, s, "old", "")
	if _, err := s.DeregisterTaskDefinition(bg, &ecs.DeregisterTaskDefinitionRequest{TaskDefinition: "old:1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		change       func(*ecs.CreateServiceRequest)
		code, prefix string
	}{
		{"unknown cluster", func(r *ecs.CreateServiceRequest) { r.Cluster = "nope" }, ecs.ErrClusterNotFound, "Cluster not found."},
		{"unknown family", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "nope" }, ecs.ErrClient, "TaskDefinition not found."},
		{"unknown revision", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "web:9" }, ecs.ErrClient, "TaskDefinition not found."},
		{"unknown ARN", func(r *ecs.CreateServiceRequest) {
			r.TaskDefinition = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
		}, ecs.ErrClient, "TaskDefinition not found."},
		{"family without an ACTIVE revision", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "old" }, ecs.ErrClient, "TaskDefinition not found."},
		{"inactive revision", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "old:1" }, ecs.ErrInvalidParameter, "TaskDefinition is inactive"},
		{"malformed reference", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "web:x" }, ecs.ErrInvalidParameter, "taskDefinition: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := svcRequest()
			tt.change(in)
			_, err := s.CreateService(bg, in)
			svcWantError(t, err, tt.code, tt.prefix)
		})
	}
}

// TestCreateServiceValidation has one case per rule; each asserts the
// exception and that the message starts with the member it is about.
func TestCreateServiceValidation(t *testing.T) {
	s, _ := newServiceFixture(t)
	_, err := s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{Cluster: "prod", CapacityProviders: []string{"cp"}})
	if err != nil {
		t.Fatal(err)
	}
	daemon := func(r *ecs.CreateServiceRequest) { r.SchedulingStrategy, r.DesiredCount = "DAEMON", nil }
	lb := func(mod func(*ecs.LoadBalancer)) func(*ecs.CreateServiceRequest) {
		return func(r *ecs.CreateServiceRequest) {
			l := ecs.LoadBalancer{TargetGroupArn: svcTGARN, ContainerName: "web", ContainerPort: ptr(int32(80))}
			mod(&l)
			r.LoadBalancers = []ecs.LoadBalancer{l}
		}
	}
	vpc := func(mod func(*ecs.AwsVpcConfiguration)) func(*ecs.CreateServiceRequest) {
		return func(r *ecs.CreateServiceRequest) {
			r.TaskDefinition = "vpc"
			c := ecs.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}
			mod(&c)
			r.NetworkConfiguration = &ecs.NetworkConfiguration{AwsvpcConfiguration: &c}
		}
	}
	dc := func(mod func(*ecs.DeploymentConfiguration)) func(*ecs.CreateServiceRequest) {
		return func(r *ecs.CreateServiceRequest) {
			r.DeploymentConfiguration = &ecs.DeploymentConfiguration{}
			mod(r.DeploymentConfiguration)
		}
	}
	constraint := func(c ...ecs.PlacementConstraint) func(*ecs.CreateServiceRequest) {
		return func(r *ecs.CreateServiceRequest) { r.PlacementConstraints = c }
	}
	strategy := func(st ...ecs.PlacementStrategy) func(*ecs.CreateServiceRequest) {
		return func(r *ecs.CreateServiceRequest) { r.PlacementStrategy = st }
	}
	ipe := ecs.ErrInvalidParameter
	tests := []struct {
		name         string
		change       func(*ecs.CreateServiceRequest)
		code, prefix string
	}{
		{"service name", func(r *ecs.CreateServiceRequest) { r.ServiceName = "no spaces" }, ipe, "serviceName: "},
		{"service name too long", func(r *ecs.CreateServiceRequest) { r.ServiceName = strings.Repeat("a", 256) }, ipe, "serviceName: "},
		{"client token too long", func(r *ecs.CreateServiceRequest) { r.ClientToken = strings.Repeat("a", 37) }, ipe, "clientToken: "},
		{"client token character", func(r *ecs.CreateServiceRequest) { r.ClientToken = "a b" }, ipe, "clientToken: "},
		{"scheduling strategy", func(r *ecs.CreateServiceRequest) { r.SchedulingStrategy = "ALL" }, ipe, "schedulingStrategy: "},
		{"desiredCount missing for REPLICA", func(r *ecs.CreateServiceRequest) { r.DesiredCount = nil }, ipe, "desiredCount: "},
		{"desiredCount negative", func(r *ecs.CreateServiceRequest) { r.DesiredCount = ptr(int32(-1)) }, ipe, "desiredCount: "},
		{"desiredCount with DAEMON", func(r *ecs.CreateServiceRequest) { r.SchedulingStrategy = "DAEMON" }, ipe, "desiredCount: " + svcMsgDaemonDesiredCount},
		{"launchType and capacityProviderStrategy", func(r *ecs.CreateServiceRequest) {
			r.LaunchType = "EC2"
			r.CapacityProviderStrategy = []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp"}}
		}, ipe, "launchType: " + msgLaunchTypeAndCP},
		{"launchType unknown", func(r *ecs.CreateServiceRequest) { r.LaunchType = "LAMBDA" }, ipe, "launchType: "},
		{"launchType MANAGED_INSTANCES", func(r *ecs.CreateServiceRequest) { r.LaunchType = "MANAGED_INSTANCES" }, ipe, "launchType: "},
		{"launchType the task definition does not support", func(r *ecs.CreateServiceRequest) { r.LaunchType = "FARGATE" }, ipe, "launchType: Task definition does not support launch_type FARGATE."},
		{"taskDefinition missing", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "" }, ipe, "taskDefinition: "},
		{"role without load balancers", func(r *ecs.CreateServiceRequest) { r.Role = "ecsRole" }, ipe, "role: "},
		{"role with awsvpc", func(r *ecs.CreateServiceRequest) {
			vpc(func(*ecs.AwsVpcConfiguration) {})(r)
			lb(func(*ecs.LoadBalancer) {})(r)
			r.Role = "ecsRole"
		}, ipe, "role: " + svcMsgRoleWithSLR},
		{"tags", func(r *ecs.CreateServiceRequest) { r.Tags = []ecs.Tag{{Key: "aws:x", Value: "v"}} }, ipe, "tags[0].key: "},
		{"deployment controller", func(r *ecs.CreateServiceRequest) { r.DeploymentController = &ecs.DeploymentController{Type: "ARGO"} }, ipe, "deploymentController.type: "},
		{"DAEMON on Fargate", func(r *ecs.CreateServiceRequest) { daemon(r); r.LaunchType = "FARGATE" }, ipe, "schedulingStrategy: "},
		{"DAEMON with CODE_DEPLOY", func(r *ecs.CreateServiceRequest) {
			daemon(r)
			r.DeploymentController = &ecs.DeploymentController{Type: "CODE_DEPLOY"}
		}, ipe, "schedulingStrategy: "},
		{"DAEMON with capacity providers", func(r *ecs.CreateServiceRequest) {
			daemon(r)
			r.CapacityProviderStrategy = []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp"}}
		}, ipe, "capacityProviderStrategy: " + svcMsgDaemonCP},
		{"DAEMON with placement strategy", func(r *ecs.CreateServiceRequest) {
			daemon(r)
			r.PlacementStrategy = []ecs.PlacementStrategy{{Type: "random"}}
		}, ipe, "placementStrategy: " + svcMsgDaemonStrategy},
		{"DAEMON maximumPercent", func(r *ecs.CreateServiceRequest) {
			daemon(r)
			dc(func(d *ecs.DeploymentConfiguration) { d.MaximumPercent = ptr(int32(200)) })(r)
		}, ipe, "deploymentConfiguration.maximumPercent: " + svcMsgDaemonMaxPercent},
		{"DAEMON maximumPercent below minimum", func(r *ecs.CreateServiceRequest) {
			daemon(r)
			dc(func(d *ecs.DeploymentConfiguration) {
				d.MaximumPercent, d.MinimumHealthyPercent = ptr(int32(50)), ptr(int32(60))
			})(r)
		}, ipe, "deploymentConfiguration.maximumPercent: "},
		{"capacity provider not in the cluster", func(r *ecs.CreateServiceRequest) {
			r.CapacityProviderStrategy = []ecs.CapacityProviderStrategyItem{{CapacityProvider: "other"}}
		}, ipe, "capacityProviderStrategy[0].capacityProvider: " + msgCPNotInCluster},
		{"capacity provider weight", func(r *ecs.CreateServiceRequest) {
			r.CapacityProviderStrategy = []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 1001}}
		}, ipe, "capacityProviderStrategy[0].weight: "},
		{"minimumHealthyPercent above 100", dc(func(d *ecs.DeploymentConfiguration) { d.MinimumHealthyPercent = ptr(int32(101)) }), ipe, "deploymentConfiguration.minimumHealthyPercent: "},
		{"minimumHealthyPercent negative", dc(func(d *ecs.DeploymentConfiguration) { d.MinimumHealthyPercent = ptr(int32(-1)) }), ipe, "deploymentConfiguration.minimumHealthyPercent: "},
		{"maximumPercent below 100", dc(func(d *ecs.DeploymentConfiguration) { d.MaximumPercent = ptr(int32(99)) }), ipe, "deploymentConfiguration.maximumPercent: "},
		{"circuit breaker with CODE_DEPLOY", func(r *ecs.CreateServiceRequest) {
			r.DeploymentController = &ecs.DeploymentController{Type: "CODE_DEPLOY"}
			dc(func(d *ecs.DeploymentConfiguration) {
				d.DeploymentCircuitBreaker = &ecs.DeploymentCircuitBreaker{Enable: true}
			})(r)
		}, ipe, "deploymentConfiguration.deploymentCircuitBreaker: " + svcMsgCircuitBreaker},
		{"deployment strategy", dc(func(d *ecs.DeploymentConfiguration) { d.Strategy = "SLOW" }), ipe, "deploymentConfiguration.strategy: "},
		{"linear configuration without LINEAR", dc(func(d *ecs.DeploymentConfiguration) { d.LinearConfiguration = &ecs.LinearConfiguration{} }), ipe, "deploymentConfiguration.linearConfiguration: "},
		{"canary configuration without CANARY", dc(func(d *ecs.DeploymentConfiguration) { d.CanaryConfiguration = &ecs.CanaryConfiguration{} }), ipe, "deploymentConfiguration.canaryConfiguration: "},
		{"bake time", dc(func(d *ecs.DeploymentConfiguration) { d.BakeTimeInMinutes = ptr(int32(-1)) }), ipe, "deploymentConfiguration.bakeTimeInMinutes: "},
		{"too many constraints", constraint(make11Constraints()...), ipe, "placementConstraints: "},
		{"distinctInstance with expression", constraint(ecs.PlacementConstraint{Type: "distinctInstance", Expression: "attribute:a exists"}), ipe, "placementConstraints[0].expression: "},
		{"memberOf without expression", constraint(ecs.PlacementConstraint{Type: "memberOf"}), ipe, "placementConstraints[0].expression: "},
		{"memberOf expression that does not parse", constraint(ecs.PlacementConstraint{Type: "memberOf", Expression: "attribute:abc == "}), ipe,
			`placementConstraints[0].expression: memberOf expression: at 17: expected a value after "=="`},
		{"constraint type", constraint(ecs.PlacementConstraint{Type: "sameInstance"}), ipe, "placementConstraints[0].type: "},
		{"too many strategies", strategy(make([]ecs.PlacementStrategy, 6)...), ipe, "placementStrategy: "},
		{"random with a field", strategy(ecs.PlacementStrategy{Type: "random", Field: "cpu"}), ipe, "placementStrategy[0].field: "},
		{"spread field", strategy(ecs.PlacementStrategy{Type: "spread", Field: "cpu"}), ipe, "placementStrategy[0].field: "},
		{"spread on an empty attribute", strategy(ecs.PlacementStrategy{Type: "spread", Field: "attribute:"}), ipe, "placementStrategy[0].field: "},
		{"binpack field", strategy(ecs.PlacementStrategy{Type: "binpack", Field: "instanceId"}), ipe, "placementStrategy[0].field: "},
		{"strategy type", strategy(ecs.PlacementStrategy{Type: "pack"}), ipe, "placementStrategy[0].type: "},
		{"too many load balancers", func(r *ecs.CreateServiceRequest) {
			for range 6 {
				r.LoadBalancers = append(r.LoadBalancers, ecs.LoadBalancer{TargetGroupArn: svcTGARN, ContainerName: "web", ContainerPort: ptr(int32(80))})
			}
		}, ipe, "loadBalancers: "},
		{"load balancer with both", lb(func(l *ecs.LoadBalancer) { l.LoadBalancerName = "classic" }), ipe, "loadBalancers[0]: "},
		{"load balancer with neither", lb(func(l *ecs.LoadBalancer) { l.TargetGroupArn = "" }), ipe, "loadBalancers[0]: "},
		{"target group ARN", lb(func(l *ecs.LoadBalancer) { l.TargetGroupArn = "arn:aws:ecs:us-east-1:1:cluster/x" }), ipe, "loadBalancers[0].targetGroupArn: "},
		{"load balancer container name", lb(func(l *ecs.LoadBalancer) { l.ContainerName = "" }), ipe, "loadBalancers[0].containerName: "},
		{"load balancer container port", lb(func(l *ecs.LoadBalancer) { l.ContainerPort = nil }), ipe, "loadBalancers[0].containerPort: "},
		{"load balancer port range", lb(func(l *ecs.LoadBalancer) { l.ContainerPort = ptr(int32(70000)) }), ipe, "loadBalancers[0].containerPort: "},
		{"load balancer container not in the task definition", lb(func(l *ecs.LoadBalancer) { l.ContainerName = "api" }), ipe,
			"loadBalancers[0].containerName: The container api does not exist in the task definition."},
		{"load balancer port not mapped", lb(func(l *ecs.LoadBalancer) { l.ContainerPort = ptr(int32(8080)) }), ipe,
			"loadBalancers[0].containerPort: The container web did not have a container port 8080 defined."},
		{"network configuration for bridge", func(r *ecs.CreateServiceRequest) {
			r.NetworkConfiguration = &ecs.NetworkConfiguration{AwsvpcConfiguration: &ecs.AwsVpcConfiguration{Subnets: []string{"s"}}}
		}, ipe, "networkConfiguration: " + msgNetConfigNotValid},
		{"awsvpc without network configuration", func(r *ecs.CreateServiceRequest) { r.TaskDefinition = "vpc" }, ipe, "networkConfiguration: " + msgNetConfigRequired},
		{"awsvpc configuration missing", func(r *ecs.CreateServiceRequest) {
			r.TaskDefinition = "vpc"
			r.NetworkConfiguration = &ecs.NetworkConfiguration{}
		}, ipe, "networkConfiguration.awsvpcConfiguration: "},
		{"no subnets", vpc(func(c *ecs.AwsVpcConfiguration) { c.Subnets = nil }), ipe, "networkConfiguration.awsvpcConfiguration.subnets: "},
		{"too many subnets", vpc(func(c *ecs.AwsVpcConfiguration) { c.Subnets = make([]string, 17) }), ipe, "networkConfiguration.awsvpcConfiguration.subnets: "},
		{"too many security groups", vpc(func(c *ecs.AwsVpcConfiguration) { c.SecurityGroups = make([]string, 6) }), ipe, "networkConfiguration.awsvpcConfiguration.securityGroups: "},
		{"assignPublicIp value", vpc(func(c *ecs.AwsVpcConfiguration) { c.AssignPublicIp = "YES" }), ipe, "networkConfiguration.awsvpcConfiguration.assignPublicIp: "},
		{"assignPublicIp on EC2", vpc(func(c *ecs.AwsVpcConfiguration) { c.AssignPublicIp = "ENABLED" }), ipe, "networkConfiguration.awsvpcConfiguration.assignPublicIp: " + svcMsgPublicIP},
		{"health check grace period", func(r *ecs.CreateServiceRequest) { r.HealthCheckGracePeriodSeconds = ptr(int32(-1)) }, ipe, "healthCheckGracePeriodSeconds: "},
		{"propagateTags", func(r *ecs.CreateServiceRequest) { r.PropagateTags = "ALL" }, ipe, "propagateTags: "},
		{"availabilityZoneRebalancing", func(r *ecs.CreateServiceRequest) { r.AvailabilityZoneRebalancing = "ON" }, ipe, "availabilityZoneRebalancing: "},
		{"two service registries", func(r *ecs.CreateServiceRequest) { r.ServiceRegistries = make([]ecs.ServiceRegistry, 2) }, ipe, "serviceRegistries: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := svcRequest()
			in.ServiceName = "v"
			tt.change(in)
			_, err := s.CreateService(bg, in)
			svcWantError(t, err, tt.code, tt.prefix)
		})
	}
	t.Run("nothing was created", func(t *testing.T) {
		out, err := s.ListServices(bg, &ecs.ListServicesRequest{Cluster: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ServiceArns) != 0 {
			t.Errorf("got %v, want no services", out.ServiceArns)
		}
	})
	t.Run("accepted without load balancers", func(t *testing.T) {
		// ECS now applies the grace period to container health checks too.
		in := svcRequest()
		in.ServiceName = "grace"
		in.HealthCheckGracePeriodSeconds = ptr(int32(2147483647))
		if svc := svcCreate(t, s, in); *svc.HealthCheckGracePeriodSeconds != 2147483647 {
			t.Errorf("got %d, want 2147483647", *svc.HealthCheckGracePeriodSeconds)
		}
	})
	t.Run("awsvpc network configuration is stored", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName = "vpc"
		vpc(func(c *ecs.AwsVpcConfiguration) { c.SecurityGroups = []string{"sg-1"}; c.AssignPublicIp = "DISABLED" })(in)
		svc := svcCreate(t, s, in)
		if diff := cmp.Diff(in.NetworkConfiguration, svc.NetworkConfiguration); diff != "" {
			t.Errorf("networkConfiguration (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(in.NetworkConfiguration, svc.Deployments[0].NetworkConfiguration); diff != "" {
			t.Errorf("deployment networkConfiguration (-want +got):\n%s", diff)
		}
	})
}

func make11Constraints() []ecs.PlacementConstraint {
	out := make([]ecs.PlacementConstraint, 11)
	for i := range out {
		out[i] = ecs.PlacementConstraint{Type: "distinctInstance"}
	}
	return out
}

func TestUpdateServiceDeployments(t *testing.T) {
	s, clk := newServiceFixture(t)
	created := svcCreate(t, s, svcRequest())
	d1 := created.Deployments[0]

	clk.Advance(time.Minute)
	svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", DesiredCount: ptr(int32(5))})
	t.Run("desiredCount only changes the PRIMARY deployment", func(t *testing.T) {
		if svc.DesiredCount != 5 || len(svc.Deployments) != 1 {
			t.Fatalf("got desiredCount %d and %d deployments, want 5 and 1", svc.DesiredCount, len(svc.Deployments))
		}
		d := svc.Deployments[0]
		if d.Id != d1.Id || d.DesiredCount != 5 || !d.UpdatedAt.Equal(clk.Now()) || !d.CreatedAt.Equal(d1.CreatedAt.Time) {
			t.Errorf("got %+v, want %s with desiredCount 5 updated at %v", d, d1.Id, clk.Now())
		}
		if len(svc.Events) != 1 {
			t.Errorf("got %d events, want 1", len(svc.Events))
		}
	})

	t.Run("members that do not change what runs", func(t *testing.T) {
		svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{
			Service:                       "web",
			TaskDefinition:                "web:1", // unchanged
			PlacementStrategy:             []ecs.PlacementStrategy{{Type: "binpack", Field: "cpu"}},
			PlacementConstraints:          []ecs.PlacementConstraint{{Type: "distinctInstance"}},
			HealthCheckGracePeriodSeconds: ptr(int32(10)),
			EnableExecuteCommand:          ptr(true),
			EnableECSManagedTags:          ptr(true),
			PropagateTags:                 "TASK_DEFINITION",
			DeploymentConfiguration:       &ecs.DeploymentConfiguration{DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{Enable: true}},
		})
		if len(svc.Deployments) != 1 {
			t.Errorf("got %d deployments, want 1", len(svc.Deployments))
		}
		dc := svc.DeploymentConfiguration
		if *dc.MaximumPercent != 200 || *dc.MinimumHealthyPercent != 100 || !dc.DeploymentCircuitBreaker.Enable {
			t.Errorf("got deploymentConfiguration %+v, want the circuit breaker merged into 100/200", dc)
		}
		if svc.PlacementStrategy[0].Field != "CPU" || *svc.HealthCheckGracePeriodSeconds != 10 || !svc.EnableExecuteCommand || !svc.EnableECSManagedTags || svc.PropagateTags != "TASK_DEFINITION" {
			t.Errorf("members not applied: %+v", svc)
		}
		svc = svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", PlacementStrategy: []ecs.PlacementStrategy{}, PlacementConstraints: []ecs.PlacementConstraint{}})
		if len(svc.PlacementStrategy) != 0 || len(svc.PlacementConstraints) != 0 {
			t.Errorf("empty lists should clear: got %v %v", svc.PlacementStrategy, svc.PlacementConstraints)
		}
	})

	svcRegister(t, s, "web", "")
	clk.Advance(time.Minute)
	svc = svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: svcWebARN, TaskDefinition: "web"})
	d2 := svc.Deployments[0]
	t.Run("new task definition makes a new PRIMARY", func(t *testing.T) {
		if len(svc.Deployments) != 2 {
			t.Fatalf("got %d deployments, want 2", len(svc.Deployments))
		}
		if d2.Id == d1.Id || !svcDeploymentIDRE.MatchString(d2.Id) || d2.Status != "PRIMARY" || d2.TaskDefinition != svcTD2 ||
			d2.DesiredCount != 5 || d2.RolloutState != "IN_PROGRESS" || d2.RolloutStateReason != "ECS deployment "+d2.Id+" in progress." ||
			!d2.CreatedAt.Equal(clk.Now()) {
			t.Errorf("got new deployment %+v", d2)
		}
		if old := svc.Deployments[1]; old.Id != d1.Id || old.Status != "ACTIVE" || old.TaskDefinition != svcTD1 || !old.UpdatedAt.Equal(clk.Now()) {
			t.Errorf("got old deployment %+v, want %s ACTIVE on web:1", old, d1.Id)
		}
		if svc.TaskDefinition != svcTD2 {
			t.Errorf("got taskDefinition %s, want %s", svc.TaskDefinition, svcTD2)
		}
	})

	clk.Advance(time.Minute)
	svc = svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", ForceNewDeployment: true})
	t.Run("forceNewDeployment", func(t *testing.T) {
		var got []string
		for _, d := range svc.Deployments {
			got = append(got, d.Status)
		}
		if diff := cmp.Diff([]string{"PRIMARY", "ACTIVE", "ACTIVE"}, got); diff != "" {
			t.Errorf("deployment statuses (-want +got):\n%s", diff)
		}
		if svc.Deployments[1].Id != d2.Id || svc.Deployments[2].Id != d1.Id {
			t.Errorf("got deployments %s, %s after the new one, want %s, %s", svc.Deployments[1].Id, svc.Deployments[2].Id, d2.Id, d1.Id)
		}
	})
	t.Run("events are newest first", func(t *testing.T) {
		var got []string
		for _, e := range svc.Events {
			got = append(got, e.Message)
		}
		want := []string{
			"(service web) has started deployment " + svc.Deployments[0].Id + ".",
			"(service web) has started deployment " + d2.Id + ".",
			"(service web) was created.",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if !svc.Events[0].CreatedAt.After(svc.Events[1].CreatedAt.Time) {
			t.Errorf("newest event at %v is not after %v", svc.Events[0].CreatedAt, svc.Events[1].CreatedAt)
		}
	})
	t.Run("load balancers change what runs", func(t *testing.T) {
		svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", LoadBalancers: []ecs.LoadBalancer{{TargetGroupArn: svcTGARN, ContainerName: "web", ContainerPort: ptr(int32(80))}}})
		if len(svc.Deployments) != 4 || svc.RoleArn == "" {
			t.Errorf("got %d deployments and roleArn %q, want 4 and the service-linked role", len(svc.Deployments), svc.RoleArn)
		}
		again := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", LoadBalancers: svc.LoadBalancers})
		if len(again.Deployments) != 4 {
			t.Errorf("the same load balancers: got %d deployments, want still 4", len(again.Deployments))
		}
	})
}

func TestUpdateServiceNetworkConfiguration(t *testing.T) {
	s, _ := newServiceFixture(t)
	in := svcRequest()
	in.TaskDefinition = "vpc"
	in.NetworkConfiguration = &ecs.NetworkConfiguration{AwsvpcConfiguration: &ecs.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}
	svcCreate(t, s, in)
	nc := &ecs.NetworkConfiguration{AwsvpcConfiguration: &ecs.AwsVpcConfiguration{Subnets: []string{"subnet-2"}}}
	svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", NetworkConfiguration: nc})
	if len(svc.Deployments) != 2 || svc.Deployments[0].NetworkConfiguration.AwsvpcConfiguration.Subnets[0] != "subnet-2" {
		t.Errorf("got %d deployments, want a new one on subnet-2", len(svc.Deployments))
	}
	// Moving to a bridge task definition while keeping the configuration is refused.
	_, err := s.UpdateService(bg, &ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", TaskDefinition: "web"})
	svcWantError(t, err, ecs.ErrInvalidParameter, "networkConfiguration: "+msgNetConfigNotValid)
}

func TestUpdateServiceErrors(t *testing.T) {
	s, _ := newServiceFixture(t)
	svcCreate(t, s, svcRequest())
	daemon := svcRequest()
	daemon.ServiceName, daemon.SchedulingStrategy, daemon.DesiredCount = "agent", "DAEMON", nil
	svcCreate(t, s, daemon)
	cd := svcRequest()
	cd.ServiceName, cd.DeploymentController = "bluegreen", &ecs.DeploymentController{Type: "CODE_DEPLOY"}
	svcCreate(t, s, cd)
	gone := svcRequest()
	gone.ServiceName, gone.DesiredCount = "gone", ptr(int32(0))
	svcCreate(t, s, gone)
	if _, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "gone"}); err != nil {
		t.Fatal(err)
	}
	ipe := ecs.ErrInvalidParameter
	tests := []struct {
		name         string
		in           ecs.UpdateServiceRequest
		code, prefix string
	}{
		{"unknown service", ecs.UpdateServiceRequest{Cluster: "prod", Service: "nope"}, ecs.ErrServiceNotFound, "Service not found."},
		{"inactive service", ecs.UpdateServiceRequest{Cluster: "prod", Service: "gone"}, ecs.ErrServiceNotActive, "Service was not ACTIVE."},
		{"unknown cluster", ecs.UpdateServiceRequest{Cluster: "nope", Service: "web"}, ecs.ErrClusterNotFound, "Cluster not found."},
		{"cluster from the ARN", ecs.UpdateServiceRequest{Service: "arn:aws:ecs:us-east-1:123456789012:service/nope/web"}, ecs.ErrClusterNotFound, "Cluster not found."},
		{"ARN and cluster disagree", ecs.UpdateServiceRequest{Cluster: "other", Service: svcWebARN}, ipe, "service: "},
		{"bad service ARN", ecs.UpdateServiceRequest{Cluster: "prod", Service: "arn:aws:ecs:us-east-1:1:cluster/prod"}, ipe, "service: "},
		{"unknown task definition", ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", TaskDefinition: "nope"}, ecs.ErrClient, "TaskDefinition not found."},
		{"negative desiredCount", ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", DesiredCount: ptr(int32(-1))}, ipe, "desiredCount: "},
		{"desiredCount of a DAEMON service", ecs.UpdateServiceRequest{Cluster: "prod", Service: "agent", DesiredCount: ptr(int32(1))}, ipe, "desiredCount: " + svcMsgDaemonDesiredCount},
		{"placement strategy of a DAEMON service", ecs.UpdateServiceRequest{Cluster: "prod", Service: "agent", PlacementStrategy: []ecs.PlacementStrategy{{Type: "random"}}}, ipe, "placementStrategy: " + svcMsgDaemonStrategy},
		{"task definition of a CODE_DEPLOY service", ecs.UpdateServiceRequest{Cluster: "prod", Service: "bluegreen", TaskDefinition: "vpc"}, ipe,
			"taskDefinition: Unable to update taskDefinition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment."},
		{"bad memberOf", ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "foo == bar"}}}, ipe,
			`placementConstraints[0].expression: memberOf expression: at 0: unknown subject "foo"`},
		{"bad deployment configuration", ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", DeploymentConfiguration: &ecs.DeploymentConfiguration{MaximumPercent: ptr(int32(50))}}, ipe, "deploymentConfiguration.maximumPercent: "},
		{"load balancer container", ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", LoadBalancers: []ecs.LoadBalancer{{TargetGroupArn: svcTGARN, ContainerName: "api", ContainerPort: ptr(int32(80))}}}, ipe, "loadBalancers[0].containerName: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateService(bg, &tt.in)
			svcWantError(t, err, tt.code, tt.prefix)
		})
	}
	t.Run("failed updates change nothing", func(t *testing.T) {
		svc := svcDescribe(t, s, "web").Services[0]
		if svc.DesiredCount != 2 || len(svc.Deployments) != 1 || len(svc.PlacementConstraints) != 0 {
			t.Errorf("got %+v, want the service as created", svc)
		}
	})
	t.Run("capacity provider strategy replaces the launch type and back", func(t *testing.T) {
		_, err := s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{Cluster: "prod", CapacityProviders: []string{"cp"}})
		if err != nil {
			t.Fatal(err)
		}
		svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "cp", Weight: 1}}})
		if svc.LaunchType != "" || len(svc.CapacityProviderStrategy) != 1 || len(svc.Deployments) != 1 {
			t.Errorf("got launchType %q strategy %v and %d deployments", svc.LaunchType, svc.CapacityProviderStrategy, len(svc.Deployments))
		}
		svc = svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{}})
		if svc.LaunchType != "EC2" || len(svc.CapacityProviderStrategy) != 0 {
			t.Errorf("got launchType %q strategy %v, want EC2 and none", svc.LaunchType, svc.CapacityProviderStrategy)
		}
	})
}

func TestDeleteService(t *testing.T) {
	s, _ := newServiceFixture(t)
	svc := svcCreate(t, s, svcRequest())

	t.Run("refused while scaled above 0", func(t *testing.T) {
		_, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "web"})
		svcWantError(t, err, ecs.ErrInvalidParameter, svcMsgScaledAboveZero)
	})
	t.Run("unknown service", func(t *testing.T) {
		_, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "nope"})
		wantCode(t, err, ecs.ErrServiceNotFound)
	})
	t.Run("unknown cluster", func(t *testing.T) {
		_, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "nope", Service: "web"})
		wantCode(t, err, ecs.ErrClusterNotFound)
	})

	// A live task of the service keeps it DRAINING.
	svcPutTask(t, s, "t1", "service:web", svc.Deployments[0].Id, "RUNNING")
	out, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: svcWebARN, Force: ptr(true)})
	if err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	t.Run("force drains", func(t *testing.T) {
		got := out.Service
		if got.Status != "DRAINING" || got.DesiredCount != 0 || got.Deployments[0].DesiredCount != 0 || got.RunningCount != 1 {
			t.Errorf("got status %s desiredCount %d/%d runningCount %d, want DRAINING 0/0 1", got.Status, got.DesiredCount, got.Deployments[0].DesiredCount, got.RunningCount)
		}
		if got.Events[0].Message != "(service web) is draining." {
			t.Errorf("got event %q", got.Events[0].Message)
		}
	})
	t.Run("delete again returns the draining service", func(t *testing.T) {
		again, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "web"})
		if err != nil || again.Service.Status != "DRAINING" {
			t.Fatalf("got %v, %+v, want the DRAINING service", err, again)
		}
	})
	t.Run("not listed, still described", func(t *testing.T) {
		l, err := s.ListServices(bg, &ecs.ListServicesRequest{Cluster: "prod"})
		if err != nil || len(l.ServiceArns) != 0 {
			t.Errorf("ListServices: got %v, %v, want none", l, err)
		}
		if d := svcDescribe(t, s, "web"); len(d.Services) != 1 || d.Services[0].Status != "DRAINING" {
			t.Errorf("DescribeServices: got %+v, want the DRAINING service", d)
		}
		if _, err := s.UpdateService(bg, &ecs.UpdateServiceRequest{Cluster: "prod", Service: "web", DesiredCount: ptr(int32(1))}); err == nil {
			t.Error("UpdateService of a DRAINING service succeeded")
		} else {
			wantCode(t, err, ecs.ErrServiceNotActive)
		}
	})

	t.Run("no live task: INACTIVE at once, then recreatable", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName, in.DesiredCount = "api", ptr(int32(0))
		svcCreate(t, s, in)
		svcPutTask(t, s, "t2", "service:api", "", "STOPPED")
		out, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Service.Status != "INACTIVE" || out.Service.Events[0].Message != "(service api) was deleted." {
			t.Errorf("got status %s, event %q, want INACTIVE and the deletion event", out.Service.Status, out.Service.Events[0].Message)
		}
		if d := svcDescribe(t, s, "api"); len(d.Services) != 1 || d.Services[0].Status != "INACTIVE" {
			t.Errorf("DescribeServices: got %+v, want the INACTIVE service", d)
		}
		_, err = s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "api"})
		wantCode(t, err, ecs.ErrServiceNotFound)
		again := svcCreate(t, s, in)
		if again.Status != "ACTIVE" || len(again.Events) != 1 {
			t.Errorf("recreated: got status %s with %d events, want a new ACTIVE service", again.Status, len(again.Events))
		}
	})
	t.Run("DAEMON needs no force", func(t *testing.T) {
		in := svcRequest()
		in.ServiceName, in.SchedulingStrategy, in.DesiredCount = "agent", "DAEMON", nil
		svcCreate(t, s, in)
		if _, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "agent"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDescribeServices(t *testing.T) {
	s, _ := newServiceFixture(t)
	in := svcRequest()
	in.Tags = []ecs.Tag{{Key: "team", Value: "web"}}
	web := svcCreate(t, s, in)
	d1 := web.Deployments[0].Id
	svcPutTask(t, s, "r1", "service:web", d1, "RUNNING")
	svcPutTask(t, s, "r2", "service:web", d1, "RUNNING")
	svcPutTask(t, s, "p1", "service:web", d1, "PENDING")
	svcPutTask(t, s, "p2", "service:web", "", "PROVISIONING")
	svcPutTask(t, s, "s1", "service:web", d1, "STOPPED")
	svcPutTask(t, s, "o1", "service:other", "", "RUNNING")
	svcPutTask(t, s, "f1", "family:web", "", "RUNNING")

	out, err := s.DescribeServices(bg, &ecs.DescribeServicesRequest{
		Cluster:  svcClusterARN,
		Services: []string{"web", svcWebARN, "nope", "arn:aws:ecs:us-east-1:123456789012:service/other/web", "bad name"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("names and ARNs", func(t *testing.T) {
		if len(out.Services) != 2 || out.Services[0].ServiceArn != svcWebARN || out.Services[1].ServiceArn != svcWebARN {
			t.Fatalf("got %d services, want web twice", len(out.Services))
		}
		if out.Services[0].Tags != nil {
			t.Errorf("got tags %v without include TAGS", out.Services[0].Tags)
		}
	})
	t.Run("failures", func(t *testing.T) {
		want := []ecs.Failure{
			{Arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/nope", Reason: "MISSING"},
			{Arn: "arn:aws:ecs:us-east-1:123456789012:service/other/web", Reason: "MISSING"},
			{Arn: "bad name", Reason: "MISSING"},
		}
		if diff := cmp.Diff(want, out.Failures); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
	})
	t.Run("counts from tasks", func(t *testing.T) {
		svc := out.Services[0]
		if svc.RunningCount != 2 || svc.PendingCount != 2 {
			t.Errorf("service: got running %d pending %d, want 2 and 2", svc.RunningCount, svc.PendingCount)
		}
		if d := svc.Deployments[0]; d.RunningCount != 2 || d.PendingCount != 1 {
			t.Errorf("deployment: got running %d pending %d, want 2 and 1", d.RunningCount, d.PendingCount)
		}
	})
	t.Run("include TAGS", func(t *testing.T) {
		out, err := s.DescribeServices(bg, &ecs.DescribeServicesRequest{Cluster: "prod", Services: []string{"web"}, Include: []string{"TAGS"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in.Tags, out.Services[0].Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name string
		in   ecs.DescribeServicesRequest
		code string
	}{
		{"no services", ecs.DescribeServicesRequest{Cluster: "prod", Services: []string{}}, ecs.ErrInvalidParameter},
		{"more than 10", ecs.DescribeServicesRequest{Cluster: "prod", Services: make([]string, 11)}, ecs.ErrInvalidParameter},
		{"bad include", ecs.DescribeServicesRequest{Cluster: "prod", Services: []string{"web"}, Include: []string{"EVENTS"}}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.DescribeServicesRequest{Cluster: "nope", Services: []string{"web"}}, ecs.ErrClusterNotFound},
		{"default cluster missing", ecs.DescribeServicesRequest{Services: []string{"web"}}, ecs.ErrClusterNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DescribeServices(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestListServices(t *testing.T) {
	s, _ := newServiceFixture(t)
	for i := range 12 {
		in := svcRequest()
		in.ServiceName = fmt.Sprintf("svc-%02d", i)
		if i%3 == 0 {
			in.SchedulingStrategy, in.DesiredCount = "DAEMON", nil
		}
		if i%4 == 0 {
			in.LaunchType = "EXTERNAL"
		}
		svcCreate(t, s, in)
	}
	// A deleted service is not listed.
	if _, err := s.DeleteService(bg, &ecs.DeleteServiceRequest{Cluster: "prod", Service: "svc-11", Force: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	names := func(arns []string) []string {
		var out []string
		for _, a := range arns {
			out = append(out, a[strings.LastIndexByte(a, '/')+1:])
		}
		return out
	}
	t.Run("default page of 10", func(t *testing.T) {
		out, err := s.ListServices(bg, &ecs.ListServicesRequest{Cluster: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ServiceArns) != 10 || out.NextToken == "" || out.ServiceArns[0] != "arn:aws:ecs:us-east-1:123456789012:service/prod/svc-00" {
			t.Fatalf("got %v next %q, want 10 ARNs from svc-00 and a token", out.ServiceArns, out.NextToken)
		}
		rest, err := s.ListServices(bg, &ecs.ListServicesRequest{Cluster: "prod", NextToken: out.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"svc-10"}, names(rest.ServiceArns)); diff != "" || rest.NextToken != "" {
			t.Errorf("second page (-want +got):\n%s next %q", diff, rest.NextToken)
		}
	})
	tests := []struct {
		name string
		in   ecs.ListServicesRequest
		want []string
	}{
		{"DAEMON", ecs.ListServicesRequest{Cluster: "prod", SchedulingStrategy: "DAEMON"}, []string{"svc-00", "svc-03", "svc-06", "svc-09"}},
		{"EXTERNAL", ecs.ListServicesRequest{Cluster: "prod", LaunchType: "EXTERNAL"}, []string{"svc-00", "svc-04", "svc-08"}},
		{"EXTERNAL REPLICA", ecs.ListServicesRequest{Cluster: "prod", LaunchType: "EXTERNAL", SchedulingStrategy: "REPLICA"}, []string{"svc-04", "svc-08"}},
		{"FARGATE", ecs.ListServicesRequest{Cluster: "prod", LaunchType: "FARGATE"}, nil},
		{"CUSTOMER", ecs.ListServicesRequest{Cluster: svcClusterARN, ResourceManagementType: "CUSTOMER", MaxResults: ptr(int32(100))},
			[]string{"svc-00", "svc-01", "svc-02", "svc-03", "svc-04", "svc-05", "svc-06", "svc-07", "svc-08", "svc-09", "svc-10"}},
		{"maxResults", ecs.ListServicesRequest{Cluster: "prod", MaxResults: ptr(int32(2))}, []string{"svc-00", "svc-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.ListServices(bg, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(out.ServiceArns)); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
	errTests := []struct {
		name string
		in   ecs.ListServicesRequest
		code string
	}{
		{"launch type", ecs.ListServicesRequest{Cluster: "prod", LaunchType: "LAMBDA"}, ecs.ErrInvalidParameter},
		{"scheduling strategy", ecs.ListServicesRequest{Cluster: "prod", SchedulingStrategy: "ALL"}, ecs.ErrInvalidParameter},
		{"resource management type", ecs.ListServicesRequest{Cluster: "prod", ResourceManagementType: "ME"}, ecs.ErrInvalidParameter},
		{"maxResults", ecs.ListServicesRequest{Cluster: "prod", MaxResults: ptr(int32(101))}, ecs.ErrInvalidParameter},
		{"token", ecs.ListServicesRequest{Cluster: "prod", NextToken: "!!"}, ecs.ErrInvalidParameter},
		{"unknown cluster", ecs.ListServicesRequest{Cluster: "nope"}, ecs.ErrClusterNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ListServices(bg, &tt.in)
			wantCode(t, err, tt.code)
		})
	}
}

func TestServiceEventsAreCapped(t *testing.T) {
	s, clk := newServiceFixture(t)
	svcCreate(t, s, svcRequest())
	var svc *ecs.Service
	for range maxServiceEvents + 5 {
		clk.Advance(time.Second)
		svc = svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "web", ForceNewDeployment: true})
	}
	if len(svc.Events) != maxServiceEvents {
		t.Fatalf("got %d events, want %d", len(svc.Events), maxServiceEvents)
	}
	if !svc.Events[0].CreatedAt.Equal(clk.Now()) || !strings.Contains(svc.Events[0].Message, svc.Deployments[0].Id) {
		t.Errorf("newest event %+v is not the last deployment %s", svc.Events[0], svc.Deployments[0].Id)
	}
	for i := 1; i < len(svc.Events); i++ {
		if !svc.Events[i-1].CreatedAt.After(svc.Events[i].CreatedAt.Time) {
			t.Fatalf("events %d and %d are not newest first", i-1, i)
		}
	}
}

func TestNewDeploymentID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newDeploymentID()
		if !svcDeploymentIDRE.MatchString(id) || seen[id] {
			t.Fatalf("got %q (seen before: %v), want a fresh ecs-svc/ and 19 digits", id, seen[id])
		}
		seen[id] = true
	}
}

// TestUpdateServiceSparseRecord updates a service record another writer
// stored with only a few members: the defaults stand in for the rest.
func TestUpdateServiceSparseRecord(t *testing.T) {
	s, _ := newServiceFixture(t)
	bare := &ecs.Service{ServiceName: "bare", ServiceArn: s.serviceARN("prod", "bare"), Status: "ACTIVE", TaskDefinition: svcTD1}
	op, err := state.PutOp(state.ServiceKey("prod", "bare"), bare, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	svc := svcUpdate(t, s, &ecs.UpdateServiceRequest{Service: "bare", DesiredCount: ptr(int32(1)), ForceNewDeployment: true})
	if svc.DesiredCount != 1 || len(svc.Deployments) != 1 || svc.Deployments[0].Status != "PRIMARY" || *svc.DeploymentConfiguration.MaximumPercent != 200 {
		t.Errorf("got %+v, want desiredCount 1, one PRIMARY deployment and the default deployment configuration", svc)
	}
}
