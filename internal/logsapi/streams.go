package logsapi

import (
	"context"
	"fmt"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/logstore"
)

// CreateLogStream creates a log stream in an existing group.
func (s *Service) CreateLogStream(ctx context.Context, in *logs.CreateLogStreamRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	if err := s.st.CreateStream(ctx, in.LogGroupName, in.LogStreamName); err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}

// DeleteLogStream deletes a log stream with its events.
func (s *Service) DeleteLogStream(ctx context.Context, in *logs.DeleteLogStreamRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := validStreamName("logStreamName", in.LogStreamName); err != nil {
		return nil, err
	}
	if err := s.st.DeleteStream(ctx, in.LogGroupName, in.LogStreamName); err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}

// DescribeLogStreams lists a group's streams by name (optionally under a
// prefix) or by last event time, ascending or descending.
func (s *Service) DescribeLogStreams(ctx context.Context, in *logs.DescribeLogStreamsRequest) (*logs.DescribeLogStreamsResponse, error) {
	group, err := s.groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	n, err := limit("limit", in.Limit, describeLimit)
	if err != nil {
		return nil, err
	}
	order := logstore.ByName
	key := func(st logstore.Stream) string { return st.Name }
	switch in.OrderBy {
	case "", logs.OrderByLogStreamName:
	case logs.OrderByLastEventTime:
		if in.LogStreamNamePrefix != "" {
			return nil, errInvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
		order = logstore.ByLastEventTime
		// Fixed-width hex of the sign-flipped timestamp, then the name:
		// byte order is the store's (lastEventTimestamp, name) order.
		key = func(st logstore.Stream) string {
			return fmt.Sprintf("%016x/%s", uint64(st.LastEventTimestamp)^(1<<63), st.Name)
		}
	default:
		return nil, errInvalidParameter("orderBy: Member must satisfy enum value set: [LogStreamName, LastEventTime]")
	}
	if in.LogStreamNamePrefix != "" {
		if err := validStreamName("logStreamNamePrefix", in.LogStreamNamePrefix); err != nil {
			return nil, err
		}
	}
	streams, err := s.st.Streams(ctx, group, in.LogStreamNamePrefix, order, in.Descending)
	if err != nil {
		return nil, storeErr(err)
	}
	pg, next, err := page(streams, key, in.NextToken, n, in.Descending)
	if err != nil {
		return nil, err
	}
	out := &logs.DescribeLogStreamsResponse{LogStreams: make([]logs.LogStream, 0, len(pg)), NextToken: next}
	for _, st := range pg {
		out.LogStreams = append(out.LogStreams, logs.LogStream{
			Arn:                 s.streamARN(group, st.Name),
			CreationTime:        st.CreationTime,
			FirstEventTimestamp: st.FirstEventTimestamp,
			LastEventTimestamp:  st.LastEventTimestamp,
			LastIngestionTime:   st.LastIngestionTime,
			LogStreamName:       st.Name,
			StoredBytes:         st.StoredBytes,
		})
	}
	return out, nil
}
