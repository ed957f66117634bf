package ecsapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

func TestCreateClusterIsIdempotent(t *testing.T) {
	s, _ := newTestService(t)
	first, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "prod", Tags: []ecs.Tag{{Key: "team", Value: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:ecs:us-east-1:123456789012:cluster/prod"
	if first.Cluster.ClusterArn != want || first.Cluster.Status != "ACTIVE" {
		t.Fatalf("got %s %s, want %s ACTIVE", first.Cluster.ClusterArn, first.Cluster.Status, want)
	}
	again, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Cluster.ClusterArn != want {
		t.Fatalf("second create: got %s, want %s", again.Cluster.ClusterArn, want)
	}
	d, err := s.DescribeClusters(bg, &ecs.DescribeClustersRequest{Clusters: []string{"prod"}, Include: []string{"TAGS"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ecs.Tag{{Key: "team", Value: "a"}}, d.Clusters[0].Tags); diff != "" {
		t.Fatalf("tags after idempotent create (-want +got):\n%s", diff)
	}
}

func TestCreateClusterDefaultsName(t *testing.T) {
	s, _ := newTestService(t)
	out, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Cluster.ClusterName != "default" {
		t.Fatalf("got %q, want default", out.Cluster.ClusterName)
	}
}

func TestCreateClusterValidation(t *testing.T) {
	tests := []struct {
		name string
		in   ecs.CreateClusterRequest
	}{
		{"bad name", ecs.CreateClusterRequest{ClusterName: "no spaces"}},
		{"bad setting", ecs.CreateClusterRequest{ClusterName: "a", Settings: []ecs.ClusterSetting{{Name: "x", Value: "enabled"}}}},
		{"bad setting value", ecs.CreateClusterRequest{ClusterName: "a", Settings: []ecs.ClusterSetting{{Name: "containerInsights", Value: "maybe"}}}},
		{"reserved tag", ecs.CreateClusterRequest{ClusterName: "a", Tags: []ecs.Tag{{Key: "aws:x", Value: "v"}}}},
		{"two bases", ecs.CreateClusterRequest{ClusterName: "a", DefaultCapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "p", Base: 1}, {CapacityProvider: "q", Base: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestService(t)
			_, err := s.CreateCluster(bg, &tt.in)
			wantCode(t, err, ecs.ErrInvalidParameter)
		})
	}
}

func TestDescribeClusters(t *testing.T) {
	s, _ := newTestService(t)
	for _, n := range []string{"a", "b"} {
		if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: n}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.DescribeClusters(bg, &ecs.DescribeClustersRequest{
		Clusters: []string{"a", "arn:aws:ecs:us-east-1:123456789012:cluster/b", "nope"},
		Include:  []string{"SETTINGS", "STATISTICS"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Clusters) != 2 || out.Clusters[1].ClusterName != "b" {
		t.Fatalf("got %d clusters, want a and b", len(out.Clusters))
	}
	if len(out.Clusters[0].Settings) != 1 || len(out.Clusters[0].Statistics) == 0 {
		t.Fatalf("include SETTINGS/STATISTICS: got settings %v statistics %v", out.Clusters[0].Settings, out.Clusters[0].Statistics)
	}
	wantFail := []ecs.Failure{{Arn: "arn:aws:ecs:us-east-1:123456789012:cluster/nope", Reason: "MISSING"}}
	if diff := cmp.Diff(wantFail, out.Failures); diff != "" {
		t.Fatalf("failures (-want +got):\n%s", diff)
	}
	_, err = s.DescribeClusters(bg, &ecs.DescribeClustersRequest{Include: []string{"EVERYTHING"}})
	wantCode(t, err, ecs.ErrInvalidParameter)
}

func TestListClustersPaginates(t *testing.T) {
	s, _ := newTestService(t)
	for _, n := range []string{"c", "a", "b"} {
		if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: n}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	token := ""
	for range 10 {
		out, err := s.ListClusters(bg, &ecs.ListClustersRequest{MaxResults: ptr[int32](2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.ClusterArns...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	want := []string{s.clusterARN("a"), s.clusterARN("b"), s.clusterARN("c")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("pages (-want +got):\n%s", diff)
	}
	_, err := s.ListClusters(bg, &ecs.ListClustersRequest{MaxResults: ptr[int32](0)})
	wantCode(t, err, ecs.ErrInvalidParameter)
	_, err = s.ListClusters(bg, &ecs.ListClustersRequest{NextToken: "%%%"})
	wantCode(t, err, ecs.ErrInvalidParameter)
}

func TestDeleteCluster(t *testing.T) {
	s, _ := newTestService(t)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "x"}); err != nil {
		t.Fatal(err)
	}
	// A registered instance blocks deletion.
	op, _ := state.PutOp(state.InstanceKey("x", "i1"), &ecs.ContainerInstance{Status: "ACTIVE"}, store.Absent)
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	_, err := s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "x"})
	wantCode(t, err, ecs.ErrClusterContainsContainerInstances)
	if _, err := s.st.Txn(bg, store.Delete(state.InstanceKey("x", "i1"))); err != nil {
		t.Fatal(err)
	}
	// So does an active service.
	op, _ = state.PutOp(state.ServiceKey("x", "web"), &ecs.Service{Status: "ACTIVE"}, store.Absent)
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	_, err = s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "x"})
	wantCode(t, err, ecs.ErrClusterContainsServices)
	if _, err := s.st.Txn(bg, store.Delete(state.ServiceKey("x", "web"))); err != nil {
		t.Fatal(err)
	}
	// And a task that has not stopped.
	op, _ = state.PutOp(state.TaskKey("x", "t1"), &ecs.Task{LastStatus: "RUNNING"}, store.Absent)
	if _, err := s.st.Txn(bg, op); err != nil {
		t.Fatal(err)
	}
	_, err = s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "x"})
	wantCode(t, err, ecs.ErrClusterContainsTasks)
	if _, err := s.st.Txn(bg, store.Delete(state.TaskKey("x", "t1"))); err != nil {
		t.Fatal(err)
	}

	out, err := s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Cluster.Status != "INACTIVE" {
		t.Fatalf("got status %s, want INACTIVE", out.Cluster.Status)
	}
	_, err = s.DeleteCluster(bg, &ecs.DeleteClusterRequest{Cluster: "x"})
	wantCode(t, err, ecs.ErrClusterNotFound)
	// Still describable, as INACTIVE, and no longer listed.
	d, err := s.DescribeClusters(bg, &ecs.DescribeClustersRequest{Clusters: []string{"x"}})
	if err != nil || len(d.Clusters) != 1 || d.Clusters[0].Status != "INACTIVE" {
		t.Fatalf("describe deleted: got %+v, %v; want one INACTIVE cluster", d, err)
	}
	l, err := s.ListClusters(bg, &ecs.ListClustersRequest{})
	if err != nil || len(l.ClusterArns) != 0 {
		t.Fatalf("list after delete: got %v, %v; want none", l.ClusterArns, err)
	}
	// Creating it again brings it back.
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateClusterAndCapacityProviders(t *testing.T) {
	s, _ := newTestService(t)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "x"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UpdateCluster(bg, &ecs.UpdateClusterRequest{Cluster: "x", Settings: []ecs.ClusterSetting{{Name: "containerInsights", Value: "enabled"}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ecs.ClusterSetting{{Name: "containerInsights", Value: "enabled"}}, u.Cluster.Settings); diff != "" {
		t.Fatalf("settings (-want +got):\n%s", diff)
	}
	if _, err := s.UpdateClusterSettings(bg, &ecs.UpdateClusterSettingsRequest{Cluster: "x", Settings: []ecs.ClusterSetting{{Name: "containerInsights", Value: "disabled"}}}); err != nil {
		t.Fatal(err)
	}
	p, err := s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{
		Cluster:                         "x",
		CapacityProviders:               []string{"fleet"},
		DefaultCapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "fleet", Weight: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fleet"}, p.Cluster.CapacityProviders); diff != "" {
		t.Fatalf("capacity providers (-want +got):\n%s", diff)
	}
	_, err = s.PutClusterCapacityProviders(bg, &ecs.PutClusterCapacityProvidersRequest{
		Cluster:                         "x",
		DefaultCapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: "other", Weight: 1}},
	})
	wantCode(t, err, ecs.ErrInvalidParameter)
	_, err = s.UpdateCluster(bg, &ecs.UpdateClusterRequest{Cluster: "missing"})
	wantCode(t, err, ecs.ErrClusterNotFound)
}
