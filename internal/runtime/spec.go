package runtime

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Labels berth puts on every container it creates.
const (
	// LabelCluster is ContainerSpec.Cluster.
	LabelCluster = "berth.cluster"
	// LabelTask is ContainerSpec.Task.
	LabelTask = "berth.task"
	// LabelContainer is ContainerSpec.Name.
	LabelContainer = "berth.container"
	// LabelStopSignal, set on the image or in ContainerSpec.Labels, names
	// the stop signal when neither the spec nor the image's STOPSIGNAL
	// does (see ResolveStopSignal).
	LabelStopSignal = "berth.stop-signal"
)

// Defaults applied by ContainerSpec.WithDefaults.
const (
	// DefaultStopTimeout is ECS's default stopTimeout.
	DefaultStopTimeout = 30 * time.Second
	// DefaultNofileLimit is the soft and hard RLIMIT_NOFILE a container
	// gets when its spec sets none (ECS's 1024 is too low for most
	// servers), capped by what the host allows (see HostNofile).
	DefaultNofileLimit = 65536
	// DefaultStopSignal is the stop signal of last resort.
	DefaultStopSignal = "SIGTERM"

	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 5 * time.Second
	DefaultHealthRetries  = 3
)

// DefaultHostIP is where port mappings bind when they name no address:
// loopback only, so nothing is exposed unless asked for.
var DefaultHostIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// ContainerSpec is everything needed to create one container of a task. It
// mirrors an ECS container definition; the agent builds it from the task
// definition.
type ContainerSpec struct {
	// Cluster and Task (the task id) identify the task the container
	// belongs to; they become the berth.cluster and berth.task labels.
	Cluster string
	Task    string
	// Name is the container's name within its task definition (required);
	// it becomes the berth.container label.
	Name string
	// Image is the image reference (required). Its form depends on the
	// runtime: "nginx:1.27" for Docker, "process:///usr/bin/app" for the
	// process runtime.
	Image string
	// EntryPoint replaces the image's entrypoint when set.
	EntryPoint []string
	// Command replaces the image's default arguments when set.
	Command []string
	// Env is added to the image's environment.
	Env map[string]string
	// WorkingDir replaces the image's working directory when set.
	WorkingDir string
	// User is "user", "uid", "user:group" or "uid:gid".
	User string
	// Labels are added to the container's labels. Keys starting with
	// "berth." are reserved; only berth.stop-signal may be set here.
	Labels map[string]string
	// PortMappings publish container ports on the host.
	PortMappings []PortMapping
	// CPUShares is the relative CPU weight (ECS "cpu" units, 1024 = one
	// vCPU); 0 leaves the runtime's default.
	CPUShares int64
	// MemoryMiB is the hard memory limit; the container is killed beyond
	// it. 0 means none.
	MemoryMiB int64
	// MemoryReservationMiB is the soft limit the host reclaims down to
	// under memory pressure. 0 means none; it must not exceed MemoryMiB.
	MemoryReservationMiB int64
	// Ulimits set resource limits. Without a "nofile" entry the container
	// gets soft = hard = DefaultNofileLimit (capped by the host).
	Ulimits []Ulimit
	// StopSignal is the signal Stop sends first, as "SIGUSR1", "USR1" or
	// "10". Empty: the image's STOPSIGNAL, else the berth.stop-signal
	// label, else SIGTERM.
	StopSignal string
	// StopTimeout is how long Stop waits after the stop signal before
	// SIGKILL. 0 means DefaultStopTimeout.
	StopTimeout time.Duration
	// InitProcessEnabled runs a minimal init as the container's PID 1 that
	// forwards signals and reaps zombies (ECS initProcessEnabled).
	InitProcessEnabled bool
	// HealthCheck, when set, is run by the runtime while the container
	// runs and drives Status.Health.
	HealthCheck *HealthCheck
}

// Protocol is a port mapping's transport protocol.
type Protocol string

// Protocols.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// PortMapping publishes one container port on the host.
type PortMapping struct {
	// ContainerPort is the port the application listens on (required).
	ContainerPort uint16
	// HostPort is the host port; 0 lets the runtime choose a free one,
	// reported in Status.Ports.
	HostPort uint16
	// Protocol is TCP (the default) or UDP.
	Protocol Protocol
	// HostIP is the host address to bind; the zero value means
	// DefaultHostIP (127.0.0.1). Use 0.0.0.0 to publish on every address.
	HostIP netip.Addr
}

// Ulimit is one resource limit, as Docker's --ulimit takes it.
type Ulimit struct {
	// Name is one of core, cpu, data, fsize, locks, memlock, msgqueue,
	// nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack (the
	// names Docker and ECS use).
	Name string
	Soft int64
	Hard int64
}

// ulimitNames are the resource limits a Ulimit may name.
var ulimitNames = []string{
	"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// HealthCheck is a container health check, in ECS's form.
type HealthCheck struct {
	// Command is ["CMD", "executable", "arg", ...] to run the executable
	// directly, or ["CMD-SHELL", "command line"] to run it with the
	// container's /bin/sh -c. Exit code 0 means healthy.
	Command []string
	// Interval between checks; 0 means DefaultHealthInterval.
	Interval time.Duration
	// Timeout after which a check counts as failed; 0 means
	// DefaultHealthTimeout.
	Timeout time.Duration
	// Retries is the number of consecutive failures that make the
	// container UNHEALTHY; 0 means DefaultHealthRetries.
	Retries int
	// StartPeriod is a grace period after start during which failures
	// do not count.
	StartPeriod time.Duration
}

// SpecError says which field of a ContainerSpec is invalid. It matches
// ErrInvalidSpec.
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("runtime: invalid container spec: %s: %s", e.Field, e.Reason)
}

// Is makes a *SpecError match ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks the spec; the error is a *SpecError naming the first bad
// field. Runtimes validate in Create.
func (s ContainerSpec) Validate() error {
	if s.Name == "" {
		return specErr("Name", "is required")
	}
	if s.Image == "" {
		return specErr("Image", "is required")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return specErr("Env", "invalid variable name %q", k)
		}
	}
	for k := range s.Labels {
		if strings.HasPrefix(k, "berth.") && k != LabelStopSignal {
			return specErr("Labels", "%q: the berth. prefix is reserved", k)
		}
	}
	seen := map[PortMapping]bool{}
	for i, pm := range s.PortMappings {
		f := fmt.Sprintf("PortMappings[%d]", i)
		if pm.ContainerPort == 0 {
			return specErr(f+".ContainerPort", "is required")
		}
		switch pm.Protocol {
		case "", TCP, UDP:
		default:
			return specErr(f+".Protocol", "%q is not tcp or udp", pm.Protocol)
		}
		if pm.HostIP.IsValid() && pm.HostIP.Zone() != "" {
			return specErr(f+".HostIP", "must not have a zone")
		}
		key := PortMapping{ContainerPort: pm.ContainerPort, Protocol: cmp.Or(pm.Protocol, TCP)}
		if seen[key] {
			return specErr(f, "container port %d/%s is mapped twice", key.ContainerPort, key.Protocol)
		}
		seen[key] = true
	}
	if s.CPUShares < 0 {
		return specErr("CPUShares", "must not be negative")
	}
	if s.MemoryMiB < 0 {
		return specErr("MemoryMiB", "must not be negative")
	}
	if s.MemoryReservationMiB < 0 {
		return specErr("MemoryReservationMiB", "must not be negative")
	}
	if s.MemoryMiB > 0 && s.MemoryReservationMiB > s.MemoryMiB {
		return specErr("MemoryReservationMiB", "%d exceeds MemoryMiB %d", s.MemoryReservationMiB, s.MemoryMiB)
	}
	names := map[string]bool{}
	for i, u := range s.Ulimits {
		f := fmt.Sprintf("Ulimits[%d]", i)
		if !slices.Contains(ulimitNames, u.Name) {
			return specErr(f+".Name", "%q is not one of %s", u.Name, strings.Join(ulimitNames, ", "))
		}
		if names[u.Name] {
			return specErr(f+".Name", "%q is set twice", u.Name)
		}
		names[u.Name] = true
		if u.Soft < 0 || u.Hard < 0 {
			return specErr(f, "limits must not be negative")
		}
		if u.Soft > u.Hard {
			return specErr(f+".Soft", "%d exceeds Hard %d", u.Soft, u.Hard)
		}
	}
	if s.StopSignal != "" {
		if _, _, err := ParseSignal(s.StopSignal); err != nil {
			return specErr("StopSignal", "%v", err)
		}
	}
	if v, ok := s.Labels[LabelStopSignal]; ok {
		if _, _, err := ParseSignal(v); err != nil {
			return specErr("Labels["+LabelStopSignal+"]", "%v", err)
		}
	}
	if s.StopTimeout < 0 {
		return specErr("StopTimeout", "must not be negative")
	}
	if hc := s.HealthCheck; hc != nil {
		if _, _, err := hc.Exec(); err != nil {
			return specErr("HealthCheck.Command", "%v", err)
		}
		if hc.Interval < 0 || hc.Timeout < 0 || hc.StartPeriod < 0 {
			return specErr("HealthCheck", "durations must not be negative")
		}
		if hc.Retries < 0 {
			return specErr("HealthCheck.Retries", "must not be negative")
		}
	}
	return nil
}

// WithDefaults returns a copy of s with every default filled in: port
// protocol and host address, the nofile ulimit (nofile, unless s sets one),
// stop timeout, and health check timings. It does not resolve the stop
// signal, which needs the image (see ResolveStopSignal). Maps and slices
// are copied, so the result shares nothing with s.
func (s ContainerSpec) WithDefaults(nofile Ulimit) ContainerSpec {
	out := s
	out.EntryPoint = slices.Clone(s.EntryPoint)
	out.Command = slices.Clone(s.Command)
	out.Env = maps.Clone(s.Env)
	out.Labels = maps.Clone(s.Labels)
	out.PortMappings = slices.Clone(s.PortMappings)
	for i := range out.PortMappings {
		pm := &out.PortMappings[i]
		pm.Protocol = cmp.Or(pm.Protocol, TCP)
		if !pm.HostIP.IsValid() {
			pm.HostIP = DefaultHostIP
		}
	}
	out.Ulimits = slices.Clone(s.Ulimits)
	if !slices.ContainsFunc(out.Ulimits, func(u Ulimit) bool { return u.Name == "nofile" }) {
		nofile.Name = "nofile"
		out.Ulimits = append(out.Ulimits, nofile)
	}
	if out.StopTimeout == 0 {
		out.StopTimeout = DefaultStopTimeout
	}
	if s.HealthCheck != nil {
		hc := *s.HealthCheck
		hc.Command = slices.Clone(hc.Command)
		hc.Interval = cmp.Or(hc.Interval, DefaultHealthInterval)
		hc.Timeout = cmp.Or(hc.Timeout, DefaultHealthTimeout)
		hc.Retries = cmp.Or(hc.Retries, DefaultHealthRetries)
		out.HealthCheck = &hc
	}
	return out
}

// AllLabels returns the container's labels: s.Labels plus berth.cluster,
// berth.task and berth.container (omitted when empty).
func (s ContainerSpec) AllLabels() map[string]string {
	out := maps.Clone(s.Labels)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range map[string]string{LabelCluster: s.Cluster, LabelTask: s.Task, LabelContainer: s.Name} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// EnvList returns env as sorted "KEY=value" strings.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// MatchLabels reports whether have includes every key and value of want.
func MatchLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// Exec splits the health check command into how to run it: shell is true
// for CMD-SHELL (args is then the one command line).
func (hc HealthCheck) Exec() (args []string, shell bool, err error) {
	if len(hc.Command) == 0 {
		return nil, false, errors.New("is empty")
	}
	switch hc.Command[0] {
	case "CMD":
		if len(hc.Command) < 2 || hc.Command[1] == "" {
			return nil, false, errors.New(`"CMD" needs an executable`)
		}
		return hc.Command[1:], false, nil
	case "CMD-SHELL":
		if len(hc.Command) != 2 || strings.TrimSpace(hc.Command[1]) == "" {
			return nil, false, errors.New(`"CMD-SHELL" takes exactly one command line`)
		}
		return hc.Command[1:], true, nil
	default:
		return nil, false, fmt.Errorf(`must start with "CMD" or "CMD-SHELL", not %q`, hc.Command[0])
	}
}
