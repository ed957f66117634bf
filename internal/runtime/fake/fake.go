// Package fake is a data-driven runtime.Runtime for the agent's unit tests.
// Containers do not run anything: what a container does is described by the
// Behavior of its image — pull error, start error, how long it runs and
// with which exit code, whether it heeds its stop signal, a sequence of
// health statuses. For tests that need real behaviour, a Behavior can carry
// a Program (a Go function standing in for the container's process) that
// gets the container's environment, real loopback listeners for its port
// mappings, its stop signals and a log writer.
//
// The fake applies ContainerSpec defaults, validates specs, labels
// containers and resolves stop signals exactly as the real runtimes do, and
// passes the runtimetest contract suite. Time comes from a Clock, so a test
// can drive run times, stop timeouts and health intervals with a
// ManualClock. Like the process runtime, it sets PORT (and PORT_<container
// port>) to the host port chosen for each port mapping.
package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-io/berth/internal/runtime"
)

var _ runtime.Runtime = (*Fake)(nil)

// ErrExited is returned by Start for a container that has already run.
var ErrExited = errors.New("fake: container has exited; create a new one")

// Behavior describes what containers of one image do.
type Behavior struct {
	// Digest is what Pull returns; empty means a digest derived from the
	// image name.
	Digest string
	// PullErr, when set, makes Pull fail with a *runtime.PullError carrying
	// it as the engine's message.
	PullErr string
	// CreateErr and StartErr, when set, are returned by Create and Start.
	CreateErr error
	StartErr  error
	// StopSignal is the image's STOPSIGNAL and Labels its labels, both
	// used to resolve the container's stop signal.
	StopSignal string
	Labels     map[string]string

	// Without a Program, a container writes Logs when it starts, then
	// runs for RunTime and exits with ExitCode. A zero RunTime runs until
	// stopped (use time.Nanosecond to exit at once). The stop signal ends
	// it with StopExitCode, unless IgnoreStop: then SIGKILL does, after
	// the stop timeout, with 137.
	Logs         string
	RunTime      time.Duration
	ExitCode     int
	StopExitCode int
	IgnoreStop   bool

	// Health, when set, is the sequence of health statuses a container
	// with a health check reports, one per check interval; the last one
	// repeats. Without it, checks run the check command through Exec
	// (passing when Exec is nil).
	Health []runtime.Health

	// Program, when set, replaces Logs, RunTime, ExitCode, StopExitCode
	// and IgnoreStop: it runs as the container's process.
	Program Program
	// Exec runs Exec requests and health check commands; nil runs
	// nothing and exits 0.
	Exec ExecFunc
}

// Program stands in for a container's process: it runs from Start until it
// returns its exit code. ctx is done when the container is killed; the
// program must then return promptly (its result is ignored).
type Program func(ctx context.Context, p *Proc) int

// ExecFunc runs cmd in the container described by p (p.Stdout is the
// request's stdout) and returns its exit code.
type ExecFunc func(ctx context.Context, p *Proc, cmd []string) int

// Proc is a Program's view of its container.
type Proc struct {
	// Spec is the container's spec with defaults applied.
	Spec runtime.ContainerSpec
	// Args are the spec's EntryPoint followed by its Command.
	Args []string
	// Env is the spec's Env plus PORT and PORT_<container port>.
	Env map[string]string
	// Stdout is the container's log.
	Stdout io.Writer
	// Signals delivers the names of signals sent to the container
	// ("SIGTERM"); SIGKILL is not delivered, it cancels ctx.
	Signals <-chan string
	// Stdin and Stderr are an Exec's other streams (Stdin nil reads
	// nothing, Stderr is never nil); TTY says the Exec asked for a
	// terminal. Programs and health checks get neither.
	Stdin  io.Reader
	Stderr io.Writer
	TTY    bool

	size atomic.Pointer[runtime.TermSize] // the Exec's latest terminal size

	listeners map[uint16]net.Listener // by host port
}

// TermSize returns the Exec's terminal size: the latest one its Resize
// delivered, zero before any.
func (p *Proc) TermSize() runtime.TermSize {
	if sz := p.size.Load(); sz != nil {
		return *sz
	}
	return runtime.TermSize{}
}

// Getenv returns p.Env[key].
func (p *Proc) Getenv(key string) string { return p.Env[key] }

// Listen returns the listener the fake opened for the port mapping whose
// host port address names (PORT holds it); only TCP is supported.
func (p *Proc) Listen(network, address string) (net.Listener, error) {
	_, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("fake: listen %s: bad port", address)
	}
	ln, ok := p.listeners[uint16(port)]
	if !ok || network != "tcp" {
		return nil, fmt.Errorf("fake: listen %s %s: not a published port of the container", network, address)
	}
	return ln, nil
}

// Config configures a Fake.
type Config struct {
	// Images maps image references to their behaviour; images not in it
	// behave as Default.
	Images  map[string]Behavior
	Default Behavior
	// Clock is the time source; nil means the wall clock.
	Clock Clock
	// Nofile is the default nofile ulimit; zero means
	// runtime.NofileDefault(0, true) (65536).
	Nofile runtime.Ulimit
}

// Fake is the fake runtime. The zero value is not usable; call New.
type Fake struct {
	cfg   Config
	clock Clock

	mu         sync.Mutex
	seq        int
	nextPort   uint16
	containers map[string]*container
}

type container struct {
	id       string
	spec     runtime.ContainerSpec // defaults applied
	beh      Behavior
	digest   string
	stopSig  string
	state    runtime.State
	exitCode int
	started  time.Time
	finished time.Time
	ports    []runtime.PortBinding
	env      map[string]string
	health   runtime.Health
	tracker  *runtime.HealthTracker
	checks   int // health checks done, to index Behavior.Health
	sent     []string

	logs      *logBuffer
	signals   chan string
	listeners map[uint16]net.Listener
	cancel    context.CancelFunc // the program's and health checks' context
	timers    []func() bool      // run time and stop timeout
	nextCheck func() bool        // the pending health check
	done      chan struct{}      // closed on exit
}

// New returns a Fake.
func New(cfg Config) *Fake {
	if cfg.Nofile == (runtime.Ulimit{}) {
		cfg.Nofile = runtime.NofileDefault(0, true)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	return &Fake{
		cfg:        cfg,
		clock:      cfg.Clock,
		nextPort:   49152,
		containers: map[string]*container{},
	}
}

func (f *Fake) behavior(image string) Behavior {
	if b, ok := f.cfg.Images[image]; ok {
		return b
	}
	return f.cfg.Default
}

func digestOf(image string, b Behavior) string {
	if b.Digest != "" {
		return b.Digest
	}
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Pull returns the image's digest, or its Behavior's PullErr.
func (f *Fake) Pull(ctx context.Context, image string) (string, error) {
	b := f.behavior(image)
	if b.PullErr != "" {
		return "", &runtime.PullError{Image: image, Message: b.PullErr}
	}
	return digestOf(image, b), nil
}

// Create records a container.
func (f *Fake) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	b := f.behavior(spec.Image)
	if b.CreateErr != nil {
		return "", b.CreateErr
	}
	stopSig, err := runtime.ResolveStopSignal(spec, b.StopSignal, b.Labels)
	if err != nil {
		return "", fmt.Errorf("create container: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.Task != "" {
		for _, c := range f.containers {
			if c.spec.Task == spec.Task && c.spec.Name == spec.Name {
				return "", fmt.Errorf("create container %s of task %s: %w", spec.Name, spec.Task, runtime.ErrNameInUse)
			}
		}
	}
	f.seq++
	id := fmt.Sprintf("fake-%06d", f.seq)
	f.containers[id] = &container{
		id:      id,
		spec:    spec.WithDefaults(f.cfg.Nofile),
		beh:     b,
		digest:  digestOf(spec.Image, b),
		stopSig: stopSig,
		state:   runtime.StateCreated,
		health:  runtime.HealthUnknown,
		logs:    newLogBuffer(),
		done:    make(chan struct{}),
	}
	return id, nil
}

func (f *Fake) getLocked(id string) (*container, error) {
	c, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return c, nil
}

// Start runs a created container.
func (f *Fake) Start(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return err
	}
	switch c.state {
	case runtime.StateRunning:
		return nil
	case runtime.StateExited:
		return fmt.Errorf("start container %s: %w", id, ErrExited)
	}
	if c.beh.StartErr != nil {
		return c.beh.StartErr
	}
	if err := f.bindPortsLocked(c); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	c.env = maps.Clone(c.spec.Env)
	if c.env == nil {
		c.env = map[string]string{}
	}
	for i, b := range c.ports {
		if i == 0 {
			c.env["PORT"] = strconv.Itoa(int(b.HostPort))
		}
		c.env[fmt.Sprintf("PORT_%d", b.ContainerPort)] = strconv.Itoa(int(b.HostPort))
	}
	c.state = runtime.StateRunning
	c.started = f.clock.Now()
	c.signals = make(chan string, 16)
	var progCtx context.Context
	progCtx, c.cancel = context.WithCancel(context.Background())
	if hc := c.spec.HealthCheck; hc != nil {
		c.tracker = runtime.NewHealthTracker(*hc, c.started)
		f.scheduleCheckLocked(c)
	}
	if prog := c.beh.Program; prog != nil {
		p := f.procLocked(c, c.logs)
		p.Signals = c.signals
		go func() {
			code := prog(progCtx, p)
			f.mu.Lock()
			defer f.mu.Unlock()
			if progCtx.Err() == nil {
				f.exitLocked(c, code)
			}
		}()
		return nil
	}
	_, _ = io.WriteString(c.logs, c.beh.Logs)
	if c.beh.RunTime > 0 {
		c.timers = append(c.timers, f.afterLocked(c, c.beh.RunTime, func() { f.exitLocked(c, c.beh.ExitCode) }))
	}
	return nil
}

// bindPortsLocked chooses host ports: real loopback listeners for a
// Program's TCP ports, made-up numbers otherwise.
func (f *Fake) bindPortsLocked(c *container) error {
	c.ports = nil
	c.listeners = map[uint16]net.Listener{}
	for _, pm := range c.spec.PortMappings {
		b := runtime.PortBinding{ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP, HostPort: pm.HostPort}
		switch {
		case c.beh.Program != nil && pm.Protocol == runtime.TCP:
			ln, err := net.Listen("tcp", netip.AddrPortFrom(pm.HostIP, pm.HostPort).String())
			if err != nil {
				f.closeListenersLocked(c)
				return fmt.Errorf("bind port %d: %w", pm.ContainerPort, err)
			}
			b.HostPort = uint16(ln.Addr().(*net.TCPAddr).Port)
			c.listeners[b.HostPort] = ln
		case b.HostPort == 0:
			b.HostPort = f.nextPort
			f.nextPort++
		}
		c.ports = append(c.ports, b)
	}
	return nil
}

func (f *Fake) closeListenersLocked(c *container) {
	for _, ln := range c.listeners {
		_ = ln.Close()
	}
	c.listeners = nil
}

func (f *Fake) procLocked(c *container, stdout io.Writer) *Proc {
	return &Proc{
		Spec:      c.spec,
		Args:      slices.Concat(c.spec.EntryPoint, c.spec.Command),
		Env:       maps.Clone(c.env),
		Stdout:    stdout,
		listeners: c.listeners,
	}
}

// afterLocked runs fn under the lock after d, unless the container has
// exited by then, and returns the timer's stop function.
func (f *Fake) afterLocked(c *container, d time.Duration, fn func()) func() bool {
	return f.clock.AfterFunc(d, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c.state == runtime.StateRunning {
			fn()
		}
	})
}

func (f *Fake) scheduleCheckLocked(c *container) {
	hc := c.spec.HealthCheck
	c.nextCheck = f.afterLocked(c, hc.Interval, func() {
		if seq := c.beh.Health; len(seq) > 0 {
			c.health = seq[min(c.checks, len(seq)-1)]
			c.checks++
			f.scheduleCheckLocked(c)
			return
		}
		exec := c.beh.Exec
		if exec == nil {
			c.health = c.tracker.Record(true, f.clock.Now())
			f.scheduleCheckLocked(c)
			return
		}
		args, shell, _ := hc.Exec()
		if shell {
			args = []string{"/bin/sh", "-c", args[0]}
		}
		p := f.procLocked(c, io.Discard)
		start := f.clock.Now()
		// The check may block (an HTTP probe); run it outside the lock.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), hc.Timeout)
			code := exec(ctx, p, args)
			cancel()
			f.mu.Lock()
			defer f.mu.Unlock()
			if c.state == runtime.StateRunning {
				c.health = c.tracker.Record(code == 0, start)
				f.scheduleCheckLocked(c)
			}
		}()
	})
}

// exitLocked ends a running container with code.
func (f *Fake) exitLocked(c *container, code int) {
	if c.state != runtime.StateRunning {
		return
	}
	c.state = runtime.StateExited
	c.exitCode = code
	c.finished = f.clock.Now()
	c.ports = nil
	f.closeListenersLocked(c)
	for _, stop := range c.timers {
		stop()
	}
	c.timers = nil
	if c.nextCheck != nil {
		c.nextCheck()
	}
	c.cancel()
	c.logs.close()
	close(c.done)
}

// Stop sends the stop signal, then kills the container after the timeout.
func (f *Fake) Stop(ctx context.Context, id string, timeout time.Duration) error {
	f.mu.Lock()
	c, err := f.getLocked(id)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	if c.state != runtime.StateRunning {
		f.mu.Unlock()
		return nil
	}
	if timeout <= 0 {
		timeout = c.spec.StopTimeout
	}
	f.signalLocked(c, c.stopSig)
	if c.state == runtime.StateRunning {
		c.timers = append(c.timers, f.afterLocked(c, timeout, func() { f.exitLocked(c, 137) }))
	}
	done := c.done
	f.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", id, ctx.Err())
	}
}

func (f *Fake) signalLocked(c *container, sig string) {
	c.sent = append(c.sent, sig)
	switch {
	case c.beh.Program != nil:
		select {
		case c.signals <- sig:
		default: // the program is not reading signals; it is ignoring them
		}
	case !c.beh.IgnoreStop:
		f.exitLocked(c, c.beh.StopExitCode)
	}
}

// Remove deletes a container, killing it first.
func (f *Fake) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return err
	}
	f.exitLocked(c, 137)
	delete(f.containers, id)
	return nil
}

// Inspect reports a container's status.
func (f *Fake) Inspect(ctx context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return runtime.Status{}, err
	}
	return f.statusLocked(c), nil
}

func (f *Fake) statusLocked(c *container) runtime.Status {
	return runtime.Status{
		ID:          c.id,
		Name:        c.spec.Name,
		State:       c.state,
		ExitCode:    c.exitCode,
		StartedAt:   c.started,
		FinishedAt:  c.finished,
		Ports:       slices.Clone(c.ports),
		Health:      c.health,
		ImageDigest: c.digest,
		StopSignal:  c.stopSig,
		Labels:      c.spec.AllLabels(),
	}
}

// Wait blocks until the container is not running.
func (f *Fake) Wait(ctx context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	c, err := f.getLocked(id)
	if err != nil {
		f.mu.Unlock()
		return runtime.Status{}, err
	}
	if c.state != runtime.StateRunning {
		defer f.mu.Unlock()
		return f.statusLocked(c), nil
	}
	done := c.done
	f.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return runtime.Status{}, fmt.Errorf("wait for container %s: %w", id, ctx.Err())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusLocked(c), nil
}

// List returns the containers whose labels include labels, by id.
func (f *Fake) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Container
	for _, id := range slices.Sorted(maps.Keys(f.containers)) {
		c := f.containers[id]
		all := c.spec.AllLabels()
		if !runtime.MatchLabels(all, labels) {
			continue
		}
		out = append(out, runtime.Container{ID: id, Name: c.spec.Name, Image: c.spec.Image, State: c.state, Labels: all})
	}
	return out, nil
}

// Logs streams a container's output.
func (f *Fake) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return nil, err
	}
	return c.logs.reader(ctx, follow), nil
}

// Exec runs req.Cmd through the Behavior's Exec.
func (f *Fake) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	f.mu.Lock()
	c, err := f.getLocked(id)
	if err != nil {
		f.mu.Unlock()
		return 0, err
	}
	if c.state != runtime.StateRunning {
		f.mu.Unlock()
		return 0, fmt.Errorf("exec in container %s: %w", id, runtime.ErrNotRunning)
	}
	exec := c.beh.Exec
	stdout := req.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	p := f.procLocked(c, stdout)
	f.mu.Unlock()
	p.Stdin, p.Stderr, p.TTY = req.Stdin, req.Stderr, req.TTY
	if p.Stderr == nil || req.TTY {
		p.Stderr = stdout // a terminal has one output
	}
	if req.TTY {
		select {
		case sz := <-req.Resize:
			p.size.Store(&sz)
		default:
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case <-done:
					return
				case sz := <-req.Resize:
					p.size.Store(&sz)
				}
			}
		}()
	}
	if exec == nil {
		return 0, nil
	}
	return exec(ctx, p, req.Cmd), nil
}

// Spec returns the spec a container was created from, defaults applied.
func (f *Fake) Spec(id string) (runtime.ContainerSpec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	return c.spec, nil
}

// Signals returns the signals sent to a container, in order.
func (f *Fake) Signals(id string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.sent), nil
}

// Exit makes a running container exit now with code, as if its process
// ended.
func (f *Fake) Exit(id string, code int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return err
	}
	if c.state != runtime.StateRunning {
		return fmt.Errorf("exit container %s: %w", id, runtime.ErrNotRunning)
	}
	f.exitLocked(c, code)
	return nil
}

// SetHealth overrides a running container's health status until the next
// health check.
func (f *Fake) SetHealth(id string, h runtime.Health) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.getLocked(id)
	if err != nil {
		return err
	}
	c.health = h
	return nil
}
