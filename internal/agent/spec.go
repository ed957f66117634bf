package agent

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
)

// LabelAgent is the label that marks a container as created by one agent
// (the agent ID in <data-dir>/instance.json): the agent re-adopts and
// cleans up only containers that carry its own ID, so agents that share a
// container engine leave each other's containers alone. It is not in the
// reserved berth. namespace, which the runtime keeps for its own labels.
const LabelAgent = "io.berth.agent"

// withOverride returns def with the task's container override applied, as
// ECS applies it: command, cpu, memory and memoryReservation replace the
// definition's; environment variables are added, replacing those of the
// same name.
func withOverride(def ecs.ContainerDefinition, ov *ecs.ContainerOverride) ecs.ContainerDefinition {
	if ov == nil {
		return def
	}
	if ov.Command != nil {
		def.Command = slices.Clone(ov.Command)
	}
	if ov.Cpu != nil {
		def.Cpu = *ov.Cpu
	}
	if ov.Memory != nil {
		def.Memory = ov.Memory
	}
	if ov.MemoryReservation != nil {
		def.MemoryReservation = ov.MemoryReservation
	}
	if len(ov.Environment) > 0 {
		env := slices.Clone(def.Environment)
		for _, kv := range ov.Environment {
			if i := slices.IndexFunc(env, func(e ecs.KeyValuePair) bool { return e.Name == kv.Name }); i >= 0 {
				env[i] = kv
			} else {
				env = append(env, kv)
			}
		}
		def.Environment = env
	}
	return def
}

// overrideFor finds the container override of name in o.
func overrideFor(o *ecs.TaskOverride, name string) *ecs.ContainerOverride {
	if o == nil {
		return nil
	}
	for i := range o.ContainerOverrides {
		if o.ContainerOverrides[i].Name == name {
			return &o.ContainerOverrides[i]
		}
	}
	return nil
}

// essential reports whether a container definition is essential (the
// default).
func essential(def ecs.ContainerDefinition) bool { return def.Essential == nil || *def.Essential }

// seconds converts an optional ECS seconds field.
func seconds(v *int32) time.Duration {
	if v == nil || *v <= 0 {
		return 0
	}
	return time.Duration(*v) * time.Second
}

// containerSpec maps a container definition (overrides applied) onto the
// runtime's ContainerSpec. It does no I/O; the runtime validates the result
// again in Create.
// publish, when valid, is the host address port mappings bind
// (Config.PublishAddress); else the runtime's default, 127.0.0.1.
func containerSpec(cluster, agentID, taskID string, def ecs.ContainerDefinition, publish netip.Addr) (runtime.ContainerSpec, error) {
	spec := runtime.ContainerSpec{
		Cluster:    cluster,
		Task:       taskID,
		Name:       def.Name,
		Image:      def.Image,
		EntryPoint: slices.Clone(def.EntryPoint),
		Command:    slices.Clone(def.Command),
		WorkingDir: def.WorkingDirectory,
		User:       def.User,
		CPUShares:  int64(def.Cpu),
	}
	if def.Memory != nil {
		spec.MemoryMiB = int64(*def.Memory)
	}
	if def.MemoryReservation != nil {
		spec.MemoryReservationMiB = int64(*def.MemoryReservation)
	}
	if len(def.Environment) > 0 {
		spec.Env = make(map[string]string, len(def.Environment))
		for _, kv := range def.Environment {
			spec.Env[kv.Name] = kv.Value
		}
	}
	spec.Labels = maps.Clone(def.DockerLabels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	if agentID != "" {
		spec.Labels[LabelAgent] = agentID
	}
	for i, pm := range def.PortMappings {
		f := fmt.Sprintf("portMappings[%d]", i)
		if pm.ContainerPort == nil {
			return spec, fmt.Errorf("%s: containerPort is required (port ranges are not supported)", f)
		}
		m := runtime.PortMapping{Protocol: runtime.Protocol(strings.ToLower(pm.Protocol)), HostIP: publish}
		if *pm.ContainerPort < 1 || *pm.ContainerPort > 65535 {
			return spec, fmt.Errorf("%s.containerPort: %d is not a port", f, *pm.ContainerPort)
		}
		m.ContainerPort = uint16(*pm.ContainerPort)
		if pm.HostPort != nil {
			if *pm.HostPort < 0 || *pm.HostPort > 65535 {
				return spec, fmt.Errorf("%s.hostPort: %d is not a port", f, *pm.HostPort)
			}
			m.HostPort = uint16(*pm.HostPort)
		}
		spec.PortMappings = append(spec.PortMappings, m)
	}
	for _, u := range def.Ulimits {
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: u.Name, Soft: int64(u.SoftLimit), Hard: int64(u.HardLimit)})
	}
	spec.StopTimeout = seconds(def.StopTimeout)
	if lp := def.LinuxParameters; lp != nil && lp.InitProcessEnabled != nil {
		spec.InitProcessEnabled = *lp.InitProcessEnabled
	}
	if hc := def.HealthCheck; hc != nil {
		spec.HealthCheck = &runtime.HealthCheck{
			Command:     slices.Clone(hc.Command),
			Interval:    seconds(hc.Interval),
			Timeout:     seconds(hc.Timeout),
			StartPeriod: seconds(hc.StartPeriod),
		}
		if hc.Retries != nil {
			spec.HealthCheck.Retries = int(*hc.Retries)
		}
	}
	return spec, nil
}

// logNames returns the CloudWatch-style group and stream a container's
// output is stored under: the awslogs-group and awslogs-stream-prefix
// options of its logConfiguration when given (stream
// <prefix>/<container>/<task id>), else group /berth/<family> and stream
// <container>/<task id>.
func logNames(family, taskID string, def ecs.ContainerDefinition) (group, stream string) {
	var opts map[string]string
	if def.LogConfiguration != nil {
		opts = def.LogConfiguration.Options
	}
	group = opts["awslogs-group"]
	if group == "" {
		group = "/berth/" + family
	}
	stream = def.Name + "/" + taskID
	if p := opts["awslogs-stream-prefix"]; p != "" {
		stream = p + "/" + stream
	}
	return group, stream
}

// taskIDOf returns the ID at the end of a task ARN
// (arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID).
func taskIDOf(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// ---- Starting in dependency order ----

// cstate is the agent's view of one container.
type cstate int

const (
	cNone    cstate = iota // not created yet
	cCreated               // created, not started
	cRunning               // started and running
	cExited                // ran and exited (or was removed)
)

// depView is what planStart needs to know about one container.
type depView struct {
	Name         string
	State        cstate
	ExitCode     *int32
	Health       runtime.Health
	HasHealth    bool
	DependsOn    []ecs.ContainerDependency
	StartTimeout time.Duration
}

// startPlan is planStart's decision.
type startPlan struct {
	// Start are the containers to start now, in definition order.
	Start []string
	// Ready is true when every container has started (it is running or
	// has exited): the task can move on to ACTIVATING.
	Ready bool
	// Failed, when set, explains why a container can never start; the
	// task must stop with TaskFailedToStart.
	Failed string
	// Poll is true when a container waits for something only a later
	// inspection can show (a HEALTHY dependency, a start timeout).
	Poll bool
}

// planStart decides which created containers can start now, given the
// dependsOn conditions of each:
//
//	START     the dependency has started (it is running or has exited)
//	COMPLETE  the dependency has exited
//	SUCCESS   the dependency has exited with code 0
//	HEALTHY   the dependency's health check reports HEALTHY
//
// A condition that can never hold any more (SUCCESS of a container that
// exited non-zero, HEALTHY of one that exited or has no health check, a
// dependency that is not in the task or can itself never start) fails the
// plan, as does a dependency that is still unresolved startTimeout after
// the task began starting (pendingFor).
func planStart(cs []depView, pendingFor time.Duration) startPlan {
	byName := make(map[string]*depView, len(cs))
	for i := range cs {
		byName[cs[i].Name] = &cs[i]
	}
	if cycle := dependencyCycle(cs); cycle != "" {
		return startPlan{Failed: "container dependencies form a cycle: " + cycle}
	}
	// never[name] explains why a not-yet-started container can never start.
	never := map[string]string{}
	for changed := true; changed; {
		changed = false
		for _, c := range cs {
			if c.State != cCreated || never[c.Name] != "" {
				continue
			}
			for _, d := range c.DependsOn {
				if why := unsatisfiable(c.Name, d, byName, never); why != "" {
					never[c.Name] = why
					changed = true
					break
				}
			}
		}
	}
	var p startPlan
	ready := true
	for _, c := range cs {
		if c.State != cRunning && c.State != cExited {
			ready = false
		}
		if c.State != cCreated {
			continue
		}
		if why := never[c.Name]; why != "" {
			return startPlan{Failed: why}
		}
		ok := true
		for _, d := range c.DependsOn {
			if !satisfied(d, byName[d.ContainerName]) {
				ok = false
				if d.Condition == ecs.ContainerConditionHEALTHY {
					p.Poll = true
				}
			}
		}
		switch {
		case ok:
			p.Start = append(p.Start, c.Name)
		case c.StartTimeout > 0 && pendingFor >= c.StartTimeout:
			return startPlan{Failed: fmt.Sprintf("container %s: dependencies not resolved within its startTimeout of %v", c.Name, c.StartTimeout)}
		case c.StartTimeout > 0:
			p.Poll = true
		}
	}
	p.Ready = ready
	return p
}

// satisfied reports whether dependency condition d holds for dep.
func satisfied(d ecs.ContainerDependency, dep *depView) bool {
	if dep == nil {
		return false
	}
	switch d.Condition {
	case ecs.ContainerConditionSTART, "":
		return dep.State == cRunning || dep.State == cExited
	case ecs.ContainerConditionCOMPLETE:
		return dep.State == cExited
	case ecs.ContainerConditionSUCCESS:
		return dep.State == cExited && dep.ExitCode != nil && *dep.ExitCode == 0
	case ecs.ContainerConditionHEALTHY:
		return dep.State == cRunning && dep.Health == runtime.HealthHealthy
	}
	return false
}

// unsatisfiable explains why container name's dependency d can never hold,
// or returns "".
func unsatisfiable(name string, d ecs.ContainerDependency, byName map[string]*depView, never map[string]string) string {
	dep := byName[d.ContainerName]
	if dep == nil {
		return fmt.Sprintf("container %s depends on %s, which is not in the task", name, d.ContainerName)
	}
	if why := never[dep.Name]; why != "" {
		return fmt.Sprintf("container %s depends on %s, which cannot start (%s)", name, dep.Name, why)
	}
	switch d.Condition {
	case ecs.ContainerConditionSTART, "", ecs.ContainerConditionCOMPLETE:
		return ""
	case ecs.ContainerConditionSUCCESS:
		if dep.State == cExited && (dep.ExitCode == nil || *dep.ExitCode != 0) {
			return fmt.Sprintf("container %s depends on %s succeeding (SUCCESS), but it exited with %s", name, dep.Name, exitCodeText(dep.ExitCode))
		}
		return ""
	case ecs.ContainerConditionHEALTHY:
		if !dep.HasHealth {
			return fmt.Sprintf("container %s depends on %s being HEALTHY, but %s has no health check", name, dep.Name, dep.Name)
		}
		if dep.State == cExited {
			return fmt.Sprintf("container %s depends on %s being HEALTHY, but it exited with %s", name, dep.Name, exitCodeText(dep.ExitCode))
		}
		return ""
	default:
		return fmt.Sprintf("container %s: dependency condition %q is not START, COMPLETE, SUCCESS or HEALTHY", name, d.Condition)
	}
}

func exitCodeText(code *int32) string {
	if code == nil {
		return "an unknown exit code"
	}
	return fmt.Sprintf("exit code %d", *code)
}

// dependencyCycle returns a cycle of dependsOn ("a -> b -> a"), or "".
func dependencyCycle(cs []depView) string {
	deps := make(map[string][]string, len(cs))
	for _, c := range cs {
		for _, d := range c.DependsOn {
			deps[c.Name] = append(deps[c.Name], d.ContainerName)
		}
	}
	const (
		unvisited = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(n string) string
	visit = func(n string) string {
		switch mark[n] {
		case onPath:
			i := slices.Index(path, n)
			return strings.Join(append(slices.Clone(path[i:]), n), " -> ")
		case done:
			return ""
		}
		mark[n] = onPath
		path = append(path, n)
		for _, d := range deps[n] {
			if c := visit(d); c != "" {
				return c
			}
		}
		path = path[:len(path)-1]
		mark[n] = done
		return ""
	}
	for _, c := range cs {
		if cyc := visit(c.Name); cyc != "" {
			return cyc
		}
	}
	return ""
}

// stopWaves orders containers for stopping: reverse dependency order, a
// container only after every container that depends on it. Containers in
// one wave are stopped together. defs gives each container's dependencies,
// in definition order.
func stopWaves(names []string, dependsOn map[string][]string) [][]string {
	left := slices.Clone(names)
	var waves [][]string
	for len(left) > 0 {
		var wave, rest []string
		for _, n := range left {
			needed := false
			for _, m := range left {
				if m != n && slices.Contains(dependsOn[m], n) {
					needed = true
					break
				}
			}
			if needed {
				rest = append(rest, n)
			} else {
				wave = append(wave, n)
			}
		}
		if len(wave) == 0 { // a cycle: stop what is left together
			wave, rest = rest, nil
		}
		waves = append(waves, wave)
		left = rest
	}
	return waves
}

// healthView is what taskHealth needs to know about one container.
type healthView struct {
	Essential bool
	HasHealth bool
	Health    runtime.Health
}

// taskHealth is the task's healthStatus as ECS derives it from the
// essential containers that have a health check: UNHEALTHY when any of
// them is, HEALTHY when all of them are, else UNKNOWN (also when no
// essential container has a check).
func taskHealth(cs []healthView) string {
	checked, healthy := 0, 0
	for _, c := range cs {
		if !c.Essential || !c.HasHealth {
			continue
		}
		checked++
		switch c.Health {
		case runtime.HealthUnhealthy:
			return ecs.HealthStatusUNHEALTHY
		case runtime.HealthHealthy:
			healthy++
		}
	}
	if checked > 0 && healthy == checked {
		return ecs.HealthStatusHEALTHY
	}
	return ecs.HealthStatusUNKNOWN
}

// pinnedImage is the image reference a container runs: image itself, or,
// when the server pinned the task's deployment to a digest, image@digest
// (the digest decides; the Docker runtime creates the container from the
// image ID it resolves, so `docker ps` shows that ID). Host binaries
// (process://) and references naming a digest already are not pinned.
func pinnedImage(image, digest string) string {
	if digest == "" || strings.HasPrefix(image, "process://") || strings.Contains(image, "@") {
		return image
	}
	return image + "@" + digest
}

// taskContainerDigest is the image digest the task record gives container
// name, if any.
func taskContainerDigest(t *ecs.Task, name string) string {
	for _, c := range t.Containers {
		if c.Name == name {
			return c.ImageDigest
		}
	}
	return ""
}
