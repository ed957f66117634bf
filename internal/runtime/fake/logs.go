package fake

import (
	"context"
	"io"
	"sync"
)

// logBuffer is a container's output: written by its program, read by any
// number of Logs streams, closed when the container exits.
type logBuffer struct {
	mu      sync.Mutex
	buf     []byte
	closed  bool
	changed chan struct{} // closed and replaced on every change
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

// Write appends p; output after the container exited is dropped.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.buf = append(b.buf, p...)
		b.notifyLocked()
	}
	return len(p), nil
}

func (b *logBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.notifyLocked()
	}
}

func (b *logBuffer) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// reader streams the buffer from the start; with follow it waits for more
// until the buffer is closed, ctx is done or the reader is closed.
func (b *logBuffer) reader(ctx context.Context, follow bool) io.ReadCloser {
	return &logReader{b: b, ctx: ctx, follow: follow, done: make(chan struct{})}
}

type logReader struct {
	b      *logBuffer
	ctx    context.Context
	follow bool
	off    int

	closeOnce sync.Once
	done      chan struct{}
}

func (r *logReader) Read(p []byte) (int, error) {
	for {
		r.b.mu.Lock()
		if r.off < len(r.b.buf) {
			n := copy(p, r.b.buf[r.off:])
			r.off += n
			r.b.mu.Unlock()
			return n, nil
		}
		if !r.follow || r.b.closed {
			r.b.mu.Unlock()
			return 0, io.EOF
		}
		changed := r.b.changed
		r.b.mu.Unlock()
		select {
		case <-changed:
		case <-r.done:
			return 0, io.ErrClosedPipe
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

func (r *logReader) Close() error {
	r.closeOnce.Do(func() { close(r.done) })
	return nil
}
