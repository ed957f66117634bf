package docker

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-io/berth/internal/runtime"
)

// labelImageDigest records, on the container, the digest of the image it
// was created from. It is internal: Status and List leave it out.
const labelImageDigest = "berth.image-digest"

// createOptions turns a spec (defaults applied) into the engine's container
// configuration. It does no I/O.
func createOptions(spec runtime.ContainerSpec, stopSignal, digest string) (*container.Config, *container.HostConfig) {
	labels := spec.AllLabels()
	labels[labelImageDigest] = digest
	cfg := &container.Config{
		Image:       spec.Image,
		Entrypoint:  spec.EntryPoint,
		Cmd:         spec.Command,
		Env:         runtime.EnvList(spec.Env),
		WorkingDir:  spec.WorkingDir,
		User:        spec.User,
		Labels:      labels,
		StopSignal:  stopSignal,
		StopTimeout: new(seconds(spec.StopTimeout)),
	}
	if len(cfg.Env) == 0 {
		cfg.Env = nil
	}
	if hc := spec.HealthCheck; hc != nil {
		cfg.Healthcheck = &container.HealthConfig{
			Test:        slices.Clone(hc.Command),
			Interval:    hc.Interval,
			Timeout:     hc.Timeout,
			StartPeriod: hc.StartPeriod,
			Retries:     hc.Retries,
		}
	}
	host := &container.HostConfig{
		Init: new(spec.InitProcessEnabled),
		Resources: container.Resources{
			CPUShares:         spec.CPUShares,
			Memory:            spec.MemoryMiB << 20,
			MemoryReservation: spec.MemoryReservationMiB << 20,
		},
	}
	for _, u := range spec.Ulimits {
		host.Ulimits = append(host.Ulimits, &units.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if len(spec.PortMappings) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		host.PortBindings = network.PortMap{}
	}
	for _, pm := range spec.PortMappings {
		port, _ := network.PortFrom(pm.ContainerPort, network.IPProtocol(pm.Protocol))
		cfg.ExposedPorts[port] = struct{}{}
		hostPort := "" // the engine picks one
		if pm.HostPort != 0 {
			hostPort = strconv.Itoa(int(pm.HostPort))
		}
		host.PortBindings[port] = append(host.PortBindings[port], network.PortBinding{HostIP: pm.HostIP, HostPort: hostPort})
	}
	return cfg, host
}

// seconds rounds d up to whole seconds, the engine's granularity.
func seconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// status turns the engine's container inspection into a runtime.Status.
func status(c container.InspectResponse) runtime.Status {
	var labels map[string]string
	stopSignal := runtime.DefaultStopSignal
	if c.Config != nil {
		labels = c.Config.Labels
		stopSignal = cmp.Or(c.Config.StopSignal, stopSignal)
	}
	st := runtime.Status{
		ID:          c.ID,
		Name:        labels[runtime.LabelContainer],
		Health:      runtime.HealthUnknown,
		ImageDigest: cmp.Or(labels[labelImageDigest], c.Image),
		StopSignal:  stopSignal,
		Labels:      publicLabels(labels),
	}
	if name, _, err := runtime.ParseSignal(stopSignal); err == nil {
		st.StopSignal = name
	}
	if s := c.State; s != nil {
		st.State = state(s.Status)
		st.StartedAt = parseTime(s.StartedAt)
		if st.State == runtime.StateExited {
			st.ExitCode = s.ExitCode
			st.OOMKilled = s.OOMKilled
			st.FinishedAt = parseTime(s.FinishedAt)
			// The engine stamps StartedAt once the start call returns, so
			// a process that exits at once can finish "before" it started.
			if st.FinishedAt.Before(st.StartedAt) {
				st.StartedAt = st.FinishedAt
			}
		}
		if s.Health != nil {
			st.Health = health(s.Health.Status)
		}
	}
	if c.NetworkSettings != nil && st.State == runtime.StateRunning {
		st.Ports = bindings(c.NetworkSettings.Ports)
	}
	return st
}

// bindings lists the published ports, by container port and protocol.
func bindings(ports network.PortMap) []runtime.PortBinding {
	var out []runtime.PortBinding
	for port, bs := range ports {
		for _, b := range bs {
			hostPort, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil || hostPort == 0 {
				continue
			}
			out = append(out, runtime.PortBinding{
				ContainerPort: port.Num(),
				Protocol:      runtime.Protocol(port.Proto()),
				HostIP:        b.HostIP,
				HostPort:      uint16(hostPort),
			})
		}
	}
	slices.SortFunc(out, func(a, b runtime.PortBinding) int {
		return cmp.Or(cmp.Compare(a.ContainerPort, b.ContainerPort), strings.Compare(string(a.Protocol), string(b.Protocol)),
			a.HostIP.Compare(b.HostIP))
	})
	return out
}

// state maps the engine's seven states onto the runtime's three.
func state(s container.ContainerState) runtime.State {
	switch s {
	case container.StateCreated:
		return runtime.StateCreated
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		return runtime.StateRunning
	default: // exited, dead, removing
		return runtime.StateExited
	}
}

func health(s container.HealthStatus) runtime.Health {
	switch s {
	case container.Healthy:
		return runtime.HealthHealthy
	case container.Unhealthy:
		return runtime.HealthUnhealthy
	default: // none, starting
		return runtime.HealthUnknown
	}
}

// parseTime parses the engine's timestamps; its zero ("0001-01-01T...")
// and garbage give the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return time.Time{}
	}
	return t
}

// publicLabels drops the runtime's internal labels.
func publicLabels(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	delete(out, labelImageDigest)
	if out == nil {
		out = map[string]string{}
	}
	return out
}

// imageDigest is the image's registry digest when it came from a registry,
// else its id (the digest of its configuration).
func imageDigest(img image.InspectResponse) string {
	for _, rd := range img.RepoDigests {
		if _, d, ok := strings.Cut(rd, "@"); ok && d != "" {
			return d
		}
	}
	return img.ID
}

// containerName is the engine's name for the container: berth-<task>-<name>
// made safe for the engine, or "" (the engine picks one) without a task.
func containerName(spec runtime.ContainerSpec) string {
	if spec.Task == "" {
		return ""
	}
	task := spec.Task
	if i := strings.LastIndexByte(task, '/'); i >= 0 { // a task ARN
		task = task[i+1:]
	}
	return "berth-" + sanitize(task) + "-" + sanitize(spec.Name)
}

// sanitize keeps the characters the engine allows in names.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '.', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}
