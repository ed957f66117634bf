package ecsapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// putRecord stores v at key as another component (RegisterContainerInstance,
// CreateService, RunTask) would.
func putRecord(t *testing.T, s *Service, key string, v any) {
	t.Helper()
	op, err := state.PutOp(key, v, store.Any)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// rawMember returns the JSON of one top-level member of the record at key.
func rawMember(t *testing.T, s *Service, key, member string) string {
	t.Helper()
	kv, err := s.st.Get(bg, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		t.Fatal(err)
	}
	return string(m[member])
}

const (
	arnPrefix   = "arn:aws:ecs:us-east-1:123456789012:"
	testTaskID  = "0123456789abcdef0123456789abcdef"
	testInstID  = "fedcba9876543210fedcba9876543210"
	testInstID2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// seedTaggable creates one of every taggable resource in cluster "prod".
// Each record carries an extra member ("berthInternal") that the wire type
// does not have, to show that tag updates keep it.
func seedTaggable(t *testing.T, s *Service) {
	t.Helper()
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "prod"}); err != nil {
		t.Fatal(err)
	}
	extra := json.RawMessage(`{"generation":7}`)
	putRecord(t, s, state.ServiceKey("prod", "web"), map[string]any{
		"serviceName": "web", "serviceArn": arnPrefix + "service/prod/web", "status": "ACTIVE", "berthInternal": extra,
	})
	putRecord(t, s, state.ServiceKey("prod", "old"), map[string]any{"serviceName": "old", "status": "INACTIVE"})
	putRecord(t, s, state.TaskKey("prod", testTaskID), map[string]any{
		"taskArn": arnPrefix + "task/prod/" + testTaskID, "lastStatus": "STOPPED", "berthInternal": extra,
	})
	putRecord(t, s, state.InstanceKey("prod", testInstID), map[string]any{
		"containerInstanceArn": arnPrefix + "container-instance/prod/" + testInstID, "status": "ACTIVE", "berthInternal": extra,
	})
	mustRegisterTD(t, s, webTaskDef("web"))
}

func TestTagResourceEveryResourceType(t *testing.T) {
	s, _ := newTestService(t)
	seedTaggable(t, s)
	resources := []struct {
		name, arn, key string
	}{
		{"cluster", arnPrefix + "cluster/prod", state.ClusterKey("prod")},
		{"service", arnPrefix + "service/prod/web", state.ServiceKey("prod", "web")},
		{"task", arnPrefix + "task/prod/" + testTaskID, state.TaskKey("prod", testTaskID)},
		{"container instance", arnPrefix + "container-instance/prod/" + testInstID, state.InstanceKey("prod", testInstID)},
		{"task definition", arnPrefix + "task-definition/web:1", state.TaskDefKey("web", 1)},
	}
	for _, r := range resources {
		t.Run(r.name, func(t *testing.T) {
			list := func() []ecs.Tag {
				t.Helper()
				out, err := s.ListTagsForResource(bg, &ecs.ListTagsForResourceRequest{ResourceArn: r.arn})
				if err != nil {
					t.Fatalf("ListTagsForResource: %v", err)
				}
				return out.Tags
			}
			if diff := cmp.Diff([]ecs.Tag{}, list()); diff != "" {
				t.Errorf("untagged (-want +got):\n%s", diff)
			}
			if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: r.arn, Tags: []ecs.Tag{{Key: "env", Value: "prod"}, {Key: "team", Value: "web"}}}); err != nil {
				t.Fatalf("TagResource: %v", err)
			}
			// Same key again replaces the value in place; a new key appends.
			if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: r.arn, Tags: []ecs.Tag{{Key: "team", Value: "api"}, {Key: "cost", Value: ""}}}); err != nil {
				t.Fatalf("TagResource: %v", err)
			}
			want := []ecs.Tag{{Key: "env", Value: "prod"}, {Key: "team", Value: "api"}, {Key: "cost"}}
			if diff := cmp.Diff(want, list()); diff != "" {
				t.Errorf("after tagging (-want +got):\n%s", diff)
			}
			if _, err := s.UntagResource(bg, &ecs.UntagResourceRequest{ResourceArn: r.arn, TagKeys: []string{"env", "absent"}}); err != nil {
				t.Fatalf("UntagResource: %v", err)
			}
			want = []ecs.Tag{{Key: "team", Value: "api"}, {Key: "cost"}}
			if diff := cmp.Diff(want, list()); diff != "" {
				t.Errorf("after untagging (-want +got):\n%s", diff)
			}
			if _, err := s.UntagResource(bg, &ecs.UntagResourceRequest{ResourceArn: r.arn, TagKeys: []string{"team", "cost"}}); err != nil {
				t.Fatalf("UntagResource: %v", err)
			}
			if diff := cmp.Diff([]ecs.Tag{}, list()); diff != "" {
				t.Errorf("after removing all (-want +got):\n%s", diff)
			}
			if got := rawMember(t, s, r.key, "tags"); got != "" {
				t.Errorf("got stored tags %s, want the member gone", got)
			}
			if r.name != "cluster" && r.name != "task definition" {
				if got := rawMember(t, s, r.key, "berthInternal"); got != `{"generation":7}` {
					t.Errorf("got berthInternal %s, want it kept", got)
				}
			}
		})
	}
	t.Run("task definition tags show in DescribeTaskDefinition", func(t *testing.T) {
		arn := arnPrefix + "task-definition/web:1"
		if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arn, Tags: []ecs.Tag{{Key: "k", Value: "v"}}}); err != nil {
			t.Fatal(err)
		}
		d, err := s.DescribeTaskDefinition(bg, &ecs.DescribeTaskDefinitionRequest{TaskDefinition: arn, Include: []string{"TAGS"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]ecs.Tag{{Key: "k", Value: "v"}}, d.Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})
	t.Run("cluster tags show in DescribeClusters", func(t *testing.T) {
		arn := arnPrefix + "cluster/prod"
		if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arn, Tags: []ecs.Tag{{Key: "k", Value: "v"}}}); err != nil {
			t.Fatal(err)
		}
		d, err := s.DescribeClusters(bg, &ecs.DescribeClustersRequest{Clusters: []string{"prod"}, Include: []string{"TAGS"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]ecs.Tag{{Key: "k", Value: "v"}}, d.Clusters[0].Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
	})
}

func TestTagResourceLimits(t *testing.T) {
	s, _ := newTestService(t)
	seedTaggable(t, s)
	arn := arnPrefix + "cluster/prod"
	tags := func(prefix string, n int) []ecs.Tag {
		out := make([]ecs.Tag, n)
		for i := range out {
			out[i] = ecs.Tag{Key: fmt.Sprintf("%s%d", prefix, i), Value: "v"}
		}
		return out
	}
	if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arn, Tags: tags("a", 40)}); err != nil {
		t.Fatal(err)
	}
	// Re-tagging existing keys does not add to the count.
	if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arn, Tags: append(tags("a", 40), tags("b", 10)...)}); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	_, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arn, Tags: tags("c", 1)})
	wantCode(t, err, ecs.ErrLimitExceeded)
	out, err := s.ListTagsForResource(bg, &ecs.ListTagsForResourceRequest{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tags) != 50 {
		t.Errorf("got %d tags after the refused call, want 50", len(out.Tags))
	}
	// aws:-prefixed tags (set by berth itself) do not count.
	putRecord(t, s, state.ServiceKey("prod", "managed"), map[string]any{
		"serviceName": "managed", "status": "ACTIVE", "tags": []ecs.Tag{{Key: "aws:ecs:clusterName", Value: "prod"}},
	})
	if _, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: arnPrefix + "service/prod/managed", Tags: tags("a", 50)}); err != nil {
		t.Errorf("50 user tags beside an aws: tag: %v", err)
	}
}

func TestTagResourceErrors(t *testing.T) {
	s, _ := newTestService(t)
	seedTaggable(t, s)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "gone"}); err != nil {
		t.Fatal(err)
	}
	ok := []ecs.Tag{{Key: "k", Value: "v"}}
	tests := []struct {
		name     string
		arn      string
		tags     []ecs.Tag
		keys     []string
		tagCode  string // TagResource and UntagResource
		untagOK  bool   // UntagResource succeeds (the keys are fine)
		listCode string // ListTagsForResource
	}{
		{name: "not an ARN", arn: "prod", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "not an ECS ARN", arn: "arn:aws:ecr:us-east-1:123456789012:repository/web", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "other region", arn: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "other account", arn: "arn:aws:ecs:us-east-1:999999999999:cluster/prod", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "unsupported type", arn: arnPrefix + "capacity-provider/spot", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "short service ARN", arn: arnPrefix + "service/web", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "short task ARN", arn: arnPrefix + "task/" + testTaskID, tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "task definition without revision", arn: arnPrefix + "task-definition/web", tagCode: ecs.ErrInvalidParameter, listCode: ecs.ErrInvalidParameter},
		{name: "missing cluster", arn: arnPrefix + "cluster/nope", tagCode: ecs.ErrClusterNotFound, listCode: ecs.ErrClusterNotFound},
		{name: "INACTIVE cluster", arn: arnPrefix + "cluster/gone", tagCode: ecs.ErrClusterNotFound, listCode: ecs.ErrClusterNotFound},
		{name: "service in a missing cluster", arn: arnPrefix + "service/nope/web", tagCode: ecs.ErrClusterNotFound, listCode: ecs.ErrClusterNotFound},
		{name: "missing service", arn: arnPrefix + "service/prod/api", tagCode: ecs.ErrResourceNotFound, listCode: ecs.ErrInvalidParameter},
		{name: "INACTIVE service", arn: arnPrefix + "service/prod/old", tagCode: ecs.ErrResourceNotFound, listCode: ecs.ErrInvalidParameter},
		{name: "missing task", arn: arnPrefix + "task/prod/" + testInstID, tagCode: ecs.ErrResourceNotFound, listCode: ecs.ErrInvalidParameter},
		{name: "missing container instance", arn: arnPrefix + "container-instance/prod/" + testTaskID, tagCode: ecs.ErrResourceNotFound, listCode: ecs.ErrInvalidParameter},
		{name: "missing task definition", arn: arnPrefix + "task-definition/web:2", tagCode: ecs.ErrResourceNotFound, listCode: ecs.ErrInvalidParameter},
		{name: "reserved tag key", arn: arnPrefix + "cluster/prod", tags: []ecs.Tag{{Key: "AWS:x", Value: "v"}}, keys: []string{"aws:x"}, tagCode: ecs.ErrInvalidParameter},
		{name: "empty tag key", arn: arnPrefix + "cluster/prod", tags: []ecs.Tag{{Value: "v"}}, keys: []string{""}, tagCode: ecs.ErrInvalidParameter},
		{name: "tag key too long", arn: arnPrefix + "cluster/prod", tags: []ecs.Tag{{Key: strings.Repeat("k", 129)}}, keys: []string{strings.Repeat("k", 129)}, tagCode: ecs.ErrInvalidParameter},
		{name: "tag value too long", arn: arnPrefix + "cluster/prod", tags: []ecs.Tag{{Key: "k", Value: strings.Repeat("v", 257)}}, keys: []string{"k"}, tagCode: ecs.ErrInvalidParameter, untagOK: true},
		{name: "duplicate tag keys", arn: arnPrefix + "cluster/prod", tags: []ecs.Tag{{Key: "k"}, {Key: "k"}}, keys: []string{"k"}, tagCode: ecs.ErrInvalidParameter, untagOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tags, keys := tt.tags, tt.keys
			if tags == nil {
				tags, keys = ok, []string{"k"}
			}
			_, err := s.TagResource(bg, &ecs.TagResourceRequest{ResourceArn: tt.arn, Tags: tags})
			wantCode(t, err, tt.tagCode)
			_, err = s.UntagResource(bg, &ecs.UntagResourceRequest{ResourceArn: tt.arn, TagKeys: keys})
			if tt.untagOK {
				if err != nil {
					t.Errorf("UntagResource: %v", err)
				}
			} else {
				wantCode(t, err, tt.tagCode)
			}
			if tt.listCode != "" {
				_, err = s.ListTagsForResource(bg, &ecs.ListTagsForResourceRequest{ResourceArn: tt.arn})
				wantCode(t, err, tt.listCode)
			}
		})
	}
}
