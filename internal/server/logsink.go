package server

import (
	"context"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/internal/logstore"
)

// logSink stores the agents' log batches in the log store, one batch per
// transaction.
type logSink struct{ st *logstore.Store }

func (l logSink) AppendLogs(ctx context.Context, streams []agent.LogStream) error {
	batches := make([]logstore.Batch, 0, len(streams))
	for _, s := range streams {
		events := make([]logstore.Event, len(s.Events))
		for i, e := range s.Events {
			events[i] = logstore.Event{Timestamp: e.TimestampMs, Message: e.Message}
		}
		batches = append(batches, logstore.Batch{Group: s.Group, Stream: s.Stream, Events: events})
	}
	return l.st.AppendBatches(ctx, batches)
}
