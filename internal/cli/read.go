package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Reads every command shares: whole lists, described in batches.

// serviceNames lists the cluster's services.
func (c *CLI) serviceNames(ctx context.Context) ([]string, error) {
	var names []string
	p := ecs.NewListServicesPaginator(c.ECS, &ecs.ListServicesInput{Cluster: aws.String(c.Cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiErr("list services", err)
		}
		for _, arn := range page.ServiceArns {
			names = append(names, arn[strings.LastIndexByte(arn, '/')+1:])
		}
	}
	return names, nil
}

// describeServices describes names (any number); a name that is not
// found is an error.
func (c *CLI) describeServices(ctx context.Context, names []string) ([]types.Service, error) {
	var out []types.Service
	for chunk := range slices.Chunk(names, 10) {
		res, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(c.Cluster), Services: chunk})
		if err != nil {
			return nil, apiErr("describe services", err)
		}
		if len(res.Failures) > 0 {
			f := res.Failures[0]
			err := fmt.Errorf("service %s: %s in cluster %s", lastPart(aws.ToString(f.Arn)), strings.ToLower(aws.ToString(f.Reason)), c.Cluster)
			if aws.ToString(f.Reason) == "MISSING" {
				err = &missingError{err}
			}
			return nil, err
		}
		out = append(out, res.Services...)
	}
	return out, nil
}

// service describes one service.
func (c *CLI) service(ctx context.Context, name string) (types.Service, error) {
	ss, err := c.describeServices(ctx, []string{name})
	if err != nil {
		return types.Service{}, err
	}
	return ss[0], nil
}

// taskARNs lists the cluster's tasks (of service, if set) with the
// desired status.
func (c *CLI) taskARNs(ctx context.Context, service string, desired types.DesiredStatus) ([]string, error) {
	in := &ecs.ListTasksInput{Cluster: aws.String(c.Cluster), DesiredStatus: desired}
	if service != "" {
		in.ServiceName = aws.String(service)
	}
	var arns []string
	p := ecs.NewListTasksPaginator(c.ECS, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apiErr("list tasks", err)
		}
		arns = append(arns, page.TaskArns...)
	}
	return arns, nil
}

// describeTasks describes arns (any number); tasks not found (gone from
// the record) are left out.
func (c *CLI) describeTasks(ctx context.Context, arns []string) ([]types.Task, error) {
	var out []types.Task
	for chunk := range slices.Chunk(arns, 100) {
		res, err := c.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(c.Cluster), Tasks: chunk})
		if err != nil {
			return nil, apiErr("describe tasks", err)
		}
		out = append(out, res.Tasks...)
	}
	return out, nil
}

// serviceTasks returns the service's tasks with desired status RUNNING.
func (c *CLI) serviceTasks(ctx context.Context, service string) ([]types.Task, error) {
	arns, err := c.taskARNs(ctx, service, types.DesiredStatusRunning)
	if err != nil || len(arns) == 0 {
		return nil, err
	}
	return c.describeTasks(ctx, arns)
}

// instances describes the cluster's container instances (arns: those;
// nil: all).
func (c *CLI) instances(ctx context.Context, arns []string) ([]types.ContainerInstance, error) {
	if arns == nil {
		p := ecs.NewListContainerInstancesPaginator(c.ECS, &ecs.ListContainerInstancesInput{Cluster: aws.String(c.Cluster)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, apiErr("list container instances", err)
			}
			arns = append(arns, page.ContainerInstanceArns...)
		}
	}
	var out []types.ContainerInstance
	for chunk := range slices.Chunk(arns, 100) {
		res, err := c.ECS.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(c.Cluster), ContainerInstances: chunk})
		if err != nil {
			return nil, apiErr("describe container instances", err)
		}
		out = append(out, res.ContainerInstances...)
	}
	return out, nil
}

// hostsOf maps the container instances the tasks run on to their host
// names.
func (c *CLI) hostsOf(ctx context.Context, tasks []types.Task) (map[string]string, error) {
	seen := map[string]bool{}
	var arns []string
	for _, t := range tasks {
		if ci := aws.ToString(t.ContainerInstanceArn); ci != "" && !seen[ci] {
			seen[ci] = true
			arns = append(arns, ci)
		}
	}
	hosts := map[string]string{}
	if len(arns) == 0 {
		return hosts, nil
	}
	cis, err := c.instances(ctx, arns)
	if err != nil {
		return nil, err
	}
	for _, ci := range cis {
		hosts[aws.ToString(ci.ContainerInstanceArn)] = aws.ToString(ci.Ec2InstanceId)
	}
	return hosts, nil
}

func lastPart(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// missingError says a described service does not exist (ECS's MISSING
// failure), as opposed to a call that failed.
type missingError struct{ error }

func (e *missingError) Unwrap() error { return e.error }

// isMissing reports whether err says the service does not exist.
func isMissing(err error) bool {
	var m *missingError
	return errors.As(err, &m)
}
