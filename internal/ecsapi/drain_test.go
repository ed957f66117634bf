package ecsapi

import (
	"path"
	"testing"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

const testTargetGroup = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

// runningServiceTask launches one task of a service (behind a target
// group when lb) and reports it RUNNING; it returns the task ARN and the
// instance ID.
func runningServiceTask(t *testing.T, f *taskFixture, lb bool) (string, string) {
	t.Helper()
	ci := f.instance("default", 1024, 2048)
	id := path.Base(ci.ContainerInstanceArn)
	def := webDef("web", 256, 512)
	def.ContainerDefinitions[0].PortMappings = []ecs.PortMapping{{ContainerPort: ptr(int32(80)), HostPort: ptr(int32(0)), Protocol: "tcp"}}
	dep := f.service("web", f.taskDef(def), 1, func(in *ecs.CreateServiceRequest) {
		if lb {
			in.LoadBalancers = []ecs.LoadBalancer{{TargetGroupArn: testTargetGroup, ContainerName: "web", ContainerPort: ptr(int32(80))}}
		}
	})
	tasks, _, err := f.s.LaunchServiceTasks(bg, "default", "web", dep, 1)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("LaunchServiceTasks: %v, %d tasks", err, len(tasks))
	}
	arn := tasks[0].TaskArn
	if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: id,
		Tasks: []agent.TaskStatus{{TaskArn: arn, LastStatus: "RUNNING", StartedAt: ecs.NewTime(f.clk.Now())}}}); err != nil {
		t.Fatal(err)
	}
	return arn, id
}

// agentDesired is the desiredStatus the instance's agent is given for arn.
// While the task drains, the agent must see a plain RUNNING task (a
// restarted agent takes a lastStatus past RUNNING for a stop under way).
func agentDesired(t *testing.T, f *taskFixture, instanceID, arn string) string {
	t.Helper()
	tasks, _, err := f.s.AgentTasks(bg, "default", instanceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range tasks {
		if at.Task.TaskArn == arn {
			if at.Task.DesiredStatus == "RUNNING" && at.Task.LastStatus != "RUNNING" {
				t.Errorf("agent given lastStatus %s with desiredStatus RUNNING, want RUNNING", at.Task.LastStatus)
			}
			return at.Task.DesiredStatus
		}
	}
	t.Fatalf("task %s not in the agent's desired state", arn)
	return ""
}

func TestStopDrainsLoadBalancedTaskFirst(t *testing.T) {
	for _, via := range []string{"StopTask", "StopTasks"} {
		t.Run(via, func(t *testing.T) {
			f := newTaskFixture(t)
			arn, inst := runningServiceTask(t, f, true)
			switch via {
			case "StopTask":
				if _, err := f.s.StopTask(bg, &ecs.StopTaskRequest{Task: arn}); err != nil {
					t.Fatal(err)
				}
			default:
				if err := f.s.StopTasks(bg, "default", []TaskStop{{TaskArn: arn, StopCode: ecs.TaskStopCodeServiceSchedulerInitiated, Reason: "scale in"}}); err != nil {
					t.Fatal(err)
				}
			}
			tk := f.task(arn)
			if tk.LastStatus != "DEACTIVATING" || tk.DesiredStatus != "STOPPED" {
				t.Fatalf("got lastStatus %s desiredStatus %s, want DEACTIVATING STOPPED", tk.LastStatus, tk.DesiredStatus)
			}
			if got := agentDesired(t, f, inst, arn); got != "RUNNING" {
				t.Errorf("agent told %s while draining, want RUNNING", got)
			}
			// The agent's RUNNING reports do not move it back.
			if _, err := f.s.ReportTaskStatus(bg, &agent.StatusReport{Cluster: "default", InstanceID: inst,
				Tasks: []agent.TaskStatus{{TaskArn: arn, LastStatus: "RUNNING", HealthStatus: "HEALTHY"}}}); err != nil {
				t.Fatal(err)
			}
			if got := f.task(arn).LastStatus; got != "DEACTIVATING" {
				t.Errorf("after a RUNNING report: lastStatus %s, want DEACTIVATING", got)
			}
			ok, err := f.s.ReleaseDrained(bg, "default", arn)
			if err != nil || !ok {
				t.Fatalf("ReleaseDrained: %v, %v; want released", ok, err)
			}
			if got := f.task(arn).LastStatus; got != "STOPPING" {
				t.Errorf("released: lastStatus %s, want STOPPING", got)
			}
			if got := agentDesired(t, f, inst, arn); got != "STOPPED" {
				t.Errorf("released: agent told %s, want STOPPED", got)
			}
			if ok, err := f.s.ReleaseDrained(bg, "default", arn); err != nil || ok {
				t.Errorf("second ReleaseDrained: %v, %v; want nothing done", ok, err)
			}
		})
	}
}

func TestStopWithoutLoadBalancerGoesStraightToAgent(t *testing.T) {
	f := newTaskFixture(t)
	arn, inst := runningServiceTask(t, f, false)
	if _, err := f.s.StopTask(bg, &ecs.StopTaskRequest{Task: arn}); err != nil {
		t.Fatal(err)
	}
	if got := f.task(arn).LastStatus; got != "RUNNING" {
		t.Errorf("lastStatus %s, want RUNNING (no load balancer to leave)", got)
	}
	if got := agentDesired(t, f, inst, arn); got != "STOPPED" {
		t.Errorf("agent told %s, want STOPPED", got)
	}
}
