package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Task-start benchmark settings and targets (docs: targets.md). The
// targets are printed beside the figures, never enforced.
const (
	benchStartTasks        = 30                   // tasks started one at a time per round
	benchStartPoll         = 5 * time.Millisecond // DescribeTasks poll while waiting for RUNNING
	targetProcessStartP50  = 50 * time.Millisecond
	targetDockerStartRatio = 1.3 // berth RunTask→RUNNING ÷ bare `docker run -d`
)

// BenchmarkRunTaskToRunning measures task start through berth server and a
// real berth agent: RunTask, then DescribeTasks every 5 ms until the task
// is RUNNING, one task at a time, for the process runtime and for Docker.
// It also records the server-side figure, startedAt − createdAt. For
// Docker it runs, interleaved in the same run, the same number of bare
// `docker run -d` of the same image (same port publishing, memory limit,
// nofile limit), timed until `docker inspect` shows the container running,
// and prints the ratio.
func BenchmarkRunTaskToRunning(b *testing.B) {
	for _, rt := range agentRuntimes {
		b.Run(rt, func(b *testing.B) {
			app := newTestApp(b, rt)
			srv := startServer(b, serverOptions{})
			a := startAgent(b, srv, agentOptions{Runtime: rt})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			b.Cleanup(cancel)

			family := "bench-" + rt
			mustTaskDef(b, ctx, srv.ecs, &ecs.RegisterTaskDefinitionInput{
				Family: aws.String(family),
				ContainerDefinitions: []types.ContainerDefinition{{
					Name:         aws.String("app"),
					Image:        aws.String(app.Image),
					Command:      []string{"serve"},
					Memory:       aws.Int32(128),
					Essential:    aws.Bool(true),
					Environment:  []types.KeyValuePair{{Name: aws.String("PORT"), Value: aws.String("8080")}},
					PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
				}},
			})
			var bare *bareDocker
			if rt == runtimeDocker {
				nofile, _ := hostNofileDefault(b)
				bare = newBareDocker(b, app.Image, nofile)
			}

			// One unmeasured start of each warms caches (image metadata,
			// the agent's first task, the docker CLI).
			startTaskTimed(b, ctx, a, family)
			if bare != nil {
				bare.run(b)
			}

			var client, server, bareTimes []time.Duration
			b.ResetTimer()
			for range b.N {
				for range benchStartTasks {
					c, s := startTaskTimed(b, ctx, a, family)
					client, server = append(client, c), append(server, s)
					if bare != nil {
						bareTimes = append(bareTimes, bare.run(b))
					}
				}
			}
			b.StopTimer()

			slices.Sort(client)
			slices.Sort(server)
			b.ReportMetric(ms(percentile(client, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(client, 99)), "p99-ms")
			b.ReportMetric(ms(percentile(server, 50)), "server-p50-ms")
			b.ReportMetric(ms(percentile(server, 99)), "server-p99-ms")
			fmt.Printf("\nRunTask → RUNNING, %s runtime: %d tasks started one at a time (DescribeTasks every %v)\n", rt, len(client), benchStartPoll)
			fmt.Printf("  %-34s p50 %8.1f ms   p99 %8.1f ms\n", "berth, RunTask call → RUNNING seen", ms(percentile(client, 50)), ms(percentile(client, 99)))
			fmt.Printf("  %-34s p50 %8.1f ms   p99 %8.1f ms\n", "berth, startedAt − createdAt", ms(percentile(server, 50)), ms(percentile(server, 99)))
			switch rt {
			case runtimeProcess:
				p50 := percentile(client, 50)
				fmt.Printf("  target: p50 ≤ %v → %s (%.1f ms)\n", targetProcessStartP50, metWord(p50 <= targetProcessStartP50), ms(p50))
			case runtimeDocker:
				slices.Sort(bareTimes)
				ratio := float64(percentile(client, 50)) / float64(percentile(bareTimes, 50))
				ratio99 := float64(percentile(client, 99)) / float64(percentile(bareTimes, 99))
				b.ReportMetric(ms(percentile(bareTimes, 50)), "bare-p50-ms")
				b.ReportMetric(ms(percentile(bareTimes, 99)), "bare-p99-ms")
				b.ReportMetric(ratio, "berth/bare-p50")
				fmt.Printf("  %-34s p50 %8.1f ms   p99 %8.1f ms\n", "bare docker run -d → running", ms(percentile(bareTimes, 50)), ms(percentile(bareTimes, 99)))
				fmt.Printf("  berth/bare: p50 %.2f×, p99 %.2f×\n", ratio, ratio99)
				fmt.Printf("  target: berth ≤ %.1f× bare docker run -d (p50) → %s\n", targetDockerStartRatio, metWord(ratio <= targetDockerStartRatio))
			}
			// The tasks are stopped, and their containers removed, by the
			// agent's cleanup; the bare containers by bareDocker's.
		})
	}
}

// startTaskTimed runs one task and polls DescribeTasks until it is
// RUNNING. It returns the time from the RunTask call to the RUNNING
// answer, and the server's startedAt − createdAt.
func startTaskTimed(b *testing.B, ctx context.Context, a *agentProc, family string) (client, server time.Duration) {
	b.Helper()
	start := time.Now()
	out, err := a.srv.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(a.opts.Cluster), TaskDefinition: aws.String(family)})
	if err != nil {
		b.Fatalf("RunTask: %v", err)
	}
	if len(out.Tasks) != 1 {
		b.Fatalf("RunTask: %d tasks, failures %s", len(out.Tasks), failureJSON(out.Failures))
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	deadline := start.Add(taskTimeout)
	for {
		task, err := a.taskOf(ctx, arn)
		if err != nil {
			b.Fatalf("DescribeTasks: %v", err)
		}
		switch aws.ToString(task.LastStatus) {
		case "RUNNING":
			client = time.Since(start)
			if task.StartedAt == nil || task.CreatedAt == nil {
				b.Fatalf("RUNNING task without startedAt or createdAt:\n%s", taskJSON(task))
			}
			return client, task.StartedAt.Sub(*task.CreatedAt)
		case "STOPPED":
			b.Fatalf("task stopped instead of running:\n%s", taskJSON(task))
		}
		if time.Now().After(deadline) {
			b.Fatalf("task not RUNNING %v after RunTask:\n%s", taskTimeout, taskJSON(task))
		}
		time.Sleep(benchStartPoll)
	}
}

// bareDocker starts containers of an image with the docker command the
// way berth's Docker runtime creates a task's container, and removes them
// when the benchmark ends.
type bareDocker struct {
	image  string
	label  string
	nofile int64
}

func newBareDocker(b *testing.B, image string, nofile int64) *bareDocker {
	d := &bareDocker{image: image, label: "berth-e2e-bench=" + randomHex(4), nofile: nofile}
	b.Cleanup(func() { removeDockerContainers(b, d.label) })
	return d
}

// run starts one container and returns the time from starting
// `docker run -d` until `docker inspect` shows it running.
func (d *bareDocker) run(b *testing.B) time.Duration {
	b.Helper()
	n := strconv.FormatInt(d.nofile, 10)
	start := time.Now()
	out, err := dockerRun("run", "-d", "--label", d.label, "-p", "127.0.0.1::8080", "-e", "PORT=8080",
		"--memory", "128m", "--ulimit", "nofile="+n+":"+n, d.image, "serve")
	if err != nil {
		b.Fatalf("%v", err)
	}
	id := strings.TrimSpace(out)
	deadline := start.Add(taskTimeout)
	for {
		state, err := dockerRun("inspect", "--format", "{{.State.Running}}", id)
		if err != nil {
			b.Fatalf("%v", err)
		}
		if strings.TrimSpace(state) == "true" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("container %s not running %v after docker run -d (running: %s)", id, taskTimeout, strings.TrimSpace(state))
		}
		time.Sleep(benchStartPoll)
	}
}
