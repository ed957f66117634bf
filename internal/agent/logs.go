package agent

import (
	"bufio"
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
	// maxBatchEvents bounds the events of one POST.
	maxBatchEvents = 5000
	// maxBufferedEvents bounds what waits per stream while the server is
	// unreachable; beyond it the oldest lines are dropped.
	maxBufferedEvents = 50000
	// offsetsFile keeps, per container, how many bytes of its output have
	// been shipped, so a restarted agent does not ship them again.
	offsetsFile = "log-offsets.json"
)

// logShipper captures every container's output and ships it to the server:
// one goroutine per container follows its log (runtime Logs with follow)
// and cuts it into timestamped lines; the shipper batches the lines of all
// containers and POSTs them every flush interval, or as soon as enough wait.
type logShipper struct {
	rt       runtime.Streamer
	clock    Clock
	log      *slog.Logger
	send     func(ctx context.Context, streams []agent.LogStream) error
	every    time.Duration
	maxLines int
	path     string // offsets file; "" keeps none
	retryMin time.Duration
	retryMax time.Duration

	mu       sync.Mutex
	ctx      context.Context // the shipper's Run context, for followers
	queue    []*pendingStream
	byKey    map[streamKey]*pendingStream
	lines    int // lines waiting
	offsets  map[string]int64
	saved    bool // offsets are on disk as they are
	followed map[string]bool
	pending  []followReq // follow requests before Run started
	closed   bool        // Run is ending: no new followers
	wake     chan struct{}
	wg       sync.WaitGroup
}

type streamKey struct{ group, stream string }

type pendingStream struct {
	key    streamKey
	events []agent.LogEvent
	ends   []offsetMark // byte offsets the events reach, per container
}

type offsetMark struct {
	id  string
	end int64
}

type followReq struct{ id, group, stream string }

func newLogShipper(rt runtime.Streamer, clock Clock, log *slog.Logger, dataDir string, every time.Duration, maxLines int,
	send func(context.Context, []agent.LogStream) error) *logShipper {
	s := &logShipper{rt: rt, clock: clock, log: log.With("component", "logs"), send: send, every: every, maxLines: maxLines,
		byKey: map[streamKey]*pendingStream{}, offsets: map[string]int64{}, saved: true, followed: map[string]bool{},
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
	s.wg.Go(func() {
		if err := s.read(ctx, f, skip); err != nil && ctx.Err() == nil {
			s.log.Warn("container output", "container_id", f.id, "err", err)
		}
	})
}

// read follows one container's output, skipping what was shipped before.
func (s *logShipper) read(ctx context.Context, f followReq, skip int64) error {
	rc, err := s.rt.Logs(ctx, f.id, true)
	if err != nil {
		return fmt.Errorf("follow output: %w", err)
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	if skip > 0 {
		n, err := io.CopyN(io.Discard, rc, skip)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("skip shipped output (%d of %d bytes): %w", n, skip, err)
		}
	}
	br := bufio.NewReaderSize(rc, maxLineBytes)
	off := skip
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			off += int64(len(line))
			s.add(f, string(trimEOL(line)), off)
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
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
	ps.ends = append(ps.ends, offsetMark{id: f.id, end: end})
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

// take removes up to maxBatchEvents waiting lines for one POST.
func (s *logShipper) take() ([]agent.LogStream, []offsetMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var streams []agent.LogStream
	var marks []offsetMark
	budget := maxBatchEvents
	for budget > 0 && len(s.queue) > 0 {
		ps := s.queue[0]
		n := min(budget, len(ps.events))
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

// flush ships what waits, batch by batch; it returns the first failure,
// with the unsent lines queued again.
func (s *logShipper) flush(ctx context.Context) error {
	for {
		streams, marks := s.take()
		if len(streams) == 0 {
			return s.saveOffsets()
		}
		if err := s.send(ctx, streams); err != nil {
			s.putBack(streams, marks)
			return err
		}
		s.mu.Lock()
		for _, m := range marks {
			if m.end > s.offsets[m.id] {
				s.offsets[m.id] = m.end
				s.saved = false
			}
		}
		s.mu.Unlock()
	}
}

func (s *logShipper) saveOffsets() error {
	s.mu.Lock()
	if s.saved || s.path == "" {
		s.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(s.offsets)
	s.saved = true
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save log offsets: %w", err)
	}
	return writeFileAtomic(s.path, b)
}

// forget drops what the shipper remembers of a removed container.
func (s *logShipper) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.offsets[id]; ok {
		delete(s.offsets, id)
		s.saved = false
	}
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
			if err := s.flush(final); err != nil {
				s.log.Debug("last flush of container output", "err", err)
			}
			return nil
		case <-tick:
		case <-s.wake:
			stop()
		}
		if err := s.flush(ctx); err != nil {
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
