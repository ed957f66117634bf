// Package docker is the runtime.Runtime over the Docker Engine API, through
// github.com/moby/moby/client. The client negotiates the API version with
// the engine, down to 1.40; Debian's docker.io engines (20.10 speaks 1.41,
// 26.x speaks 1.45) work.
//
// Mapping from ContainerSpec: containers are named berth-<task id>-<name>
// (so a second Create for the same task container fails with
// runtime.ErrNameInUse) and labelled berth.cluster, berth.task and
// berth.container, plus berth.image-digest for the digest Pull reported.
// Ports are published on 127.0.0.1 unless a mapping names another host
// address; host port 0 lets the engine choose. The health check becomes the
// engine's native HEALTHCHECK; ulimits, CPU shares, memory limit and
// reservation, init and the stop signal and timeout are the engine's own
// settings. The engine's default logging driver must be one it can read
// back (json-file, local or journald) for Logs to work.
//
// Pull fetches an image only when it is absent (unless Config.AlwaysPull);
// a failure is a *runtime.PullError carrying the engine's message.
package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-io/berth/internal/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// Config configures the Docker runtime.
type Config struct {
	// Host is the engine's address, e.g. "unix:///var/run/docker.sock" or
	// "tcp://10.0.0.5:2376"; empty means $DOCKER_HOST, else the default
	// socket. TLS settings come from $DOCKER_CERT_PATH and
	// $DOCKER_TLS_VERIFY.
	Host string
	// Logger receives the runtime's own events; nil discards them.
	Logger *slog.Logger
	// DefaultNofile is the nofile ulimit of containers whose spec sets
	// none; zero means runtime.HostNofile(), which assumes the engine runs
	// with limits like the agent's. Set it when the engine is remote.
	DefaultNofile runtime.Ulimit
	// AlwaysPull fetches images on every Pull, not only absent ones
	// (ECS_IMAGE_PULL_BEHAVIOR=always).
	AlwaysPull bool
}

// Runtime drives a Docker engine. Close it when done.
type Runtime struct {
	cli    *client.Client
	log    *slog.Logger
	nofile runtime.Ulimit
	always bool
}

// New connects to the engine lazily: the first call negotiates the API
// version. Call Ping to check the engine answers.
func New(cfg Config) (*Runtime, error) {
	opts := []client.Opt{client.FromEnv}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	if cfg.DefaultNofile == (runtime.Ulimit{}) {
		cfg.DefaultNofile = runtime.HostNofile()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{cli: cli, log: log.With("component", "runtime/docker"), nofile: cfg.DefaultNofile, always: cfg.AlwaysPull}, nil
}

// Ping checks that the engine answers and negotiates the API version; it
// returns the version in use.
func (r *Runtime) Ping(ctx context.Context) (apiVersion string, err error) {
	if _, err := r.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return "", fmt.Errorf("ping docker engine at %s: %w", r.cli.DaemonHost(), err)
	}
	return r.cli.ClientVersion(), nil
}

// Close releases the client's connections.
func (r *Runtime) Close() error { return r.cli.Close() }

// notFound maps the engine's 404 for a container onto runtime.ErrNotFound.
func notFound(id string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("container %s: %w (%v)", id, runtime.ErrNotFound, err)
	}
	return err
}

// Pull makes the image present, fetching it when absent (or always, with
// Config.AlwaysPull), and returns its digest.
func (r *Runtime) Pull(ctx context.Context, image string) (string, error) {
	if !r.always {
		img, err := r.inspect(ctx, image)
		if err == nil {
			return imageDigest(img.InspectResponse), nil
		}
		if !cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("inspect image %s: %w", image, err)
		}
	}
	r.log.Info("pulling image", "image", image)
	if err := r.pull(ctx, image); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("pull image %s: %w", image, ctx.Err())
		}
		return "", &runtime.PullError{Image: image, Message: err.Error(), Err: err}
	}
	img, err := r.inspect(ctx, image)
	if err != nil {
		return "", fmt.Errorf("inspect pulled image %s: %w", image, err)
	}
	return imageDigest(img.InspectResponse), nil
}

// inspect finds an image by reference. A pinned reference name@digest
// (see internal/agent) whose digest is a local image's ID rather than a
// registry digest (an image built here and never pushed) is found by that
// ID.
func (r *Runtime) inspect(ctx context.Context, ref string) (client.ImageInspectResult, error) {
	img, err := r.cli.ImageInspect(ctx, ref)
	if err == nil || !cerrdefs.IsNotFound(err) {
		return img, err
	}
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		if byID, err2 := r.cli.ImageInspect(ctx, digest); err2 == nil && byID.ID == digest {
			return byID, nil
		}
	}
	return img, err
}

func (r *Runtime) pull(ctx context.Context, image string) error {
	resp, err := r.cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// Create creates the container from a pulled image.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	img, err := r.inspect(ctx, spec.Image)
	if err != nil {
		return "", fmt.Errorf("create container %s: inspect image %s (pull it first): %w", spec.Name, spec.Image, err)
	}
	if strings.Contains(spec.Image, "@") {
		// A pinned reference: create from exactly the image found, which
		// may have been found by its ID (see inspect).
		spec.Image = img.ID
	}
	var imgSignal string
	var imgLabels map[string]string
	if c := img.Config; c != nil {
		imgSignal, imgLabels = c.StopSignal, c.Labels
	}
	stopSignal, err := runtime.ResolveStopSignal(spec, imgSignal, imgLabels)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	cfg, host := createOptions(spec.WithDefaults(r.nofile), stopSignal, imageDigest(img.InspectResponse))
	res, err := r.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: containerName(spec)})
	if cerrdefs.IsConflict(err) {
		return "", fmt.Errorf("create container %s of task %s: %w (%v)", spec.Name, spec.Task, runtime.ErrNameInUse, err)
	}
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	for _, w := range res.Warnings {
		r.log.Warn("engine warning on create", "id", res.ID, "warning", w)
	}
	return res.ID, nil
}

// Start starts a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	if _, err := r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", id, notFound(id, err))
	}
	return nil
}

// Stop has the engine send the stop signal recorded at Create, then
// SIGKILL after the timeout (rounded up to whole seconds).
func (r *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	opts := client.ContainerStopOptions{}
	if timeout > 0 {
		opts.Timeout = new(seconds(timeout))
	}
	if _, err := r.cli.ContainerStop(ctx, id, opts); err != nil {
		return fmt.Errorf("stop container %s: %w", id, notFound(id, err))
	}
	return nil
}

// Remove force-removes the container and its anonymous volumes.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	_, err := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil {
		return fmt.Errorf("remove container %s: %w", id, notFound(id, err))
	}
	return nil
}

// Inspect reports the container's status.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.Status, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.Status{}, fmt.Errorf("inspect container %s: %w", id, notFound(id, err))
	}
	return status(res.Container), nil
}

// Wait blocks until the container is not running.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.Status, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := r.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-w.Result:
		if res.Error != nil && res.Error.Message != "" {
			return runtime.Status{}, fmt.Errorf("wait for container %s: %s", id, res.Error.Message)
		}
	case err := <-w.Error:
		return runtime.Status{}, fmt.Errorf("wait for container %s: %w", id, notFound(id, err))
	}
	return r.Inspect(ctx, id)
}

// List returns berth's containers whose labels include labels.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	filters := client.Filters{}.Add("label", runtime.LabelContainer)
	for k, v := range labels {
		filters.Add("label", k+"="+v)
	}
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]runtime.Container, 0, len(res.Items))
	for _, c := range res.Items {
		out = append(out, runtime.Container{
			ID:     c.ID,
			Name:   c.Labels[runtime.LabelContainer],
			Image:  c.Image,
			State:  state(c.State),
			Labels: publicLabels(c.Labels),
		})
	}
	return out, nil
}

// Logs streams the container's stdout and stderr, demultiplexed into one
// stream.
func (r *Runtime) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	rc, err := r.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return nil, fmt.Errorf("logs of container %s: %w", id, notFound(id, err))
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return &pipeReader{PipeReader: pr, src: rc}, nil
}

// pipeReader closes the engine's stream too, which ends the copying.
type pipeReader struct {
	*io.PipeReader
	src io.Closer
}

func (p *pipeReader) Close() error {
	p.src.Close()
	return p.PipeReader.Close()
}

// Exec runs a command in the running container.
func (r *Runtime) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	st, err := r.Inspect(ctx, id)
	if err != nil {
		return 0, err
	}
	if st.State != runtime.StateRunning {
		return 0, fmt.Errorf("exec in container %s: %w", id, runtime.ErrNotRunning)
	}
	created, err := r.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd:          req.Cmd,
		TTY:          req.TTY,
		AttachStdin:  req.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if cerrdefs.IsConflict(err) {
		return 0, fmt.Errorf("exec in container %s: %w (%v)", id, runtime.ErrNotRunning, err)
	}
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: %w", id, notFound(id, err))
	}
	attach := client.ExecAttachOptions{TTY: req.TTY}
	if req.TTY {
		// A size ready before the start is the initial one (engines
		// before API 1.42 ignore it: the resize loop below applies it).
		select {
		case sz := <-req.Resize:
			attach.ConsoleSize = client.ConsoleSize{Height: uint(sz.Rows), Width: uint(sz.Cols)}
		default:
		}
	}
	att, err := r.cli.ExecAttach(ctx, created.ID, attach)
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: attach: %w", id, err)
	}
	defer att.Close()
	if req.TTY {
		done := make(chan struct{})
		defer close(done)
		go r.execResizeLoop(ctx, created.ID, attach.ConsoleSize, req.Resize, done)
	}
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	if req.Stdin != nil {
		go func() {
			_, err := io.Copy(att.Conn, req.Stdin)
			if err == nil && req.TTY {
				// A terminal cannot be half-closed: the end of stdin
				// is typed as ^D, as the process runtime does.
				_, _ = att.Conn.Write([]byte{4})
			}
			_ = att.CloseWrite()
		}()
	}
	stdout, stderr := orDiscard(req.Stdout), orDiscard(req.Stderr)
	if req.TTY {
		_, err = io.Copy(stdout, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
	}
	if ctx.Err() != nil {
		return 0, fmt.Errorf("exec in container %s: %w", id, ctx.Err())
	}
	if err != nil {
		return 0, fmt.Errorf("exec in container %s: output: %w", id, err)
	}
	return r.execExitCode(ctx, id, created.ID)
}

// execResizeLoop applies the initial size, if any, and then every size
// from resize until done.
func (r *Runtime) execResizeLoop(ctx context.Context, execID string, initial client.ConsoleSize, resize <-chan runtime.TermSize, done <-chan struct{}) {
	apply := func(sz client.ConsoleSize) {
		if _, err := r.cli.ExecResize(ctx, execID, client.ExecResizeOptions{Height: sz.Height, Width: sz.Width}); err != nil {
			r.log.Debug("exec resize", "exec", execID, "err", err)
		}
	}
	if initial != (client.ConsoleSize{}) {
		apply(initial)
	}
	for {
		select {
		case <-done:
			return
		case sz := <-resize:
			apply(client.ConsoleSize{Height: uint(sz.Rows), Width: uint(sz.Cols)})
		}
	}
}

// execExitCode waits for the engine to record the exec's end: its output
// can close a moment before.
func (r *Runtime) execExitCode(ctx context.Context, id, execID string) (int, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := r.cli.ExecInspect(ctx, execID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("exec in container %s: inspect: %w", id, err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("exec in container %s: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
