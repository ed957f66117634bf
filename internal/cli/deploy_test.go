package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	apiecs "github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/cli/spec"
)

// TestConvertKeepsEveryMember: a task definition and a service, moved from
// the wire types into the SDK's and back, lose nothing (the SDK's member
// names are the wire names, capitalised).
func TestConvertKeepsEveryMember(t *testing.T) {
	var specs []spec.Spec
	for _, f := range []string{"web/task-definition.json", "web/service.json", "worker/task-definition.json", "hello-process/service.yaml"} {
		path := filepath.Join("..", "..", "examples", f)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := spec.Parse(path, b)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	for _, s := range specs {
		if s.TaskDefinition != nil {
			var in ecs.RegisterTaskDefinitionInput
			if err := convert(s.TaskDefinition, &in); err != nil {
				t.Fatal(err)
			}
			var back apiecs.RegisterTaskDefinitionRequest
			roundTrip(t, in, &back)
			if diff := cmp.Diff(*s.TaskDefinition, back); diff != "" {
				t.Errorf("task definition %s through the SDK type (-file +back):\n%s", s.TaskDefinition.Family, diff)
			}
		}
		if s.Service != nil {
			in, err := createInput(s.Service, s.Service.ServiceName, "default", "arn:td", DeployOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var back apiecs.CreateServiceRequest
			roundTrip(t, *in, &back)
			want := *s.Service
			want.Cluster, want.TaskDefinition = "default", "arn:td"
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("service %s through the SDK type (-file +back):\n%s", want.ServiceName, diff)
			}
		}
	}
}

// roundTrip encodes an SDK value (Go names) and decodes it into a wire
// type, whose names match without regard to case.
func roundTrip(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func TestExitCode(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	no := false
	td := &types.TaskDefinition{ContainerDefinitions: []types.ContainerDefinition{{Name: strp("app")}, {Name: strp("sidecar"), Essential: &no}}}
	cases := []struct {
		name       string
		task       types.Task
		code       int
		wantReason bool
	}{
		{"essential exits 0", types.Task{Containers: []types.Container{{Name: strp("app"), ExitCode: i32(0)}, {Name: strp("sidecar"), ExitCode: i32(9)}}}, 0, false},
		{"essential exits 3", types.Task{Containers: []types.Container{{Name: strp("app"), ExitCode: i32(3)}}}, 3, true},
		{"never ran", types.Task{StoppedReason: strp("CannotPullContainerError"), Containers: []types.Container{{Name: strp("app"), Reason: strp("no such image")}}}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := exitCode(tc.task, td)
			if code != tc.code || (reason != "") != tc.wantReason {
				t.Errorf("exitCode = %d %q, want %d (reason: %v)", code, reason, tc.code, tc.wantReason)
			}
		})
	}
}

func strp(s string) *string { return &s }

func TestLastGood(t *testing.T) {
	d := func(id, status, td string, state types.DeploymentRolloutState, sec int) types.Deployment {
		return types.Deployment{Id: aws.String(id), Status: aws.String(status), TaskDefinition: aws.String(td), RolloutState: state,
			CreatedAt: aws.Time(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC))}
	}
	for _, c := range []struct {
		name string
		deps []types.Deployment
		want string
	}{
		{"completed PRIMARY", []types.Deployment{d("d2", "PRIMARY", "web:2", types.DeploymentRolloutStateCompleted, 2)}, "web:2"},
		{"PRIMARY in progress: the completed one", []types.Deployment{
			d("d3", "PRIMARY", "web:3", types.DeploymentRolloutStateInProgress, 3), d("d2", "ACTIVE", "web:2", types.DeploymentRolloutStateCompleted, 2)}, "web:2"},
		{"nothing completed: the PRIMARY", []types.Deployment{d("d3", "PRIMARY", "web:3", types.DeploymentRolloutStateInProgress, 3)}, "web:3"},
	} {
		if got := lastGood(types.Service{Deployments: c.deps}); got != c.want {
			t.Errorf("%s: lastGood = %q, want %q", c.name, got, c.want)
		}
	}
}
