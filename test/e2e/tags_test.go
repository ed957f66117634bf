package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// TestTags tags and untags each taggable resource kind and reads the tags
// back with ListTagsForResource.
func TestTags(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs
	mustCluster(t, ctx, c, "tags")
	tdARN := mustTaskDef(t, ctx, c, smallTaskDefinitionInput("tagged", 64, 64))
	svc, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("tags"), ServiceName: aws.String("tagged"), TaskDefinition: aws.String("tagged"), DesiredCount: aws.Int32(0)})
	ok(t, err)
	inst := mustInstance(t, ctx, c, instanceInput("tags", "i-0e2e00000000000a1", 1024, 1024))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("tags"), TaskDefinition: aws.String("tagged")})
	ok(t, err)
	if len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %d tasks (failures %+v), want 1", len(run.Tasks), run.Failures)
	}

	resources := []struct{ kind, arn string }{
		{"cluster", clusterARN("tags")},
		{"service", aws.ToString(svc.Service.ServiceArn)},
		{"task", aws.ToString(run.Tasks[0].TaskArn)},
		{"container instance", inst},
		{"task definition", tdARN},
	}
	for _, r := range resources {
		t.Run(r.kind, func(t *testing.T) {
			_, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: tags("owner", "e2e", "tier", "gold")})
			ok(t, err)
			got, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(r.arn)})
			ok(t, err)
			if diff := cmp.Diff(map[string]string{"owner": "e2e", "tier": "gold"}, tagMap(got.Tags)); diff != "" {
				t.Errorf("after TagResource (-want +got):\n%s", diff)
			}
			// Tagging an existing key overwrites its value.
			_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: tags("tier", "silver")})
			ok(t, err)
			_, err = c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(r.arn), TagKeys: []string{"owner"}})
			ok(t, err)
			got, err = c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(r.arn)})
			ok(t, err)
			if diff := cmp.Diff(map[string]string{"tier": "silver"}, tagMap(got.Tags)); diff != "" {
				t.Errorf("after overwrite and UntagResource (-want +got):\n%s", diff)
			}
		})
	}

	// The tags show up where the resource is described with include TAGS.
	desc, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"tags"}, Include: []types.ClusterField{types.ClusterFieldTags}})
	ok(t, err)
	if len(desc.Clusters) == 1 {
		if diff := cmp.Diff(map[string]string{"tier": "silver"}, tagMap(desc.Clusters[0].Tags)); diff != "" {
			t.Errorf("DescribeClusters include TAGS (-want +got):\n%s", diff)
		}
	}

	t.Run("errors", func(t *testing.T) {
		_, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(clusterARN("tags")), Tags: tags("aws:reserved", "x")})
		wantCode(t, err, "InvalidParameterException")
		_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: tags("k", "v")})
		wantCode(t, err, "InvalidParameterException")
		_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(clusterARN("ghost")), Tags: tags("k", "v")})
		wantOneOf(t, err, "ClusterNotFoundException", "ResourceNotFoundException", "InvalidParameterException")
		_, err = c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(serviceARN("tags", "ghost"))})
		wantOneOf(t, err, "ResourceNotFoundException", "ServiceNotFoundException", "InvalidParameterException")
	})
}

// TestAttributes puts custom attributes on a container instance, lists,
// filters, uses one in a placement constraint and deletes it.
func TestAttributes(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs
	mustCluster(t, ctx, c, "attrs")
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("placed", 64, 64))
	inst := mustInstance(t, ctx, c, instanceInput("attrs", "i-0e2e00000000000c1", 1024, 1024))

	put, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{
		Cluster:    aws.String("attrs"),
		Attributes: []types.Attribute{{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(inst)}},
	})
	ok(t, err)
	if len(put.Attributes) != 1 || aws.ToString(put.Attributes[0].Name) != "stack" {
		t.Errorf("PutAttributes: returned %+v, want the stack attribute", put.Attributes)
	}

	list := func(t *testing.T, in *ecs.ListAttributesInput) []types.Attribute {
		t.Helper()
		in.Cluster = aws.String("attrs")
		in.TargetType = types.TargetTypeContainerInstance
		out, err := c.ListAttributes(ctx, in)
		ok(t, err)
		return out.Attributes
	}
	stack := types.Attribute{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(inst), TargetType: types.TargetTypeContainerInstance}
	cases := []struct {
		name string
		in   *ecs.ListAttributesInput
		want []types.Attribute
	}{
		{"by name", &ecs.ListAttributesInput{AttributeName: aws.String("stack")}, []types.Attribute{stack}},
		{"by name and value", &ecs.ListAttributesInput{AttributeName: aws.String("stack"), AttributeValue: aws.String("prod")}, []types.Attribute{stack}},
		{"by other value", &ecs.ListAttributesInput{AttributeName: aws.String("stack"), AttributeValue: aws.String("dev")}, nil},
		{"by other name", &ecs.ListAttributesInput{AttributeName: aws.String("nothing")}, nil},
	}
	for _, tc := range cases {
		t.Run("list "+tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, list(t, tc.in), sdkOpts); diff != "" {
				t.Errorf("ListAttributes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("describe shows it", func(t *testing.T) {
		desc, err := c.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("attrs"), ContainerInstances: []string{inst}})
		ok(t, err)
		if len(desc.ContainerInstances) != 1 {
			t.Fatalf("DescribeContainerInstances: %d instances, want 1", len(desc.ContainerInstances))
		}
		found := false
		for _, a := range desc.ContainerInstances[0].Attributes {
			if aws.ToString(a.Name) == "stack" && aws.ToString(a.Value) == "prod" {
				found = true
			}
		}
		if !found {
			t.Errorf("instance attributes %+v lack stack=prod", desc.ContainerInstances[0].Attributes)
		}
	})

	t.Run("placement uses it", func(t *testing.T) {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{
			Cluster: aws.String("attrs"), TaskDefinition: aws.String("placed"),
			PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:stack == prod")}},
		})
		ok(t, err)
		if len(out.Tasks) != 1 || aws.ToString(out.Tasks[0].ContainerInstanceArn) != inst {
			t.Errorf("RunTask memberOf(stack == prod): tasks %d, failures %+v; want one task on %s", len(out.Tasks), out.Failures, inst)
		}
		out, err = c.RunTask(ctx, &ecs.RunTaskInput{
			Cluster: aws.String("attrs"), TaskDefinition: aws.String("placed"),
			PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:stack == dev")}},
		})
		ok(t, err)
		if len(out.Tasks) != 0 || len(out.Failures) == 0 {
			t.Errorf("RunTask memberOf(stack == dev): tasks %d, failures %+v; want no task and a failure", len(out.Tasks), out.Failures)
		}
	})

	t.Run("delete", func(t *testing.T) {
		_, err := c.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{
			Cluster:    aws.String("attrs"),
			Attributes: []types.Attribute{{Name: aws.String("stack"), TargetId: aws.String(inst)}},
		})
		ok(t, err)
		if got := list(t, &ecs.ListAttributesInput{AttributeName: aws.String("stack")}); len(got) != 0 {
			t.Errorf("ListAttributes after DeleteAttributes: %+v, want none", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{
			Cluster:    aws.String("attrs"),
			Attributes: []types.Attribute{{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(arnPrefix + "container-instance/attrs/" + missingID)}},
		})
		wantCode(t, err, "TargetNotFoundException")
		wantTyped[*types.TargetNotFoundException](t, err)
		_, instID, _ := strings.Cut(strings.TrimPrefix(inst, arnPrefix+"container-instance/"), "/")
		_, err = c.PutAttributes(ctx, &ecs.PutAttributesInput{
			Cluster:    aws.String("nope"),
			Attributes: []types.Attribute{{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(instID), TargetType: types.TargetTypeContainerInstance}},
		})
		wantCode(t, err, "ClusterNotFoundException")
		_, err = c.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("attrs"), TargetType: "bogus"})
		wantCode(t, err, "InvalidParameterException")
	})
}
