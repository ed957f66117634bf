package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-io/berth/internal/cli/render"
	"github.com/berth-io/berth/internal/cli/rollout"
)

// Rollback moves the service back to its previous task definition and
// follows that deployment: the task definition of the newest ACTIVE
// deployment still in flight, if any; else the newest ACTIVE revision of
// the PRIMARY's family older than the PRIMARY's.
func (c *CLI) Rollback(ctx context.Context, name string, o WaitOptions) error {
	svc, err := c.service(ctx, name)
	if err != nil {
		return err
	}
	primary, ok := rollout.Primary(svc)
	if !ok {
		return fmt.Errorf("service %s has no PRIMARY deployment", name)
	}
	target, err := c.previous(ctx, svc, primary)
	if err != nil {
		return err
	}
	out, err := c.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(c.Cluster), Service: aws.String(name), TaskDefinition: aws.String(target)})
	if err != nil {
		return apiErr("update service "+name, err)
	}
	d, _ := rollout.Primary(*out.Service)
	c.progressf("Rolling back %s: %s → %s\n", name, render.TaskDefName(aws.ToString(primary.TaskDefinition)), render.TaskDefName(target))
	res := render.Result{Service: name, TaskDefinition: render.TaskDefName(target), Deployment: aws.ToString(d.Id)}
	if o.NoWait {
		res.Outcome = "STARTED"
		return c.finish(res, nil)
	}
	w := rollout.New(aws.ToString(d.Id), aws.ToString(d.TaskDefinition), svc.Events, time.Local)
	return c.follow(ctx, name, w, "", o, res)
}

// previous is the task definition Rollback goes back to.
func (c *CLI) previous(ctx context.Context, svc types.Service, primary types.Deployment) (string, error) {
	cur := aws.ToString(primary.TaskDefinition)
	var newest *types.Deployment
	for i, d := range svc.Deployments {
		// A deployment the circuit breaker failed is no place to go back to.
		if aws.ToString(d.Status) == "ACTIVE" && aws.ToString(d.TaskDefinition) != cur && d.RolloutState != types.DeploymentRolloutStateFailed &&
			(newest == nil || aws.ToTime(d.CreatedAt).After(aws.ToTime(newest.CreatedAt))) {
			newest = &svc.Deployments[i]
		}
	}
	if newest != nil {
		return aws.ToString(newest.TaskDefinition), nil
	}
	family, rev, err := splitTaskDef(cur)
	if err != nil {
		return "", err
	}
	p := ecs.NewListTaskDefinitionsPaginator(c.ECS, &ecs.ListTaskDefinitionsInput{
		FamilyPrefix: aws.String(family), Status: types.TaskDefinitionStatusActive, Sort: types.SortOrderDesc,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", apiErr("list task definitions", err)
		}
		for _, arn := range page.TaskDefinitionArns {
			f, r, err := splitTaskDef(arn)
			if err == nil && f == family && r < rev {
				return arn, nil
			}
		}
	}
	return "", fmt.Errorf("service %s runs %s:%d and no earlier ACTIVE revision of %s is left to roll back to", aws.ToString(svc.ServiceName), family, rev, family)
}

// splitTaskDef splits a task definition ARN (or family:revision) into
// family and revision.
func splitTaskDef(arn string) (string, int, error) {
	name := lastPart(arn)
	i := strings.LastIndexByte(name, ':')
	var rev int
	if i < 0 {
		return "", 0, fmt.Errorf("task definition %q has no revision", arn)
	}
	if _, err := fmt.Sscanf(name[i+1:], "%d", &rev); err != nil {
		return "", 0, fmt.Errorf("task definition %q: revision: %w", arn, err)
	}
	return name[:i], rev, nil
}

// Scale sets the service's desired count; with wait it then follows the
// service until that many tasks run and nothing else is in flight.
func (c *CLI) Scale(ctx context.Context, name string, n int32, wait bool, timeout time.Duration) error {
	before, err := c.service(ctx, name)
	if err != nil {
		return err
	}
	out, err := c.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(c.Cluster), Service: aws.String(name), DesiredCount: aws.Int32(n)})
	if err != nil {
		return apiErr("update service "+name, err)
	}
	svc := *out.Service
	c.progressf("%s: desired count %d → %d\n", name, before.DesiredCount, svc.DesiredCount)
	res := render.Result{Service: name, TaskDefinition: render.TaskDefName(aws.ToString(svc.TaskDefinition)), Outcome: "STARTED"}
	if !wait {
		return c.finish(res, nil)
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	p := &progress{w: c.progressOut(), tty: c.Term.OutTTY && !c.JSON, style: c.Style()}
	primary, _ := rollout.Primary(svc)
	w := rollout.New(aws.ToString(primary.Id), aws.ToString(primary.TaskDefinition), before.Events, time.Local)
	for {
		svc, err := c.service(ctx, name)
		if err != nil {
			return err
		}
		tasks, err := c.serviceTasks(ctx, name)
		if err != nil {
			return err
		}
		p.show(w.Observe(rollout.Snapshot{Service: svc, Tasks: tasks}))
		if svc.RunningCount == n && svc.PendingCount == 0 && len(svc.Deployments) == 1 {
			p.done()
			res.Outcome = "COMPLETED"
			if !c.JSON {
				fmt.Fprintf(c.Out, "%s: %d running\n", name, n)
			}
			return c.finish(res, nil)
		}
		select {
		case <-ctx.Done():
			p.done()
			res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
			return c.finish(res, errors.New("interrupted; the service goes on scaling"))
		case <-deadline:
			p.done()
			res.Outcome, res.ExitCode = "TIMED_OUT", ExitTimedOut
			return c.finish(res, fmt.Errorf("timed out after %v: %d of %d running", timeout, svc.RunningCount, n))
		case <-time.After(c.Poll):
		}
	}
}

// Events prints the service's events, oldest first; with follow it then
// prints new ones as they come until ctx ends.
func (c *CLI) Events(ctx context.Context, name string, follow bool) error {
	seen := map[string]bool{}
	first := true
	for {
		svc, err := c.service(ctx, name)
		if err != nil {
			return err
		}
		var fresh []render.Event
		for _, e := range render.EventsOf(svc.Events) {
			if !seen[e.ID] {
				seen[e.ID] = true
				fresh = append(fresh, e)
			}
		}
		switch {
		case c.JSON && !follow:
			return render.JSON(c.Out, render.Events{Events: append([]render.Event{}, fresh...)})
		case c.JSON:
			for _, e := range fresh {
				if err := render.JSONLine(c.Out, e); err != nil {
					return err
				}
			}
		default:
			if first && len(fresh) == 0 && !follow {
				fmt.Fprintf(c.Out, "No events for service %s.\n", name)
			}
			for _, e := range fresh {
				fmt.Fprintln(c.Out, render.EventLine(e, time.Local, c.Style()))
			}
		}
		if !follow {
			return nil
		}
		first = false
		if err := sleep(ctx, c.Poll); err != nil {
			return nil // Ctrl-C ends -f
		}
	}
}

// Drain sets the container instance (ID or ARN) DRAINING, or with undo
// ACTIVE again.
func (c *CLI) Drain(ctx context.Context, instance string, undo bool) error {
	status := types.ContainerInstanceStatusDraining
	if undo {
		status = types.ContainerInstanceStatusActive
	}
	out, err := c.ECS.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String(c.Cluster), ContainerInstances: []string{instance}, Status: status,
	})
	if err != nil {
		return apiErr("update container instance "+instance, err)
	}
	if len(out.Failures) > 0 {
		f := out.Failures[0]
		return fmt.Errorf("instance %s: %s", instance, strings.ToLower(aws.ToString(f.Reason)))
	}
	if len(out.ContainerInstances) == 0 {
		return fmt.Errorf("instance %s: not updated", instance)
	}
	ci := render.InstanceOf(out.ContainerInstances[0])
	if c.JSON {
		return render.JSON(c.Out, ci)
	}
	if undo {
		fmt.Fprintf(c.Out, "%s is %s: it takes new tasks again\n", ci.ID, c.Style().Paint(ci.Status))
	} else {
		fmt.Fprintf(c.Out, "%s is %s: its service tasks move elsewhere (%d running); it takes no new tasks\n", ci.ID, c.Style().Paint(ci.Status), ci.RunningTasks)
	}
	return nil
}
