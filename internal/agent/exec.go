package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/internal/runtime"
)

// execPollWait is how long one exec long-poll waits for a session.
const execPollWait = 20 * time.Second

// execDrainGrace bounds how long a finished session waits for the server
// to close the stream after the agent half-closed it.
const execDrainGrace = 2 * time.Second

// execLoop long-polls the server for exec sessions (`berth exec`, ECS
// ExecuteCommand) and runs each in a goroutine of its own: it attaches to
// the session's stream and runs the command in the task's container
// through the runtime. Sessions end with the agent.
func (a *Agent) execLoop(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	bo := backoff{min: a.cfg.RetryMin, max: a.cfg.RetryMax}
	for {
		cluster, id := a.instance()
		if id == "" { // registering again
			if sleep(ctx, a.clock, a.cfg.RetryMin) != nil {
				return nil
			}
			continue
		}
		start := a.clock.Now()
		resp, err := a.client.execPoll(ctx, &agent.ExecPollRequest{Cluster: cluster, InstanceID: id, WaitSeconds: int(execPollWait / time.Second)})
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrJoinTokenRejected) {
			return err
		}
		if err != nil {
			d := bo.next()
			a.log.Debug("exec poll failed; retrying", "err", err, "retry_in", d)
			if sleep(ctx, a.clock, d) != nil {
				return nil
			}
			continue
		}
		bo.reset()
		for _, s := range resp.Sessions {
			wg.Go(func() { a.runExec(ctx, s) })
		}
		if len(resp.Sessions) == 0 && a.clock.Now().Sub(start) < execPollWait/2 {
			// A server that does not long-poll: do not spin.
			if sleep(ctx, a.clock, a.cfg.RetryMin) != nil {
				return nil
			}
		}
	}
}

// runExec attaches to a session's stream and runs its command. The
// session ends with an Exit frame (the command's exit code) or an Error
// frame (it could not run), then the stream is closed.
func (a *Agent) runExec(ctx context.Context, s agent.ExecSession) {
	log := a.log.With("session", s.SessionID, "task", s.TaskArn, "container", s.Container)
	dialCtx, cancel := context.WithTimeout(ctx, callTimeout)
	conn, err := exec.Dial(dialCtx, a.client.base+agent.PathExec+"/"+s.SessionID, string(a.cfg.JoinToken), nil, nil)
	cancel()
	if err != nil {
		log.Warn("exec: attach to the session failed", "err", err)
		return
	}
	defer closeStream(conn)
	w := exec.NewWriter(conn)
	id, err := a.execTarget(ctx, s)
	if err != nil {
		log.Info("exec refused", "err", err)
		_ = w.Error(err.Error())
		return
	}

	// The client's frames: stdin, resizes, the end of stdin. A broken
	// stream (the client went away) kills the command.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// Stdin is buffered, so frames keep being read (and a client that goes
	// away is noticed) while the command does not read its input.
	stdin := newStdinBuffer(maxStdinBuffer)
	defer stdin.CloseWithError(io.ErrClosedPipe)
	resize := make(chan runtime.TermSize, 1)
	if s.TTY && s.Rows > 0 && s.Cols > 0 {
		resize <- runtime.TermSize{Rows: s.Rows, Cols: s.Cols}
	}
	go func() {
		r := exec.NewReader(conn)
		for {
			f, err := r.Next()
			if err != nil {
				stdin.CloseWithError(io.ErrUnexpectedEOF)
				stop()
				return
			}
			switch f.Type {
			case exec.Stdin:
				_, _ = stdin.Write(f.Payload) // fails once the command exited
			case exec.CloseStdin:
				stdin.Close()
			case exec.Resize:
				rows, cols, _ := f.Size()
				select {
				case resize <- runtime.TermSize{Rows: rows, Cols: cols}:
				case <-runCtx.Done():
				}
			}
		}
	}()

	log.Info("exec started", "command", s.Command[0], "tty", s.TTY)
	code, err := a.cfg.Runtime.Exec(runCtx, id, runtime.ExecRequest{
		Cmd: s.Command, TTY: s.TTY, Stdin: stdin,
		Stdout: w.Stream(exec.Stdout), Stderr: w.Stream(exec.Stderr), Resize: resize,
	})
	switch {
	case runCtx.Err() != nil && ctx.Err() == nil:
		log.Info("exec ended: the client went away", "exit_code", code)
	case err != nil:
		log.Info("exec failed", "err", err)
		_ = w.Error(err.Error())
	default:
		log.Info("exec ended", "exit_code", code)
		_ = w.Exit(code)
	}
}

// execTarget finds the running container of the session's task.
func (a *Agent) execTarget(ctx context.Context, s agent.ExecSession) (string, error) {
	if len(s.Command) == 0 {
		return "", errors.New("no command to execute")
	}
	taskID := s.TaskArn[strings.LastIndexByte(s.TaskArn, '/')+1:]
	a.mu.Lock()
	labels := map[string]string{
		runtime.LabelCluster: a.cfg.Cluster, LabelAgent: a.id.AgentID,
		runtime.LabelTask: taskID, runtime.LabelContainer: s.Container,
	}
	a.mu.Unlock()
	cs, err := a.cfg.Runtime.List(ctx, labels)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.State == runtime.StateRunning {
			return c.ID, nil
		}
	}
	return "", errors.New("container " + s.Container + " of task " + taskID + " is not running on this instance")
}

// closeStream half-closes the stream, so the last frames are not lost to
// a reset, gives the server a moment to close its end, and closes it.
func closeStream(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(execDrainGrace))
		_, _ = io.Copy(io.Discard, conn)
	}
	conn.Close()
}

// maxStdinBuffer bounds the input an exec session holds for a command that
// does not read it; a client sending more waits.
const maxStdinBuffer = 8 << 20

// stdinBuffer is a pipe with a buffer: Write returns at once unless max
// bytes wait, so the frame reader is not held by a command that does not
// read its stdin. Read blocks until there is data or the writer closed it.
type stdinBuffer struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    bytes.Buffer
	max    int
	err    error // set by Close (io.EOF) or CloseWithError
	closed bool
}

func newStdinBuffer(max int) *stdinBuffer {
	b := &stdinBuffer{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *stdinBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && b.buf.Len() >= b.max {
		b.cond.Wait()
	}
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	b.buf.Write(p)
	b.cond.Broadcast()
	return len(p), nil
}

func (b *stdinBuffer) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.buf.Len() == 0 && !b.closed {
		b.cond.Wait()
	}
	if b.buf.Len() > 0 {
		n, _ := b.buf.Read(p)
		b.cond.Broadcast()
		return n, nil
	}
	return 0, b.err
}

// Close ends the input: the reader gets what is buffered, then io.EOF.
func (b *stdinBuffer) Close() error { return b.CloseWithError(io.EOF) }

// CloseWithError ends the input with err (the first close wins).
func (b *stdinBuffer) CloseWithError(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed, b.err = true, err
		b.cond.Broadcast()
	}
	return nil
}
