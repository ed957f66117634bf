package render

import (
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The JSON shapes of -o json. Documented in docs/cli.md; golden files in
// testdata/ pin them.

// PS is `berth ps -o json`: services, then tasks.
type PS struct {
	Services []Service `json:"services"`
	Tasks    []Task    `json:"tasks"`
}

// Service is one ECS service.
type Service struct {
	Name    string `json:"name"`
	ARN     string `json:"arn"`
	Status  string `json:"status"` // ACTIVE, DRAINING, INACTIVE
	Desired int32  `json:"desired"`
	Running int32  `json:"running"`
	Pending int32  `json:"pending"`
	// TaskDefinition is the PRIMARY deployment's, as family:revision.
	TaskDefinition string `json:"taskDefinition"`
	// Rollout is the PRIMARY deployment's rolloutState: IN_PROGRESS,
	// COMPLETED or FAILED.
	Rollout     string       `json:"rollout"`
	Deployments []Deployment `json:"deployments"`
}

// Deployment is one deployment of a service.
type Deployment struct {
	ID             string `json:"id"`
	Status         string `json:"status"` // PRIMARY or ACTIVE
	TaskDefinition string `json:"taskDefinition"`
	Desired        int32  `json:"desired"`
	Running        int32  `json:"running"`
	Pending        int32  `json:"pending"`
	Failed         int32  `json:"failed"`
	Rollout        string `json:"rollout"`
	RolloutReason  string `json:"rolloutReason,omitempty"`
	CreatedAt      string `json:"createdAt,omitempty"` // RFC 3339, UTC
}

// Task is one task.
type Task struct {
	ID  string `json:"id"`
	ARN string `json:"arn"`
	// Service is the service the task belongs to ("" for a task started
	// by RunTask); Group is ECS's group (service:NAME or family:NAME).
	Service        string `json:"service,omitempty"`
	Group          string `json:"group"`
	TaskDefinition string `json:"taskDefinition"`
	LastStatus     string `json:"lastStatus"`
	DesiredStatus  string `json:"desiredStatus"`
	Health         string `json:"health"` // HEALTHY, UNHEALTHY or UNKNOWN
	// Instance is the container instance's ID; Host its host name.
	Instance      string      `json:"instance"`
	Host          string      `json:"host,omitempty"`
	Ports         []Port      `json:"ports"`
	Containers    []Container `json:"containers"`
	StartedAt     string      `json:"startedAt,omitempty"`
	StoppedReason string      `json:"stoppedReason,omitempty"`
}

// Port is one published port of a task's container.
type Port struct {
	Container     string `json:"container"`
	ContainerPort int32  `json:"containerPort"`
	HostPort      int32  `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

// Container is one container of a task.
type Container struct {
	Name       string `json:"name"`
	LastStatus string `json:"lastStatus"`
	Health     string `json:"health"`
	ExitCode   *int32 `json:"exitCode,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Instances is `berth instances -o json`.
type Instances struct {
	Instances []Instance `json:"instances"`
}

// Instance is one container instance.
type Instance struct {
	ID             string            `json:"id"`
	ARN            string            `json:"arn"`
	Status         string            `json:"status"` // ACTIVE, DRAINING, …
	AgentConnected bool              `json:"agentConnected"`
	Host           string            `json:"host,omitempty"`
	RunningTasks   int32             `json:"runningTasks"`
	PendingTasks   int32             `json:"pendingTasks"`
	CPU            Capacity          `json:"cpu"`    // CPU units, 1024 a core
	Memory         Capacity          `json:"memory"` // MiB
	Attributes     map[string]string `json:"attributes"`
}

// Capacity is a resource an instance offers and what is left of it.
type Capacity struct {
	Registered int32 `json:"registered"`
	Remaining  int32 `json:"remaining"`
}

// Events is `berth events -o json` (with -f: one Event per line).
type Events struct {
	Events []Event `json:"events"`
}

// Event is one service event.
type Event struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
	Message   string `json:"message"`
}

// LogLine is one line of `berth logs -o json` and `berth run -o json`,
// printed one JSON object per line.
type LogLine struct {
	Timestamp string `json:"timestamp"` // RFC 3339 with milliseconds, UTC
	Task      string `json:"task"`      // task ID
	Container string `json:"container"`
	Message   string `json:"message"`
}

// Result is what deploy, rollback and scale print with -o json, and run
// when it has waited.
type Result struct {
	Service        string `json:"service,omitempty"`
	Task           string `json:"task,omitempty"` // run: the task ID
	TaskDefinition string `json:"taskDefinition"`
	Deployment     string `json:"deployment,omitempty"`
	// Outcome: COMPLETED, FAILED, ROLLED_BACK, TIMED_OUT, INTERRUPTED,
	// STARTED (not waited for), STOPPED (run).
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
	ExitCode int    `json:"exitCode"`
}

// ---- From the API's types ----

// LastPart is what follows the last '/' of an ARN (an ID or a name).
func LastPart(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// TaskDefName shortens a task definition ARN to family:revision.
func TaskDefName(arn string) string { return LastPart(arn) }

// Time formats t as RFC 3339 in UTC with milliseconds; "" for nil.
func Time(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// ServiceOf shapes an API service.
func ServiceOf(s types.Service) Service {
	out := Service{
		Name: aws.ToString(s.ServiceName), ARN: aws.ToString(s.ServiceArn), Status: aws.ToString(s.Status),
		Desired: s.DesiredCount, Running: s.RunningCount, Pending: s.PendingCount,
		TaskDefinition: TaskDefName(aws.ToString(s.TaskDefinition)),
		Deployments:    []Deployment{},
	}
	for _, d := range s.Deployments {
		dep := Deployment{
			ID: aws.ToString(d.Id), Status: aws.ToString(d.Status), TaskDefinition: TaskDefName(aws.ToString(d.TaskDefinition)),
			Desired: d.DesiredCount, Running: d.RunningCount, Pending: d.PendingCount, Failed: d.FailedTasks,
			Rollout: string(d.RolloutState), RolloutReason: aws.ToString(d.RolloutStateReason), CreatedAt: Time(d.CreatedAt),
		}
		if dep.Status == "PRIMARY" {
			out.TaskDefinition, out.Rollout = dep.TaskDefinition, dep.Rollout
		}
		out.Deployments = append(out.Deployments, dep)
	}
	return out
}

// TaskOf shapes an API task; hosts maps container instance ARNs to their
// host names.
func TaskOf(t types.Task, hosts map[string]string) Task {
	group := aws.ToString(t.Group)
	out := Task{
		ID: LastPart(aws.ToString(t.TaskArn)), ARN: aws.ToString(t.TaskArn), Group: group,
		TaskDefinition: TaskDefName(aws.ToString(t.TaskDefinitionArn)),
		LastStatus:     aws.ToString(t.LastStatus), DesiredStatus: aws.ToString(t.DesiredStatus),
		Health: string(t.HealthStatus), StartedAt: Time(t.StartedAt), StoppedReason: aws.ToString(t.StoppedReason),
		Ports: []Port{}, Containers: []Container{},
	}
	if out.Health == "" {
		out.Health = "UNKNOWN"
	}
	if name, ok := strings.CutPrefix(group, "service:"); ok {
		out.Service = name
	}
	if ci := aws.ToString(t.ContainerInstanceArn); ci != "" {
		out.Instance = LastPart(ci)
		out.Host = hosts[ci]
	}
	for _, c := range t.Containers {
		name := aws.ToString(c.Name)
		health := string(c.HealthStatus)
		if health == "" {
			health = "UNKNOWN"
		}
		out.Containers = append(out.Containers, Container{Name: name, LastStatus: aws.ToString(c.LastStatus), Health: health, ExitCode: c.ExitCode, Reason: aws.ToString(c.Reason)})
		for _, nb := range c.NetworkBindings {
			out.Ports = append(out.Ports, Port{Container: name, ContainerPort: aws.ToInt32(nb.ContainerPort), HostPort: aws.ToInt32(nb.HostPort), Protocol: string(nb.Protocol)})
		}
	}
	return out
}

// InstanceOf shapes an API container instance.
func InstanceOf(ci types.ContainerInstance) Instance {
	out := Instance{
		ID: LastPart(aws.ToString(ci.ContainerInstanceArn)), ARN: aws.ToString(ci.ContainerInstanceArn),
		Status: aws.ToString(ci.Status), AgentConnected: ci.AgentConnected, Host: aws.ToString(ci.Ec2InstanceId),
		RunningTasks: ci.RunningTasksCount, PendingTasks: ci.PendingTasksCount,
		CPU:        Capacity{resource(ci.RegisteredResources, "CPU"), resource(ci.RemainingResources, "CPU")},
		Memory:     Capacity{resource(ci.RegisteredResources, "MEMORY"), resource(ci.RemainingResources, "MEMORY")},
		Attributes: map[string]string{},
	}
	for _, a := range ci.Attributes {
		out.Attributes[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return out
}

func resource(rs []types.Resource, name string) int32 {
	i := slices.IndexFunc(rs, func(r types.Resource) bool { return aws.ToString(r.Name) == name })
	if i < 0 {
		return 0
	}
	return rs[i].IntegerValue
}

// EventsOf shapes a service's events oldest first (the API lists them
// newest first).
func EventsOf(evs []types.ServiceEvent) []Event {
	out := make([]Event, 0, len(evs))
	for _, e := range slices.Backward(evs) {
		out = append(out, Event{ID: aws.ToString(e.Id), CreatedAt: Time(e.CreatedAt), Message: aws.ToString(e.Message)})
	}
	return out
}
