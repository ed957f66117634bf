package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	apiecs "github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/cli/render"
	"github.com/berth-io/berth/internal/cli/rollout"
	"github.com/berth-io/berth/internal/cli/spec"
)

// DeployOptions are berth deploy's flags.
type DeployOptions struct {
	// Service names the service when the files carry none (--service).
	Service string
	// DesiredCount, if set, overrides the file's (--desired-count).
	DesiredCount *int32
	// ForceNewDeployment starts a new deployment even when nothing
	// changed (--force-new-deployment).
	ForceNewDeployment bool
	// Wait is how the rollout is followed.
	Wait WaitOptions
}

// WaitOptions say how a command follows a rollout.
type WaitOptions struct {
	// Timeout bounds the wait (--timeout); 0: no bound.
	Timeout time.Duration
	// NoWait returns as soon as the change is made (--no-wait).
	NoWait bool
	// RollbackOnInterrupt rolls back on Ctrl-C without asking
	// (--rollback-on-interrupt).
	RollbackOnInterrupt bool
}

// Deploy registers the spec's task definition (if it carries one),
// creates the service or updates it to that revision, and follows the
// new deployment to its end (package rollout says how it ends).
func (c *CLI) Deploy(ctx context.Context, s spec.Spec, o DeployOptions) error {
	name := o.Service
	if name == "" && s.Service != nil {
		name = s.Service.ServiceName
	}
	if name == "" {
		return errors.New("--service: required with a task definition file (the file names no service)")
	}
	if s.Service != nil && s.Service.Cluster != "" && !c.ClusterFromFlag {
		c.Cluster = s.Service.Cluster
	}
	taskDef, err := c.taskDefinition(ctx, s)
	if err != nil {
		return err
	}
	before, err := c.describeServices(ctx, []string{name})
	if err != nil && !isMissing(err) {
		return err // not "no such service": a call that failed
	}
	exists := err == nil && aws.ToString(before[0].Status) == "ACTIVE"
	if err == nil && aws.ToString(before[0].Status) == "DRAINING" {
		return fmt.Errorf("service %s is being deleted (DRAINING); wait until it is INACTIVE", name)
	}
	var svc types.Service
	var prev string // the task definition a Ctrl-C rolls back to
	var seen []types.ServiceEvent
	if exists {
		prev = lastGood(before[0])
		seen = before[0].Events
		in, err := updateInput(s.Service, name, c.Cluster, taskDef, o)
		if err != nil {
			return err
		}
		res, err := c.ECS.UpdateService(ctx, in)
		if err != nil {
			return apiErr("update service "+name, err)
		}
		svc = *res.Service
		c.progressf("Updating service %s: %s → %s\n", name, render.TaskDefName(prev), render.TaskDefName(taskDef))
	} else {
		in, err := createInput(s.Service, name, c.Cluster, taskDef, o)
		if err != nil {
			return err
		}
		res, err := c.ECS.CreateService(ctx, in)
		if err != nil {
			return apiErr("create service "+name, err)
		}
		svc = *res.Service
		c.progressf("Created service %s (%s, desired %d)\n", name, render.TaskDefName(taskDef), svc.DesiredCount)
	}
	primary, ok := rollout.Primary(svc)
	if !ok {
		return fmt.Errorf("service %s has no PRIMARY deployment after the update", name)
	}
	res := render.Result{Service: name, TaskDefinition: render.TaskDefName(taskDef), Deployment: aws.ToString(primary.Id)}
	if o.Wait.NoWait {
		res.Outcome = "STARTED"
		return c.finish(res, nil)
	}
	w := rollout.New(aws.ToString(primary.Id), aws.ToString(primary.TaskDefinition), seen, time.Local)
	if render.TaskDefName(prev) == render.TaskDefName(taskDef) {
		prev = "" // nothing different to roll back to
	}
	return c.follow(ctx, name, w, prev, o.Wait, res)
}

// taskDefinition registers the spec's task definition, or resolves its
// reference, and returns the ARN.
func (c *CLI) taskDefinition(ctx context.Context, s spec.Spec) (string, error) {
	if s.TaskDefinition == nil {
		out, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(s.TaskDefinitionRef)})
		if err != nil {
			return "", apiErr("describe task definition "+s.TaskDefinitionRef, err)
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
	}
	var in ecs.RegisterTaskDefinitionInput
	if err := convert(s.TaskDefinition, &in); err != nil {
		return "", err
	}
	out, err := c.ECS.RegisterTaskDefinition(ctx, &in)
	if err != nil {
		return "", apiErr("register task definition "+s.TaskDefinition.Family, err)
	}
	arn := aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	c.progressf("Registered %s\n", render.TaskDefName(arn))
	return arn, nil
}

// lastGood is the task definition a Ctrl-C during a deploy over svc rolls
// back to: the PRIMARY's if it completed, else the newest other deployment
// that completed, else the PRIMARY's all the same (what ran before).
func lastGood(svc types.Service) string {
	p, ok := rollout.Primary(svc)
	if ok && p.RolloutState == types.DeploymentRolloutStateCompleted {
		return aws.ToString(p.TaskDefinition)
	}
	var newest *types.Deployment
	for i, d := range svc.Deployments {
		if d.RolloutState == types.DeploymentRolloutStateCompleted && (newest == nil || aws.ToTime(d.CreatedAt).After(aws.ToTime(newest.CreatedAt))) {
			newest = &svc.Deployments[i]
		}
	}
	if newest != nil {
		return aws.ToString(newest.TaskDefinition)
	}
	if ok {
		return aws.ToString(p.TaskDefinition)
	}
	return ""
}

// convert copies an api/ecs wire value into the SDK's type of the same
// shape: the SDK's Go names are the wire names capitalised, which
// encoding/json matches without regard to case.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		return fmt.Errorf("convert request: %w", err)
	}
	return nil
}

// createInput is the CreateService of the file's service (or a bare one
// of one task), on taskDef.
func createInput(file *apiecs.CreateServiceRequest, name, cluster, taskDef string, o DeployOptions) (*ecs.CreateServiceInput, error) {
	req := apiecs.CreateServiceRequest{}
	if file != nil {
		req = *file
	}
	req.ServiceName, req.Cluster, req.TaskDefinition = name, cluster, taskDef
	if o.DesiredCount != nil {
		req.DesiredCount = o.DesiredCount
	}
	if req.DesiredCount == nil && req.SchedulingStrategy != "DAEMON" {
		req.DesiredCount = aws.Int32(1)
	}
	var in ecs.CreateServiceInput
	return &in, convert(req, &in)
}

// updateInput is the UpdateService that moves the service to taskDef
// and applies what the file says of what UpdateService can change.
func updateInput(file *apiecs.CreateServiceRequest, name, cluster, taskDef string, o DeployOptions) (*ecs.UpdateServiceInput, error) {
	req := apiecs.UpdateServiceRequest{Service: name, Cluster: cluster, TaskDefinition: taskDef, ForceNewDeployment: o.ForceNewDeployment}
	if f := file; f != nil {
		req.DesiredCount = f.DesiredCount
		req.DeploymentConfiguration = f.DeploymentConfiguration
		req.HealthCheckGracePeriodSeconds = f.HealthCheckGracePeriodSeconds
		req.PlacementStrategy = f.PlacementStrategy
		req.PlacementConstraints = f.PlacementConstraints
		req.LoadBalancers = f.LoadBalancers
		req.NetworkConfiguration = f.NetworkConfiguration
		req.CapacityProviderStrategy = f.CapacityProviderStrategy
		req.PlatformVersion = f.PlatformVersion
		req.PropagateTags = f.PropagateTags
		req.ServiceRegistries = f.ServiceRegistries
		req.ServiceConnectConfiguration = f.ServiceConnectConfiguration
		req.AvailabilityZoneRebalancing = f.AvailabilityZoneRebalancing
		if f.EnableExecuteCommand {
			req.EnableExecuteCommand = aws.Bool(true)
		}
	}
	if o.DesiredCount != nil {
		req.DesiredCount = o.DesiredCount
	}
	var in ecs.UpdateServiceInput
	return &in, convert(req, &in)
}

// follow polls the service until w's deployment ends, showing progress;
// on an interrupt it offers (or, with RollbackOnInterrupt, does) a
// rollback to prev ("": nothing to roll back to).
func (c *CLI) follow(ctx context.Context, name string, w *rollout.Watch, prev string, o WaitOptions, res render.Result) error {
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	p := &progress{w: c.progressOut(), tty: c.Term.OutTTY && !c.JSON, style: c.Style()}
	answers := make(chan string, 1)
	asking := false
	for {
		svc, err := c.service(ctx, name)
		if err != nil {
			return err
		}
		tasks, err := c.serviceTasks(ctx, name)
		if err != nil {
			return err
		}
		u := w.Observe(rollout.Snapshot{Service: svc, Tasks: tasks})
		if !asking {
			p.show(u)
		}
		if u.Outcome != rollout.Pending {
			p.done()
			res.Deployment, res.Outcome, res.Reason, res.ExitCode = w.Deployment(), u.Outcome.String(), u.Reason, u.Outcome.ExitCode()
			var err error
			if u.Outcome != rollout.Completed {
				err = errors.New(u.Reason)
				if u.Outcome == rollout.RolledBack {
					err = fmt.Errorf("rolled back: %s", u.Reason)
				}
			}
			return c.finish(res, err)
		}
		select {
		case <-ctx.Done():
			p.done()
			res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
			return c.finish(res, errors.New("interrupted; the deployment goes on"))
		case <-deadline:
			p.done()
			res.Outcome, res.ExitCode = "TIMED_OUT", ExitTimedOut
			return c.finish(res, fmt.Errorf("timed out after %v; the deployment goes on (berth ps %s)", o.Timeout, name))
		case <-c.Signals:
			if asking || prev == "" {
				p.done()
				res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
				return c.finish(res, errors.New("interrupted; the deployment goes on"))
			}
			if o.RollbackOnInterrupt {
				if err := c.rollbackTo(ctx, name, prev, w, p); err != nil {
					return err
				}
				prev = ""
				continue
			}
			if !c.Term.InTTY || !c.Term.OutTTY {
				p.done()
				res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
				return c.finish(res, fmt.Errorf("interrupted; the deployment goes on (berth rollback %s goes back to %s)", name, render.TaskDefName(prev)))
			}
			p.done()
			fmt.Fprintf(c.Out, "roll back to %s? [y/N] ", render.TaskDefName(prev))
			asking = true
			go func() {
				line, _ := bufio.NewReader(c.In).ReadString('\n')
				answers <- strings.TrimSpace(strings.ToLower(line))
			}()
		case a := <-answers:
			asking = false
			if a != "y" && a != "yes" {
				res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
				return c.finish(res, errors.New("interrupted; the deployment goes on"))
			}
			if err := c.rollbackTo(ctx, name, prev, w, p); err != nil {
				return err
			}
			prev = ""
		case <-time.After(c.Poll):
		}
	}
}

// rollbackTo updates the service back to taskDef and makes w follow the
// rollback.
func (c *CLI) rollbackTo(ctx context.Context, name, taskDef string, w *rollout.Watch, p *progress) error {
	out, err := c.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(c.Cluster), Service: aws.String(name), TaskDefinition: aws.String(taskDef)})
	if err != nil {
		return apiErr("roll back "+name, err)
	}
	d, ok := rollout.Primary(*out.Service)
	if !ok {
		return fmt.Errorf("service %s has no PRIMARY deployment after the rollback", name)
	}
	p.done()
	fmt.Fprintf(p.w, "Rolling back %s to %s\n", name, render.TaskDefName(taskDef))
	w.Retarget(aws.ToString(d.Id), aws.ToString(d.TaskDefinition))
	return nil
}

// progressOut is where progress goes: stdout, or stderr under -o json.
func (c *CLI) progressOut() io.Writer {
	if c.JSON {
		return c.Err
	}
	return c.Out
}

func (c *CLI) progressf(format string, args ...any) {
	fmt.Fprintf(c.progressOut(), format, args...)
}

// finish prints the result (as JSON under -o json) and turns a failure
// into the exit status.
func (c *CLI) finish(res render.Result, err error) error {
	if c.JSON {
		if jerr := render.JSON(c.Out, res); jerr != nil {
			return jerr
		}
	}
	if err == nil && res.ExitCode == 0 {
		if !c.JSON && res.Outcome == "COMPLETED" {
			fmt.Fprintf(c.Out, "%s %s deployed\n", res.Service, res.TaskDefinition)
		}
		return nil
	}
	if res.ExitCode == 0 {
		res.ExitCode = ExitFailed
	}
	return &ExitError{Code: res.ExitCode, Err: err}
}

// progress draws rollout updates: on a terminal the deployment lines are
// redrawn in place under the events; elsewhere events and changed lines
// are printed as they come.
type progress struct {
	w     io.Writer
	tty   bool
	style render.Style
	drawn int // lines drawn in place last time
	lines []rollout.Line
}

func (p *progress) show(u rollout.Update) {
	var b strings.Builder
	if p.tty {
		if p.drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dF\x1b[J", p.drawn) // to the first drawn line; clear below
		}
		for _, e := range u.Events {
			b.WriteString(p.style.Dim(e[:8]) + e[8:] + "\n")
		}
		for _, l := range u.Lines {
			b.WriteString(l.Text(true) + "\n")
		}
		p.drawn = len(u.Lines)
	} else {
		for _, e := range u.Events {
			b.WriteString(e + "\n")
		}
		if u.Changed {
			for _, l := range u.Lines {
				b.WriteString(l.Text(false) + "\n")
			}
		}
	}
	p.lines = u.Lines
	io.WriteString(p.w, b.String())
}

// done leaves the drawn lines where they are: what follows prints below.
func (p *progress) done() { p.drawn = 0 }
