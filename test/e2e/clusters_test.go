package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// TestClusters walks the cluster operations through the SDK in the order a
// user would: create (twice), describe, list, update, delete.
func TestClusters(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs

	created, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName: aws.String("alpha"),
		Tags:        tags("team", "infra"),
		Settings:    []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
	})
	ok(t, err)
	if id := requestIDOf(created.ResultMetadata); id == "" {
		t.Errorf("CreateCluster: SDK found no x-amzn-RequestId")
	}
	cl := created.Cluster
	if got, want := aws.ToString(cl.ClusterArn), clusterARN("alpha"); got != want {
		t.Errorf("CreateCluster: clusterArn = %q, want %q", got, want)
	}
	if got := aws.ToString(cl.ClusterName); got != "alpha" {
		t.Errorf("CreateCluster: clusterName = %q, want alpha", got)
	}
	if got := aws.ToString(cl.Status); got != "ACTIVE" {
		t.Errorf("CreateCluster: status = %q, want ACTIVE", got)
	}
	if cl.ActiveServicesCount != 0 || cl.RunningTasksCount != 0 || cl.PendingTasksCount != 0 || cl.RegisteredContainerInstancesCount != 0 {
		t.Errorf("CreateCluster: counts = %d/%d/%d/%d, want all 0", cl.ActiveServicesCount, cl.RunningTasksCount, cl.PendingTasksCount, cl.RegisteredContainerInstancesCount)
	}
	if diff := cmp.Diff([]types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}}, cl.Settings, sdkOpts); diff != "" {
		t.Errorf("CreateCluster: settings (-want +got):\n%s", diff)
	}

	t.Run("create is idempotent", func(t *testing.T) {
		again, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("alpha")})
		ok(t, err)
		if got := aws.ToString(again.Cluster.ClusterArn); got != clusterARN("alpha") {
			t.Errorf("second CreateCluster: clusterArn = %q, want %q", got, clusterARN("alpha"))
		}
		if got := aws.ToString(again.Cluster.Status); got != "ACTIVE" {
			t.Errorf("second CreateCluster: status = %q, want ACTIVE", got)
		}
	})

	for _, name := range []string{"beta", "gamma"} {
		mustCluster(t, ctx, c, name)
	}
	def, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{})
	ok(t, err)
	if got := aws.ToString(def.Cluster.ClusterName); got != "default" {
		t.Errorf("CreateCluster with no name: clusterName = %q, want default", got)
	}

	t.Run("invalid names", func(t *testing.T) {
		for _, name := range []string{"bad name", "slash/name", strings.Repeat("x", 256)} {
			_, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)})
			wantCode(t, err, "InvalidParameterException")
			wantTyped[*types.InvalidParameterException](t, err)
		}
	})

	t.Run("describe", func(t *testing.T) {
		out, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{
			Clusters: []string{"alpha", clusterARN("beta"), "missing"},
			Include:  []types.ClusterField{types.ClusterFieldSettings, types.ClusterFieldTags},
		})
		ok(t, err)
		var names []string
		for _, cl := range out.Clusters {
			names = append(names, aws.ToString(cl.ClusterName))
		}
		if diff := cmp.Diff([]string{"alpha", "beta"}, names); diff != "" {
			t.Errorf("clusters (-want +got):\n%s", diff)
		}
		wantFailures := map[string]string{clusterARN("missing"): "MISSING"}
		if diff := cmp.Diff(wantFailures, failureReasons(out.Failures)); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		if len(out.Clusters) == 2 {
			if diff := cmp.Diff(map[string]string{"team": "infra"}, tagMap(out.Clusters[0].Tags)); diff != "" {
				t.Errorf("alpha tags with include TAGS (-want +got):\n%s", diff)
			}
			if len(out.Clusters[0].Settings) == 0 {
				t.Errorf("alpha with include SETTINGS: no settings")
			}
		}

		plain, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"alpha"}})
		ok(t, err)
		if len(plain.Clusters) != 1 {
			t.Fatalf("got %d clusters, want 1", len(plain.Clusters))
		}
		if n := len(plain.Clusters[0].Tags); n != 0 {
			t.Errorf("without include TAGS: got %d tags, want none", n)
		}
		if n := len(plain.Clusters[0].Settings); n != 0 {
			t.Errorf("without include SETTINGS: got %d settings, want none", n)
		}

		// No clusters named means the default cluster.
		dflt, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{})
		ok(t, err)
		if len(dflt.Clusters) != 1 || aws.ToString(dflt.Clusters[0].ClusterName) != "default" {
			t.Errorf("DescribeClusters with no names: got %+v, want the default cluster", dflt.Clusters)
		}

		_, err = c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Include: []types.ClusterField{"BOGUS"}})
		wantCode(t, err, "InvalidParameterException")
	})

	t.Run("list paginates", func(t *testing.T) {
		var got []string
		var token *string
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatalf("ListClusters: more than 10 pages of 1 for 4 clusters; pagination does not end")
			}
			out, err := c.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(1), NextToken: token})
			ok(t, err)
			if len(out.ClusterArns) > 1 {
				t.Errorf("page %d: %d ARNs with maxResults=1", page, len(out.ClusterArns))
			}
			got = append(got, out.ClusterArns...)
			if out.NextToken == nil {
				break
			}
			token = out.NextToken
		}
		want := []string{clusterARN("alpha"), clusterARN("beta"), clusterARN("default"), clusterARN("gamma")}
		if diff := cmp.Diff(want, sortedCopy(got)); diff != "" {
			t.Errorf("ListClusters pages (-want +got):\n%s", diff)
		}
		all, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
		ok(t, err)
		if diff := cmp.Diff(want, sortedCopy(all.ClusterArns)); diff != "" {
			t.Errorf("ListClusters (-want +got):\n%s", diff)
		}
		_, err = c.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(101)})
		wantCode(t, err, "InvalidParameterException")
		_, err = c.ListClusters(ctx, &ecs.ListClustersInput{NextToken: aws.String("not-a-token!")})
		wantCode(t, err, "InvalidParameterException")
	})

	t.Run("update settings", func(t *testing.T) {
		out, err := c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{
			Cluster:  aws.String("alpha"),
			Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("disabled")}},
		})
		ok(t, err)
		want := []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("disabled")}}
		if diff := cmp.Diff(want, out.Cluster.Settings, sdkOpts); diff != "" {
			t.Errorf("UpdateClusterSettings: settings (-want +got):\n%s", diff)
		}
		_, err = c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{
			Cluster:  aws.String("alpha"),
			Settings: []types.ClusterSetting{{Name: "bogusSetting", Value: aws.String("enabled")}},
		})
		wantCode(t, err, "InvalidParameterException")
		_, err = c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{
			Cluster:  aws.String("missing"),
			Settings: want,
		})
		wantCode(t, err, "ClusterNotFoundException")
		wantTyped[*types.ClusterNotFoundException](t, err)
	})

	t.Run("update configuration", func(t *testing.T) {
		cfg := &types.ClusterConfiguration{ExecuteCommandConfiguration: &types.ExecuteCommandConfiguration{
			Logging: types.ExecuteCommandLoggingOverride,
			LogConfiguration: &types.ExecuteCommandLogConfiguration{
				CloudWatchLogGroupName: aws.String("/berth/exec"),
			},
		}}
		out, err := c.UpdateCluster(ctx, &ecs.UpdateClusterInput{Cluster: aws.String("alpha"), Configuration: cfg})
		ok(t, err)
		if diff := cmp.Diff(cfg, out.Cluster.Configuration, sdkOpts); diff != "" {
			t.Errorf("UpdateCluster: configuration (-want +got):\n%s", diff)
		}
		desc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"alpha"}, Include: []types.ClusterField{types.ClusterFieldConfigurations}})
		ok(t, err)
		if len(desc.Clusters) == 1 {
			if diff := cmp.Diff(cfg, desc.Clusters[0].Configuration, sdkOpts); diff != "" {
				t.Errorf("DescribeClusters after UpdateCluster: configuration (-want +got):\n%s", diff)
			}
		}
		_, err = c.UpdateCluster(ctx, &ecs.UpdateClusterInput{Cluster: aws.String("missing"), Configuration: cfg})
		wantCode(t, err, "ClusterNotFoundException")
	})

	t.Run("capacity providers", func(t *testing.T) {
		strategy := []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1, Base: 0}}
		out, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
			Cluster:                         aws.String("alpha"),
			CapacityProviders:               []string{"FARGATE"},
			DefaultCapacityProviderStrategy: strategy,
		})
		ok(t, err)
		if diff := cmp.Diff([]string{"FARGATE"}, out.Cluster.CapacityProviders); diff != "" {
			t.Errorf("capacityProviders (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(strategy, out.Cluster.DefaultCapacityProviderStrategy, sdkOpts); diff != "" {
			t.Errorf("defaultCapacityProviderStrategy (-want +got):\n%s", diff)
		}
		_, err = c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{
			Cluster:                         aws.String("missing"),
			CapacityProviders:               []string{"FARGATE"},
			DefaultCapacityProviderStrategy: strategy,
		})
		wantCode(t, err, "ClusterNotFoundException")
	})

	t.Run("delete", func(t *testing.T) {
		out, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("gamma")})
		ok(t, err)
		if got := aws.ToString(out.Cluster.Status); got != "INACTIVE" {
			t.Errorf("DeleteCluster: status = %q, want INACTIVE", got)
		}
		list, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
		ok(t, err)
		for _, a := range list.ClusterArns {
			if a == clusterARN("gamma") {
				t.Errorf("ListClusters still lists deleted cluster gamma")
			}
		}
		// ECS keeps describing a deleted cluster as INACTIVE for a while.
		desc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"gamma"}})
		ok(t, err)
		if len(desc.Clusters) != 1 || aws.ToString(desc.Clusters[0].Status) != "INACTIVE" {
			t.Errorf("DescribeClusters(gamma) after delete: clusters %+v failures %+v, want one INACTIVE", desc.Clusters, desc.Failures)
		}
		_, err = c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{
			Cluster:  aws.String("gamma"),
			Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
		})
		wantCode(t, err, "ClusterNotFoundException")

		_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("missing")})
		wantCode(t, err, "ClusterNotFoundException")
		wantTyped[*types.ClusterNotFoundException](t, err)

		// Creating it again brings it back.
		again, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("gamma")})
		ok(t, err)
		if got := aws.ToString(again.Cluster.Status); got != "ACTIVE" {
			t.Errorf("CreateCluster after delete: status = %q, want ACTIVE", got)
		}
	})
}

// TestDeleteClusterRefusals checks DeleteCluster refuses while the cluster
// has a service, then while it has a registered instance, and succeeds once
// both are gone.
func TestDeleteClusterRefusals(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs
	mustCluster(t, ctx, c, "busy")
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("busy-app", 128, 128))

	_, err := c.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("busy"), ServiceName: aws.String("web"), TaskDefinition: aws.String("busy-app"), DesiredCount: aws.Int32(0),
	})
	ok(t, err)
	desc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"busy"}})
	ok(t, err)
	if len(desc.Clusters) == 1 && desc.Clusters[0].ActiveServicesCount != 1 {
		t.Errorf("activeServicesCount = %d, want 1", desc.Clusters[0].ActiveServicesCount)
	}
	_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("busy")})
	wantCode(t, err, "ClusterContainsServicesException")
	wantTyped[*types.ClusterContainsServicesException](t, err)

	_, err = c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("busy"), Service: aws.String("web"), Force: aws.Bool(true)})
	ok(t, err)
	// A deleted service with no tasks drains at once; ECS then reports it
	// INACTIVE. Poll for that rather than assume it is immediate.
	waitFor(t, 10*time.Second, "service web to become INACTIVE", func() (bool, string) {
		out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("busy"), Services: []string{"web"}})
		if err != nil {
			return false, err.Error()
		}
		if len(out.Services) == 0 {
			return len(out.Failures) == 1, "MISSING"
		}
		st := aws.ToString(out.Services[0].Status)
		return st == "INACTIVE", st
	})

	inst := mustInstance(t, ctx, c, instanceInput("busy", "i-0e2e00000000000b1", 1024, 2048))
	desc, err = c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"busy"}})
	ok(t, err)
	if len(desc.Clusters) == 1 {
		if got := desc.Clusters[0].RegisteredContainerInstancesCount; got != 1 {
			t.Errorf("registeredContainerInstancesCount = %d, want 1", got)
		}
		if got := desc.Clusters[0].ActiveServicesCount; got != 0 {
			t.Errorf("activeServicesCount after delete = %d, want 0", got)
		}
	}
	_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("busy")})
	wantCode(t, err, "ClusterContainsContainerInstancesException")
	wantTyped[*types.ClusterContainsContainerInstancesException](t, err)

	_, err = c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("busy"), ContainerInstance: aws.String(inst)})
	ok(t, err)
	out, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("busy")})
	ok(t, err)
	if got := aws.ToString(out.Cluster.Status); got != "INACTIVE" {
		t.Errorf("DeleteCluster: status = %q, want INACTIVE", got)
	}
}

// waitFor polls cond until it reports done or d passes; the last detail is
// in the failure message.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() (done bool, detail string)) {
	tb.Helper()
	deadline := time.Now().Add(d)
	backoff := 10 * time.Millisecond
	for {
		done, detail := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %v for %s; last: %s", d, what, detail)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}
