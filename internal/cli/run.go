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
	"github.com/berth-io/berth/internal/cli/spec"
)

// RunOptions are berth run's flags.
type RunOptions struct {
	// Wait streams the task's logs and waits for it to stop (--wait).
	Wait bool
	// Timeout bounds the wait (--timeout); 0: none.
	Timeout time.Duration
}

// stopDrain is how long, after the task STOPPED, run keeps reading its
// logs for lines the agent shipped last.
const stopDrain = 3 * time.Second

// Run starts one task of the spec's task definition (registering it
// first if the spec carries one). With Wait it streams the task's logs,
// waits until it STOPPED and exits with its essential container's exit
// code (1 with the reason if it never ran); an interrupt stops the task
// and exits 130.
func (c *CLI) Run(ctx context.Context, s spec.Spec, o RunOptions) error {
	if s.Service != nil && s.Service.Cluster != "" && !c.ClusterFromFlag {
		c.Cluster = s.Service.Cluster
	}
	arn, err := c.taskDefinition(ctx, s)
	if err != nil {
		return err
	}
	out, err := c.ECS.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(c.Cluster), TaskDefinition: aws.String(arn), StartedBy: aws.String("berth-run")})
	if err != nil {
		return apiErr("run task "+render.TaskDefName(arn), err)
	}
	if len(out.Tasks) == 0 {
		reason := "no task started"
		if len(out.Failures) > 0 {
			reason = aws.ToString(out.Failures[0].Reason)
			if d := aws.ToString(out.Failures[0].Detail); d != "" {
				reason += ": " + d
			}
		}
		return fmt.Errorf("run task %s: %s", render.TaskDefName(arn), reason)
	}
	task := out.Tasks[0]
	id := lastPart(aws.ToString(task.TaskArn))
	res := render.Result{Task: id, TaskDefinition: render.TaskDefName(arn), Outcome: "STARTED"}
	if !o.Wait {
		if c.JSON {
			return render.JSON(c.Out, res)
		}
		fmt.Fprintln(c.Out, id)
		return nil
	}
	c.progressf("Started task %s (%s)\n", id, render.TaskDefName(arn))
	td, err := c.taskDef(ctx, map[string]*types.TaskDefinition{}, arn)
	if err != nil {
		return err
	}
	sources := logSources(task, td, "")
	multi := len(sources) > 1
	lt := newLogTail(c.Logs, time.Time{})
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	var stoppedAt time.Time
	var stopped types.Task
	quiet := 0
	for {
		lines, err := lt.read(ctx, sources)
		if err != nil {
			return err
		}
		for _, l := range lines {
			c.printLog(l, false, multi)
		}
		if stoppedAt.IsZero() {
			ts, err := c.describeTasks(ctx, []string{aws.ToString(task.TaskArn)})
			if err != nil {
				return err
			}
			if len(ts) == 1 && aws.ToString(ts[0].LastStatus) == "STOPPED" {
				stopped, stoppedAt = ts[0], c.Now()
			}
		} else {
			// Read until the logs are quiet twice in a row, or stopDrain.
			if len(lines) == 0 {
				quiet++
			} else {
				quiet = 0
			}
			if quiet >= 2 || c.Now().Sub(stoppedAt) > stopDrain {
				code, reason := exitCode(stopped, td)
				res.Outcome, res.ExitCode, res.Reason = "STOPPED", code, reason
				if c.JSON { // after the log lines, one object a line too
					if err := render.JSONLine(c.Out, res); err != nil {
						return err
					}
				}
				if code == 0 {
					return nil
				}
				if reason != "" {
					return &ExitError{Code: code, Err: errors.New(reason)}
				}
				return &ExitError{Code: code}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			res.Outcome, res.ExitCode = "TIMED_OUT", ExitTimedOut
			if c.JSON {
				_ = render.JSONLine(c.Out, res)
			}
			return &ExitError{Code: ExitTimedOut, Err: fmt.Errorf("timed out after %v; task %s still runs", o.Timeout, id)}
		case <-c.Signals:
			if !stoppedAt.IsZero() {
				continue // it has stopped already: finish with its exit code
			}
			_, err := c.ECS.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(c.Cluster), Task: task.TaskArn, Reason: aws.String("berth run: interrupted")})
			if err != nil {
				return apiErr("stop task "+id, err)
			}
			res.Outcome, res.ExitCode = "INTERRUPTED", ExitInterrupted
			if c.JSON {
				_ = render.JSONLine(c.Out, res)
			}
			return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("interrupted; stopped task %s", id)}
		case <-time.After(c.Poll / 2):
		}
	}
}

// exitCode is the exit status berth run ends with for a STOPPED task:
// the exit code of the essential container that stopped it (the first
// essential one with a non-zero code, else the first essential one's),
// or 1 with the reason when no essential container exited.
func exitCode(t types.Task, td *types.TaskDefinition) (int, string) {
	essential := map[string]bool{}
	for _, cd := range td.ContainerDefinitions {
		essential[aws.ToString(cd.Name)] = cd.Essential == nil || *cd.Essential
	}
	var first *types.Container
	for i, c := range t.Containers {
		if !essential[aws.ToString(c.Name)] || c.ExitCode == nil {
			continue
		}
		if *c.ExitCode != 0 {
			return int(*c.ExitCode), fmt.Sprintf("container %s exited with %d", aws.ToString(c.Name), *c.ExitCode)
		}
		if first == nil {
			first = &t.Containers[i]
		}
	}
	if first != nil {
		return 0, ""
	}
	reasons := []string{aws.ToString(t.StoppedReason)}
	for _, c := range t.Containers {
		if r := aws.ToString(c.Reason); r != "" {
			reasons = append(reasons, aws.ToString(c.Name)+": "+r)
		}
	}
	return ExitFailed, "the task never ran: " + strings.Join(reasons, "; ")
}
