package cli

import (
	"cmp"
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-io/berth/internal/cli/render"
)

// PS prints the cluster's services and their tasks (service: only that
// one), or with all every task of the cluster that is not STOPPED
// (STOPPED ones too with stopped).
func (c *CLI) PS(ctx context.Context, service string, stopped bool) error {
	var names []string
	if service != "" {
		names = []string{service}
	} else {
		var err error
		if names, err = c.serviceNames(ctx); err != nil {
			return err
		}
	}
	svcs, err := c.describeServices(ctx, names)
	if err != nil {
		return err
	}
	desired := []types.DesiredStatus{types.DesiredStatusRunning}
	if stopped {
		desired = append(desired, types.DesiredStatusStopped)
	}
	var arns []string
	for _, d := range desired {
		got, err := c.taskARNs(ctx, service, d)
		if err != nil {
			return err
		}
		arns = append(arns, got...)
	}
	tasks, err := c.describeTasks(ctx, arns)
	if err != nil {
		return err
	}
	hosts, err := c.hostsOf(ctx, tasks)
	if err != nil {
		return err
	}
	ps := render.PS{Services: []render.Service{}, Tasks: []render.Task{}}
	for _, s := range svcs {
		ps.Services = append(ps.Services, render.ServiceOf(s))
	}
	slices.SortFunc(ps.Services, func(a, b render.Service) int { return cmp.Compare(a.Name, b.Name) })
	for _, t := range tasks {
		ps.Tasks = append(ps.Tasks, render.TaskOf(t, hosts))
	}
	slices.SortFunc(ps.Tasks, func(a, b render.Task) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.StartedAt, b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	if c.JSON {
		return render.JSON(c.Out, ps)
	}
	return render.PSTable(c.Out, ps, c.Style())
}

// Instances prints the cluster's container instances.
func (c *CLI) Instances(ctx context.Context) error {
	cis, err := c.instances(ctx, nil)
	if err != nil {
		return err
	}
	out := render.Instances{Instances: []render.Instance{}}
	for _, ci := range cis {
		out.Instances = append(out.Instances, render.InstanceOf(ci))
	}
	slices.SortFunc(out.Instances, func(a, b render.Instance) int { return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.ID, b.ID)) })
	if c.JSON {
		return render.JSON(c.Out, out)
	}
	return render.InstancesTable(c.Out, out, c.Style())
}
