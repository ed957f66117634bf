package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-io/berth/internal/demo"
)

// WaitAnswer polls url every interval until the demo answers it (200 and
// its JSON) or ctx ends; then it returns the last failure.
func WaitAnswer(ctx context.Context, c *http.Client, url string, interval time.Duration) (demo.Answer, error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		a, err := Get(ctx, c, url)
		if err == nil {
			return a, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return demo.Answer{}, fmt.Errorf("%w (last try: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// Get asks the demo at url once.
func Get(ctx context.Context, c *http.Client, url string) (demo.Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return demo.Answer{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return demo.Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return demo.Answer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return demo.Answer{}, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	var a demo.Answer
	if err := json.Unmarshal(b, &a); err != nil || a.Instance == "" {
		return demo.Answer{}, fmt.Errorf("GET %s: not the demo's answer: %.200s", url, b)
	}
	return a, nil
}

// Reader is what Diagnose reads through (*ecs.Client).
type Reader interface {
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// Diagnose describes the demo service for a person wondering why it does
// not answer: its counts, latest events and its tasks' states.
func Diagnose(ctx context.Context, c Reader, cluster string) string {
	var b strings.Builder
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{Name}})
	if err != nil {
		return "describe service " + Name + ": " + err.Error()
	}
	if len(out.Services) == 0 {
		return "service " + Name + " does not exist (yet)"
	}
	for _, s := range out.Services {
		fmt.Fprintf(&b, "service %s: %s, desired %d, pending %d, running %d\n", Name, aws.ToString(s.Status), s.DesiredCount, s.PendingCount, s.RunningCount)
		for i := min(len(s.Events), 5) - 1; i >= 0; i-- { // newest first in ECS
			e := s.Events[i]
			fmt.Fprintf(&b, "  %s %s\n", aws.ToTime(e.CreatedAt).Local().Format(time.TimeOnly), aws.ToString(e.Message))
		}
	}
	for _, desired := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		list, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(Name), DesiredStatus: desired})
		if err != nil {
			fmt.Fprintf(&b, "list tasks: %v\n", err)
			continue
		}
		if len(list.TaskArns) == 0 {
			continue
		}
		tasks, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: list.TaskArns[:min(len(list.TaskArns), 5)]})
		if err != nil {
			fmt.Fprintf(&b, "describe tasks: %v\n", err)
			continue
		}
		for _, t := range tasks.Tasks {
			fmt.Fprintf(&b, "task %s: %s (desired %s, health %s)", TaskID(aws.ToString(t.TaskArn)), aws.ToString(t.LastStatus), aws.ToString(t.DesiredStatus), t.HealthStatus)
			if r := aws.ToString(t.StoppedReason); r != "" {
				fmt.Fprintf(&b, ": %s", r)
			}
			for _, ct := range t.Containers {
				if r := aws.ToString(ct.Reason); r != "" {
					fmt.Fprintf(&b, "; %s: %s", aws.ToString(ct.Name), r)
				}
			}
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// TaskID is the last part of a task ARN.
func TaskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }
