package ecsapi

import (
	"testing"

	"github.com/berth-io/berth/api/ecs"
)

func TestRunTaskHonoursConstraints(t *testing.T) {
	f := newTaskFixture(t)
	dev := f.instance("default", 1024, 1024, ecs.Attribute{Name: "stack", Value: "dev"})
	prod := f.instance("default", 1024, 1024, ecs.Attribute{Name: "stack", Value: "prod"})
	td := f.taskDef(webDef("w", 10, 10))

	t.Run("memberOf picks the matching instance", func(t *testing.T) {
		for range 3 {
			out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "attribute:stack == prod"}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Tasks) != 1 || out.Tasks[0].ContainerInstanceArn != prod.ContainerInstanceArn {
				t.Fatalf("got %+v, want the task on the prod instance", out)
			}
		}
	})
	t.Run("memberOf with no match fails naming the constraint", func(t *testing.T) {
		out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td, Count: ptr[int32](2), PlacementConstraints: []ecs.PlacementConstraint{{Type: "memberOf", Expression: "attribute:stack == qa"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tasks) != 0 || len(out.Failures) != 2 || out.Failures[0].Reason != reasonMemberOf {
			t.Fatalf("got %+v, want 2 failures %q", out, reasonMemberOf)
		}
	})
	t.Run("distinctInstance spreads a group over instances", func(t *testing.T) {
		// A family of its own: the tasks above are in group family:w.
		td := f.taskDef(webDef("d", 10, 10))
		out, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td, Count: ptr[int32](3), PlacementConstraints: []ecs.PlacementConstraint{{Type: "distinctInstance"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tasks) != 2 || len(out.Failures) != 1 || out.Failures[0].Reason != reasonDistinct {
			t.Fatalf("got %d tasks, failures %+v; want 2 tasks and one %q failure", len(out.Tasks), out.Failures, reasonDistinct)
		}
		if out.Tasks[0].ContainerInstanceArn == out.Tasks[1].ContainerInstanceArn {
			t.Fatalf("both tasks on %s", out.Tasks[0].ContainerInstanceArn)
		}
		_ = dev
		// The group now runs on both instances: one more finds no room.
		again, err := f.s.RunTask(bg, &ecs.RunTaskRequest{TaskDefinition: td, PlacementConstraints: []ecs.PlacementConstraint{{Type: "distinctInstance"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Tasks) != 0 || len(again.Failures) != 1 || again.Failures[0].Reason != reasonDistinct {
			t.Fatalf("got %+v, want one %q failure", again, reasonDistinct)
		}
	})
}
