package logsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/logstore"
)

// PutLogEvents limits (CloudWatch's).
const (
	maxBatchEvents = 10000
	maxBatchBytes  = 1048576 // messages plus logstore.EventOverhead per event
	maxPastAge     = 14 * 24 * time.Hour
	maxFutureSkew  = 2 * time.Hour
	maxBatchSpan   = 24 * time.Hour
	maxStreamNames = 100
	maxPatternLen  = 1024
)

// PutLogEventsResponse is the PutLogEvents output. It is
// logs.PutLogEventsResponse with the rejected-event indices boxed: the
// model leaves them unboxed, so the generated type would send 0 ("event 0
// was rejected") for a kind of rejection that did not happen.
type PutLogEventsResponse struct {
	// NextSequenceToken is never set: sequence tokens are obsolete.
	NextSequenceToken     string                 `json:"nextSequenceToken,omitzero"`
	RejectedLogEventsInfo *RejectedLogEventsInfo `json:"rejectedLogEventsInfo,omitzero"`
}

// RejectedLogEventsInfo says which events of a batch were not stored:
// events [0, TooOldLogEventEndIndex] and [0, ExpiredLogEventEndIndex] were
// too old, events [TooNewLogEventStartIndex, end) too far in the future.
type RejectedLogEventsInfo struct {
	ExpiredLogEventEndIndex  *int32 `json:"expiredLogEventEndIndex,omitempty"`
	TooNewLogEventStartIndex *int32 `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int32 `json:"tooOldLogEventEndIndex,omitempty"`
}

// PutLogEvents appends a batch of events to an existing stream. As in
// CloudWatch, the batch must be in chronological order, at most 10,000
// events and 1 MiB (messages plus 26 bytes an event); events more than 14
// days old or older than the group's retention, or more than 2 hours in the
// future, are rejected (reported, not stored) while the rest are stored;
// the stored ones may span at most 24 hours.
func (s *Service) PutLogEvents(ctx context.Context, in *logs.PutLogEventsRequest) (*PutLogEventsResponse, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	evs := in.LogEvents
	switch {
	case len(evs) == 0:
		return nil, errInvalidParameter("logEvents: Member must have length greater than or equal to 1")
	case len(evs) > maxBatchEvents:
		return nil, errInvalidParameter("logEvents: Member must have length less than or equal to %d", maxBatchEvents)
	}
	size := 0
	for i, e := range evs {
		if err := validTime(fmt.Sprintf("logEvents[%d].timestamp", i), e.Timestamp); err != nil {
			return nil, err
		}
		if i > 0 && e.Timestamp < evs[i-1].Timestamp {
			return nil, errInvalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
		size += len(e.Message) + logstore.EventOverhead
	}
	if size > maxBatchBytes {
		return nil, errInvalidParameter("Upload too large: %d bytes exceeds limit of %d", size, maxBatchBytes)
	}

	g, err := s.st.Group(ctx, in.LogGroupName)
	if err != nil {
		return nil, storeErr(err)
	}
	now := s.now()
	cut := classify(evs, now, s.st.RetentionOf(g))
	valid := evs[cut.from:cut.to]
	if len(valid) > 0 && valid[len(valid)-1].Timestamp-valid[0].Timestamp > maxBatchSpan.Milliseconds() {
		return nil, errInvalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	if len(valid) > 0 {
		batch := make([]logstore.Event, len(valid))
		for i, e := range valid {
			batch[i] = logstore.Event{Timestamp: e.Timestamp, Message: e.Message}
		}
		err = s.st.AppendExisting(ctx, in.LogGroupName, in.LogStreamName, batch)
	} else {
		_, err = s.st.Stream(ctx, in.LogGroupName, in.LogStreamName)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return &PutLogEventsResponse{RejectedLogEventsInfo: cut.info}, nil
}

// rejection is how PutLogEvents splits a chronological batch: events
// [from, to) are stored; info reports the others (nil if none).
type rejection struct {
	from, to int
	info     *RejectedLogEventsInfo
}

// classify splits a chronological batch by age as of now, given the
// group's retention (0: none).
func classify(evs []logs.InputLogEvent, now time.Time, retention time.Duration) rejection {
	r := rejection{to: len(evs)}
	tooOld := now.Add(-maxPastAge).UnixMilli()
	tooNew := now.Add(maxFutureSkew).UnixMilli()
	expired := int64(-1)
	if retention > 0 {
		expired = now.Add(-retention).UnixMilli()
	}
	var info RejectedLogEventsInfo
	for i, e := range evs {
		if e.Timestamp < tooOld {
			info.TooOldLogEventEndIndex = ptr(int32(i))
		}
		if e.Timestamp < expired {
			info.ExpiredLogEventEndIndex = ptr(int32(i))
		}
		if e.Timestamp < tooOld || e.Timestamp < expired {
			r.from = i + 1
		}
		if e.Timestamp > tooNew && info.TooNewLogEventStartIndex == nil {
			info.TooNewLogEventStartIndex = ptr(int32(i))
			r.to = i
		}
	}
	r.to = max(r.to, r.from)
	if info != (RejectedLogEventsInfo{}) {
		r.info = &info
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// GetLogEvents returns a page of one stream's events: the newest ones, or
// the oldest with startFromHead, then onward with nextForwardToken or
// back with nextBackwardToken. Events are always in ascending time order.
// When there is nothing more in a direction, that direction's token comes
// back as it was sent, which is how the SDK paginators and `aws logs`
// know they reached the end.
func (s *Service) GetLogEvents(ctx context.Context, in *logs.GetLogEventsRequest) (*logs.GetLogEventsResponse, error) {
	group, err := s.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := validStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	n, err := limit("limit", in.Limit, logstore.MaxPageEvents)
	if err != nil {
		return nil, err
	}
	if err := validTime("startTime", in.StartTime); err != nil {
		return nil, err
	}
	if err := validTime("endTime", in.EndTime); err != nil {
		return nil, err
	}
	p, err := s.st.GetEvents(ctx, group, in.LogStreamName, logstore.Query{
		StartTime:     in.StartTime,
		EndTime:       in.EndTime,
		Limit:         n,
		StartFromHead: in.StartFromHead,
		Token:         in.NextToken,
	})
	if err != nil {
		return nil, storeErr(err)
	}
	out := &logs.GetLogEventsResponse{
		Events:            make([]logs.OutputLogEvent, 0, len(p.Events)),
		NextForwardToken:  p.ForwardToken,
		NextBackwardToken: p.BackwardToken,
	}
	for _, e := range p.Events {
		out.Events = append(out.Events, logs.OutputLogEvent{IngestionTime: e.IngestionTime, Message: e.Message, Timestamp: e.Timestamp})
	}
	return out, nil
}

// FilterLogEvents returns the events of a group's streams that match a
// filter pattern, merged in time order. nextToken is absent once there is
// nothing more; a page may be short or empty and still have one.
func (s *Service) FilterLogEvents(ctx context.Context, in *logs.FilterLogEventsRequest) (*logs.FilterLogEventsResponse, error) {
	group, err := s.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, errInvalidParameter("logStreamNames: cannot be combined with logStreamNamePrefix")
	}
	if in.LogStreamNames != nil && (len(in.LogStreamNames) < 1 || len(in.LogStreamNames) > maxStreamNames) {
		return nil, errInvalidParameter("logStreamNames: Member must have length between 1 and %d", maxStreamNames)
	}
	for i, name := range in.LogStreamNames {
		if err := validStreamName(fmt.Sprintf("logStreamNames[%d]", i), name); err != nil {
			return nil, err
		}
	}
	if in.LogStreamNamePrefix != "" {
		if err := validStreamName("logStreamNamePrefix", in.LogStreamNamePrefix); err != nil {
			return nil, err
		}
	}
	if len(in.FilterPattern) > maxPatternLen {
		return nil, errInvalidParameter("filterPattern: Member must have length less than or equal to %d", maxPatternLen)
	}
	n, err := limit("limit", in.Limit, logstore.MaxPageEvents)
	if err != nil {
		return nil, err
	}
	if err := validTime("startTime", in.StartTime); err != nil {
		return nil, err
	}
	if err := validTime("endTime", in.EndTime); err != nil {
		return nil, err
	}
	p, err := s.st.Filter(ctx, group, logstore.FilterQuery{
		StreamNames:  in.LogStreamNames,
		StreamPrefix: in.LogStreamNamePrefix,
		StartTime:    in.StartTime,
		EndTime:      in.EndTime,
		Pattern:      in.FilterPattern,
		Limit:        n,
		Token:        in.NextToken,
	})
	if err != nil {
		return nil, storeErr(err)
	}
	out := &logs.FilterLogEventsResponse{
		Events:             make([]logs.FilteredLogEvent, 0, len(p.Events)),
		NextToken:          p.Token,
		SearchedLogStreams: []logs.SearchedLogStream{},
	}
	for _, e := range p.Events {
		out.Events = append(out.Events, logs.FilteredLogEvent{
			EventId:       eventID(e.Event),
			IngestionTime: e.IngestionTime,
			LogStreamName: e.Stream,
			Message:       e.Message,
			Timestamp:     e.Timestamp,
		})
	}
	return out, nil
}

// eventID is an event's stable identifier: its timestamp and its
// store-wide (unique) sequence as 40 digits (CloudWatch's are 56 digits;
// both are opaque). `aws logs tail --follow` uses it to drop events it has
// already printed.
func eventID(e logstore.Event) string {
	return fmt.Sprintf("%020d%020d", max(e.Timestamp, 0), e.Seq)
}
