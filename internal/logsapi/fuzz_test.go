package logsapi

import (
	"errors"
	"sort"
	"testing"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/awserr"
)

// FuzzLogsOps sends arbitrary bodies to every operation, over a store
// seeded with a group, a stream and a few events. No input may panic,
// every error must be an *awserr.Error (an API error, never a leaked
// internal one), and the store must still answer afterwards.
func FuzzLogsOps(f *testing.F) {
	s, _, _ := newTestService(f)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(f, err)
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: "s"})
	must(f, err)
	_, err = s.PutLogEvents(bg, &logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s",
		LogEvents: []logs.InputLogEvent{{Timestamp: t0.UnixMilli() - 1000, Message: "hello ERROR"}, {Timestamp: t0.UnixMilli(), Message: "bye"}}})
	must(f, err)

	ops := s.Ops()
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	seeds := []string{
		`{}`,
		`{"logGroupName":"g","logStreamName":"s"}`,
		`{"logGroupName":"g","logStreamName":"s","startFromHead":true,"limit":1}`,
		`{"logGroupName":"g","logStreamName":"s","nextToken":"f/800001a21292c3d00000000000000001"}`,
		`{"logGroupName":"g","logStreamName":"s","nextToken":"b/ffffffffffffffffffffffffffffffff"}`,
		`{"logGroupName":"g","filterPattern":"?ERROR -bye \"hel","limit":1}`,
		`{"logGroupName":"g","logStreamName":"s2","logEvents":[{"timestamp":1795608000000,"message":"x"}]}`,
		`{"logGroupName":"g","logStreamName":"s","logEvents":[{"timestamp":1795608000000,"message":"x"},{"timestamp":1,"message":"y"}]}`,
		`{"logGroupName":"g","retentionInDays":3653}`,
		`{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:g:*","orderBy":"LastEventTime","descending":true}`,
		`{"logGroupIdentifiers":["arn:aws:logs:us-east-1:123456789012:log-group:g","g"],"limit":1,"nextToken":"Zw"}`,
		`{"logGroupName":"g","startTime":9223372036854775807,"endTime":9223372036854775807}`,
	}
	for i := range names {
		for _, sd := range seeds {
			f.Add(uint8(i), []byte(sd))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := names[int(op)%len(names)]
		_, err := ops[name](bg, body)
		var e *awserr.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("%s(%q): error %v is not an API error", name, body, err)
		}
		if e != nil && e.Server {
			t.Fatalf("%s(%q): server error %v", name, body, e)
		}
		if _, err := s.DescribeLogGroups(bg, &logs.DescribeLogGroupsRequest{}); err != nil {
			t.Fatalf("store unusable after %s(%q): %v", name, body, err)
		}
	})
}
