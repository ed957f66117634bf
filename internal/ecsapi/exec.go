package ecsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/internal/state"
)

// ExecSessions opens exec sessions (implemented by *execbroker.Broker):
// req names the task, container and command; the session is run by the
// agent of cluster/instanceID.
type ExecSessions interface {
	Open(ctx context.Context, cluster, instanceID string, req agent.ExecSession) (ecs.Session, error)
}

// maxExecCommand bounds ExecuteCommand's command string.
const maxExecCommand = 8192

// ExecuteCommand opens an exec session in a RUNNING task's container and
// returns how to attach to it: session.streamUrl is berth's own stream on
// the API endpoint (an HTTP/1.1 upgrade, see api/exec), not an SSM
// websocket, and session.tokenValue its one-time token, which expires
// unused after 30 s. `berth exec` is the client.
//
// Differences from ECS: the command string is split into arguments with
// shell quoting rules and run without a shell (api/exec.Split), so
// containers without one can be exec'd into; the task need not have been
// run with enableExecuteCommand (berth injects no agent into tasks);
// interactive must be true, as in ECS. A task of one container needs no
// container name.
func (s *Service) ExecuteCommand(ctx context.Context, in *ecs.ExecuteCommandRequest) (*ecs.ExecuteCommandResponse, error) {
	if s.exec == nil {
		return nil, awsErr(ecs.ErrUnsupportedFeature, "ExecuteCommand is not enabled on this server.")
	}
	if !in.Interactive {
		return nil, errInvalidParameter("interactive: only interactive mode is supported; set it to true")
	}
	if len(in.Command) > maxExecCommand {
		return nil, errInvalidParameter("command: at most %d characters", maxExecCommand)
	}
	args, err := exec.Split(in.Command)
	if errors.Is(err, exec.ErrBadQuoting) {
		return nil, errInvalidParameter("command: unterminated quote or trailing backslash")
	}
	if err != nil || len(args) == 0 {
		return nil, errInvalidParameter("command: must name a program to run")
	}
	name, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	refCluster, id, err := idRef(in.Task, "task", "task")
	if err != nil {
		return nil, err
	}
	rec, err := state.Get[ecs.Task](ctx, s.st, state.TaskKey(name, id))
	if (refCluster != "" && refCluster != name) || state.IsNotFound(err) {
		return nil, errInvalidParameter("task: " + msgTaskNotFound)
	}
	if err != nil {
		return nil, errServer(err)
	}
	t := rec.Value
	if t.LastStatus != taskStatusRunning || t.DesiredStatus != taskStatusRunning {
		return nil, errInvalidParameter("task: the task must be RUNNING to execute a command; it is %s (desired %s)", t.LastStatus, t.DesiredStatus)
	}
	c, err := execContainer(t, in.Container)
	if err != nil {
		return nil, err
	}
	_, instID, err := idRef(t.ContainerInstanceArn, "container-instance", "containerInstanceArn")
	if err != nil {
		return nil, errServer(fmt.Errorf("task %s: container instance %q: %w", id, t.ContainerInstanceArn, err))
	}
	inst, err := state.Get[ecs.ContainerInstance](ctx, s.st, state.InstanceKey(name, instID))
	if state.IsNotFound(err) || (err == nil && !inst.Value.AgentConnected) {
		return nil, awsErr(ecs.ErrTargetNotConnected, "The execute command failed because the agent of container instance %s is not connected.", instID)
	}
	if err != nil {
		return nil, errServer(err)
	}
	sess, err := s.exec.Open(ctx, name, instID, agent.ExecSession{TaskArn: t.TaskArn, Container: c.Name, Command: args})
	if err != nil {
		return nil, errServer(err)
	}
	s.log.Info("exec session opened", "session", sess.SessionId, "task", t.TaskArn, "container", c.Name)
	return &ecs.ExecuteCommandResponse{
		ClusterArn: t.ClusterArn, TaskArn: t.TaskArn, ContainerArn: c.ContainerArn, ContainerName: c.Name,
		Interactive: true, Session: &sess,
	}, nil
}

// execContainer picks the container to run in: the one named, or the only
// one. It must be RUNNING.
func execContainer(t *ecs.Task, name string) (*ecs.Container, error) {
	var c *ecs.Container
	switch {
	case name == "" && len(t.Containers) == 1:
		c = &t.Containers[0]
	case name == "":
		return nil, errInvalidParameter("container: the task has %d containers; name the one to execute the command in", len(t.Containers))
	default:
		for i := range t.Containers {
			if t.Containers[i].Name == name {
				c = &t.Containers[i]
			}
		}
		if c == nil {
			return nil, errInvalidParameter("container: the task has no container named %q", name)
		}
	}
	if c.LastStatus != taskStatusRunning {
		return nil, errInvalidParameter("container: container %s must be RUNNING to execute a command; it is %s", c.Name, c.LastStatus)
	}
	return c, nil
}
