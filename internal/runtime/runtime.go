package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Runtime is everything the agent needs from a container runtime. It is a
// plugin boundary, so it is the union of the small interfaces below; code
// that needs only part of it should ask for that part.
//
// Every method that takes a container id returns an error matching
// ErrNotFound (errors.Is) when no such container exists. Implementations
// are safe for concurrent use.
type Runtime interface {
	Puller
	Lifecycle
	Observer
	Streamer
}

// Puller makes images available.
type Puller interface {
	// Pull makes image available locally (fetching it when it is absent)
	// and returns its digest ("sha256:..."). A failure to fetch it is a
	// *PullError.
	Pull(ctx context.Context, image string) (digest string, err error)
}

// Lifecycle creates, starts, stops and removes containers.
type Lifecycle interface {
	// Create creates a container from spec without starting it. The image
	// must have been pulled. It fails with ErrNameInUse when a container
	// for the same spec.Task and spec.Name already exists.
	Create(ctx context.Context, spec ContainerSpec) (id string, err error)
	// Start starts a created container. Starting a running container does
	// nothing; starting an exited one is not supported (create a new one).
	Start(ctx context.Context, id string) error
	// Stop sends the container's stop signal (resolved at Create, see
	// ResolveStopSignal) and, when it has not exited after timeout,
	// SIGKILL. A timeout <= 0 uses the spec's StopTimeout. Stop returns
	// once the container has exited; stopping a container that is not
	// running does nothing.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove deletes a container, its logs and its state, killing it
	// first if it is running.
	Remove(ctx context.Context, id string) error
}

// Observer reports on containers.
type Observer interface {
	// Inspect returns the container's current status.
	Inspect(ctx context.Context, id string) (Status, error)
	// Wait blocks until the container is not running (it has exited, or
	// was never started) and returns its status then.
	Wait(ctx context.Context, id string) (Status, error)
	// List returns the containers, in any state, whose labels include
	// every one of labels (all containers of this runtime when labels is
	// empty). An agent re-adopts its containers after a restart with
	// List(ctx, map[string]string{LabelCluster: cluster}).
	List(ctx context.Context, labels map[string]string) ([]Container, error)
}

// Streamer reaches into containers: their output and commands run in them.
type Streamer interface {
	// Logs returns the container's output so far, stdout and stderr
	// interleaved. With follow, the stream stays open and delivers new
	// output until the container exits or ctx is done.
	Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)
	// Exec runs a command inside a running container (ErrNotRunning
	// otherwise), wired to req's streams, and returns its exit code.
	Exec(ctx context.Context, id string, req ExecRequest) (exitCode int, err error)
}

// Sentinel errors.
var (
	// ErrNotFound: no container with that id.
	ErrNotFound = errors.New("runtime: no such container")
	// ErrNameInUse: Create found a container for the same task and name.
	ErrNameInUse = errors.New("runtime: container name in use")
	// ErrNotRunning: the operation needs a running container.
	ErrNotRunning = errors.New("runtime: container is not running")
	// ErrInvalidSpec: ContainerSpec.Validate rejected the spec; the
	// *SpecError wrapping it names the field.
	ErrInvalidSpec = errors.New("runtime: invalid container spec")
)

// PullError is returned by Pull when the image cannot be fetched. The agent
// reports it as a CannotPullContainerError with Message as the reason.
type PullError struct {
	Image string
	// Message is the engine's (or runtime's) own explanation, e.g.
	// "pull access denied for foo, repository does not exist".
	Message string
	// Err is the underlying error, if any.
	Err error
}

func (e *PullError) Error() string {
	return fmt.Sprintf("pull image %s: %s", e.Image, e.Message)
}

func (e *PullError) Unwrap() error { return e.Err }

// State is a container's lifecycle state.
type State string

// Container states; see the package documentation for the transitions.
const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Health is a container's health status, named as ECS names it.
type Health string

// Health statuses.
const (
	// HealthUnknown: no health check, or no verdict yet.
	HealthUnknown   Health = "UNKNOWN"
	HealthHealthy   Health = "HEALTHY"
	HealthUnhealthy Health = "UNHEALTHY"
)

// ExitCodeUnknown is Status.ExitCode for an exited container whose exit code
// the runtime could not observe (the process runtime, for a process that
// exited while no agent was its parent).
const ExitCodeUnknown = -1

// Status is what Inspect and Wait report about a container.
type Status struct {
	ID string
	// Name is ContainerSpec.Name.
	Name  string
	State State
	// ExitCode is meaningful when State is StateExited: the process's exit
	// status, 128+n when it was killed by signal n (137 for SIGKILL), or
	// ExitCodeUnknown.
	ExitCode int
	// OOMKilled reports that the kernel killed the container for
	// exceeding its memory limit (Docker only).
	OOMKilled bool
	// StartedAt and FinishedAt are zero until the container started and
	// exited.
	StartedAt  time.Time
	FinishedAt time.Time
	// Ports are the host bindings actually chosen, one per port mapping
	// (in no particular order) while the container runs.
	Ports []PortBinding
	// Health is HealthUnknown for a container without a health check.
	Health Health
	// ImageDigest is the digest of the image the container was created
	// from ("sha256:...").
	ImageDigest string
	// StopSignal is the signal Stop sends, e.g. "SIGTERM".
	StopSignal string
	// Labels are all the container's labels, the berth.* ones included.
	Labels map[string]string
}

// PortBinding is one port mapping as the runtime bound it.
type PortBinding struct {
	ContainerPort uint16
	Protocol      Protocol
	HostIP        netip.Addr
	HostPort      uint16
}

// Container is one entry of List.
type Container struct {
	ID string
	// Name is ContainerSpec.Name (the berth.container label).
	Name   string
	Image  string
	State  State
	Labels map[string]string
}

// ExecRequest is a command to run in a container.
type ExecRequest struct {
	// Cmd is the command and its arguments; it is not run through a shell.
	Cmd []string
	// TTY allocates a terminal; Stdout then receives the terminal's
	// output and Stderr is unused.
	TTY bool
	// Stdin, Stdout and Stderr are the command's streams; nil discards
	// the output, or gives an empty input. Exec does not wait for Stdin
	// to end: once the command has exited, a Read still blocked on Stdin
	// is left to the caller (close it to end it). With TTY, the end of
	// Stdin is typed as ^D (end of input for a line-reading command).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Resize, with TTY, delivers terminal sizes to apply, in order; the
	// runtime reads it until Exec returns (it never closes it). Without
	// a size the terminal is the runtime's default (Docker: 24x80 or so,
	// process: 0x0). Without TTY it is ignored.
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Rows, Cols uint16
}
