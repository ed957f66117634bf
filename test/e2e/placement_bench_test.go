package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Settings of BenchmarkControllerPlacement.
const (
	benchPlaceAgents = 3
	benchPlaceTasks  = 200
	benchPlacePoll   = 10 * time.Millisecond
	benchPlaceWait   = 2 * time.Minute // bounds each phase
)

// BenchmarkControllerPlacement measures placement through the whole
// service path: UpdateService raises a service's desiredCount from 0 to
// 200, the controller plans, places through the scheduler and commits the
// task records to the store, and three real agents (process runtime) start
// the tasks. It reports tasks placed per second (UpdateService until the
// service counts 200 tasks, pendingCount + runningCount, in
// DescribeServices) and the time until all 200 are RUNNING. Each round
// scales back to 0 and waits for every task to be STOPPED, untimed.
func BenchmarkControllerPlacement(b *testing.B) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		b.Skipf("no sleep program for the tiny task: %v", err)
	}
	srv := startServer(b, serverOptions{})
	cluster := "place-" + randomHex(4)
	for i := range benchPlaceAgents {
		startAgent(b, srv, agentOptions{
			Runtime: runtimeProcess, Cluster: cluster, AZ: fmt.Sprintf("us-east-1%c", 'a'+i), CPU: 65536, Memory: 65536,
			Args: []string{"--hostname", fmt.Sprintf("place-%d", i)},
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	c := srv.ecs
	mustTaskDef(b, ctx, c, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("tiny"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("sleep"),
			Image:     aws.String("process://" + sleep),
			Command:   []string{"3600"},
			Memory:    aws.Int32(16),
			Essential: aws.Bool(true),
		}},
	})
	_, err = c.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(cluster), ServiceName: aws.String("tiny"), TaskDefinition: aws.String("tiny"), DesiredCount: aws.Int32(0),
	})
	ok(b, err)
	// Registered last, so it runs before the agents' cleanups.
	b.Cleanup(func() { scaleToZero(b, c, cluster) })

	var placeTimes, runTimes []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		_, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("tiny"), DesiredCount: aws.Int32(benchPlaceTasks)})
		ok(b, err)
		placed := waitServiceCounts(b, c, cluster, fmt.Sprintf("%d tasks placed", benchPlaceTasks), func(s types.Service) bool {
			return s.PendingCount+s.RunningCount >= benchPlaceTasks
		})
		running := waitServiceCounts(b, c, cluster, fmt.Sprintf("%d tasks RUNNING", benchPlaceTasks), func(s types.Service) bool {
			return s.RunningCount == benchPlaceTasks
		})
		placeTimes = append(placeTimes, placed.Sub(start))
		runTimes = append(runTimes, running.Sub(start))
		b.StopTimer()
		scaleToZero(b, c, cluster)
		b.StartTimer()
	}
	b.StopTimer()

	var place, run time.Duration
	for i := range placeTimes {
		place += placeTimes[i]
		run += runTimes[i]
	}
	place /= time.Duration(len(placeTimes))
	run /= time.Duration(len(runTimes))
	perSec := float64(benchPlaceTasks) / place.Seconds()
	b.ReportMetric(perSec, "placed-tasks/s")
	b.ReportMetric(ms(place), "ms-to-placed")
	b.ReportMetric(ms(run), "ms-to-running")
	b.ReportMetric(float64(benchPlaceTasks)/run.Seconds(), "running-tasks/s")
	b.Logf("controller placement, %d tasks on %d agents (process runtime), mean of %d rounds: all placed (task records) %v after UpdateService = %.0f tasks/s; all RUNNING after %v = %.0f tasks/s",
		benchPlaceTasks, benchPlaceAgents, len(placeTimes), place.Round(time.Millisecond), perSec, run.Round(time.Millisecond), float64(benchPlaceTasks)/run.Seconds())
}

// waitServiceCounts polls DescribeServices of the cluster's service "tiny"
// every benchPlacePoll until cond holds, and returns when it first held.
func waitServiceCounts(b *testing.B, c *ecs.Client, cluster, what string, cond func(types.Service) bool) time.Time {
	b.Helper()
	deadline := time.Now().Add(benchPlaceWait)
	var last types.Service
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"tiny"}})
		cancel()
		now := time.Now()
		if err == nil && len(out.Services) == 1 {
			last = out.Services[0]
			if cond(last) {
				return now
			}
		}
		if now.After(deadline) {
			b.Fatalf("waited %v for %s; last error %v; service desired %d running %d pending %d", benchPlaceWait, what, err, last.DesiredCount, last.RunningCount, last.PendingCount)
		}
		time.Sleep(benchPlacePoll)
	}
}

// scaleToZero sets the service's desiredCount to 0 and waits until none of
// its tasks is left that is not STOPPED.
func scaleToZero(b *testing.B, c *ecs.Client, cluster string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchPlaceWait)
	defer cancel()
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("tiny"), DesiredCount: aws.Int32(0)}); err != nil {
		b.Errorf("scale to 0: %v", err)
		return
	}
	for {
		left, err := liveTasksOf(ctx, c, cluster, "tiny")
		if err == nil && left == 0 {
			return
		}
		if ctx.Err() != nil {
			b.Errorf("scale to 0: %d tasks not STOPPED after %v (last error %v)", left, benchPlaceWait, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveTasksOf counts the service's tasks that are not STOPPED (desired
// RUNNING, or stopping).
func liveTasksOf(ctx context.Context, c *ecs.Client, cluster, service string) (int, error) {
	var arns []string
	for _, d := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		p := ecs.NewListTasksPaginator(c, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredStatus: d})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return -1, err
			}
			arns = append(arns, page.TaskArns...)
		}
	}
	tasks, err := describeTasks(ctx, c, cluster, arns)
	if err != nil {
		return -1, err
	}
	n := 0
	for _, t := range tasks {
		if aws.ToString(t.LastStatus) != "STOPPED" {
			n++
		}
	}
	return n, nil
}
