package ecsapi

import (
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/scheduler"
	"github.com/berth-io/berth/internal/state"
)

// taskConstraints are the placement constraints a task must honour: its
// task definition's and the request's or service's, parsed, for
// internal/scheduler (see placement.go) and the DAEMON launch.
type taskConstraints struct {
	memberOf []clusterquery.Expr
	// distinct keeps two tasks of the group off one instance.
	distinct bool
	// needsGroups is set when an expression looks at task:group.
	needsGroups bool
}

// Placement failure reasons for constraints (the scheduler's).
const (
	reasonMemberOf = scheduler.ReasonMemberOf
	reasonDistinct = scheduler.ReasonDistinctInstance
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
