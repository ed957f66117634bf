package process

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/berth-io/berth/internal/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// ErrExited is returned by Start for a container that has already run.
var ErrExited = errors.New("process: container has exited; create a new one")

// Config configures the process runtime.
type Config struct {
	// DataDir holds one directory per container: its state file, log and
	// default working directory. Required; it must survive agent
	// restarts for containers to be re-adopted.
	DataDir string
	// Logger receives the runtime's own events; nil discards them.
	Logger *slog.Logger
	// DefaultNofile is the nofile ulimit of containers whose spec sets
	// none; zero means runtime.HostNofile().
	DefaultNofile runtime.Ulimit
	// PollInterval is how often the runtime checks on processes it
	// re-adopted and on followed logs; zero means 200ms.
	PollInterval time.Duration
}

// Runtime runs containers as host processes. Open one with New and Close it
// when done; Close leaves the processes running for the next Runtime on the
// same data directory to re-adopt.
type Runtime struct {
	cfg  Config
	log  *slog.Logger
	dir  string // DataDir/containers
	bg   context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // health checkers and adoption monitors

	mu         sync.Mutex
	closed     bool
	containers map[string]*container
}

type container struct {
	rec    *record
	dir    string
	health runtime.Health
	// done is closed when the process has exited; nil before Start.
	done chan struct{}
	// stopHealth ends the health checker.
	stopHealth context.CancelFunc
}

// New opens the runtime on cfg.DataDir and re-adopts the containers whose
// processes still run.
func New(cfg Config) (*Runtime, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("process runtime: DataDir is required")
	}
	if cfg.DefaultNofile == (runtime.Ulimit{}) {
		cfg.DefaultNofile = runtime.HostNofile()
	}
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 200*time.Millisecond)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runtime{
		cfg:        cfg,
		log:        log.With("component", "runtime/process"),
		dir:        filepath.Join(cfg.DataDir, "containers"),
		containers: map[string]*container{},
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	r.bg, r.stop = context.WithCancel(context.Background())
	if err := r.load(); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// load reads every state file and re-adopts live processes.
func (r *Runtime) load() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("process runtime: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(r.dir, e.Name())
		rec, err := loadRecord(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a Create that did not finish
		}
		if err != nil {
			return fmt.Errorf("process runtime: %w", err)
		}
		c := &container{rec: rec, dir: dir, health: runtime.HealthUnknown}
		r.containers[rec.ID] = c
		if rec.State != runtime.StateRunning {
			continue
		}
		c.done = make(chan struct{})
		if !alive(rec.Pid, rec.StartTicks) {
			r.log.Info("container exited while the agent was away", "id", rec.ID, "pid", rec.Pid)
			r.exitedLocked(c, runtime.ExitCodeUnknown)
			continue
		}
		r.log.Info("re-adopted container", "id", rec.ID, "pid", rec.Pid)
		r.wg.Add(1)
		go r.watchAdopted(c, rec.Pid, rec.StartTicks)
		r.startHealthLocked(c)
	}
	return nil
}

// Close stops the runtime's background work. Processes keep running.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.wg.Wait()
	return nil
}

// Pull checks that the image's executable exists and returns its digest.
func (r *Runtime) Pull(ctx context.Context, image string) (string, error) {
	_, digest, err := resolveImage(image)
	if err != nil {
		return "", &runtime.PullError{Image: image, Message: err.Error(), Err: err}
	}
	return digest, nil
}

// Create records a container; nothing runs until Start.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	exe, digest, err := resolveImage(spec.Image)
	if err != nil {
		return "", fmt.Errorf("create container %s: image: %w", spec.Name, err)
	}
	stopSig, err := runtime.ResolveStopSignal(spec, "", nil)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	rec := &record{
		Version:    stateVersion,
		ID:         newID(),
		Spec:       spec.WithDefaults(r.cfg.DefaultNofile),
		Executable: exe,
		Digest:     digest,
		StopSignal: stopSig,
		State:      runtime.StateCreated,
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if spec.Task != "" {
		for _, c := range r.containers {
			if c.rec.Spec.Task == spec.Task && c.rec.Spec.Name == spec.Name {
				return "", fmt.Errorf("create container %s of task %s: %w", spec.Name, spec.Task, runtime.ErrNameInUse)
			}
		}
	}
	dir := filepath.Join(r.dir, rec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	if err := rec.save(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	r.containers[rec.ID] = &container{rec: rec, dir: dir, health: runtime.HealthUnknown}
	return rec.ID, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *Runtime) getLocked(id string) (*container, error) {
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
	}
	return c, nil
}

// Start starts the container's process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.getLocked(id)
	if err != nil {
		return err
	}
	switch c.rec.State {
	case runtime.StateRunning:
		return nil
	case runtime.StateExited:
		return fmt.Errorf("start container %s: %w", id, ErrExited)
	}
	if err := r.startLocked(c); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

func (r *Runtime) startLocked(c *container) error {
	rec, spec := c.rec, c.rec.Spec
	ports, err := bindPorts(spec.PortMappings)
	if err != nil {
		return err
	}
	cred, home, err := lookupUser(spec.User)
	if err != nil {
		return err
	}
	env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": cmp.Or(home, os.Getenv("HOME"))}
	maps.Copy(env, spec.Env)
	for i, b := range ports {
		if i == 0 {
			env["PORT"] = strconv.Itoa(int(b.HostPort))
			env["HOST"] = b.HostIP.String()
		}
		env[fmt.Sprintf("PORT_%d", b.ContainerPort)] = strconv.Itoa(int(b.HostPort))
	}
	dir := spec.WorkingDir
	if dir == "" {
		dir = filepath.Join(c.dir, workDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if cred != nil {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
	}
	exe, args := rec.Executable, spec.Command
	if len(spec.EntryPoint) > 0 {
		target := spec.EntryPoint[0]
		if exe, err = resolveExecutable(target); err != nil {
			return fmt.Errorf("entrypoint: %w", err)
		}
		args = slices.Concat(spec.EntryPoint[1:], spec.Command)
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	envList := runtime.EnvList(env)
	cmd, traced, err := launch(func() *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Env = envList
		cmd.Dir = dir
		cmd.Stdout = logf
		cmd.Stderr = logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
		return cmd
	}, spec.Ulimits)
	if err != nil {
		return err
	}
	if !traced {
		r.log.Warn("ptrace not permitted: ulimits were set just after the process started", "id", rec.ID)
	}
	pid := cmd.Process.Pid
	st, err := readProcStat(pid)
	if err != nil {
		killAndReap(cmd)
		return fmt.Errorf("read the process's start time: %w", err)
	}
	rec.State = runtime.StateRunning
	rec.Pid = pid
	rec.StartTicks = st.startTicks
	rec.StartedAt = time.Now()
	rec.Ports = ports
	rec.Env = env
	rec.Dir = dir
	c.done = make(chan struct{})
	if err := rec.save(c.dir); err != nil {
		killAndReap(cmd)
		return err
	}
	go r.reap(c, cmd)
	r.startHealthLocked(c)
	return nil
}

// bindPorts picks the host port of every mapping: a dynamic one by binding
// port 0 on the mapping's address and releasing it.
func bindPorts(mappings []runtime.PortMapping) ([]runtime.PortBinding, error) {
	var out []runtime.PortBinding
	for _, pm := range mappings {
		b := runtime.PortBinding{ContainerPort: pm.ContainerPort, Protocol: pm.Protocol, HostIP: pm.HostIP, HostPort: pm.HostPort}
		if b.HostPort == 0 {
			addr := netip.AddrPortFrom(pm.HostIP, 0).String()
			switch pm.Protocol {
			case runtime.UDP:
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					return nil, fmt.Errorf("choose a host port for %d/udp: %w", pm.ContainerPort, err)
				}
				b.HostPort = uint16(pc.LocalAddr().(*net.UDPAddr).Port)
				_ = pc.Close()
			default:
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return nil, fmt.Errorf("choose a host port for %d/tcp: %w", pm.ContainerPort, err)
				}
				b.HostPort = uint16(ln.Addr().(*net.TCPAddr).Port)
				_ = ln.Close()
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// reap waits for a child the runtime started and records its exit.
func (r *Runtime) reap(c *container, cmd *exec.Cmd) {
	_ = cmd.Wait()
	code := exitCode(cmd.ProcessState)
	// The container ends with its leader: kill what is left of the group.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return // a successor runtime owns the state file now
	}
	r.exitedLocked(c, code)
}

// exitCode is the shell convention: the status, or 128+n for signal n.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return runtime.ExitCodeUnknown
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// watchAdopted polls a re-adopted process until it is gone.
func (r *Runtime) watchAdopted(c *container, pid int, startTicks uint64) {
	defer r.wg.Done()
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.bg.Done():
			return
		case <-c.done:
			return
		case <-tick.C:
		}
		if alive(pid, startTicks) {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		r.mu.Lock()
		if !r.closed {
			r.exitedLocked(c, runtime.ExitCodeUnknown)
		}
		r.mu.Unlock()
		return
	}
}

// exitedLocked records that the container's process exited.
func (r *Runtime) exitedLocked(c *container, code int) {
	if c.rec.State != runtime.StateRunning {
		return
	}
	c.rec.State = runtime.StateExited
	c.rec.ExitCode = code
	c.rec.FinishedAt = time.Now()
	c.rec.Ports = nil
	if err := c.rec.save(c.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Error("saving container state", "id", c.rec.ID, "err", err)
	}
	if c.stopHealth != nil {
		c.stopHealth()
	}
	close(c.done)
}

// Stop signals the process group, then kills it after the timeout.
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	r.mu.Lock()
	c, err := r.getLocked(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if c.rec.State != runtime.StateRunning {
		r.mu.Unlock()
		return nil
	}
	if timeout <= 0 {
		timeout = c.rec.Spec.StopTimeout
	}
	_, sig, err := runtime.ParseSignal(c.rec.StopSignal)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	pid, startTicks, done := c.rec.Pid, c.rec.StartTicks, c.done
	r.mu.Unlock()

	if err := signalGroup(pid, startTicks, done, syscall.Signal(sig)); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", id, ctx.Err())
	case <-timer.C:
	}
	if err := signalGroup(pid, startTicks, done, syscall.SIGKILL); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", id, ctx.Err())
	}
}

// signalGroup signals the container's process group, unless the container
// has exited (then its pid may belong to someone else).
func signalGroup(pid int, startTicks uint64, done <-chan struct{}, sig syscall.Signal) error {
	select {
	case <-done:
		return nil
	default:
	}
	if !alive(pid, startTicks) {
		return nil // exiting; the reaper or watcher will notice
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %v: %w", sig, err)
	}
	return nil
}

// Remove kills the container if it runs and deletes its directory.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	c, err := r.getLocked(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	running := c.rec.State == runtime.StateRunning
	pid, startTicks, done := c.rec.Pid, c.rec.StartTicks, c.done
	r.mu.Unlock()
	if running {
		if err := signalGroup(pid, startTicks, done, syscall.SIGKILL); err != nil {
			return fmt.Errorf("remove container %s: %w", id, err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("remove container %s: %w", id, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, id)
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// Inspect reports the container's status.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.getLocked(id)
	if err != nil {
		return runtime.Status{}, err
	}
	return c.statusLocked(), nil
}

func (c *container) statusLocked() runtime.Status {
	rec := c.rec
	st := runtime.Status{
		ID:          rec.ID,
		Name:        rec.Spec.Name,
		State:       rec.State,
		StartedAt:   rec.StartedAt,
		FinishedAt:  rec.FinishedAt,
		Ports:       slices.Clone(rec.Ports),
		Health:      c.health,
		ImageDigest: rec.Digest,
		StopSignal:  rec.StopSignal,
		Labels:      rec.Spec.AllLabels(),
	}
	if rec.State == runtime.StateExited {
		st.ExitCode = rec.ExitCode
	}
	return st
}

// Wait blocks until the container is not running.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.Status, error) {
	r.mu.Lock()
	c, err := r.getLocked(id)
	if err != nil {
		r.mu.Unlock()
		return runtime.Status{}, err
	}
	done := c.done
	running := c.rec.State == runtime.StateRunning
	r.mu.Unlock()
	if running {
		select {
		case <-done:
		case <-ctx.Done():
			return runtime.Status{}, fmt.Errorf("wait for container %s: %w", id, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.statusLocked(), nil
}

// List returns the containers whose labels include labels.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
	for _, id := range slices.Sorted(maps.Keys(r.containers)) {
		rec := r.containers[id].rec
		all := rec.Spec.AllLabels()
		if !runtime.MatchLabels(all, labels) {
			continue
		}
		out = append(out, runtime.Container{ID: id, Name: rec.Spec.Name, Image: rec.Spec.Image, State: rec.State, Labels: all})
	}
	return out, nil
}

// Logs opens the container's log file.
func (r *Runtime) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	r.mu.Lock()
	c, err := r.getLocked(id)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	done, state := c.done, c.rec.State
	r.mu.Unlock()
	f, err := os.Open(filepath.Join(c.dir, logFile))
	if errors.Is(err, fs.ErrNotExist) && state == runtime.StateCreated {
		return io.NopCloser(eofReader{}), nil // not started yet: no output
	}
	if err != nil {
		return nil, fmt.Errorf("logs of container %s: %w", id, err)
	}
	if !follow || state != runtime.StateRunning {
		return f, nil
	}
	return newFollowReader(ctx, f, done, r.cfg.PollInterval), nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
