package logstore

import (
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// defaultSweepChunk bounds the events one sweep transaction deletes, so a
// large expiry never holds the write lock for long.
const defaultSweepChunk = 10_000

// sweepJob is one stream with something to delete.
type sweepJob struct {
	group, stream string
	now           int64 // ms
	// cutoff: events with timestamps before it have expired (if hasCutoff).
	cutoff    int64
	hasCutoff bool
}

// setCutoff sets j's cutoff from group g's retention.
func (s *Store) setCutoff(j *sweepJob, g groupRecord) {
	j.cutoff, j.hasCutoff = 0, false
	if r := s.RetentionOf(g.group(j.group)); r > 0 {
		j.cutoff, j.hasCutoff = j.now-r.Milliseconds(), true
	}
}

// Sweep applies retention as of now: it deletes the events older than
// their group's retention (RetentionOf), the oldest events of streams over
// Options.MaxStreamBytes, and the streams left empty whose last event (or
// creation, if they never had one) is older than the retention. It returns
// how many events it deleted. Each stream is swept in its own transactions
// of at most a few thousand events, so appends interleave with a large sweep.
func (s *Store) Sweep(ctx context.Context, now time.Time) (deleted int, err error) {
	jobs, err := s.planSweep(now.UnixMilli())
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		for {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			n, more, err := s.sweepStream(j)
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("sweep log stream %s/%s: %w", j.group, j.stream, err)
			}
			if !more {
				break
			}
		}
	}
	return deleted, nil
}

// planSweep lists the streams that have something to delete.
func (s *Store) planSweep(nowMs int64) ([]sweepJob, error) {
	var jobs []sweepJob
	err := s.view(func(tx *bbolt.Tx) error {
		groups := tx.Bucket(groupsBucket)
		return groups.ForEachBucket(func(gname []byte) error {
			gb := groups.Bucket(gname)
			g, err := readGroup(gb)
			if err != nil {
				return err
			}
			j := sweepJob{group: string(gname), now: nowMs}
			s.setCutoff(&j, g)
			if !j.hasCutoff && s.opts.MaxStreamBytes <= 0 {
				return nil
			}
			streams := gb.Bucket(streamsBucket)
			return streams.ForEachBucket(func(sname []byte) error {
				sb := streams.Bucket(sname)
				k, _ := sb.Bucket(eventsBucket).Cursor().First()
				due := false
				switch {
				case k != nil:
					due = j.hasCutoff && keyTS(k) < j.cutoff
					if !due && s.opts.MaxStreamBytes > 0 {
						st, err := readStream(sb)
						if err != nil {
							return err
						}
						due = st.StoredBytes > s.opts.MaxStreamBytes
					}
				case j.hasCutoff:
					st, err := readStream(sb)
					if err != nil {
						return err
					}
					due = lastActivity(st) < j.cutoff
				}
				if due {
					jj := j
					jj.stream = string(sname)
					jobs = append(jobs, jj)
				}
				return nil
			})
		})
	})
	return jobs, err
}

// lastActivity is the timestamp a stream is judged by once it is empty:
// its last event's, or its creation time if it never had one.
func lastActivity(st streamRecord) int64 {
	if st.LastSeq == 0 {
		return st.CreationTime
	}
	return st.LastEventTimestamp
}

// sweepStream deletes up to sweepChunk events of one stream, and the
// stream itself once it is empty and expired. more reports that it
// stopped at the chunk limit.
func (s *Store) sweepStream(j sweepJob) (deleted int, more bool, err error) {
	dropped := false
	err = s.update(func(tx *bbolt.Tx) error {
		deleted, more = 0, false
		gb, sb, err := openStream(tx, j.group, j.stream)
		if err != nil {
			return nil // deleted meanwhile
		}
		st, err := readStream(sb)
		if err != nil {
			return err
		}
		g, err := readGroup(gb)
		if err != nil {
			return err
		}
		// The retention may have changed since the plan; use the current one.
		s.setCutoff(&j, g)
		eb := sb.Bucket(eventsBucket)
		var doomed [][]byte
		var freed int64
		c := eb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(doomed) == s.sweepChunk {
				more = true
				break
			}
			expired := j.hasCutoff && keyTS(k) < j.cutoff
			over := s.opts.MaxStreamBytes > 0 && st.StoredBytes-freed > s.opts.MaxStreamBytes
			if !expired && !over {
				break
			}
			_, msg, err := decodeValue(v)
			if err != nil {
				return err
			}
			doomed = append(doomed, append([]byte(nil), k...))
			freed += int64(len(msg))
		}
		for _, k := range doomed {
			if err := eb.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(doomed)
		st.StoredBytes = max(st.StoredBytes-freed, 0)
		st.Events = max(st.Events-int64(deleted), 0)
		if first, _ := eb.Cursor().First(); first != nil {
			st.FirstEventTimestamp = keyTS(first)
		} else if j.hasCutoff && lastActivity(st) < j.cutoff {
			if err := gb.Bucket(streamsBucket).DeleteBucket([]byte(j.stream)); err != nil {
				return err
			}
			dropped = true
			return addGroupBytes(gb, -freed)
		}
		if deleted == 0 {
			return nil
		}
		if err := putJSON(sb, metaKey, st); err != nil {
			return err
		}
		return addGroupBytes(gb, -freed)
	}, func() {
		if dropped {
			s.resetWatches(j.group, j.stream)
		}
	})
	return deleted, more, err
}

// Run sweeps at once and then every Options.SweepInterval (on the store's
// clock) until ctx ends or the store is closed. A failed sweep is logged
// and retried at the next interval: retention must not stop for good
// because one sweep hit a full disk.
func (s *Store) Run(ctx context.Context) error {
	for {
		start := s.clock.Now()
		n, err := s.Sweep(ctx, start)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("sweep failed", "err", err)
		case n > 0:
			s.log.Info("swept expired log events", "events", n, "took", s.clock.Now().Sub(start))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-s.clock.After(s.opts.SweepInterval):
		}
	}
}
