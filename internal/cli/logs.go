package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-io/berth/internal/cli/render"
)

// Where a task's output is: berth's agent stores each container's output
// in CloudWatch Logs as its awslogs options say (awslogs-group,
// awslogs-stream-prefix), else in group /berth/<family>, stream
// <container>/<task id> (with a prefix: <prefix>/<container>/<task id>).

// logSource is one container's log stream.
type logSource struct {
	group, stream   string
	task, container string
}

// logSources returns the streams of the task's containers (container:
// only that one).
func logSources(task types.Task, td *types.TaskDefinition, container string) []logSource {
	id := lastPart(aws.ToString(task.TaskArn))
	var out []logSource
	for _, cd := range td.ContainerDefinitions {
		name := aws.ToString(cd.Name)
		if container != "" && name != container {
			continue
		}
		var opts map[string]string
		if cd.LogConfiguration != nil {
			opts = cd.LogConfiguration.Options
		}
		group := opts["awslogs-group"]
		if group == "" {
			group = "/berth/" + aws.ToString(td.Family)
		}
		stream := name + "/" + id
		if p := opts["awslogs-stream-prefix"]; p != "" {
			stream = p + "/" + stream
		}
		out = append(out, logSource{group: group, stream: stream, task: id, container: name})
	}
	return out
}

// logLine is one event read.
type logLine struct {
	ts              int64 // ms
	id              string
	task, container string
	message         string
}

// logTail reads the events of a changing set of streams from a start time
// on, each event once.
type logTail struct {
	logs   *cloudwatchlogs.Client
	from   int64            // ms; events before are not read
	seen   map[string]int64 // event ID → timestamp, within the overlap
	newest int64
}

// logOverlap is how far back each read reaches behind the newest event
// seen, for events that arrive late (shipped after newer ones of
// another stream).
const logOverlap = 10 * time.Second

func newLogTail(logs *cloudwatchlogs.Client, from time.Time) *logTail {
	lt := &logTail{logs: logs, seen: map[string]int64{}}
	if !from.IsZero() {
		lt.from = from.UnixMilli()
	}
	return lt
}

// read returns the events of sources not returned before, in time order.
func (lt *logTail) read(ctx context.Context, sources []logSource) ([]logLine, error) {
	byGroup := map[string][]logSource{}
	for _, s := range sources {
		byGroup[s.group] = append(byGroup[s.group], s)
	}
	start := max(lt.from, lt.newest-logOverlap.Milliseconds())
	var out []logLine
	for group, srcs := range byGroup {
		byStream := map[string]logSource{}
		for _, s := range srcs {
			byStream[s.stream] = s
		}
		for chunk := range slices.Chunk(srcs, 100) {
			names := make([]string, len(chunk))
			for i, s := range chunk {
				names[i] = s.stream
			}
			in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group), LogStreamNames: names}
			if start > 0 {
				in.StartTime = aws.Int64(start)
			}
			p := cloudwatchlogs.NewFilterLogEventsPaginator(lt.logs, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if isCode(err, "ResourceNotFoundException") {
					break // nothing logged yet
				}
				if err != nil {
					return nil, apiErr("read logs of "+group, err)
				}
				for _, e := range page.Events {
					id := aws.ToString(e.EventId)
					if _, dup := lt.seen[id]; dup {
						continue
					}
					ts := aws.ToInt64(e.Timestamp)
					lt.seen[id] = ts
					s := byStream[aws.ToString(e.LogStreamName)]
					out = append(out, logLine{ts: ts, id: id, task: s.task, container: s.container, message: aws.ToString(e.Message)})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b logLine) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.id, b.id)) })
	for _, l := range out {
		lt.newest = max(lt.newest, l.ts)
	}
	for id, ts := range lt.seen {
		if ts < lt.newest-2*logOverlap.Milliseconds() {
			delete(lt.seen, id)
		}
	}
	return out, nil
}

// LogsOptions are berth logs' flags.
type LogsOptions struct {
	Follow    bool          // -f
	Since     time.Duration // --since; 0: everything kept
	Container string        // -c
}

// TailLogs prints the logs of a service's tasks (each line prefixed with its
// task's ID) or of one task (ID or ARN); with Follow it keeps printing new
// lines, of new tasks too, until ctx ends.
func (c *CLI) TailLogs(ctx context.Context, target string, o LogsOptions) (err error) {
	defer func() {
		if o.Follow && ctx.Err() != nil {
			err = nil // Ctrl-C ends a follow, whatever call it cut short
		}
	}()
	service := ""
	svcs, err := c.describeServices(ctx, []string{target})
	if err == nil && aws.ToString(svcs[0].Status) != "INACTIVE" {
		service = target
	}
	var from time.Time
	if o.Since > 0 {
		from = c.Now().Add(-o.Since)
	}
	lt := newLogTail(c.Logs, from)
	tds := map[string]*types.TaskDefinition{}
	var tasks []types.Task
	if service == "" {
		tasks, err = c.describeTasks(ctx, []string{target})
		if err != nil {
			return err
		}
		if len(tasks) == 0 {
			return fmt.Errorf("no service or task %s in cluster %s", target, c.Cluster)
		}
	}
	for {
		if service != "" {
			var arns []string
			for _, d := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
				got, err := c.taskARNs(ctx, service, d)
				if err != nil {
					return err
				}
				arns = append(arns, got...)
			}
			if tasks, err = c.describeTasks(ctx, arns); err != nil {
				return err
			}
		}
		var sources []logSource
		for _, t := range tasks {
			td, err := c.taskDef(ctx, tds, aws.ToString(t.TaskDefinitionArn))
			if err != nil {
				return err
			}
			sources = append(sources, logSources(t, td, o.Container)...)
		}
		if o.Container != "" && len(sources) == 0 && len(tasks) > 0 {
			return fmt.Errorf("-c: no container %q in the tasks of %s", o.Container, target)
		}
		lines, err := lt.read(ctx, sources)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		multi := countContainers(sources) > 1
		for _, l := range lines {
			c.printLog(l, service != "", multi)
		}
		if !o.Follow {
			return nil
		}
		if sleep(ctx, c.Poll) != nil {
			return nil // Ctrl-C ends -f
		}
	}
}

// taskDef describes a task definition once.
func (c *CLI) taskDef(ctx context.Context, cache map[string]*types.TaskDefinition, arn string) (*types.TaskDefinition, error) {
	if td, ok := cache[arn]; ok {
		return td, nil
	}
	out, err := c.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return nil, apiErr("describe task definition "+lastPart(arn), err)
	}
	cache[arn] = out.TaskDefinition
	return out.TaskDefinition, nil
}

// countContainers counts the distinct container names of sources.
func countContainers(sources []logSource) int {
	names := map[string]bool{}
	for _, s := range sources {
		names[s.container] = true
	}
	return len(names)
}

// printLog prints one line: "<task id> <container> | message", the task
// ID when withTask, the container when there are several; -o json: a
// LogLine.
func (c *CLI) printLog(l logLine, withTask, withContainer bool) {
	if c.JSON {
		_ = render.JSONLine(c.Out, render.LogLine{Timestamp: render.Time(ptr(time.UnixMilli(l.ts))), Task: l.task, Container: l.container, Message: l.message})
		return
	}
	prefix := ""
	if withTask {
		prefix = l.task[:min(len(l.task), 8)]
	}
	if withContainer {
		prefix = joinNonEmpty(prefix, l.container)
	}
	if prefix != "" {
		fmt.Fprintln(c.Out, c.Style().Dim(prefix+" |")+" "+l.message)
		return
	}
	fmt.Fprintln(c.Out, l.message)
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func ptr[T any](v T) *T { return &v }
