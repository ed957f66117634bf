package ecsapi

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/scheduler"
	"github.com/berth-io/berth/internal/state"
)

// Placement of RunTask's and the service controller's tasks goes through
// internal/scheduler: the candidates (ACTIVE, agent-connected instances, as
// the callers' own copies) and what the tasks need are turned into the
// scheduler's terms, and each placement it makes is reserved on the chosen
// copy, which the caller then commits with compare-and-swap.

// scheduleLocked places count tasks of l on cands with the given
// strategies and l's constraints, reserving on the chosen candidates in
// place. groups holds, per instance ARN, the live task counts per task
// group. s.mu must be held (the placer's scratch memory is shared).
func (s *Service) scheduleLocked(l *taskLaunch, cands []*ecs.ContainerInstance, count int, strategies []ecs.PlacementStrategy, groups map[string]map[string]int) ([]*ecs.ContainerInstance, []ecs.Failure) {
	insts := make([]scheduler.Instance, len(cands))
	for i, ci := range cands {
		g := groups[ci.ContainerInstanceArn]
		names := make([]string, 0, len(g))
		for name := range g {
			names = append(names, name)
		}
		insts[i] = scheduler.Instance{
			ARN:           ci.ContainerInstanceArn,
			ID:            instanceIDOf(ci),
			Eligible:      true,
			CPU:           resourceInt(ci.RemainingResources, resourceCPU),
			Memory:        resourceInt(ci.RemainingResources, resourceMemory),
			TakenPorts:    portSet(findResource(ci.RemainingResources, resourcePorts)),
			TakenUDPPorts: portSet(findResource(ci.RemainingResources, resourcePortsUDP)),
			Facts:         *instanceFacts(ci, names),
			GroupCounts:   g,
		}
	}
	dynTCP, dynUDP := dynamicHostPorts(&l.td.TaskDefinition)
	req := scheduler.Request{
		Count: count,
		Need: scheduler.Need{CPU: l.need.cpu, Memory: l.need.memory, Ports: toPorts(l.need.tcp), UDPPorts: toPorts(l.need.udp),
			DynamicPorts: dynTCP, DynamicUDPPorts: dynUDP},
		Group: l.group,
	}
	for _, st := range strategies {
		req.Strategies = append(req.Strategies, scheduler.Strategy{Type: st.Type, Field: st.Field})
	}
	for _, e := range l.constraints.memberOf {
		req.Constraints = append(req.Constraints, scheduler.Constraint{Type: scheduler.ConstraintMemberOf, Expr: e})
	}
	if l.constraints.distinct {
		req.Constraints = append(req.Constraints, scheduler.Constraint{Type: scheduler.ConstraintDistinctInstance})
	}
	res := s.placer.Place(req, insts, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	placed := make([]*ecs.ContainerInstance, 0, len(res.Placements))
	for _, i := range res.Placements {
		reserveOnInstance(cands[i], l.need)
		placed = append(placed, cands[i])
	}
	failures := make([]ecs.Failure, 0, len(res.Failures))
	for _, f := range res.Failures {
		failures = append(failures, ecs.Failure{Arn: f.ARN, Reason: f.Reason, Detail: f.Detail})
	}
	return placed, failures
}

// groupsByInstance counts the live (not STOPPED) tasks of a cluster per
// instance ARN and task group, from the index when it is fresh.
func (s *Service) groupsByInstance(ctx context.Context, cluster string) (map[string]map[string]int, error) {
	if s.freshCache(ctx) {
		return s.cache.GroupsByInstance(cluster), nil
	}
	tasks, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(cluster))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]int{}
	for _, r := range tasks {
		t := r.Value
		if t.LastStatus == taskStatusStopped || t.ContainerInstanceArn == "" {
			continue
		}
		m := out[t.ContainerInstanceArn]
		if m == nil {
			m = map[string]int{}
			out[t.ContainerInstanceArn] = m
		}
		m[t.Group]++
	}
	return out, nil
}

// dynamicHostPorts counts the port mappings of a bridge-mode task that
// leave the host port to the agent (hostPort absent or 0).
func dynamicHostPorts(td *ecs.TaskDefinition) (tcp, udp int) {
	if td.NetworkMode != "" && td.NetworkMode != ecs.NetworkModeBridge {
		return 0, 0
	}
	for _, cd := range td.ContainerDefinitions {
		for _, pm := range cd.PortMappings {
			if pm.HostPort != nil && *pm.HostPort != 0 {
				continue
			}
			if strings.EqualFold(pm.Protocol, ecs.TransportProtocolUdp) {
				udp++
			} else {
				tcp++
			}
		}
	}
	return tcp, udp
}

func portSet(r *ecs.Resource) map[uint16]bool {
	if r == nil {
		return nil
	}
	m := make(map[uint16]bool, len(r.StringSetValue))
	for _, p := range r.StringSetValue {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			m[uint16(n)] = true
		}
	}
	return m
}

func toPorts(ps []string) []uint16 {
	out := make([]uint16, 0, len(ps))
	for _, p := range ps {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			out = append(out, uint16(n))
		}
	}
	return out
}
