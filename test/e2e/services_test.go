package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// TestServices covers CreateService, UpdateService (a new PRIMARY
// deployment), DescribeServices, ListServices and DeleteService, with the
// validation errors ECS gives.
func TestServices(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs
	mustCluster(t, ctx, c, "svc")
	td1 := mustTaskDef(t, ctx, c, smallTaskDefinitionInput("app", 128, 128))
	td2 := mustTaskDef(t, ctx, c, smallTaskDefinitionInput("app", 128, 256))

	deployCfg := &types.DeploymentConfiguration{MaximumPercent: aws.Int32(200), MinimumHealthyPercent: aws.Int32(50)}
	strategy := []types.PlacementStrategy{
		{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")},
		{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")},
	}
	constraints := []types.PlacementConstraint{
		{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.instance-type =~ t3.*")},
	}
	base := func() *ecs.CreateServiceInput {
		return &ecs.CreateServiceInput{
			Cluster:                 aws.String("svc"),
			ServiceName:             aws.String("web"),
			TaskDefinition:          aws.String("app:1"),
			DesiredCount:            aws.Int32(0),
			DeploymentConfiguration: deployCfg,
			PlacementStrategy:       strategy,
			PlacementConstraints:    constraints,
			Tags:                    tags("env", "e2e"),
		}
	}

	out, err := c.CreateService(ctx, base())
	ok(t, err)
	s := out.Service
	checks := []struct {
		name      string
		got, want any
	}{
		{"serviceArn", aws.ToString(s.ServiceArn), serviceARN("svc", "web")},
		{"serviceName", aws.ToString(s.ServiceName), "web"},
		{"clusterArn", aws.ToString(s.ClusterArn), clusterARN("svc")},
		{"status", aws.ToString(s.Status), "ACTIVE"},
		{"desiredCount", s.DesiredCount, int32(0)},
		{"taskDefinition", aws.ToString(s.TaskDefinition), td1},
		{"launchType", s.LaunchType, types.LaunchTypeEc2},
		{"schedulingStrategy", s.SchedulingStrategy, types.SchedulingStrategyReplica},
		{"deployments", len(s.Deployments), 1},
	}
	for _, ch := range checks {
		if diff := cmp.Diff(ch.want, ch.got); diff != "" {
			t.Errorf("CreateService: %s (-want +got):\n%s", ch.name, diff)
		}
	}
	if s.CreatedAt == nil {
		t.Errorf("CreateService: no createdAt")
	}
	if len(s.Deployments) == 1 {
		d := s.Deployments[0]
		if aws.ToString(d.Status) != "PRIMARY" || aws.ToString(d.TaskDefinition) != td1 || !strings.HasPrefix(aws.ToString(d.Id), "ecs-svc/") {
			t.Errorf("CreateService: deployment = {id %q status %q taskDefinition %q}, want {ecs-svc/..., PRIMARY, %s}", aws.ToString(d.Id), aws.ToString(d.Status), aws.ToString(d.TaskDefinition), td1)
		}
	}
	if dc := s.DeploymentConfiguration; dc == nil || aws.ToInt32(dc.MaximumPercent) != 200 || aws.ToInt32(dc.MinimumHealthyPercent) != 50 {
		t.Errorf("CreateService: deploymentConfiguration = %+v, want maximumPercent 200, minimumHealthyPercent 50", dc)
	}
	// ECS upper-cases binpack's field (memory -> MEMORY); compare ignoring case.
	if diff := cmp.Diff(strategyStrings(strategy), strategyStrings(s.PlacementStrategy)); diff != "" {
		t.Errorf("CreateService: placementStrategy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(constraints, s.PlacementConstraints, sdkOpts); diff != "" {
		t.Errorf("CreateService: placementConstraints (-want +got):\n%s", diff)
	}

	t.Run("create errors", func(t *testing.T) {
		mod := func(f func(*ecs.CreateServiceInput)) *ecs.CreateServiceInput {
			in := base()
			in.ServiceName = aws.String("other")
			f(in)
			return in
		}
		cases := []struct {
			name string
			in   *ecs.CreateServiceInput
			want []string
		}{
			{"not idempotent", mod(func(in *ecs.CreateServiceInput) { in.ServiceName = aws.String("web"); in.DesiredCount = aws.Int32(3) }), []string{"InvalidParameterException"}},
			{"maximumPercent below 100", mod(func(in *ecs.CreateServiceInput) {
				in.DeploymentConfiguration = &types.DeploymentConfiguration{MaximumPercent: aws.Int32(50), MinimumHealthyPercent: aws.Int32(0)}
			}), []string{"InvalidParameterException"}},
			{"unknown placement strategy", mod(func(in *ecs.CreateServiceInput) {
				in.PlacementStrategy = []types.PlacementStrategy{{Type: "bogus", Field: aws.String("memory")}}
			}), []string{"InvalidParameterException"}},
			{"bad memberOf expression", mod(func(in *ecs.CreateServiceInput) {
				in.PlacementConstraints = []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.instance-type =~")}}
			}), []string{"InvalidParameterException"}},
			{"negative desiredCount", mod(func(in *ecs.CreateServiceInput) { in.DesiredCount = aws.Int32(-1) }), []string{"InvalidParameterException"}},
			{"bad service name", mod(func(in *ecs.CreateServiceInput) { in.ServiceName = aws.String("bad name") }), []string{"InvalidParameterException"}},
			{"unknown cluster", mod(func(in *ecs.CreateServiceInput) { in.Cluster = aws.String("nope") }), []string{"ClusterNotFoundException"}},
			// ECS: "ClientException: TaskDefinition not found."
			{"unknown task definition", mod(func(in *ecs.CreateServiceInput) { in.TaskDefinition = aws.String("ghost:1") }), []string{"ClientException"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.CreateService(ctx, tc.in)
				wantOneOf(t, err, tc.want...)
			})
		}
	})

	api := base()
	api.ServiceName = aws.String("api")
	_, err = c.CreateService(ctx, api)
	ok(t, err)

	t.Run("describe", func(t *testing.T) {
		out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{
			Cluster:  aws.String("svc"),
			Services: []string{"web", serviceARN("svc", "api"), "ghost"},
			Include:  []types.ServiceField{types.ServiceFieldTags},
		})
		ok(t, err)
		var names []string
		for _, s := range out.Services {
			names = append(names, aws.ToString(s.ServiceName))
		}
		if diff := cmp.Diff([]string{"web", "api"}, names); diff != "" {
			t.Errorf("services (-want +got):\n%s", diff)
		}
		if len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" || !strings.HasSuffix(aws.ToString(out.Failures[0].Arn), "/ghost") {
			t.Errorf("failures = %+v, want one MISSING for .../ghost", out.Failures)
		}
		if len(out.Services) > 0 {
			if diff := cmp.Diff(map[string]string{"env": "e2e"}, tagMap(out.Services[0].Tags)); diff != "" {
				t.Errorf("include TAGS (-want +got):\n%s", diff)
			}
		}
		_, err = c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("nope"), Services: []string{"web"}})
		wantCode(t, err, "ClusterNotFoundException")
	})

	t.Run("list", func(t *testing.T) {
		want := []string{serviceARN("svc", "api"), serviceARN("svc", "web")}
		all, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc")})
		ok(t, err)
		if diff := cmp.Diff(want, sortedCopy(all.ServiceArns)); diff != "" {
			t.Errorf("ListServices (-want +got):\n%s", diff)
		}
		var paged []string
		var token *string
		for page := 0; page < 10; page++ {
			out, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc"), MaxResults: aws.Int32(1), NextToken: token})
			ok(t, err)
			if len(out.ServiceArns) > 1 {
				t.Errorf("page %d: %d ARNs with maxResults=1", page, len(out.ServiceArns))
			}
			paged = append(paged, out.ServiceArns...)
			if token = out.NextToken; token == nil {
				break
			}
		}
		if diff := cmp.Diff(want, sortedCopy(paged)); diff != "" {
			t.Errorf("ListServices pages of 1 (-want +got):\n%s", diff)
		}
		_, err = c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("nope")})
		wantCode(t, err, "ClusterNotFoundException")
	})

	t.Run("list default page is 10", func(t *testing.T) {
		mustCluster(t, ctx, c, "many")
		for i := range 12 {
			_, err := c.CreateService(ctx, &ecs.CreateServiceInput{
				Cluster: aws.String("many"), ServiceName: aws.String(fmt.Sprintf("s%02d", i)), TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(0),
			})
			ok(t, err)
		}
		out, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("many")})
		ok(t, err)
		if len(out.ServiceArns) != 10 || out.NextToken == nil {
			t.Errorf("ListServices without maxResults: %d ARNs, nextToken %v; want 10 and a token", len(out.ServiceArns), out.NextToken != nil)
		}
	})

	t.Run("update", func(t *testing.T) {
		out, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"), TaskDefinition: aws.String("app:2")})
		ok(t, err)
		s := out.Service
		if got := aws.ToString(s.TaskDefinition); got != td2 {
			t.Errorf("taskDefinition = %q, want %q", got, td2)
		}
		byStatus := map[string]string{}
		for _, d := range s.Deployments {
			byStatus[aws.ToString(d.Status)] = aws.ToString(d.TaskDefinition)
		}
		if diff := cmp.Diff(map[string]string{"PRIMARY": td2, "ACTIVE": td1}, byStatus); diff != "" {
			t.Errorf("deployments after a new task definition (status -> taskDefinition; -want +got):\n%s", diff)
		}
		if len(s.Deployments) > 0 && aws.ToString(s.Deployments[0].Status) != "PRIMARY" {
			t.Errorf("deployments[0].status = %q, want PRIMARY first", aws.ToString(s.Deployments[0].Status))
		}

		scaled, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"), DesiredCount: aws.Int32(1)})
		ok(t, err)
		if got := scaled.Service.DesiredCount; got != 1 {
			t.Errorf("desiredCount = %d, want 1", got)
		}

		errCases := []struct {
			name string
			in   *ecs.UpdateServiceInput
			want string
		}{
			{"unknown service", &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("ghost"), DesiredCount: aws.Int32(1)}, "ServiceNotFoundException"},
			{"unknown cluster", &ecs.UpdateServiceInput{Cluster: aws.String("nope"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}, "ClusterNotFoundException"},
			{"maximumPercent below 100", &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"),
				DeploymentConfiguration: &types.DeploymentConfiguration{MaximumPercent: aws.Int32(50)}}, "InvalidParameterException"},
			{"bad placement strategy", &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"),
				PlacementStrategy: []types.PlacementStrategy{{Type: "bogus"}}}, "InvalidParameterException"},
		}
		for _, tc := range errCases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := c.UpdateService(ctx, tc.in)
				wantCode(t, err, tc.want)
			})
		}
		_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("ghost"), DesiredCount: aws.Int32(1)})
		wantTyped[*types.ServiceNotFoundException](t, err)
	})

	t.Run("delete", func(t *testing.T) {
		// web has desiredCount 1: ECS refuses to delete it without force.
		_, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("web")})
		wantCode(t, err, "InvalidParameterException")

		out, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"), Force: aws.Bool(true)})
		ok(t, err)
		if got := aws.ToString(out.Service.Status); got != "DRAINING" && got != "INACTIVE" {
			t.Errorf("DeleteService: status = %q, want DRAINING (or INACTIVE)", got)
		}
		if got := out.Service.DesiredCount; got != 0 {
			t.Errorf("DeleteService: desiredCount = %d, want 0", got)
		}

		_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("web"), DesiredCount: aws.Int32(2)})
		wantCode(t, err, "ServiceNotActiveException")
		wantTyped[*types.ServiceNotActiveException](t, err)

		desc, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("svc"), Services: []string{"web"}})
		ok(t, err)
		if len(desc.Services) != 1 {
			t.Errorf("DescribeServices(web) after delete: failures %+v, want the service (DRAINING or INACTIVE)", desc.Failures)
		} else if st := aws.ToString(desc.Services[0].Status); st != "DRAINING" && st != "INACTIVE" {
			t.Errorf("DescribeServices(web) after delete: status %q, want DRAINING or INACTIVE", st)
		}

		_, err = c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("ghost")})
		wantCode(t, err, "ServiceNotFoundException")
		_, err = c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("nope"), Service: aws.String("web")})
		wantCode(t, err, "ClusterNotFoundException")
	})
}

// strategyStrings renders placement strategies as "type:field", the field
// lower-cased.
func strategyStrings(ps []types.PlacementStrategy) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, string(p.Type)+":"+strings.ToLower(aws.ToString(p.Field)))
	}
	return out
}
