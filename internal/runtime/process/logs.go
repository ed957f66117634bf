package process

import (
	"context"
	"io"
	"os"
	"sync"
	"time"
)

// followReader reads a log file that another process appends to: at the
// end of the file it polls for more until the container exits (then it
// drains what is left and ends), ctx is done, or it is closed.
type followReader struct {
	f     *os.File
	ctx   context.Context
	done  <-chan struct{} // closed when the container has exited
	poll  time.Duration
	ended bool // the container had exited before the last read at EOF

	closeOnce sync.Once
	closed    chan struct{}
}

func newFollowReader(ctx context.Context, f *os.File, done <-chan struct{}, poll time.Duration) *followReader {
	return &followReader{f: f, ctx: ctx, done: done, poll: poll, closed: make(chan struct{})}
}

func (r *followReader) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || err != io.EOF {
			return n, err
		}
		if r.ended {
			return 0, io.EOF
		}
		select {
		case <-r.done:
			// Read once more: output written just before the exit.
			r.ended = true
		case <-r.closed:
			return 0, os.ErrClosed
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-time.After(r.poll):
		}
	}
}

func (r *followReader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return r.f.Close()
}
