package logsapi

import (
	"testing"
	"time"

	"github.com/berth-io/berth/api/logs"
	"github.com/google/go-cmp/cmp"
)

func TestLogStreams(t *testing.T) {
	s, _, clk := newTestService(t)
	_, err := s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")

	_, err = s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "/ecs/web"})
	must(t, err)
	for _, name := range []string{"web/app/1", "web/app/2", "web/sidecar/1"} {
		_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: name})
		must(t, err)
	}
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"})
	wantErr(t, err, logs.ErrResourceAlreadyExists, "The specified log stream already exists")

	clk.Advance(time.Second)
	put := func(stream string, ts int64, msg string) {
		t.Helper()
		_, err := s.PutLogEvents(bg, &logs.PutLogEventsRequest{LogGroupName: "/ecs/web", LogStreamName: stream,
			LogEvents: []logs.InputLogEvent{{Timestamp: ts, Message: msg}}})
		must(t, err)
	}
	put("web/app/2", ms(time.Minute), "b")
	put("web/app/1", ms(30*time.Second), "hello")

	names := func(in *logs.DescribeLogStreamsRequest) []string {
		t.Helper()
		var out []string
		for range 10 {
			resp, err := s.DescribeLogStreams(bg, in)
			must(t, err)
			for _, st := range resp.LogStreams {
				out = append(out, st.LogStreamName)
			}
			if resp.NextToken == "" {
				return out
			}
			in.NextToken = resp.NextToken
		}
		t.Fatal("pagination does not end")
		return nil
	}
	for _, tc := range []struct {
		name string
		in   logs.DescribeLogStreamsRequest
		want []string
	}{
		{"by name", logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web"}, []string{"web/app/1", "web/app/2", "web/sidecar/1"}},
		{"by name, paged", logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", Limit: 1}, []string{"web/app/1", "web/app/2", "web/sidecar/1"}},
		{"descending, paged", logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", Descending: true, Limit: 2}, []string{"web/sidecar/1", "web/app/2", "web/app/1"}},
		{"prefix", logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", LogStreamNamePrefix: "web/app/"}, []string{"web/app/1", "web/app/2"}},
		{"last event time, newest first, paged", logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", OrderBy: "LastEventTime", Descending: true, Limit: 1},
			[]string{"web/app/1", "web/app/2", "web/sidecar/1"}},
		{"by ARN", logs.DescribeLogStreamsRequest{LogGroupIdentifier: "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:*", LogStreamNamePrefix: "web/s"},
			[]string{"web/sidecar/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(&tc.in)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}

	out, err := s.DescribeLogStreams(bg, &logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", LogStreamNamePrefix: "web/app/1"})
	must(t, err)
	want := []logs.LogStream{{
		Arn:                 "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/web:log-stream:web/app/1",
		CreationTime:        t0.UnixMilli(),
		FirstEventTimestamp: ms(30 * time.Second),
		LastEventTimestamp:  ms(30 * time.Second),
		LastIngestionTime:   t0.Add(time.Second).UnixMilli(),
		LogStreamName:       "web/app/1",
		StoredBytes:         5,
	}}
	if diff := cmp.Diff(want, out.LogStreams); diff != "" {
		t.Fatalf("web/app/1 (-want +got):\n%s", diff)
	}

	_, err = s.DescribeLogStreams(bg, &logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", OrderBy: "LastEventTime", LogStreamNamePrefix: "web"})
	wantErr(t, err, logs.ErrInvalidParameter, "Cannot order by LastEventTime with a logStreamNamePrefix.")
	_, err = s.DescribeLogStreams(bg, &logs.DescribeLogStreamsRequest{LogGroupName: "/ecs/web", NextToken: "%%%"})
	wantErr(t, err, logs.ErrInvalidParameter, "nextToken: The specified nextToken is invalid.")

	_, err = s.DeleteLogStream(bg, &logs.DeleteLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"})
	must(t, err)
	_, err = s.DeleteLogStream(bg, &logs.DeleteLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log stream does not exist.")
	_, err = s.DeleteLogStream(bg, &logs.DeleteLogStreamRequest{LogGroupName: "/nope", LogStreamName: "x"})
	wantErr(t, err, logs.ErrResourceNotFound, "The specified log group does not exist.")
}
