// Package scheduler places tasks on container instances. Place is a pure
// function: (what to place, the instances with their remaining resources,
// attributes and tasks, the strategies and constraints) → which instance
// each task goes to, or why it could not be placed. It does no I/O, so it
// is table- and property-tested and benchmarked on its own. PickToStop is
// its counterpart for scale-in: which tasks of a group to stop.
//
// The algorithm, the order in which failures are explained and the
// benchmark figures are in README.md.
package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/berth-io/berth/internal/clusterquery"
)

// Instance is one container instance as the scheduler sees it. Place and
// PickToStop only read it.
type Instance struct {
	// ARN identifies the instance in failures.
	ARN string
	// ID is the instance ID (the spread field "instanceId").
	ID string
	// Eligible is false for instances that must get nothing new: not
	// ACTIVE (DRAINING) or agent disconnected. IneligibleReason says which
	// (ReasonDraining, ReasonAgent) for failures; empty reads as
	// ReasonAgent.
	Eligible         bool
	IneligibleReason string
	// Remaining CPU units and memory MiB.
	CPU, Memory int32
	// TakenPorts and TakenUDPPorts are host ports in use (reserved or held
	// by tasks, static or dynamically assigned).
	TakenPorts, TakenUDPPorts map[uint16]bool
	// Facts are what the cluster query language evaluates (attributes,
	// task groups, agent facts). Spread on attribute:NAME reads
	// Facts.Attributes[NAME].
	Facts clusterquery.Facts
	// GroupCounts counts the instance's tasks per task group (e.g.
	// "service:web"), for spread and distinctInstance. Place counts
	// exactly what it is given: leave out tasks that are about to stop
	// (or those on instances being drained) if they should not weigh.
	GroupCounts map[string]int
}

// Need is what one task requires.
//
// The caller works out Memory: per container the hard limit (memory), or
// the soft limit (memoryReservation) when only that is set, summed over
// the containers, or the task-level memory when the task definition sets
// one; CPU likewise. Place compares Need with Instance.CPU and
// Instance.Memory and nothing else.
type Need struct {
	CPU, Memory     int32
	Ports, UDPPorts []uint16 // static host ports
	// DynamicPorts and DynamicUDPPorts count container ports mapped to
	// host port 0 (bridge mode): the agent picks them in
	// DynamicPortFirst-DynamicPortLast, so an instance fits only while
	// that range has that many ports free.
	DynamicPorts, DynamicUDPPorts int
}

// The range dynamic host ports come from (the ECS agent's default
// ECS_DYNAMIC_HOST_PORT_RANGE).
const (
	DynamicPortFirst = 49153
	DynamicPortLast  = 65535
)

// Strategy is one placementStrategy item: Type random, spread or binpack;
// Field instanceId/host or attribute:NAME for spread, cpu or memory for
// binpack (case-insensitive), nothing for random.
type Strategy struct {
	Type, Field string
}

// Strategy types and fields.
const (
	StrategyRandom  = "random"
	StrategySpread  = "spread"
	StrategyBinpack = "binpack"

	FieldInstanceID      = "instanceId"
	FieldHost            = "host" // same as instanceId
	FieldCPU             = "cpu"
	FieldMemory          = "memory"
	FieldAttributePrefix = "attribute:"
)

// ServiceDefaultStrategies returns ECS's strategies for a service that
// names none: spread over availability zones, then over instances.
func ServiceDefaultStrategies() []Strategy {
	return []Strategy{
		{Type: StrategySpread, Field: FieldAttributePrefix + "ecs.availability-zone"},
		{Type: StrategySpread, Field: FieldInstanceID},
	}
}

// Constraint is one placement constraint: distinctInstance, or memberOf
// with its parsed expression.
type Constraint struct {
	Type string
	Expr clusterquery.Expr
}

// Constraint types.
const (
	ConstraintDistinctInstance = "distinctInstance"
	ConstraintMemberOf         = "memberOf"
)

// Request is what to place.
type Request struct {
	Count int
	Need  Need
	// Group is the tasks' group ("service:NAME" or "family:NAME"); spread
	// and distinctInstance count the tasks of this group (GroupCounts plus
	// the tasks placed earlier in the same call), and memberOf's
	// task:group sees it on instances that got a task in this call. An
	// empty Group counts only the tasks of this call.
	Group string
	// Strategies apply in order, each breaking the ties of the one
	// before; none means random. Strategies after a random one are
	// moot.
	Strategies []Strategy
	// Constraints are the task definition's and the caller's (RunTask
	// request or service) together; all must hold.
	Constraints []Constraint
}

// Validate reports a request Place would not honour in full: a negative
// count or need, an unknown strategy or constraint type, a field the
// strategy does not take, or a memberOf without an expression. Place
// ignores what Validate rejects rather than failing.
func (r *Request) Validate() error {
	switch {
	case r.Count < 0:
		return fmt.Errorf("count: must not be negative, got %d", r.Count)
	case r.Need.CPU < 0 || r.Need.Memory < 0 || r.Need.DynamicPorts < 0 || r.Need.DynamicUDPPorts < 0:
		return fmt.Errorf("need: must not be negative, got %+v", r.Need)
	}
	for i, s := range r.Strategies {
		switch s.Type {
		case StrategyRandom:
			if s.Field != "" {
				return fmt.Errorf("strategies[%d]: random takes no field, got %q", i, s.Field)
			}
		case StrategySpread:
			if spreadAttribute(s.Field) == "" && !isInstanceField(s.Field) {
				return fmt.Errorf("strategies[%d]: spread field must be instanceId, host or attribute:NAME, got %q", i, s.Field)
			}
		case StrategyBinpack:
			if !strings.EqualFold(s.Field, FieldCPU) && !strings.EqualFold(s.Field, FieldMemory) {
				return fmt.Errorf("strategies[%d]: binpack field must be cpu or memory, got %q", i, s.Field)
			}
		default:
			return fmt.Errorf("strategies[%d]: type must be random, spread or binpack, got %q", i, s.Type)
		}
	}
	for i, c := range r.Constraints {
		switch c.Type {
		case ConstraintDistinctInstance:
		case ConstraintMemberOf:
			if c.Expr == nil {
				return fmt.Errorf("constraints[%d]: memberOf needs an expression", i)
			}
		default:
			return fmt.Errorf("constraints[%d]: type must be distinctInstance or memberOf, got %q", i, c.Type)
		}
	}
	return nil
}

// Failure reasons, ECS's words.
const (
	ReasonCPU              = "RESOURCE:CPU"
	ReasonMemory           = "RESOURCE:MEMORY"
	ReasonPorts            = "RESOURCE:PORTS"
	ReasonPortsUDP         = "RESOURCE:PORTS_UDP"
	ReasonMemberOf         = "MemberOf constraint"
	ReasonDistinctInstance = "DistinctInstance constraint"
	ReasonAgent            = "AGENT"
	ReasonDraining         = "DRAINING"
	// ReasonMissing is returned when Place is given no instance at all;
	// ECS answers that case with InvalidParameterException "No Container
	// Instances were found in your cluster.", which is the caller's to
	// raise.
	ReasonMissing = "MISSING"
)

// Failure says why one task could not be placed: Reason is ECS's (one of
// the Reason constants, or the instance's IneligibleReason), about ARN,
// the instance that came closest (see README.md for the order). Detail
// says why in words, e.g. "needs 512 CPU units, 256 remain".
type Failure struct {
	ARN, Reason, Detail string
}

// Result lists, for each placed task, the index of its instance in the
// instances given to Place, and a failure for each task not placed.
// Placements come first: once a task fails, every later task of the call
// fails the same way (nothing changed in between), so
// len(Placements)+len(Failures) == Count.
type Result struct {
	Placements []int
	Failures   []Failure
}

// Place places req.Count tasks on instances, in order, as if each placement
// reserved its resources before the next (Place does not modify instances
// or anything they refer to). rnd drives the random strategy and
// tie-breaking; a fixed seed makes it deterministic, and a nil rnd takes
// the first of the tied instances in slice order.
func Place(req Request, instances []Instance, rnd *rand.Rand) Result {
	var c call
	return place(req, instances, rnd, &c)
}

// Placer places as Place does, keeping its scratch memory (a few bytes per
// instance) from one call to the next, so a caller that places often, such
// as a service controller, allocates little more than the results. The
// zero value is ready to use. A Placer is not safe for concurrent use.
type Placer struct {
	c call
}

// Place is the package's Place, with p's memory.
func (p *Placer) Place(req Request, instances []Instance, rnd *rand.Rand) Result {
	return place(req, instances, rnd, &p.c)
}

// TaskInfo is one task of the group being scaled in, for PickToStop.
type TaskInfo struct {
	// Instance is the index of the task's instance in the instances given
	// to PickToStop; one out of range counts as an ineligible instance.
	Instance int
	// CPU and Memory are what the task holds on its instance.
	CPU, Memory int32
}

// PickToStop chooses n tasks (all when n ≥ len(tasks)) to stop when a
// group scales in, and returns their indexes in tasks in the order chosen.
// It reads instances for their eligibility, attributes and remaining
// resources, and counts the group's tasks from tasks alone.
//
// Tasks on ineligible instances go first. Then strategies apply in order
// as tie-breakers, mirroring placement: spread stops a task in the bucket
// (instance, or attribute value) that has the most of the given tasks
// left; binpack stops a task on the instance that will have the most of
// the resource free once it stops; random, and any tie left, goes to the
// task listed first, so callers list the tasks they would rather lose
// first (pending, unhealthy, oldest revision). PickToStop is
// deterministic.
func PickToStop(tasks []TaskInfo, instances []Instance, strategies []Strategy, n int) []int {
	return pickToStop(tasks, instances, strategies, n)
}

// spreadAttribute returns the attribute name of a spread field
// attribute:NAME, or "".
func spreadAttribute(field string) string {
	if name, ok := strings.CutPrefix(field, FieldAttributePrefix); ok {
		return name
	}
	return ""
}

// isInstanceField reports whether a spread field means the instance.
func isInstanceField(field string) bool {
	return strings.EqualFold(field, FieldInstanceID) || strings.EqualFold(field, FieldHost)
}
