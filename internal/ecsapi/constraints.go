package ecsapi

import (
	"context"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/state"
)

// taskConstraints are the placement constraints a RunTask/StartTask must
// honour: the task definition's and the request's, parsed. The full
// scheduler (strategies, service-wide spread) is a later work item; these
// are filters on the candidate instances.
type taskConstraints struct {
	memberOf []clusterquery.Expr
	// distinct places each task of the call on a different instance.
	distinct bool
	// needsGroups is set when an expression looks at task:group.
	needsGroups bool
}

// Placement failure reasons for constraints.
const (
	reasonMemberOf = "MemberOf constraint"
	reasonDistinct = "DistinctInstance constraint"
)

// parseTaskConstraints parses constraints already validated by
// checkPlacement and validateTaskPlacement.
func parseTaskConstraints(td *state.TaskDefinition, req []ecs.PlacementConstraint) (taskConstraints, error) {
	var c taskConstraints
	add := func(typ, expr string) error {
		switch typ {
		case ecs.PlacementConstraintTypeDistinctInstance:
			c.distinct = true
		case ecs.PlacementConstraintTypeMemberOf:
			e, err := clusterquery.Parse(expr)
			if err != nil {
				return errInvalidParameter("placementConstraints: memberOf expression: %v", err)
			}
			c.memberOf = append(c.memberOf, e)
			c.needsGroups = c.needsGroups || usesTaskGroups(e)
		}
		return nil
	}
	for _, pc := range td.PlacementConstraints {
		if err := add(pc.Type, pc.Expression); err != nil {
			return c, err
		}
	}
	for _, pc := range req {
		if err := add(pc.Type, pc.Expression); err != nil {
			return c, err
		}
	}
	return c, nil
}

// filter returns the candidates every memberOf expression accepts, and a
// failure for the first one rejected when none is left.
func (c taskConstraints) filter(ctx context.Context, s *Service, cluster string, cands []*ecs.ContainerInstance) ([]*ecs.ContainerInstance, *ecs.Failure, error) {
	if len(c.memberOf) == 0 {
		return cands, nil, nil
	}
	var groups map[string][]string
	if c.needsGroups {
		tasks, err := state.List[ecs.Task](ctx, s.st, state.TasksOf(cluster))
		if err != nil {
			return nil, nil, err
		}
		groups = taskGroupsByInstance(tasks)
	}
	var kept []*ecs.ContainerInstance
	var rejected *ecs.ContainerInstance
	for _, ci := range cands {
		facts := instanceFacts(ci, groups[ci.ContainerInstanceArn])
		ok := true
		for _, e := range c.memberOf {
			if !e.Eval(facts) {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, ci)
		} else if rejected == nil {
			rejected = ci
		}
	}
	if len(kept) == 0 && rejected != nil {
		return nil, &ecs.Failure{Arn: rejected.ContainerInstanceArn, Reason: reasonMemberOf}, nil
	}
	return kept, nil, nil
}
