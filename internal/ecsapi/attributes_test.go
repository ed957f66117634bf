package ecsapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
)

// seedInstances creates cluster "prod" with two container instances that
// carry the attributes the agent reports, and returns their ARNs.
func seedInstances(t *testing.T, s *Service) (arn1, arn2 string) {
	t.Helper()
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "prod"}); err != nil {
		t.Fatal(err)
	}
	arn1 = arnPrefix + "container-instance/prod/" + testInstID
	arn2 = arnPrefix + "container-instance/prod/" + testInstID2
	for id, arn := range map[string]string{testInstID: arn1, testInstID2: arn2} {
		putRecord(t, s, state.InstanceKey("prod", id), map[string]any{
			"containerInstanceArn": arn,
			"status":               "ACTIVE",
			"attributes":           []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}, {Name: "ecs.capability.secrets.ssm"}},
			"berthInternal":        map[string]int{"generation": 3},
		})
	}
	putRecord(t, s, state.InstanceKey("prod", "deregistered"), map[string]any{
		"containerInstanceArn": arnPrefix + "container-instance/prod/deregistered",
		"status":               "INACTIVE",
		"attributes":           []ecs.Attribute{{Name: "stack", Value: "old"}},
	})
	return arn1, arn2
}

func instanceAttrs(t *testing.T, s *Service, id string) []ecs.Attribute {
	t.Helper()
	rec, err := state.Get[ecs.ContainerInstance](bg, s.st, state.InstanceKey("prod", id))
	if err != nil {
		t.Fatal(err)
	}
	return rec.Value.Attributes
}

func TestPutAttributes(t *testing.T) {
	s, _ := newTestService(t)
	arn1, arn2 := seedInstances(t, s)
	in := &ecs.PutAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{
		{Name: "stack", Value: "production", TargetType: "container-instance", TargetId: testInstID},
		{Name: "rack", Value: "r1 / a:b@c", TargetId: arn1},
		{Name: "gpu", TargetId: arn2},
	}}
	out, err := s.PutAttributes(bg, in)
	if err != nil {
		t.Fatalf("PutAttributes: %v", err)
	}
	if diff := cmp.Diff(in.Attributes, out.Attributes); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	want1 := []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}, {Name: "ecs.capability.secrets.ssm"}, {Name: "stack", Value: "production"}, {Name: "rack", Value: "r1 / a:b@c"}}
	if diff := cmp.Diff(want1, instanceAttrs(t, s, testInstID)); diff != "" {
		t.Errorf("instance 1 attributes (-want +got):\n%s", diff)
	}
	want2 := []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}, {Name: "ecs.capability.secrets.ssm"}, {Name: "gpu"}}
	if diff := cmp.Diff(want2, instanceAttrs(t, s, testInstID2)); diff != "" {
		t.Errorf("instance 2 attributes (-want +got):\n%s", diff)
	}
	if got := rawMember(t, s, state.InstanceKey("prod", testInstID), "berthInternal"); got != `{"generation":3}` {
		t.Errorf("got berthInternal %s, want it kept", got)
	}

	t.Run("an existing name gets the new value", func(t *testing.T) {
		if _, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{{Name: "stack", Value: "staging", TargetId: arn1}}}); err != nil {
			t.Fatal(err)
		}
		want1[2].Value = "staging"
		if diff := cmp.Diff(want1, instanceAttrs(t, s, testInstID)); diff != "" {
			t.Errorf("attributes (-want +got):\n%s", diff)
		}
	})
	t.Run("an ARN names its cluster when the request does not", func(t *testing.T) {
		if _, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Attributes: []ecs.Attribute{{Name: "zone", Value: "a", TargetId: arn2}}}); err != nil {
			t.Fatal(err)
		}
		if got := instanceAttrs(t, s, testInstID2); got[len(got)-1] != (ecs.Attribute{Name: "zone", Value: "a"}) {
			t.Errorf("got %v, want zone=a last", got)
		}
	})
}

func TestPutAttributesLimits(t *testing.T) {
	s, _ := newTestService(t)
	arn1, arn2 := seedInstances(t, s)
	attrs := func(prefix string, n int, target string) []ecs.Attribute {
		out := make([]ecs.Attribute, n)
		for i := range out {
			out[i] = ecs.Attribute{Name: fmt.Sprintf("%s%d", prefix, i), Value: "v", TargetId: target}
		}
		return out
	}
	// Ten custom attributes fit beside the two ECS ones.
	if _, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: attrs("a", 10, arn1)}); err != nil {
		t.Fatalf("10 attributes: %v", err)
	}
	_, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: attrs("b", 1, arn1)})
	wantCode(t, err, ecs.ErrAttributeLimitExceeded)
	_, err = s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: attrs("c", 11, arn2)})
	wantCode(t, err, ecs.ErrInvalidParameter)
	t.Run("all or nothing", func(t *testing.T) {
		before := instanceAttrs(t, s, testInstID2)
		_, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{
			{Name: "ok", Value: "v", TargetId: arn2},
			{Name: "over", Value: "v", TargetId: arn1},
		}})
		wantCode(t, err, ecs.ErrAttributeLimitExceeded)
		if diff := cmp.Diff(before, instanceAttrs(t, s, testInstID2)); diff != "" {
			t.Errorf("instance 2 changed by a refused call (-before +after):\n%s", diff)
		}
	})
}

func TestAttributeErrors(t *testing.T) {
	s, _ := newTestService(t)
	arn1, _ := seedInstances(t, s)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "dev"}); err != nil {
		t.Fatal(err)
	}
	attr := func(name, value, targetType, target string) ecs.Attribute {
		return ecs.Attribute{Name: name, Value: value, TargetType: targetType, TargetId: target}
	}
	tests := []struct {
		name       string
		cluster    string
		attrs      []ecs.Attribute
		putCode    string
		deleteCode string // "" means DeleteAttributes succeeds
	}{
		{"no attributes", "prod", []ecs.Attribute{}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"name with a space", "prod", []ecs.Attribute{attr("my stack", "v", "", arn1)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"name too long", "prod", []ecs.Attribute{attr(strings.Repeat("n", 129), "v", "", arn1)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"reserved ecs. name", "prod", []ecs.Attribute{attr("ecs.os-type", "windows", "", arn1)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"reserved com.amazonaws.ecs. name", "prod", []ecs.Attribute{attr("com.amazonaws.ecs.capability.x", "", "", arn1)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"value with a comma", "prod", []ecs.Attribute{attr("stack", "a,b", "", arn1)}, ecs.ErrInvalidParameter, ""},
		{"value with a leading space", "prod", []ecs.Attribute{attr("stack", " a", "", arn1)}, ecs.ErrInvalidParameter, ""},
		{"value too long", "prod", []ecs.Attribute{attr("stack", strings.Repeat("v", 129), "", arn1)}, ecs.ErrInvalidParameter, ""},
		{"no targetId", "prod", []ecs.Attribute{attr("stack", "v", "container-instance", "")}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"short ID without targetType", "prod", []ecs.Attribute{attr("stack", "v", "", testInstID)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"wrong targetType", "prod", []ecs.Attribute{attr("stack", "v", "task", testInstID)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"task ARN as target", "prod", []ecs.Attribute{attr("stack", "v", "", arnPrefix+"task/prod/"+testTaskID)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
		{"unknown instance", "prod", []ecs.Attribute{attr("stack", "v", "container-instance", testTaskID)}, ecs.ErrTargetNotFound, ecs.ErrTargetNotFound},
		{"INACTIVE instance", "prod", []ecs.Attribute{attr("stack", "v", "container-instance", "deregistered")}, ecs.ErrTargetNotFound, ecs.ErrTargetNotFound},
		{"instance of another cluster", "dev", []ecs.Attribute{attr("stack", "v", "container-instance", testInstID)}, ecs.ErrTargetNotFound, ecs.ErrTargetNotFound},
		{"ARN of another cluster than the request's", "dev", []ecs.Attribute{attr("stack", "v", "", arn1)}, ecs.ErrTargetNotFound, ecs.ErrTargetNotFound},
		{"unknown cluster", "nope", []ecs.Attribute{attr("stack", "v", "container-instance", testInstID)}, ecs.ErrClusterNotFound, ecs.ErrClusterNotFound},
		{"default cluster that does not exist", "", []ecs.Attribute{attr("stack", "v", "container-instance", testInstID)}, ecs.ErrClusterNotFound, ecs.ErrClusterNotFound},
		{"bad cluster name", "a/b", []ecs.Attribute{attr("stack", "v", "", arn1)}, ecs.ErrInvalidParameter, ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := instanceAttrs(t, s, testInstID)
			_, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: tt.cluster, Attributes: tt.attrs})
			wantCode(t, err, tt.putCode)
			_, err = s.DeleteAttributes(bg, &ecs.DeleteAttributesRequest{Cluster: tt.cluster, Attributes: tt.attrs})
			if tt.deleteCode == "" {
				if err != nil {
					t.Errorf("DeleteAttributes: %v", err)
				}
			} else {
				wantCode(t, err, tt.deleteCode)
			}
			if diff := cmp.Diff(before, instanceAttrs(t, s, testInstID)); diff != "" {
				t.Errorf("instance changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestDeleteAttributes(t *testing.T) {
	s, _ := newTestService(t)
	arn1, _ := seedInstances(t, s)
	if _, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{
		{Name: "stack", Value: "production", TargetId: arn1},
		{Name: "rack", Value: "r1", TargetId: arn1},
	}}); err != nil {
		t.Fatal(err)
	}
	in := &ecs.DeleteAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{
		{Name: "stack", TargetType: "container-instance", TargetId: testInstID},
		{Name: "never-set", TargetId: arn1},
	}}
	out, err := s.DeleteAttributes(bg, in)
	if err != nil {
		t.Fatalf("DeleteAttributes: %v", err)
	}
	if diff := cmp.Diff(in.Attributes, out.Attributes); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	want := []ecs.Attribute{{Name: "ecs.os-type", Value: "linux"}, {Name: "ecs.capability.secrets.ssm"}, {Name: "rack", Value: "r1"}}
	if diff := cmp.Diff(want, instanceAttrs(t, s, testInstID)); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

func TestListAttributes(t *testing.T) {
	s, _ := newTestService(t)
	arn1, arn2 := seedInstances(t, s)
	if _, err := s.PutAttributes(bg, &ecs.PutAttributesRequest{Cluster: "prod", Attributes: []ecs.Attribute{
		{Name: "stack", Value: "production", TargetId: arn1},
		{Name: "stack", Value: "staging", TargetId: arn2},
		{Name: "rack", Value: "r1", TargetId: arn2},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "empty"}); err != nil {
		t.Fatal(err)
	}
	ci := func(name, value, arn string) ecs.Attribute {
		return ecs.Attribute{Name: name, Value: value, TargetType: "container-instance", TargetId: arn}
	}
	// Instance 2's ID sorts first (aaaa... < fedc...), then attributes by name.
	all := []ecs.Attribute{
		ci("ecs.capability.secrets.ssm", "", arn2), ci("ecs.os-type", "linux", arn2), ci("rack", "r1", arn2), ci("stack", "staging", arn2),
		ci("ecs.capability.secrets.ssm", "", arn1), ci("ecs.os-type", "linux", arn1), ci("stack", "production", arn1),
	}
	tests := []struct {
		name string
		in   ecs.ListAttributesRequest
		want []ecs.Attribute
		code string
	}{
		{name: "everything, INACTIVE instances left out", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance"}, want: all},
		{name: "by name", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", AttributeName: "stack"},
			want: []ecs.Attribute{ci("stack", "staging", arn2), ci("stack", "production", arn1)}},
		{name: "by name and value", in: ecs.ListAttributesRequest{Cluster: arnPrefix + "cluster/prod", TargetType: "container-instance", AttributeName: "stack", AttributeValue: "production"},
			want: []ecs.Attribute{ci("stack", "production", arn1)}},
		{name: "ECS attributes too", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", AttributeName: "ecs.os-type", AttributeValue: "linux"},
			want: []ecs.Attribute{ci("ecs.os-type", "linux", arn2), ci("ecs.os-type", "linux", arn1)}},
		{name: "cluster without instances", in: ecs.ListAttributesRequest{Cluster: "empty", TargetType: "container-instance"}, want: []ecs.Attribute{}},
		{name: "bad targetType", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "task"}, code: ecs.ErrInvalidParameter},
		{name: "value without name", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", AttributeValue: "linux"}, code: ecs.ErrInvalidParameter},
		{name: "unknown cluster", in: ecs.ListAttributesRequest{Cluster: "nope", TargetType: "container-instance"}, code: ecs.ErrClusterNotFound},
		{name: "maxResults 0", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", MaxResults: valPtr(int32(0))}, code: ecs.ErrInvalidParameter},
		{name: "bad token", in: ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", NextToken: "%%"}, code: ecs.ErrInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.ListAttributes(bg, &tt.in)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("ListAttributes: %v", err)
			}
			if diff := cmp.Diff(tt.want, out.Attributes); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if out.NextToken != "" {
				t.Errorf("got nextToken %q, want none", out.NextToken)
			}
		})
	}
	t.Run("pages of 3", func(t *testing.T) {
		var got []ecs.Attribute
		token := ""
		for pages := 1; ; pages++ {
			out, err := s.ListAttributes(bg, &ecs.ListAttributesRequest{Cluster: "prod", TargetType: "container-instance", MaxResults: valPtr(int32(3)), NextToken: token})
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			if len(out.Attributes) > 3 {
				t.Fatalf("page %d has %d attributes, want at most 3", pages, len(out.Attributes))
			}
			got = append(got, out.Attributes...)
			if token = out.NextToken; token == "" {
				break
			}
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("pages joined (-want +got):\n%s", diff)
		}
	})
}
