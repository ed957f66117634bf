package stack

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

// fakeAPI is an in-memory ECS and ELBv2 that keeps just what Ensure
// touches, and counts the calls that change something.
type fakeAPI struct {
	revisions []*ecstypes.TaskDefinition
	tags      map[string][]ecstypes.Tag // by task definition ARN
	service   *ecstypes.Service
	lb        *elbtypes.LoadBalancer
	tg        *elbtypes.TargetGroup
	listeners []elbtypes.Listener
	writes    []string
}

var (
	_ ECS = (*fakeAPI)(nil)
	_ ELB = (*fakeAPI)(nil)
)

func (f *fakeAPI) CreateCluster(_ context.Context, in *ecs.CreateClusterInput, _ ...func(*ecs.Options)) (*ecs.CreateClusterOutput, error) {
	return &ecs.CreateClusterOutput{Cluster: &ecstypes.Cluster{ClusterArn: aws.String("arn:cluster/" + aws.ToString(in.ClusterName))}}, nil
}

func (f *fakeAPI) DescribeTaskDefinition(_ context.Context, in *ecs.DescribeTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	if len(f.revisions) == 0 {
		return nil, &ecstypes.ClientException{Message: aws.String("Unable to describe task definition.")}
	}
	td := f.revisions[len(f.revisions)-1]
	return &ecs.DescribeTaskDefinitionOutput{TaskDefinition: td, Tags: f.tags[aws.ToString(td.TaskDefinitionArn)]}, nil
}

func (f *fakeAPI) RegisterTaskDefinition(_ context.Context, in *ecs.RegisterTaskDefinitionInput, _ ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	arn := fmt.Sprintf("arn:task-definition/%s:%d", aws.ToString(in.Family), len(f.revisions)+1)
	td := &ecstypes.TaskDefinition{TaskDefinitionArn: aws.String(arn), Status: ecstypes.TaskDefinitionStatusActive, ContainerDefinitions: in.ContainerDefinitions}
	f.revisions = append(f.revisions, td)
	if f.tags == nil {
		f.tags = map[string][]ecstypes.Tag{}
	}
	f.tags[arn] = in.Tags
	f.writes = append(f.writes, "RegisterTaskDefinition")
	return &ecs.RegisterTaskDefinitionOutput{TaskDefinition: td}, nil
}

func (f *fakeAPI) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput, _ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	if f.service == nil {
		return &ecs.DescribeServicesOutput{Failures: []ecstypes.Failure{{Reason: aws.String("MISSING")}}}, nil
	}
	return &ecs.DescribeServicesOutput{Services: []ecstypes.Service{*f.service}}, nil
}

func (f *fakeAPI) CreateService(_ context.Context, in *ecs.CreateServiceInput, _ ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	f.service = &ecstypes.Service{ServiceArn: aws.String("arn:service/" + aws.ToString(in.ServiceName)), Status: aws.String("ACTIVE"),
		TaskDefinition: in.TaskDefinition, DesiredCount: aws.ToInt32(in.DesiredCount), LoadBalancers: in.LoadBalancers,
		DeploymentConfiguration: in.DeploymentConfiguration}
	f.writes = append(f.writes, "CreateService")
	return &ecs.CreateServiceOutput{Service: f.service}, nil
}

func (f *fakeAPI) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	if in.TaskDefinition != nil {
		f.service.TaskDefinition = in.TaskDefinition
	}
	if in.LoadBalancers != nil {
		f.service.LoadBalancers = in.LoadBalancers
	}
	f.writes = append(f.writes, "UpdateService")
	return &ecs.UpdateServiceOutput{Service: f.service}, nil
}

func (f *fakeAPI) DescribeLoadBalancers(_ context.Context, _ *elb.DescribeLoadBalancersInput, _ ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error) {
	if f.lb == nil {
		return nil, &elbtypes.LoadBalancerNotFoundException{}
	}
	return &elb.DescribeLoadBalancersOutput{LoadBalancers: []elbtypes.LoadBalancer{*f.lb}}, nil
}

func (f *fakeAPI) CreateLoadBalancer(_ context.Context, in *elb.CreateLoadBalancerInput, _ ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error) {
	f.lb = &elbtypes.LoadBalancer{LoadBalancerArn: aws.String("arn:loadbalancer/" + aws.ToString(in.Name)), Scheme: in.Scheme}
	f.writes = append(f.writes, "CreateLoadBalancer")
	return &elb.CreateLoadBalancerOutput{LoadBalancers: []elbtypes.LoadBalancer{*f.lb}}, nil
}

func (f *fakeAPI) DescribeTargetGroups(_ context.Context, _ *elb.DescribeTargetGroupsInput, _ ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error) {
	if f.tg == nil {
		return nil, &elbtypes.TargetGroupNotFoundException{}
	}
	return &elb.DescribeTargetGroupsOutput{TargetGroups: []elbtypes.TargetGroup{*f.tg}}, nil
}

func (f *fakeAPI) CreateTargetGroup(_ context.Context, in *elb.CreateTargetGroupInput, _ ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error) {
	f.tg = &elbtypes.TargetGroup{TargetGroupArn: aws.String("arn:targetgroup/" + aws.ToString(in.Name)), HealthCheckPath: in.HealthCheckPath}
	f.writes = append(f.writes, "CreateTargetGroup")
	return &elb.CreateTargetGroupOutput{TargetGroups: []elbtypes.TargetGroup{*f.tg}}, nil
}

func (f *fakeAPI) DescribeListeners(_ context.Context, _ *elb.DescribeListenersInput, _ ...func(*elb.Options)) (*elb.DescribeListenersOutput, error) {
	return &elb.DescribeListenersOutput{Listeners: f.listeners}, nil
}

func (f *fakeAPI) CreateListener(_ context.Context, in *elb.CreateListenerInput, _ ...func(*elb.Options)) (*elb.CreateListenerOutput, error) {
	l := elbtypes.Listener{ListenerArn: aws.String(fmt.Sprintf("arn:listener/%d", aws.ToInt32(in.Port))), Port: in.Port, DefaultActions: in.DefaultActions}
	f.listeners = append(f.listeners, l)
	f.writes = append(f.writes, "CreateListener")
	return &elb.CreateListenerOutput{Listeners: []elbtypes.Listener{l}}, nil
}

func (f *fakeAPI) ModifyListener(_ context.Context, in *elb.ModifyListenerInput, _ ...func(*elb.Options)) (*elb.ModifyListenerOutput, error) {
	for i := range f.listeners {
		if aws.ToString(f.listeners[i].ListenerArn) == aws.ToString(in.ListenerArn) {
			f.listeners[i].DefaultActions = in.DefaultActions
			if in.Port != nil {
				f.listeners[i].Port = in.Port
			}
		}
	}
	f.writes = append(f.writes, "ModifyListener")
	return &elb.ModifyListenerOutput{}, nil
}

func (f *fakeAPI) DeleteListener(_ context.Context, in *elb.DeleteListenerInput, _ ...func(*elb.Options)) (*elb.DeleteListenerOutput, error) {
	f.listeners = slices.DeleteFunc(f.listeners, func(l elbtypes.Listener) bool { return aws.ToString(l.ListenerArn) == aws.ToString(in.ListenerArn) })
	f.writes = append(f.writes, "DeleteListener")
	return &elb.DeleteListenerOutput{}, nil
}

func demoSpec(image string) Spec {
	return Spec{Cluster: "default", Image: image, HealthCheck: []string{"CMD", "/berth", "demo-app", "check"}, Port: 8080}
}

func TestEnsureCreatesOnceAndResumes(t *testing.T) {
	ctx := context.Background()
	f := &fakeAPI{}
	first, err := Ensure(ctx, f, f, demoSpec("berth-demo:aaa"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RegisterTaskDefinition", "CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateService"}
	if diff := cmp.Diff(want, f.writes); diff != "" {
		t.Errorf("first Ensure: writes (-want +got):\n%s", diff)
	}
	if !first.CreatedService || first.TaskDefinitionArn != "arn:task-definition/berth-demo:1" {
		t.Errorf("first Ensure: got %+v", first)
	}
	svc := f.service
	if svc.DesiredCount != DesiredCount || len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != first.TargetGroupArn ||
		aws.ToInt32(svc.LoadBalancers[0].ContainerPort) != ContainerPort || !svc.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback {
		t.Errorf("service: got %+v", svc)
	}
	if f.lb.Scheme != elbtypes.LoadBalancerSchemeEnumInternal || aws.ToString(f.tg.HealthCheckPath) != HealthPath {
		t.Errorf("load balancer scheme %s, target group health check %s", f.lb.Scheme, aws.ToString(f.tg.HealthCheckPath))
	}

	f.writes = nil
	second, err := Ensure(ctx, f, f, demoSpec("berth-demo:aaa"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.writes) != 0 {
		t.Errorf("second Ensure with nothing changed wrote %v", f.writes)
	}
	first.CreatedService, first.RegisteredRevision = false, false
	if second != first {
		t.Errorf("second Ensure: got %+v, want %+v", second, first)
	}

	f.writes = nil
	third, err := Ensure(ctx, f, f, demoSpec("berth-demo:bbb"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"RegisterTaskDefinition", "UpdateService"}, f.writes); diff != "" {
		t.Errorf("Ensure with a new image: writes (-want +got):\n%s", diff)
	}
	if !third.UpdatedService || aws.ToString(f.service.TaskDefinition) != "arn:task-definition/berth-demo:2" {
		t.Errorf("Ensure with a new image: got %+v, service on %s", third, aws.ToString(f.service.TaskDefinition))
	}
}

func TestEnsureRepairs(t *testing.T) {
	ctx := context.Background()
	f := &fakeAPI{}
	if _, err := Ensure(ctx, f, f, demoSpec("img")); err != nil {
		t.Fatal(err)
	}
	// Someone pointed the listener elsewhere and took the service off
	// the load balancer.
	f.listeners[0].DefaultActions = []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse}}
	f.service.LoadBalancers = nil
	f.writes = nil
	if _, err := Ensure(ctx, f, f, demoSpec("img")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ModifyListener", "UpdateService"}, f.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if !forwardsTo(f.listeners[0].DefaultActions, aws.ToString(f.tg.TargetGroupArn)) || len(f.service.LoadBalancers) != 1 {
		t.Errorf("not repaired: listener %+v, service load balancers %+v", f.listeners[0].DefaultActions, f.service.LoadBalancers)
	}
}

func TestEnsureNewListenerPort(t *testing.T) {
	ctx := context.Background()
	f := &fakeAPI{}
	if _, err := Ensure(ctx, f, f, demoSpec("img")); err != nil {
		t.Fatal(err)
	}
	spec := demoSpec("img")
	spec.Port = 9090
	f.writes = nil
	r, err := Ensure(ctx, f, f, spec)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's listener moves to the new port: one listener, no other.
	if diff := cmp.Diff([]string{"ModifyListener"}, f.writes); diff != "" || len(f.listeners) != 1 || aws.ToInt32(f.listeners[0].Port) != 9090 || r.ListenerArn != aws.ToString(f.listeners[0].ListenerArn) {
		t.Errorf("writes (-want +got):\n%s; listeners %+v, result %s", diff, f.listeners, r.ListenerArn)
	}
	// A stray second demo listener (from an older berth) is removed.
	f.listeners = append(f.listeners, elbtypes.Listener{ListenerArn: aws.String("arn:listener/7070"), Port: aws.Int32(7070), DefaultActions: f.listeners[0].DefaultActions})
	f.writes = nil
	if _, err := Ensure(ctx, f, f, spec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DeleteListener"}, f.writes); diff != "" || len(f.listeners) != 1 {
		t.Errorf("writes (-want +got):\n%s; listeners %+v", diff, f.listeners)
	}
}

func TestTaskDefinitionTag(t *testing.T) {
	a, b := TaskDefinition(demoSpec("img:1")), TaskDefinition(demoSpec("img:1"))
	c := TaskDefinition(demoSpec("img:2"))
	if tagValue(a.Tags) == "" || tagValue(a.Tags) != tagValue(b.Tags) {
		t.Errorf("same spec, tags %v and %v: want equal and set", a.Tags, b.Tags)
	}
	if tagValue(a.Tags) == tagValue(c.Tags) {
		t.Errorf("different images, same tag %s", tagValue(a.Tags))
	}
}

func TestForwardsTo(t *testing.T) {
	fwd := func(tg string) elbtypes.Action {
		return elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}
	}
	for _, tc := range []struct {
		name    string
		actions []elbtypes.Action
		want    bool
	}{
		{"to it", []elbtypes.Action{fwd("tg")}, true},
		{"elsewhere", []elbtypes.Action{fwd("other")}, false},
		{"none", nil, false},
		{"forward config", []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{
			TargetGroups: []elbtypes.TargetGroupTuple{{TargetGroupArn: aws.String("tg")}}}}}, true},
		{"fixed response", []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse}}, false},
	} {
		if got := forwardsTo(tc.actions, "tg"); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
