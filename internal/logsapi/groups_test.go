package logsapi

import (
	"testing"
	"time"

	"github.com/berth-io/berth/api/logs"
	"github.com/google/go-cmp/cmp"
)

func TestCreateAndDescribeLogGroups(t *testing.T) {
	s, _, clk := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "/ecs/web", Tags: map[string]string{"team": "a"}})
	must(t, err)
	clk.Advance(time.Second)
	_, err = s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "/ecs/api", LogGroupClass: logs.LogGroupClassINFREQUENTACCESS})
	must(t, err)
	_, err = s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "batch"})
	must(t, err)

	_, err = s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "/ecs/web"})
	wantErr(t, err, logs.ErrResourceAlreadyExists, "The specified log group already exists")

	web := logs.LogGroup{
		Arn:           "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*",
		LogGroupArn:   "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web",
		CreationTime:  t0.UnixMilli(),
		LogGroupName:  "/ecs/web",
		LogGroupClass: "STANDARD",
	}
	api := logs.LogGroup{
		Arn:           "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/api:*",
		LogGroupArn:   "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/api",
		CreationTime:  t0.Add(time.Second).UnixMilli(),
		LogGroupName:  "/ecs/api",
		LogGroupClass: "INFREQUENT_ACCESS",
	}
	batch := logs.LogGroup{
		Arn:           "arn:aws:logs:us-east-1:123456789012:log-group:batch:*",
		LogGroupArn:   "arn:aws:logs:us-east-1:123456789012:log-group:batch",
		CreationTime:  t0.Add(time.Second).UnixMilli(),
		LogGroupName:  "batch",
		LogGroupClass: "STANDARD",
	}
	for _, tc := range []struct {
		name string
		in   logs.DescribeLogGroupsRequest
		want []logs.LogGroup
	}{
		{"all, by name", logs.DescribeLogGroupsRequest{}, []logs.LogGroup{api, web, batch}},
		{"prefix", logs.DescribeLogGroupsRequest{LogGroupNamePrefix: "/ecs/"}, []logs.LogGroup{api, web}},
		{"pattern returns three members", logs.DescribeLogGroupsRequest{LogGroupNamePattern: "web"}, []logs.LogGroup{
			{Arn: web.Arn, CreationTime: web.CreationTime, LogGroupName: web.LogGroupName}}},
		{"class", logs.DescribeLogGroupsRequest{LogGroupClass: "STANDARD"}, []logs.LogGroup{web, batch}},
		{"identifiers: name, ARN, another account's ARN", logs.DescribeLogGroupsRequest{LogGroupIdentifiers: []string{
			"batch", "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*", "arn:aws:logs:us-east-1:999999999999:log-group:/ecs/api"}},
			[]logs.LogGroup{web, batch}},
		{"no match", logs.DescribeLogGroupsRequest{LogGroupNamePrefix: "nope"}, []logs.LogGroup{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.DescribeLogGroups(bg, &tc.in)
			must(t, err)
			if diff := cmp.Diff(tc.want, out.LogGroups); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if out.NextToken != "" {
				t.Fatalf("got nextToken %q, want none", out.NextToken)
			}
		})
	}

	// Paging one at a time visits every group once.
	var names []string
	in := &logs.DescribeLogGroupsRequest{Limit: 1}
	for range 10 {
		out, err := s.DescribeLogGroups(bg, in)
		must(t, err)
		for _, g := range out.LogGroups {
			names = append(names, g.LogGroupName)
		}
		if out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if diff := cmp.Diff([]string{"/ecs/api", "/ecs/web", "batch"}, names); diff != "" {
		t.Fatalf("paged (-want +got):\n%s", diff)
	}
}

func TestRetentionPolicy(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	retention := func() int32 {
		t.Helper()
		out, err := s.DescribeLogGroups(bg, &logs.DescribeLogGroupsRequest{LogGroupNamePrefix: "g"})
		must(t, err)
		return out.LogGroups[0].RetentionInDays
	}
	_, err = s.PutRetentionPolicy(bg, &logs.PutRetentionPolicyRequest{LogGroupName: "g", RetentionInDays: 14})
	must(t, err)
	if got := retention(); got != 14 {
		t.Fatalf("after put: got %d, want 14", got)
	}
	_, err = s.PutRetentionPolicy(bg, &logs.PutRetentionPolicyRequest{LogGroupName: "g", RetentionInDays: 2})
	wantErr(t, err, logs.ErrInvalidParameter, "retentionInDays: "+retentionConstraint)
	_, err = s.PutRetentionPolicy(bg, &logs.PutRetentionPolicyRequest{LogGroupName: "nope", RetentionInDays: 1})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")

	_, err = s.DeleteRetentionPolicy(bg, &logs.DeleteRetentionPolicyRequest{LogGroupName: "g"})
	must(t, err)
	if got := retention(); got != 0 {
		t.Fatalf("after delete: got %d, want 0", got)
	}
	_, err = s.DeleteRetentionPolicy(bg, &logs.DeleteRetentionPolicyRequest{LogGroupName: "nope"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")
}

func TestDeleteLogGroup(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: "s"})
	must(t, err)
	_, err = s.DeleteLogGroup(bg, &logs.DeleteLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	_, err = s.DeleteLogGroup(bg, &logs.DeleteLogGroupRequest{LogGroupName: "g"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")
	_, err = s.DescribeLogStreams(bg, &logs.DescribeLogStreamsRequest{LogGroupName: "g"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")
}
