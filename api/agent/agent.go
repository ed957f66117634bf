// Package agent holds the wire types of berth's agent protocol: how a
// `berth agent` registers its host with the server, learns the tasks it
// must run, reports what it observes and ships container logs.
//
// The protocol is HTTP/JSON under /agent/v1/ on the server's API listener.
// Every call carries the cluster's join token as `Authorization: Bearer
// <token>`. It is level-triggered: the server always sends the complete
// desired state of an instance, and the agent always reports complete task
// status, so a lost message is repaired by the next one.
//
//	agent                                   server
//	  │ POST /agent/v1/register  ─────────▶   create/refresh container instance
//	  │ ◀───────────────── instance ARN + ID
//	  │ POST /agent/v1/poll {fingerprint} ──▶  long-poll (≤ WaitSeconds):
//	  │ ◀──── {fingerprint, tasks[]}            returns when this instance's
//	  │                                         desired tasks change; counts
//	  │                                         as a heartbeat
//	  │ POST /agent/v1/heartbeat ─────────▶   every HeartbeatInterval
//	  │ POST /agent/v1/status {tasks[]} ──▶   merge into task records
//	  │ POST /agent/v1/logs {streams[]} ──▶   append to the log store
//	  │ POST /agent/v1/exec  ─────────────▶   long-poll: exec sessions a
//	  │ ◀──── {sessions[]}                      client has attached to
//	  │ GET  /agent/v1/exec/<id> (Upgrade) ─▶  the session's stream
//
// See docs/agent-protocol.md for the full description.
package agent

import "github.com/berth-io/berth/api/ecs"

// Paths of the protocol's endpoints.
const (
	PathRegister  = "/agent/v1/register"
	PathPoll      = "/agent/v1/poll"
	PathHeartbeat = "/agent/v1/heartbeat"
	PathStatus    = "/agent/v1/status"
	PathLogs      = "/agent/v1/logs"
	// PathExec is the exec long-poll (POST ExecPollRequest); the agent
	// attaches to a session with an upgraded GET of PathExec/<session ID>
	// (see api/exec).
	PathExec = "/agent/v1/exec"
)

// RegisterRequest registers (or re-registers) a host as a container instance.
type RegisterRequest struct {
	// Cluster is the cluster to join; it is created if it does not exist
	// (as the ECS agent does for its cluster).
	Cluster string `json:"cluster"`
	// InstanceID is the ID a previous registration returned, kept in the
	// agent's data dir; empty registers a new instance.
	InstanceID string `json:"instanceId,omitzero"`
	// Hostname of the host, reported as the ec2InstanceId stand-in.
	Hostname string `json:"hostname,omitzero"`
	// CPU units (1024 per core) and memory (MiB) the host offers.
	CPU    int32 `json:"cpu"`
	Memory int32 `json:"memory"`
	// Attributes such as ecs.availability-zone, ecs.os-type, berth.runtime.
	Attributes []ecs.Attribute `json:"attributes,omitzero"`
	// AgentVersion is the berth version of the agent.
	AgentVersion string `json:"agentVersion,omitzero"`
}

// RegisterResponse is the registered instance.
type RegisterResponse struct {
	ContainerInstanceArn string `json:"containerInstanceArn"`
	InstanceID           string `json:"instanceId"`
	Cluster              string `json:"cluster"`
	// HeartbeatIntervalMs is how often the agent must heartbeat; missing
	// heartbeats for the server's timeout marks it disconnected.
	HeartbeatIntervalMs int64 `json:"heartbeatIntervalMs"`
}

// PollRequest asks for the instance's desired tasks.
type PollRequest struct {
	Cluster    string `json:"cluster"`
	InstanceID string `json:"instanceId"`
	// AfterRevision is the revision of the last PollResponse applied. Used
	// only without a Fingerprint: the server answers when anything about
	// the instance's tasks changed after it (at once when 0).
	AfterRevision int64 `json:"afterRevision"`
	WaitSeconds   int   `json:"waitSeconds,omitzero"`
	// Fingerprint is the one the last PollResponse carried. When given,
	// the server waits until the desired state differs from it (a task
	// added, removed, or its desiredStatus changed), so the agent's own
	// status reports do not wake its poll.
	Fingerprint string `json:"fingerprint,omitzero"`
}

// PollResponse is the complete desired state of an instance.
type PollResponse struct {
	// Revision identifies this desired state; pass it as AfterRevision.
	Revision int64 `json:"revision"`
	// Fingerprint identifies the desired state (task ARNs and their
	// desiredStatus); pass it back in the next PollRequest.
	Fingerprint string `json:"fingerprint"`
	// Tasks are every task assigned to the instance that is not yet
	// STOPPED in the server's records, with its desired status.
	Tasks []AssignedTask `json:"tasks"`
	// Deregistered is set when the instance no longer exists on the
	// server: the agent must stop its tasks and register again.
	Deregistered bool `json:"deregistered,omitzero"`
}

// AssignedTask is one task the instance must run (or stop).
type AssignedTask struct {
	Task           ecs.Task           `json:"task"`
	TaskDefinition ecs.TaskDefinition `json:"taskDefinition"`
}

// HeartbeatRequest says the agent is alive.
type HeartbeatRequest struct {
	Cluster    string `json:"cluster"`
	InstanceID string `json:"instanceId"`
}

// StatusReport carries the observed status of some of an instance's tasks.
type StatusReport struct {
	Cluster    string       `json:"cluster"`
	InstanceID string       `json:"instanceId"`
	Tasks      []TaskStatus `json:"tasks"`
}

// TaskStatus is the observed status of one task: the fields the agent owns
// in the ECS task shape.
type TaskStatus struct {
	TaskArn string `json:"taskArn"`
	// LastStatus is one of PROVISIONING, PENDING, ACTIVATING, RUNNING,
	// DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED. The server never
	// moves a task backwards.
	LastStatus    string `json:"lastStatus"`
	HealthStatus  string `json:"healthStatus,omitzero"`
	StopCode      string `json:"stopCode,omitzero"`
	StoppedReason string `json:"stoppedReason,omitzero"`

	PullStartedAt      *ecs.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt      *ecs.Time `json:"pullStoppedAt,omitzero"`
	StartedAt          *ecs.Time `json:"startedAt,omitzero"`
	StoppingAt         *ecs.Time `json:"stoppingAt,omitzero"`
	ExecutionStoppedAt *ecs.Time `json:"executionStoppedAt,omitzero"`
	StoppedAt          *ecs.Time `json:"stoppedAt,omitzero"`

	Containers []ContainerStatus `json:"containers"`
}

// ContainerStatus is the observed status of one container of a task.
type ContainerStatus struct {
	Name            string               `json:"name"`
	RuntimeID       string               `json:"runtimeId,omitzero"`
	LastStatus      string               `json:"lastStatus"`
	ExitCode        *int32               `json:"exitCode,omitzero"`
	Reason          string               `json:"reason,omitzero"`
	HealthStatus    string               `json:"healthStatus,omitzero"`
	Image           string               `json:"image,omitzero"`
	ImageDigest     string               `json:"imageDigest,omitzero"`
	NetworkBindings []ecs.NetworkBinding `json:"networkBindings,omitzero"`
}

// StatusResponse acknowledges a report.
type StatusResponse struct {
	// Unknown lists reported task ARNs the server has no record of (or no
	// longer assigns to this instance): the agent must stop and forget them.
	Unknown []string `json:"unknown,omitzero"`
}

// LogBatch ships captured container output.
type LogBatch struct {
	Cluster    string      `json:"cluster"`
	InstanceID string      `json:"instanceId"`
	Streams    []LogStream `json:"streams"`
}

// LogStream is output of one container: CloudWatch-style group and stream
// (from the container's awslogs options, or berth's defaults).
type LogStream struct {
	Group  string     `json:"group"`
	Stream string     `json:"stream"`
	Events []LogEvent `json:"events"`
}

// LogEvent is one line of output.
type LogEvent struct {
	// TimestampMs is when the agent read the line, epoch milliseconds.
	TimestampMs int64  `json:"timestamp"`
	Message     string `json:"message"`
}

// Error is the body of any non-2xx answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ExecPollRequest asks for exec sessions waiting for this instance's agent.
type ExecPollRequest struct {
	Cluster    string `json:"cluster"`
	InstanceID string `json:"instanceId"`
	// WaitSeconds bounds the long-poll (at most 30).
	WaitSeconds int `json:"waitSeconds,omitzero"`
}

// ExecPollResponse lists the sessions the agent must attach to, each once.
type ExecPollResponse struct {
	Sessions []ExecSession `json:"sessions,omitzero"`
}

// ExecSession is a command to run in a task's container, with a client
// waiting on the other end of its stream.
type ExecSession struct {
	SessionID string `json:"sessionId"`
	TaskArn   string `json:"taskArn"`
	Container string `json:"container"`
	// Command is the command and its arguments (no shell).
	Command []string `json:"command"`
	// TTY asks for a terminal of Rows x Cols (0: the runtime's default).
	TTY  bool   `json:"tty,omitzero"`
	Rows uint16 `json:"rows,omitzero"`
	Cols uint16 `json:"cols,omitzero"`
}
