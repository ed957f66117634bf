package e2e

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// TestTaskDefinitions covers registration (revision numbering and a full
// round trip of every container field), describe by each reference form,
// listing, deregistration and deletion.
func TestTaskDefinitions(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs

	in := fullTaskDefinitionInput("web")
	var first *types.TaskDefinition
	for rev := int32(1); rev <= 3; rev++ {
		out, err := c.RegisterTaskDefinition(ctx, in)
		ok(t, err)
		td := out.TaskDefinition
		if td.Revision != rev {
			t.Errorf("registration %d: revision = %d, want %d", rev, td.Revision, rev)
		}
		if got, want := aws.ToString(td.TaskDefinitionArn), taskDefARN(fmt.Sprintf("web:%d", rev)); got != want {
			t.Errorf("registration %d: taskDefinitionArn = %q, want %q", rev, got, want)
		}
		if got := td.Status; got != types.TaskDefinitionStatusActive {
			t.Errorf("registration %d: status = %q, want ACTIVE", rev, got)
		}
		if td.RegisteredAt == nil {
			t.Errorf("registration %d: no registeredAt", rev)
		}
		if rev == 1 {
			first = td
			if diff := cmp.Diff(map[string]string{"team": "web", "cost-center": "42"}, tagMap(out.Tags)); diff != "" {
				t.Errorf("RegisterTaskDefinition: tags (-want +got):\n%s", diff)
			}
		}
	}

	t.Run("round trip", func(t *testing.T) {
		if first == nil {
			t.Skip("first registration failed")
		}
		if diff := cmp.Diff(in.ContainerDefinitions, first.ContainerDefinitions, sdkOpts); diff != "" {
			t.Errorf("RegisterTaskDefinition: containerDefinitions differ from the input (-sent +returned):\n%s", diff)
		}
		desc, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
		ok(t, err)
		if diff := cmp.Diff(in.ContainerDefinitions, desc.TaskDefinition.ContainerDefinitions, sdkOpts); diff != "" {
			t.Errorf("DescribeTaskDefinition: containerDefinitions differ from the input (-sent +returned):\n%s", diff)
		}
		td := desc.TaskDefinition
		checks := []struct {
			name      string
			got, want any
		}{
			{"family", aws.ToString(td.Family), "web"},
			{"networkMode", td.NetworkMode, in.NetworkMode},
			{"requiresCompatibilities", td.RequiresCompatibilities, in.RequiresCompatibilities},
			{"cpu", aws.ToString(td.Cpu), "256"},
			{"memory", aws.ToString(td.Memory), "512"},
			{"taskRoleArn", aws.ToString(td.TaskRoleArn), aws.ToString(in.TaskRoleArn)},
			{"executionRoleArn", aws.ToString(td.ExecutionRoleArn), aws.ToString(in.ExecutionRoleArn)},
		}
		for _, ch := range checks {
			if diff := cmp.Diff(ch.want, ch.got); diff != "" {
				t.Errorf("DescribeTaskDefinition: %s (-want +got):\n%s", ch.name, diff)
			}
		}
		if diff := cmp.Diff(in.Volumes, td.Volumes, sdkOpts); diff != "" {
			t.Errorf("volumes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(in.PlacementConstraints, td.PlacementConstraints, sdkOpts); diff != "" {
			t.Errorf("placementConstraints (-want +got):\n%s", diff)
		}
	})

	// Other families for listing.
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("web-admin", 64, 64))
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("worker", 64, 64))

	t.Run("describe", func(t *testing.T) {
		cases := []struct {
			name, ref string
			wantRev   int32
		}{
			{"family means latest", "web", 3},
			{"family:revision", "web:2", 2},
			{"ARN", taskDefARN("web:1"), 1},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				out, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(tc.ref)})
				ok(t, err)
				if got := out.TaskDefinition.Revision; got != tc.wantRev {
					t.Errorf("revision = %d, want %d", got, tc.wantRev)
				}
				if n := len(out.Tags); n != 0 {
					t.Errorf("without include TAGS: got %d tags, want none", n)
				}
			})
		}
		out, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
			TaskDefinition: aws.String("web:1"),
			Include:        []types.TaskDefinitionField{types.TaskDefinitionFieldTags},
		})
		ok(t, err)
		if diff := cmp.Diff(map[string]string{"team": "web", "cost-center": "42"}, tagMap(out.Tags)); diff != "" {
			t.Errorf("include TAGS: tags (-want +got):\n%s", diff)
		}
		for _, ref := range []string{"ghost", "web:99"} {
			_, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
			wantCode(t, err, "ClientException")
			wantTyped[*types.ClientException](t, err)
		}
	})

	t.Run("invalid registrations", func(t *testing.T) {
		noMemory := smallTaskDefinitionInput("nomem", 64, 64)
		noMemory.ContainerDefinitions[0].Memory = nil
		badFamily := smallTaskDefinitionInput("bad family!", 64, 64)
		cases := []struct {
			name string
			in   *ecs.RegisterTaskDefinitionInput
			want []string
		}{
			// ECS: "Invalid setting for container 'app'. At least one of
			// 'memory' or 'memoryReservation' must be specified."
			{"no memory anywhere on EC2", noMemory, []string{"ClientException"}},
			{"bad family", badFamily, []string{"ClientException", "InvalidParameterException"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.RegisterTaskDefinition(ctx, tc.in)
				wantOneOf(t, err, tc.want...)
			})
		}
	})

	listArns := func(t *testing.T, in *ecs.ListTaskDefinitionsInput) []string {
		t.Helper()
		out, err := c.ListTaskDefinitions(ctx, in)
		ok(t, err)
		return out.TaskDefinitionArns
	}

	t.Run("list", func(t *testing.T) {
		web := []string{taskDefARN("web:1"), taskDefARN("web:2"), taskDefARN("web:3")}
		if diff := cmp.Diff(web, listArns(t, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")})); diff != "" {
			t.Errorf("familyPrefix=web (the full family, not a prefix) (-want +got):\n%s", diff)
		}
		desc := []string{taskDefARN("web:3"), taskDefARN("web:2"), taskDefARN("web:1")}
		if diff := cmp.Diff(desc, listArns(t, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web"), Sort: types.SortOrderDesc})); diff != "" {
			t.Errorf("sort DESC (-want +got):\n%s", diff)
		}
		// ASC: lexicographic by family name, then by revision.
		all := append(append([]string{}, web...), taskDefARN("web-admin:1"), taskDefARN("worker:1"))
		if diff := cmp.Diff(all, listArns(t, &ecs.ListTaskDefinitionsInput{})); diff != "" {
			t.Errorf("all, ASC (-want +got):\n%s", diff)
		}

		var paged []string
		var token *string
		for page := 0; page < 10; page++ {
			out, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web"), MaxResults: aws.Int32(1), NextToken: token})
			ok(t, err)
			if len(out.TaskDefinitionArns) > 1 {
				t.Errorf("page %d: %d ARNs with maxResults=1", page, len(out.TaskDefinitionArns))
			}
			paged = append(paged, out.TaskDefinitionArns...)
			if token = out.NextToken; token == nil {
				break
			}
		}
		if diff := cmp.Diff(web, paged); diff != "" {
			t.Errorf("pages of 1 (-want +got):\n%s", diff)
		}

		fams, err := c.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("web")})
		ok(t, err)
		if diff := cmp.Diff([]string{"web", "web-admin"}, fams.Families); diff != "" {
			t.Errorf("ListTaskDefinitionFamilies familyPrefix=web (-want +got):\n%s", diff)
		}
	})

	t.Run("deregister", func(t *testing.T) {
		out, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
		ok(t, err)
		if got := out.TaskDefinition.Status; got != types.TaskDefinitionStatusInactive {
			t.Errorf("DeregisterTaskDefinition: status = %q, want INACTIVE", got)
		}
		if out.TaskDefinition.DeregisteredAt == nil {
			t.Errorf("DeregisterTaskDefinition: no deregisteredAt")
		}
		// An INACTIVE revision stays describable.
		desc, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1")})
		ok(t, err)
		if got := desc.TaskDefinition.Status; got != types.TaskDefinitionStatusInactive {
			t.Errorf("DescribeTaskDefinition(web:1): status = %q, want INACTIVE", got)
		}
		if diff := cmp.Diff([]string{taskDefARN("web:2"), taskDefARN("web:3")}, listArns(t, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web")})); diff != "" {
			t.Errorf("ACTIVE list after deregistering web:1 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{taskDefARN("web:1")}, listArns(t, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("web"), Status: types.TaskDefinitionStatusInactive})); diff != "" {
			t.Errorf("INACTIVE list (-want +got):\n%s", diff)
		}

		_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web-admin:1")})
		ok(t, err)
		famCases := []struct {
			status types.TaskDefinitionFamilyStatus
			want   []string
		}{
			{types.TaskDefinitionFamilyStatusActive, []string{"web"}},
			{types.TaskDefinitionFamilyStatusInactive, []string{"web-admin"}},
			{types.TaskDefinitionFamilyStatusAll, []string{"web", "web-admin"}},
		}
		for _, fc := range famCases {
			out, err := c.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("web"), Status: fc.status})
			ok(t, err)
			if diff := cmp.Diff(fc.want, out.Families); diff != "" {
				t.Errorf("ListTaskDefinitionFamilies status=%s (-want +got):\n%s", fc.status, diff)
			}
		}
		_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("ghost:1")})
		wantOneOf(t, err, "ClientException", "InvalidParameterException")
		// A revision is required: deregistering a bare family is refused.
		_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web")})
		wantOneOf(t, err, "ClientException", "InvalidParameterException")
	})

	t.Run("delete", func(t *testing.T) {
		out, err := c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:1", taskDefARN("web:2")}})
		ok(t, err)
		if len(out.TaskDefinitions) != 1 || aws.ToString(out.TaskDefinitions[0].TaskDefinitionArn) != taskDefARN("web:1") {
			t.Errorf("DeleteTaskDefinitions: deleted %+v, want only web:1", out.TaskDefinitions)
		} else if got := out.TaskDefinitions[0].Status; got != types.TaskDefinitionStatusDeleteInProgress {
			t.Errorf("DeleteTaskDefinitions: web:1 status = %q, want DELETE_IN_PROGRESS", got)
		}
		// web:2 is still ACTIVE: ECS reports it as a failure, not an error.
		if len(out.Failures) != 1 || aws.ToString(out.Failures[0].Arn) != taskDefARN("web:2") {
			t.Errorf("DeleteTaskDefinitions: failures %+v, want one for web:2 (still ACTIVE)", out.Failures)
		}
		// Revisions are never reused.
		next, err := c.RegisterTaskDefinition(ctx, smallTaskDefinitionInput("web", 64, 64))
		ok(t, err)
		if got := next.TaskDefinition.Revision; got != 4 {
			t.Errorf("registration after delete: revision = %d, want 4", got)
		}
		_, err = c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{}})
		wantOneOf(t, err, "InvalidParameterException", "ClientException")
	})
}
