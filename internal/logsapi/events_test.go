package logsapi

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/api/logs"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the operations' output")

// seedStream creates /ecs/web with stream web/app/1 and puts n events one
// second apart, ending a minute before t0.
func seedStream(t *testing.T, s *Service, n int) {
	t.Helper()
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "/ecs/web"})
	must(t, err)
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"})
	must(t, err)
	in := &logs.PutLogEventsRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1"}
	for i := range n {
		in.LogEvents = append(in.LogEvents, logs.InputLogEvent{
			Timestamp: ms(time.Minute + time.Duration(n-1-i)*time.Second),
			Message:   fmt.Sprintf("line %d", i),
		})
	}
	out, err := s.PutLogEvents(bg, in)
	must(t, err)
	if out.RejectedLogEventsInfo != nil {
		t.Fatalf("seed events rejected: %+v", out.RejectedLogEventsInfo)
	}
}

func messages(evs []logs.OutputLogEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func lines(from, to int) []string {
	out := []string{}
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	return out
}

// golden compares v, as indented JSON, with testdata/<name>.golden.json,
// or rewrites the file with -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("%s (-want +got):\n%s", path, diff)
	}
}

func TestGetLogEventsGolden(t *testing.T) {
	s, _, _ := newTestService(t)
	seedStream(t, s, 3)
	out, err := call(t, s, "GetLogEvents", `{"logGroupName":"/ecs/web","logStreamName":"web/app/1","startFromHead":true}`)
	must(t, err)
	var v any
	must(t, json.Unmarshal([]byte(out), &v))
	golden(t, "get_log_events", v)

	out, err = call(t, s, "FilterLogEvents", `{"logGroupName":"/ecs/web","filterPattern":"\"line 1\""}`)
	must(t, err)
	must(t, json.Unmarshal([]byte(out), &v))
	golden(t, "filter_log_events", v)
}

func TestGetLogEventsPaging(t *testing.T) {
	s, _, _ := newTestService(t)
	seedStream(t, s, 25)

	// From the head, forward until the token repeats (the SDK paginators' rule).
	var got []string
	in := &logs.GetLogEventsRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1", StartFromHead: true, Limit: 10}
	pages := 0
	for ; pages < 10; pages++ {
		out, err := s.GetLogEvents(bg, in)
		must(t, err)
		got = append(got, messages(out.Events)...)
		if out.NextForwardToken == in.NextToken {
			break
		}
		in.NextToken = out.NextForwardToken
	}
	if diff := cmp.Diff(lines(0, 25), got); diff != "" {
		t.Fatalf("forward (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("got %d pages before the repeated token, want 3", pages)
	}

	// The default is the tail; then backward.
	out, err := s.GetLogEvents(bg, &logs.GetLogEventsRequest{LogGroupIdentifier: "/ecs/web", LogStreamName: "web/app/1", Limit: 10})
	must(t, err)
	if diff := cmp.Diff(lines(15, 25), messages(out.Events)); diff != "" {
		t.Fatalf("tail (-want +got):\n%s", diff)
	}
	out, err = s.GetLogEvents(bg, &logs.GetLogEventsRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1", Limit: 10, NextToken: out.NextBackwardToken})
	must(t, err)
	if diff := cmp.Diff(lines(5, 15), messages(out.Events)); diff != "" {
		t.Fatalf("backward (-want +got):\n%s", diff)
	}

	// Time range: startTime inclusive, endTime exclusive.
	out, err = s.GetLogEvents(bg, &logs.GetLogEventsRequest{LogGroupName: "/ecs/web", LogStreamName: "web/app/1",
		StartTime: ms(time.Minute + 20*time.Second), EndTime: ms(time.Minute + 17*time.Second), StartFromHead: true})
	must(t, err)
	if diff := cmp.Diff(lines(4, 7), messages(out.Events)); diff != "" {
		t.Fatalf("time range (-want +got):\n%s", diff)
	}

	// An empty stream still returns both tokens and an empty list.
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "/ecs/web", LogStreamName: "empty"})
	must(t, err)
	raw, err := call(t, s, "GetLogEvents", `{"logGroupName":"/ecs/web","logStreamName":"empty"}`)
	must(t, err)
	if !strings.Contains(raw, `"events":[]`) || !strings.Contains(raw, `"nextForwardToken":"f/`) || !strings.Contains(raw, `"nextBackwardToken":"b/`) {
		t.Fatalf("empty stream: got %s, want events [] and both tokens", raw)
	}
}

func TestPutLogEventsRejections(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention int32
		ages      []time.Duration // negative: in the future
		wantInfo  string
		wantKept  []string
	}{
		{"all fine", 0, []time.Duration{time.Hour, time.Minute}, `{}`, []string{"0", "1"}},
		{"too old", 30, []time.Duration{15 * 24 * time.Hour, 15 * 24 * time.Hour, time.Minute}, `{"rejectedLogEventsInfo":{"tooOldLogEventEndIndex":1}}`, []string{"2"}},
		{"expired by the group's retention", 1, []time.Duration{2 * 24 * time.Hour, time.Minute}, `{"rejectedLogEventsInfo":{"expiredLogEventEndIndex":0}}`, []string{"1"}},
		{"expired by the default retention", 0, []time.Duration{8 * 24 * time.Hour, time.Minute}, `{"rejectedLogEventsInfo":{"expiredLogEventEndIndex":0}}`, []string{"1"}},
		{"too new", 0, []time.Duration{time.Minute, -3 * time.Hour, -4 * time.Hour}, `{"rejectedLogEventsInfo":{"tooNewLogEventStartIndex":1}}`, []string{"0"}},
		{"everything rejected", 0, []time.Duration{20 * 24 * time.Hour, -3 * time.Hour},
			`{"rejectedLogEventsInfo":{"expiredLogEventEndIndex":0,"tooNewLogEventStartIndex":1,"tooOldLogEventEndIndex":0}}`, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newTestService(t)
			_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
			must(t, err)
			if tc.retention != 0 {
				_, err = s.PutRetentionPolicy(bg, &logs.PutRetentionPolicyRequest{LogGroupName: "g", RetentionInDays: tc.retention})
				must(t, err)
			}
			_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: "s"})
			must(t, err)
			in := &logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s"}
			for i, age := range tc.ages {
				in.LogEvents = append(in.LogEvents, logs.InputLogEvent{Timestamp: ms(age), Message: fmt.Sprint(i)})
			}
			body, _ := json.Marshal(in)
			got, err := call(t, s, "PutLogEvents", string(body))
			must(t, err)
			if got != tc.wantInfo {
				t.Errorf("got %s, want %s", got, tc.wantInfo)
			}
			out, err := s.GetLogEvents(bg, &logs.GetLogEventsRequest{LogGroupName: "g", LogStreamName: "s", StartFromHead: true})
			must(t, err)
			if diff := cmp.Diff(tc.wantKept, messages(out.Events)); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPutLogEventsErrors(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: "s"})
	must(t, err)
	ev := func(age time.Duration, msg string) logs.InputLogEvent {
		return logs.InputLogEvent{Timestamp: ms(age), Message: msg}
	}
	big := strings.Repeat("x", 600<<10)
	for _, tc := range []struct {
		name          string
		in            logs.PutLogEventsRequest
		code, message string
	}{
		{"missing group", logs.PutLogEventsRequest{LogGroupName: "nope", LogStreamName: "s", LogEvents: []logs.InputLogEvent{ev(0, "x")}},
			logs.ErrResourceNotFound, "The specified log group does not exist."},
		{"missing stream", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "nope", LogEvents: []logs.InputLogEvent{ev(0, "x")}},
			logs.ErrResourceNotFound, "The specified log stream does not exist."},
		{"missing stream, all events rejected", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "nope", LogEvents: []logs.InputLogEvent{ev(30*24*time.Hour, "x")}},
			logs.ErrResourceNotFound, "The specified log stream does not exist."},
		{"not chronological", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s", LogEvents: []logs.InputLogEvent{ev(0, "a"), ev(time.Second, "b")}},
			logs.ErrInvalidParameter, "Log events in a single PutLogEvents request must be in chronological order."},
		{"too large", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s", LogEvents: []logs.InputLogEvent{ev(1, big), ev(0, big)}},
			logs.ErrInvalidParameter, fmt.Sprintf("Upload too large: %d bytes exceeds limit of 1048576", 2*(len(big)+26))},
		{"spans more than 24 hours", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s", LogEvents: []logs.InputLogEvent{ev(25*time.Hour, "a"), ev(0, "b")}},
			logs.ErrInvalidParameter, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."},
		{"empty list", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s", LogEvents: []logs.InputLogEvent{}},
			logs.ErrInvalidParameter, "logEvents: Member must have length greater than or equal to 1"},
		{"negative timestamp", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "s", LogEvents: []logs.InputLogEvent{{Timestamp: -1, Message: "x"}}},
			logs.ErrInvalidParameter, "logEvents[0].timestamp: Member must have value greater than or equal to 0"},
		{"bad stream name", logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: "a:b", LogEvents: []logs.InputLogEvent{ev(0, "x")}},
			logs.ErrInvalidParameter, "logStreamName: Member must satisfy regular expression pattern: [^:*]*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PutLogEvents(bg, &tc.in)
			wantErr(t, err, tc.code, tc.message)
		})
	}
}

func TestFilterLogEvents(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.CreateLogGroup(bg, &logs.CreateLogGroupRequest{LogGroupName: "g"})
	must(t, err)
	for i, stream := range []string{"web/app/1", "web/app/2", "db/1"} {
		_, err = s.CreateLogStream(bg, &logs.CreateLogStreamRequest{LogGroupName: "g", LogStreamName: stream})
		must(t, err)
		in := &logs.PutLogEventsRequest{LogGroupName: "g", LogStreamName: stream}
		for j := range 4 {
			msg := fmt.Sprintf("%s %d", stream, j)
			if j == 2 {
				msg += " ERROR"
			}
			in.LogEvents = append(in.LogEvents, logs.InputLogEvent{Timestamp: ms(time.Hour) + int64(j*10+i), Message: msg})
		}
		_, err = s.PutLogEvents(bg, in)
		must(t, err)
	}
	all := func(in *logs.FilterLogEventsRequest) ([]string, []string) {
		t.Helper()
		var msgs, ids []string
		for range 20 {
			out, err := s.FilterLogEvents(bg, in)
			must(t, err)
			for _, e := range out.Events {
				msgs = append(msgs, e.LogStreamName+": "+e.Message)
				ids = append(ids, e.EventId)
			}
			if out.NextToken == "" {
				return msgs, ids
			}
			in.NextToken = out.NextToken
		}
		t.Fatal("pagination does not end")
		return nil, nil
	}
	msgs, ids := all(&logs.FilterLogEventsRequest{LogGroupName: "g", FilterPattern: "ERROR"})
	want := []string{"web/app/1: web/app/1 2 ERROR", "web/app/2: web/app/2 2 ERROR", "db/1: db/1 2 ERROR"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Fatalf("pattern (-want +got):\n%s", diff)
	}
	msgs2, ids2 := all(&logs.FilterLogEventsRequest{LogGroupName: "g", Limit: 1, FilterPattern: "ERROR"})
	if diff := cmp.Diff(msgs, msgs2); diff != "" {
		t.Fatalf("paged one by one (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids, ids2); diff != "" {
		t.Fatalf("event IDs are not stable (-want +got):\n%s", diff)
	}
	msgs, _ = all(&logs.FilterLogEventsRequest{LogGroupName: "g", LogStreamNamePrefix: "web/", StartTime: ms(time.Hour) + 10, EndTime: ms(time.Hour) + 20})
	want = []string{"web/app/1: web/app/1 1", "web/app/2: web/app/2 1", "web/app/1: web/app/1 2 ERROR"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Fatalf("prefix and time range (-want +got):\n%s", diff)
	}
	msgs, _ = all(&logs.FilterLogEventsRequest{LogGroupIdentifier: "arn:aws:logs:us-east-1:123456789012:log-group:g", LogStreamNames: []string{"db/1"}, FilterPattern: "-ERROR"})
	want = []string{"db/1: db/1 0", "db/1: db/1 1", "db/1: db/1 3"}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Fatalf("names and exclusion (-want +got):\n%s", diff)
	}
}
