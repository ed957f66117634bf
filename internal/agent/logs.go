package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/internal/runtime"
)

// Log shipping limits.
const (
	// maxLineBytes splits longer lines into several events (CloudWatch
	// caps an event at 256 KiB).
	maxLineBytes = 64 << 10
	// maxBatchEvents and maxBatchBytes bound one POST (the server takes
	// at most 8 MiB of JSON; escaping can grow a message up to six times).
	maxBatchEvents = 5000
	maxBatchBytes  = 1 << 20
	// maxBufferedEvents bounds what waits per stream while the server is
	// unreachable; beyond it the oldest lines are dropped.
	maxBufferedEvents = 50000
	// offsetsFile keeps, per container, how many bytes of its output have
	// been shipped, so a restarted agent does not ship them again.
	offsetsFile = "log-offsets.json"
	// offsetSaveInterval: the offsets file is written after acknowledged
	// batches, at most this often (and when the shipper stops). A crash
	// ships again what was acknowledged since the last write: about this
	// much output, plus what was in flight.
	offsetSaveInterval = time.Second
	// maxFollowFailures: a running container's output is opened again
	// when its stream ends or breaks; after this many attempts in a row
	// that read nothing, the follower gives up (a runtime that cannot
	// give the output, e.g. Docker with a log driver it cannot read).
	maxFollowFailures = 10
)

// logSource is what the shipper needs of the runtime: a container's output,
// and whether the container still runs.
type logSource interface {
	Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)
	Inspect(ctx context.Context, id string) (runtime.Status, error)
}

// logShipper captures every container's output and ships it to the server:
// one goroutine per container follows its log (runtime Logs with follow)
// and cuts it into timestamped lines; the shipper batches the lines of all
// containers and POSTs them every flush interval, or as soon as enough wait.
//
// Delivery is at least once: the offsets file records how far each
// container's output was acknowledged, written at most every
// offsetSaveInterval; a restarted agent resumes from there.
type logShipper struct {
	rt       logSource
	clock    Clock
	log      *slog.Logger
	send     func(ctx context.Context, streams []agent.LogStream) error
	every    time.Duration
	maxLines int
	path     string // offsets file; "" keeps none
	retryMin time.Duration
	retryMax time.Duration

	mu        sync.Mutex
	ctx       context.Context // the shipper's Run context, for followers
	queue     []*pendingStream
	byKey     map[streamKey]*pendingStream
	lines     int // lines waiting
	offsets   map[string]int64
	gens      map[string]int // per container, bumped when its output is read again from 0
	saved     bool           // offsets are on disk as they are
	savedAt   time.Time      // when they were last written
	followed  map[string]bool
	followers int         // followers reading now
	pending   []followReq // follow requests before Run started
	closed    bool        // Run is ending: no new followers
	wake      chan struct{}
	wg        sync.WaitGroup
}

type streamKey struct{ group, stream string }

type pendingStream struct {
	key    streamKey
	events []agent.LogEvent
	ends   []offsetMark // byte offsets the events reach, per container
}

type offsetMark struct {
	id  string
	gen int // the container's gens value when the line was read
	end int64
}

type followReq struct{ id, group, stream string }

func newLogShipper(rt logSource, clock Clock, log *slog.Logger, dataDir string, every time.Duration, maxLines int,
	send func(context.Context, []agent.LogStream) error) *logShipper {
	s := &logShipper{rt: rt, clock: clock, log: log.With("component", "logs"), send: send, every: every, maxLines: maxLines,
		byKey: map[streamKey]*pendingStream{}, offsets: map[string]int64{}, gens: map[string]int{}, saved: true, followed: map[string]bool{},
		wake: make(chan struct{}, 1), retryMin: 100 * time.Millisecond, retryMax: 5 * time.Second}
	if dataDir != "" {
		s.path = filepath.Join(dataDir, offsetsFile)
	}
	return s
}

// loadOffsets reads the shipped offsets of the previous run.
func (s *logShipper) loadOffsets() error {
	if s.path == "" {
		return nil
	}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read log offsets: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := json.Unmarshal(b, &s.offsets); err != nil {
		s.log.Warn("ignoring unreadable log offsets; output may be shipped twice", "file", s.path, "err", err)
		s.offsets = map[string]int64{}
	}
	return nil
}

// keepOnly forgets the offsets of every container not in ids (containers
// removed while no agent ran).
func (s *logShipper) keepOnly(ids map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.offsets {
		if !ids[id] {
			delete(s.offsets, id)
			s.saved = false
		}
	}
}

// follow starts shipping the output of container id (once per container).
func (s *logShipper) follow(id, group, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.followed[id] {
		return
	}
	s.followed[id] = true
	if s.ctx == nil {
		s.pending = append(s.pending, followReq{id, group, stream})
		return
	}
	s.startLocked(followReq{id, group, stream})
}

func (s *logShipper) startLocked(f followReq) {
	if s.closed {
		return
	}
	ctx, skip := s.ctx, s.offsets[f.id]
	s.followers++
	s.wg.Go(func() {
		if err := s.read(ctx, f, skip); err != nil && ctx.Err() == nil {
			s.log.Warn("container output: no longer following it", "container_id", f.id, "err", err)
		}
		s.mu.Lock()
		s.followers--
		s.mu.Unlock()
	})
}

// read follows one container's output from byte off (what was shipped
// before) until the container has exited and its output is read to the end,
// the container is gone, or ctx ends. A stream that ends or breaks while the
// container still runs (the engine restarted, a connection broke) is opened
// again where it stopped, with backoff; after maxFollowFailures attempts in
// a row that read nothing, read gives up. A line the stream cut short is
// read again whole from the next stream.
func (s *logShipper) read(ctx context.Context, f followReq, off int64) error {
	bo := backoff{min: s.retryMin, max: s.retryMax}
	failures := 0
	draining := false // the container had exited before this stream was opened
	for {
		from := off
		next, partial, err := s.readStream(ctx, f, off)
		off = next
		if ctx.Err() != nil || errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		if draining {
			s.addPartial(f, partial, off)
			return err
		}
		st, ierr := s.rt.Inspect(ctx, f.id)
		switch {
		case ctx.Err() != nil, errors.Is(ierr, runtime.ErrNotFound):
			return nil
		case ierr == nil && st.State == runtime.StateExited:
			if err == nil {
				// The stream ended because the container exited: it
				// delivered everything.
				s.addPartial(f, partial, off)
				return nil
			}
			draining = true // it broke: read what is left once more
			continue
		case ierr == nil:
			if off > from {
				failures = 0
				bo.reset()
			} else if failures++; failures >= maxFollowFailures {
				if err == nil {
					err = io.EOF
				}
				return fmt.Errorf("follow output: %d attempts in a row read nothing: %w", failures, err)
			}
		}
		d := bo.next()
		s.log.Debug("container output stream ended while the container runs; opening it again",
			"container_id", f.id, "offset", off, "err", err, "inspect_err", ierr, "retry_in", d)
		if sleep(ctx, s.clock, d) != nil {
			return nil
		}
	}
}

// readStream reads one followed stream of the container's output from byte
// off, queueing its complete lines. It returns the offset after the last
// line queued, the bytes of an unfinished last line (not queued, not
// counted), and why the stream ended: nil when it simply ended (EOF).
func (s *logShipper) readStream(ctx context.Context, f followReq, off int64) (int64, []byte, error) {
	rc, off, err := s.open(ctx, f.id, off)
	if err != nil {
		return off, nil, err
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	br := bufio.NewReaderSize(rc, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			off += int64(len(line))
			s.add(f, string(trimEOL(line)), off)
		case errors.Is(err, io.EOF):
			return off, bytes.Clone(line), nil
		default:
			return off, bytes.Clone(line), fmt.Errorf("read output: %w", err)
		}
	}
}

// addPartial queues the unfinished last line of a container that exited.
func (s *logShipper) addPartial(f followReq, partial []byte, off int64) {
	if len(partial) > 0 {
		s.add(f, string(trimEOL(partial)), off+int64(len(partial)))
	}
}

// open opens the container's output, followed, positioned at byte off.
// Output shorter than off was rotated or truncated by the runtime: open
// logs a warning and starts again from byte 0, so that output is shipped
// (perhaps again) rather than skipped. It returns the offset it opened at.
func (s *logShipper) open(ctx context.Context, id string, off int64) (io.ReadCloser, int64, error) {
	if off > 0 {
		// A followed stream would wait for output beyond the end instead
		// of ending: measure the output without following first.
		n, err := s.measure(ctx, id, off)
		if err != nil {
			return nil, off, err
		}
		if n < off {
			off = s.rewind(id, off, n)
		}
	}
	for {
		rc, err := s.rt.Logs(ctx, id, true)
		if err != nil {
			return nil, off, fmt.Errorf("follow output: %w", err)
		}
		if off == 0 {
			return rc, 0, nil
		}
		n, err := io.CopyN(io.Discard, rc, off)
		if err == nil {
			return rc, off, nil
		}
		rc.Close()
		if !errors.Is(err, io.EOF) {
			return nil, off, fmt.Errorf("skip shipped output (%d of %d bytes): %w", n, off, err)
		}
		off = s.rewind(id, off, n) // it shrank since it was measured
	}
}

// measure returns how many bytes of the container's output there are now,
// up to limit.
func (s *logShipper) measure(ctx context.Context, id string, limit int64) (int64, error) {
	rc, err := s.rt.Logs(ctx, id, false)
	if err != nil {
		return 0, fmt.Errorf("read output: %w", err)
	}
	defer rc.Close()
	n, err := io.CopyN(io.Discard, rc, limit)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read output: %w", err)
	}
	return n, nil
}

// rewind starts a container's output again from byte 0: its recorded
// offset is reset (offsets of lines read before no longer count), and 0
// returned.
func (s *logShipper) rewind(id string, off, size int64) int64 {
	s.log.Warn("container output is shorter than what was already read (rotated or truncated by the runtime); shipping it again from the start",
		"container_id", id, "offset", off, "size", size)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens[id]++
	s.offsets[id] = 0
	s.saved = false
	return 0
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// add queues one line that ends at byte offset end of container f.id.
func (s *logShipper) add(f followReq, msg string, end int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := streamKey{f.group, f.stream}
	ps := s.byKey[key]
	if ps == nil {
		ps = &pendingStream{key: key}
		s.byKey[key] = ps
		s.queue = append(s.queue, ps)
	}
	ps.events = append(ps.events, agent.LogEvent{TimestampMs: s.clock.Now().UnixMilli(), Message: msg})
	ps.ends = append(ps.ends, offsetMark{id: f.id, gen: s.gens[f.id], end: end})
	s.lines++
	if over := len(ps.events) - maxBufferedEvents; over > 0 {
		ps.events, ps.ends = ps.events[over:], ps.ends[over:]
		s.lines -= over
		s.log.Warn("server unreachable too long: dropped container output", "group", key.group, "stream", key.stream, "lines", over)
	}
	if s.lines >= s.maxLines {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// take removes up to maxBatchEvents waiting lines (at most about
// maxBatchBytes, at least one line) for one POST.
func (s *logShipper) take() ([]agent.LogStream, []offsetMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var streams []agent.LogStream
	var marks []offsetMark
	budget, bytesLeft := maxBatchEvents, maxBatchBytes
	for budget > 0 && bytesLeft > 0 && len(s.queue) > 0 {
		ps := s.queue[0]
		n := 0
		for n < min(budget, len(ps.events)) && bytesLeft > 0 {
			bytesLeft -= len(ps.events[n].Message) + 32 // the event's JSON around it
			n++
		}
		streams = append(streams, agent.LogStream{Group: ps.key.group, Stream: ps.key.stream, Events: ps.events[:n:n]})
		marks = append(marks, ps.ends[:n]...)
		ps.events, ps.ends = ps.events[n:], ps.ends[n:]
		s.lines -= n
		budget -= n
		if len(ps.events) == 0 {
			s.queue = s.queue[1:]
			delete(s.byKey, ps.key)
		}
	}
	return streams, marks
}

// putBack requeues a batch the server did not take, ahead of newer lines.
func (s *logShipper) putBack(streams []agent.LogStream, marks []offsetMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for j := len(streams) - 1; j >= 0; j-- {
		st := streams[j]
		n := len(st.Events)
		ends := marks[len(marks)-i-n : len(marks)-i]
		i += n
		key := streamKey{st.Group, st.Stream}
		ps := s.byKey[key]
		if ps == nil {
			ps = &pendingStream{key: key}
			s.byKey[key] = ps
			s.queue = append([]*pendingStream{ps}, s.queue...)
		}
		ps.events = append(append([]agent.LogEvent(nil), st.Events...), ps.events...)
		ps.ends = append(append([]offsetMark(nil), ends...), ps.ends...)
		s.lines += n
	}
}

// flush ships what waits, batch by batch, and records how far each
// container's output got; it returns the first failure, with the unsent
// lines queued again. The offsets file is written after acknowledged
// batches, at most every offsetSaveInterval unless final.
func (s *logShipper) flush(ctx context.Context, final bool) error {
	for {
		streams, marks := s.take()
		if len(streams) == 0 {
			return s.saveOffsets(final)
		}
		if err := s.send(ctx, streams); err != nil {
			s.putBack(streams, marks)
			return err
		}
		s.acked(marks)
		if err := s.saveOffsets(false); err != nil {
			return err
		}
	}
}

// acked records the offsets the server's acknowledgement of a batch
// reaches.
func (s *logShipper) acked(marks []offsetMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range marks {
		if m.gen == s.gens[m.id] && m.end > s.offsets[m.id] {
			s.offsets[m.id] = m.end
			s.saved = false
		}
	}
}

// saveOffsets writes the offsets file if it is out of date, and either
// force is set or offsetSaveInterval has passed since the last write.
func (s *logShipper) saveOffsets(force bool) error {
	s.mu.Lock()
	now := s.clock.Now()
	if s.saved || s.path == "" || !force && now.Sub(s.savedAt) < offsetSaveInterval {
		s.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(s.offsets)
	s.saved, s.savedAt = true, now
	s.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(s.path, b)
	}
	if err != nil {
		s.mu.Lock()
		s.saved = false
		s.mu.Unlock()
		return fmt.Errorf("save log offsets: %w", err)
	}
	return nil
}

// forget drops what the shipper remembers of a removed container.
func (s *logShipper) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.offsets[id]; ok {
		delete(s.offsets, id)
		s.saved = false
	}
	delete(s.gens, id)
	delete(s.followed, id)
}

// Run ships output until ctx ends; a last flush is tried on the way out.
func (s *logShipper) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	for _, f := range s.pending {
		s.startLocked(f)
	}
	s.pending = nil
	s.mu.Unlock()
	bo := backoff{min: s.retryMin, max: s.retryMax}
	delay := s.every
	for {
		tick, stop := after(s.clock, delay)
		select {
		case <-ctx.Done():
			stop()
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
			s.wg.Wait()
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := s.flush(final, true); err != nil {
				s.log.Debug("last flush of container output", "err", err)
			}
			return nil
		case <-tick:
		case <-s.wake:
			stop()
		}
		if err := s.flush(ctx, false); err != nil {
			if errors.Is(err, ErrJoinTokenRejected) {
				return err
			}
			delay = bo.next()
			s.log.Debug("ship container output; will retry", "err", err, "retry_in", delay)
			continue
		}
		bo.reset()
		delay = s.every
	}
}
