// Package stack sets up the demo service of `berth up` through berth's
// public APIs, as any ECS and ELBv2 client would: the cluster, the task
// definition, an application load balancer with a target group and a
// listener, and a service of two tasks behind it.
//
// Every step looks first and creates only what is missing, so running it
// again on the same cluster changes nothing, but for what it must:
//
//	cluster            CreateCluster (ECS's is idempotent)
//	task definition    latest ACTIVE revision of the family, when its
//	                   berth.demo.spec tag matches; else a new revision
//	load balancer      DescribeLoadBalancers by name, else create (internal: 127.0.0.1)
//	target group       DescribeTargetGroups by name, else create
//	listener           the load balancer's listener on Port, else create;
//	                   one forwarding elsewhere is pointed at the target group
//	service            DescribeServices; missing or INACTIVE: create;
//	                   ACTIVE on another task definition: update to this one
//	                   (desiredCount is left as the user set it)
package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Names of what the demo creates.
const (
	Name          = "berth-demo" // family, load balancer, target group, service
	ContainerName = "web"
	ContainerPort = 8080
	HealthPath    = "/health"
	DesiredCount  = 2
	// SpecTag is the task definition tag holding the hash of the
	// definition the demo asked for.
	SpecTag = "berth.demo.spec"
)

// ECS is the part of the ECS client the demo uses (*ecs.Client).
type ECS interface {
	CreateCluster(context.Context, *ecs.CreateClusterInput, ...func(*ecs.Options)) (*ecs.CreateClusterOutput, error)
	DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(context.Context, *ecs.RegisterTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	CreateService(context.Context, *ecs.CreateServiceInput, ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error)
	UpdateService(context.Context, *ecs.UpdateServiceInput, ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// ELB is the part of the ELBv2 client the demo uses
// (*elasticloadbalancingv2.Client).
type ELB interface {
	DescribeLoadBalancers(context.Context, *elb.DescribeLoadBalancersInput, ...func(*elb.Options)) (*elb.DescribeLoadBalancersOutput, error)
	CreateLoadBalancer(context.Context, *elb.CreateLoadBalancerInput, ...func(*elb.Options)) (*elb.CreateLoadBalancerOutput, error)
	DescribeTargetGroups(context.Context, *elb.DescribeTargetGroupsInput, ...func(*elb.Options)) (*elb.DescribeTargetGroupsOutput, error)
	CreateTargetGroup(context.Context, *elb.CreateTargetGroupInput, ...func(*elb.Options)) (*elb.CreateTargetGroupOutput, error)
	DescribeListeners(context.Context, *elb.DescribeListenersInput, ...func(*elb.Options)) (*elb.DescribeListenersOutput, error)
	CreateListener(context.Context, *elb.CreateListenerInput, ...func(*elb.Options)) (*elb.CreateListenerOutput, error)
	ModifyListener(context.Context, *elb.ModifyListenerInput, ...func(*elb.Options)) (*elb.ModifyListenerOutput, error)
	DeleteListener(context.Context, *elb.DeleteListenerInput, ...func(*elb.Options)) (*elb.DeleteListenerOutput, error)
}

// Spec is what the demo runs and where.
type Spec struct {
	// Cluster to run in; created if missing.
	Cluster string
	// Image is the container image: the demo's Docker image, or
	// process:///path/to/berth.
	Image string
	// Command is the container's command ([] for the Docker image, whose
	// entrypoint is `berth demo-app`; ["demo-app"] for the process
	// runtime).
	Command []string
	// HealthCheck is the container health check's command, in ECS form
	// (["CMD", "/berth", "demo-app", "check"]).
	HealthCheck []string
	// Port is the load balancer listener's port (--demo-port).
	Port int32
}

// Result is what the demo runs as.
type Result struct {
	ClusterArn, TaskDefinitionArn, ServiceArn          string
	LoadBalancerArn, TargetGroupArn, ListenerArn       string
	CreatedService, UpdatedService, RegisteredRevision bool
}

// Ensure makes the demo exist as spec says (see the package doc), and
// returns what it runs as.
func Ensure(ctx context.Context, ecsc ECS, elbc ELB, spec Spec) (Result, error) {
	var r Result
	out, err := ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(spec.Cluster)})
	if err != nil {
		return r, fmt.Errorf("create cluster %s: %w", spec.Cluster, err)
	}
	r.ClusterArn = aws.ToString(out.Cluster.ClusterArn)
	if r.TaskDefinitionArn, r.RegisteredRevision, err = ensureTaskDefinition(ctx, ecsc, spec); err != nil {
		return r, err
	}
	if r.LoadBalancerArn, err = ensureLoadBalancer(ctx, elbc); err != nil {
		return r, err
	}
	if r.TargetGroupArn, err = ensureTargetGroup(ctx, elbc); err != nil {
		return r, err
	}
	if r.ListenerArn, err = ensureListener(ctx, elbc, r.LoadBalancerArn, r.TargetGroupArn, spec.Port); err != nil {
		return r, err
	}
	r.ServiceArn, r.CreatedService, r.UpdatedService, err = ensureService(ctx, ecsc, spec.Cluster, r.TaskDefinitionArn, r.TargetGroupArn)
	return r, err
}

// TaskDefinition returns the task definition the demo registers for spec,
// its SpecTag included.
func TaskDefinition(spec Spec) *ecs.RegisterTaskDefinitionInput {
	in := &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(Name),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:      aws.String(ContainerName),
			Image:     aws.String(spec.Image),
			Essential: aws.Bool(true),
			Command:   spec.Command,
			Cpu:       128,
			Memory:    aws.Int32(128),
			PortMappings: []ecstypes.PortMapping{{
				ContainerPort: aws.Int32(ContainerPort),
				HostPort:      aws.Int32(0),
				Protocol:      ecstypes.TransportProtocolTcp,
			}},
			HealthCheck: &ecstypes.HealthCheck{
				Command:     spec.HealthCheck,
				Interval:    aws.Int32(5),
				Timeout:     aws.Int32(2),
				Retries:     aws.Int32(3),
				StartPeriod: aws.Int32(0),
			},
			StopTimeout: aws.Int32(15),
		}},
	}
	in.Tags = []ecstypes.Tag{{Key: aws.String(SpecTag), Value: aws.String(specHash(in))}}
	return in
}

// specHash identifies a task definition input (without its tags).
func specHash(in *ecs.RegisterTaskDefinitionInput) string {
	c := *in
	c.Tags = nil
	b, _ := json.Marshal(c) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func ensureTaskDefinition(ctx context.Context, c ECS, spec Spec) (arn string, registered bool, err error) {
	want := TaskDefinition(spec)
	cur, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
		TaskDefinition: aws.String(Name),
		Include:        []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags},
	})
	var notFound *ecstypes.ClientException
	switch {
	case err == nil && cur.TaskDefinition.Status == ecstypes.TaskDefinitionStatusActive && tagValue(cur.Tags) == aws.ToString(want.Tags[0].Value):
		return aws.ToString(cur.TaskDefinition.TaskDefinitionArn), false, nil
	case err != nil && !errors.As(err, &notFound):
		return "", false, fmt.Errorf("describe task definition %s: %w", Name, err)
	}
	out, err := c.RegisterTaskDefinition(ctx, want)
	if err != nil {
		return "", false, fmt.Errorf("register task definition %s: %w", Name, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), true, nil
}

func tagValue(tags []ecstypes.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == SpecTag {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func ensureLoadBalancer(ctx context.Context, c ELB) (string, error) {
	out, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{Name}})
	var notFound *elbtypes.LoadBalancerNotFoundException
	switch {
	case err == nil && len(out.LoadBalancers) > 0:
		return aws.ToString(out.LoadBalancers[0].LoadBalancerArn), nil
	case err != nil && !errors.As(err, &notFound):
		return "", fmt.Errorf("describe load balancer %s: %w", Name, err)
	}
	created, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name:   aws.String(Name),
		Type:   elbtypes.LoadBalancerTypeEnumApplication,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal, // listens on 127.0.0.1
	})
	if err != nil {
		return "", fmt.Errorf("create load balancer %s: %w", Name, err)
	}
	return aws.ToString(created.LoadBalancers[0].LoadBalancerArn), nil
}

func ensureTargetGroup(ctx context.Context, c ELB) (string, error) {
	out, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{Name}})
	var notFound *elbtypes.TargetGroupNotFoundException
	switch {
	case err == nil && len(out.TargetGroups) > 0:
		return aws.ToString(out.TargetGroups[0].TargetGroupArn), nil
	case err != nil && !errors.As(err, &notFound):
		return "", fmt.Errorf("describe target group %s: %w", Name, err)
	}
	// Health check timing is left to berth's defaults, faster than ELB's.
	created, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
		Name:            aws.String(Name),
		Protocol:        elbtypes.ProtocolEnumHttp,
		Port:            aws.Int32(ContainerPort),
		HealthCheckPath: aws.String(HealthPath),
	})
	if err != nil {
		return "", fmt.Errorf("create target group %s: %w", Name, err)
	}
	return aws.ToString(created.TargetGroups[0].TargetGroupArn), nil
}

// ensureListener makes the demo load balancer listen on port, forwarding
// to the demo target group: the listener already there, repointed if need
// be, or the demo's listener on another port (an earlier --demo-port)
// moved, or a new one. Demo listeners left on other ports are deleted, so
// a changed --demo-port moves the demo rather than adding a port.
func ensureListener(ctx context.Context, c ELB, lbArn, tgArn string, port int32) (string, error) {
	forward := []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(tgArn)}}
	var onPort *elbtypes.Listener
	var elsewhere []elbtypes.Listener // the demo's, on other ports
	p := elb.NewDescribeListenersPaginator(c, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbArn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("describe listeners of %s: %w", Name, err)
		}
		for i, l := range page.Listeners {
			switch {
			case aws.ToInt32(l.Port) == port:
				onPort = &page.Listeners[i]
			case forwardsTo(l.DefaultActions, tgArn):
				elsewhere = append(elsewhere, l)
			}
		}
	}
	var arn string
	switch {
	case onPort != nil:
		arn = aws.ToString(onPort.ListenerArn)
		if !forwardsTo(onPort.DefaultActions, tgArn) {
			if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: onPort.ListenerArn, DefaultActions: forward}); err != nil {
				return "", fmt.Errorf("point listener %s:%d at target group %s: %w", Name, port, Name, err)
			}
		}
	case len(elsewhere) > 0:
		moved := elsewhere[0]
		elsewhere = elsewhere[1:]
		if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: moved.ListenerArn, Port: aws.Int32(port), DefaultActions: forward}); err != nil {
			return "", fmt.Errorf("move listener %s:%d to port %d: %w", Name, aws.ToInt32(moved.Port), port, err)
		}
		arn = aws.ToString(moved.ListenerArn)
	default:
		out, err := c.CreateListener(ctx, &elb.CreateListenerInput{
			LoadBalancerArn: aws.String(lbArn),
			Protocol:        elbtypes.ProtocolEnumHttp,
			Port:            aws.Int32(port),
			DefaultActions:  forward,
		})
		if err != nil {
			return "", fmt.Errorf("create listener %s:%d: %w", Name, port, err)
		}
		arn = aws.ToString(out.Listeners[0].ListenerArn)
	}
	for _, l := range elsewhere {
		if _, err := c.DeleteListener(ctx, &elb.DeleteListenerInput{ListenerArn: l.ListenerArn}); err != nil {
			return "", fmt.Errorf("delete the old demo listener %s:%d: %w", Name, aws.ToInt32(l.Port), err)
		}
	}
	return arn, nil
}

// forwardsTo reports whether actions forward everything to target group tg.
func forwardsTo(actions []elbtypes.Action, tg string) bool {
	if len(actions) != 1 || actions[0].Type != elbtypes.ActionTypeEnumForward {
		return false
	}
	a := actions[0]
	if aws.ToString(a.TargetGroupArn) == tg {
		return true
	}
	return a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) == 1 &&
		aws.ToString(a.ForwardConfig.TargetGroups[0].TargetGroupArn) == tg
}

func ensureService(ctx context.Context, c ECS, cluster, taskDef, tgArn string) (arn string, created, updated bool, err error) {
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{Name}})
	if err != nil {
		return "", false, false, fmt.Errorf("describe service %s: %w", Name, err)
	}
	for _, s := range out.Services {
		switch aws.ToString(s.Status) {
		case "ACTIVE":
			in := &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(Name)}
			if aws.ToString(s.TaskDefinition) != taskDef {
				in.TaskDefinition = aws.String(taskDef)
			}
			if !slices.ContainsFunc(s.LoadBalancers, func(l ecstypes.LoadBalancer) bool { return aws.ToString(l.TargetGroupArn) == tgArn }) {
				in.LoadBalancers = serviceLoadBalancers(tgArn)
			}
			if in.TaskDefinition == nil && in.LoadBalancers == nil {
				return aws.ToString(s.ServiceArn), false, false, nil
			}
			if _, err := c.UpdateService(ctx, in); err != nil {
				return "", false, false, fmt.Errorf("update service %s: %w", Name, err)
			}
			return aws.ToString(s.ServiceArn), false, true, nil
		case "DRAINING":
			return "", false, false, fmt.Errorf("service %s is being deleted (DRAINING); run again once it is INACTIVE", Name)
		}
	}
	in := &ecs.CreateServiceInput{
		Cluster:        aws.String(cluster),
		ServiceName:    aws.String(Name),
		TaskDefinition: aws.String(taskDef),
		DesiredCount:   aws.Int32(DesiredCount),
		LoadBalancers:  serviceLoadBalancers(tgArn),
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true},
			MinimumHealthyPercent:    aws.Int32(100),
			MaximumPercent:           aws.Int32(200),
		},
	}
	created2, err := c.CreateService(ctx, in)
	if err != nil {
		return "", false, false, fmt.Errorf("create service %s: %w", Name, err)
	}
	return aws.ToString(created2.Service.ServiceArn), true, false, nil
}

// serviceLoadBalancers puts the demo's container behind target group tg.
func serviceLoadBalancers(tg string) []ecstypes.LoadBalancer {
	return []ecstypes.LoadBalancer{{
		TargetGroupArn: aws.String(tg),
		ContainerName:  aws.String(ContainerName),
		ContainerPort:  aws.Int32(ContainerPort),
	}}
}

// ListenerURL is the demo's address through the load balancer.
func ListenerURL(port int32) string {
	return "http://127.0.0.1:" + strconv.Itoa(int(port)) + "/"
}
