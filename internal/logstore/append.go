package logstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	bbolt "go.etcd.io/bbolt"
)

// eventsFillPercent packs the events buckets' pages tightly: events mostly
// arrive in timestamp order, so pages are appended to, not split in the middle.
const eventsFillPercent = 0.9

// Batch is a run of events for one stream.
type Batch struct {
	Group, Stream string
	Events        []Event
}

// Append stores a batch of events in group/stream, creating the group and
// the stream if they do not exist (the agent's ingestion path). The batch
// is one transaction, fsync'd before Append returns. Events may come in any
// order; reads return them by (timestamp, sequence). Each event's
// IngestionTime and Seq are set by the store (the slice is not modified);
// messages longer than Options.MaxEventBytes are split.
func (s *Store) Append(ctx context.Context, group, stream string, events []Event) error {
	return s.append(ctx, []Batch{{Group: group, Stream: stream, Events: events}}, true)
}

// AppendBatches is Append for several streams at once, in one transaction
// and one fsync: an agent flushing the output of all its containers pays
// for one commit, not one per container. Either every batch is stored or
// none is.
func (s *Store) AppendBatches(ctx context.Context, batches []Batch) error {
	return s.append(ctx, batches, true)
}

// AppendExisting is Append into a stream that must exist already; it fails
// with ErrGroupNotFound or ErrStreamNotFound otherwise (CloudWatch's
// PutLogEvents).
func (s *Store) AppendExisting(ctx context.Context, group, stream string, events []Event) error {
	return s.append(ctx, []Batch{{Group: group, Stream: stream, Events: events}}, false)
}

func (s *Store) append(ctx context.Context, batches []Batch, create bool) error {
	size := 0
	for i := range batches {
		b := &batches[i]
		if err := checkName(b.Group); err != nil {
			return err
		}
		if err := checkName(b.Stream); err != nil {
			return err
		}
		for _, e := range b.Events {
			size += keyLen + binary.MaxVarintLen64 + len(e.Message)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock.Now().UnixMilli()
	// One buffer for every key and value: bbolt keeps references to them
	// until the transaction commits.
	buf := make([]byte, 0, size)
	lastSeqs := make([]uint64, len(batches))
	return s.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		seq := meta.Sequence()
		for i, b := range batches {
			var err error
			buf, seq, err = appendLocked(tx, b, create, now, s.opts.MaxEventBytes, buf, seq)
			if err != nil {
				return err
			}
			if len(b.Events) > 0 {
				lastSeqs[i] = seq
			}
		}
		return meta.SetSequence(seq)
	}, func() {
		for i, b := range batches {
			if lastSeqs[i] != 0 {
				s.notify(streamKey{b.Group, b.Stream}, lastSeqs[i])
			}
		}
	})
}

// appendLocked writes one batch in write transaction tx, numbering its
// events after seq; it returns the grown buffer and the last sequence used.
func appendLocked(tx *bbolt.Tx, b Batch, create bool, now int64, maxEvent int, buf []byte, seq uint64) ([]byte, uint64, error) {
	gb := openGroup(tx, b.Group)
	if gb == nil {
		if !create {
			return buf, seq, fmt.Errorf("append to %s/%s: %w", b.Group, b.Stream, ErrGroupNotFound)
		}
		var err error
		if gb, err = createGroupLocked(tx.Bucket(groupsBucket), b.Group, groupRecord{CreationTime: now}); err != nil {
			return buf, seq, err
		}
	}
	sb := gb.Bucket(streamsBucket).Bucket([]byte(b.Stream))
	if sb == nil {
		if !create {
			return buf, seq, fmt.Errorf("append to %s/%s: %w", b.Group, b.Stream, ErrStreamNotFound)
		}
		var err error
		if sb, err = createStreamLocked(gb, b.Group, b.Stream, streamRecord{CreationTime: now}); err != nil {
			return buf, seq, err
		}
	}
	if len(b.Events) == 0 {
		return buf, seq, nil
	}
	st, err := readStream(sb)
	if err != nil {
		return buf, seq, err
	}
	eb := sb.Bucket(eventsBucket)
	eb.FillPercent = eventsFillPercent
	var added int64
	for _, e := range splitLong(b.Events, maxEvent) {
		seq++
		k := makeKey(e.Timestamp, seq)
		start := len(buf)
		buf = append(buf, k[:]...)
		buf = binary.AppendUvarint(buf, uint64(now))
		buf = append(buf, e.Message...)
		if err := eb.Put(buf[start:start+keyLen], buf[start+keyLen:]); err != nil {
			return buf, seq, fmt.Errorf("append to %s/%s: %w", b.Group, b.Stream, err)
		}
		if st.Events == 0 || e.Timestamp < st.FirstEventTimestamp {
			st.FirstEventTimestamp = e.Timestamp
		}
		if st.Events == 0 || e.Timestamp > st.LastEventTimestamp {
			st.LastEventTimestamp = e.Timestamp
		}
		st.Events++
		added += int64(len(e.Message))
	}
	st.StoredBytes += added
	st.LastIngestionTime = now
	st.LastSeq = seq
	if err := putJSON(sb, metaKey, st); err != nil {
		return buf, seq, err
	}
	return buf, seq, addGroupBytes(gb, added)
}

// splitLong returns events with every message longer than limit bytes
// split into consecutive events of at most limit bytes, cut at UTF-8
// character boundaries. It returns events itself when nothing is too long.
func splitLong(events []Event, limit int) []Event {
	long := false
	for _, e := range events {
		if len(e.Message) > limit {
			long = true
			break
		}
	}
	if !long {
		return events
	}
	out := make([]Event, 0, len(events)+1)
	for _, e := range events {
		msg := e.Message
		for len(msg) > limit {
			cut := limit
			// Back up to the start of a character (at most 3 bytes), unless
			// the text is not UTF-8 there anyway.
			for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(msg[cut]); i++ {
				cut--
			}
			if cut == 0 || !utf8.RuneStart(msg[cut]) {
				cut = limit
			}
			part := e
			part.Message = msg[:cut]
			out = append(out, part)
			msg = msg[cut:]
		}
		e.Message = msg
		out = append(out, e)
	}
	return out
}
