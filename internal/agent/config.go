package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
)

// Defaults, as DefaultConfig sets them.
const (
	DefaultServer  = "http://127.0.0.1:7700"
	DefaultCluster = "default"
	// DefaultCleanupGrace keeps the exited containers of stopped tasks an
	// hour, so a failed task can still be inspected (`docker logs`,
	// `docker inspect`) before the janitor removes it.
	DefaultCleanupGrace = time.Hour
	// DefaultPollWait is how long one long-poll waits for a change.
	DefaultPollWait = 20 * time.Second
	// DefaultStatusInterval is how often a task's containers are
	// inspected for health while a health check or a HEALTHY dependency
	// needs it.
	DefaultStatusInterval = time.Second
	// DefaultLogFlushInterval and DefaultLogBatchLines bound how long a
	// line of container output waits before it is shipped.
	DefaultLogFlushInterval = 200 * time.Millisecond
	DefaultLogBatchLines    = 500
	// DefaultRetryMin and DefaultRetryMax bound the exponential backoff
	// of every call to the server that failed.
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
	// DefaultHeartbeatInterval is used until the server says otherwise.
	DefaultHeartbeatInterval = time.Second
)

// Runtime names, for Config.RuntimeName and the berth.runtime attribute.
const (
	RuntimeDocker  = "docker"
	RuntimeProcess = "process"
)

// Secret is a string that prints as [redacted], so a Config can be logged.
type Secret string

// String hides the secret.
func (Secret) String() string { return "[redacted]" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"[redacted]"` }

// LogValue hides the secret from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Config configures an Agent. Field comments are the user documentation of
// the matching `berth agent` flags. Start from DefaultConfig; New fills any
// zero field from it, except CleanupGrace, where 0 means "remove at once".
type Config struct {
	// Server is the base URL of the berth server's API listener, which
	// also serves the agent protocol (--server). Default
	// http://127.0.0.1:7700.
	Server string
	// JoinToken proves the agent may join (--join-token, or the
	// BERTH_JOIN_TOKEN environment variable). The server prints it at
	// start and keeps it in <server data dir>/join-token. Required.
	JoinToken Secret
	// Cluster is the cluster to join; the server creates it if it does
	// not exist (--cluster). Default "default".
	Cluster string
	// DataDir keeps the agent's identity (instance.json: the container
	// instance to re-register as) and how far each container's output has
	// been shipped (--data-dir). It must survive restarts for running
	// tasks to be re-adopted. Required.
	DataDir string
	// Hostname is reported as the instance's ec2InstanceId stand-in
	// (--hostname). `berth agent` defaults it to the host's name; empty
	// lets the server make one up.
	Hostname string
	// PublishAddress is the host address containers' port mappings bind
	// (--publish-address); default 127.0.0.1, so nothing a task publishes
	// is reachable from other machines. On a fleet whose server runs the
	// load balancer on another host, set this host's address that the
	// server can reach: tasks' networkBindings report it, and the load
	// balancer's targets use it. 0.0.0.0 binds every address (targets then
	// use 127.0.0.1).
	PublishAddress string
	// AvailabilityZone becomes the ecs.availability-zone attribute
	// (--availability-zone); empty omits it.
	AvailabilityZone string
	// Attributes are registered with the instance, after (and over) the
	// agent's own ecs.os-type, ecs.cpu-architecture, berth.runtime and
	// ecs.availability-zone (--attribute key=value, repeatable).
	Attributes []ecs.Attribute
	// CPU is the CPU units the instance offers the scheduler, 1024 per
	// core (--cpu). Required; `berth agent` defaults it to 1024 × cores.
	CPU int32
	// Memory is the memory in MiB the instance offers (--memory).
	// Required; `berth agent` defaults it to the host's RAM minus a
	// reserve.
	Memory int32
	// RuntimeName is the berth.runtime attribute, "docker" or "process"
	// (--runtime).
	RuntimeName string
	// Runtime runs the containers. Required; `berth agent` opens the one
	// --runtime names.
	Runtime runtime.Runtime
	// CleanupGrace is how long the exited containers of stopped tasks,
	// and containers of this cluster no task claims, are kept before the
	// janitor removes them (--cleanup-grace). 0 removes them at once
	// (within a second), once the server has acknowledged the task's
	// final status. DefaultConfig sets 1h; unlike the other fields, New
	// does not replace 0 by the default.
	CleanupGrace time.Duration

	// PollWait is how long one long-poll for desired tasks waits for a
	// change, in whole seconds: less than 1s waits 1s. Default 20s.
	PollWait time.Duration
	// StatusInterval is how often containers are inspected for health
	// while a health check or a HEALTHY dependency needs it. Default 1s.
	StatusInterval time.Duration
	// LogFlushInterval and LogBatchLines: captured output is shipped
	// every LogFlushInterval, or as soon as LogBatchLines lines wait.
	// Defaults 200ms and 500.
	LogFlushInterval time.Duration
	LogBatchLines    int
	// RetryMin and RetryMax bound the exponential backoff between
	// attempts of a failed call to the server. Defaults 100ms and 5s.
	RetryMin time.Duration
	RetryMax time.Duration
	// AgentVersion is reported in the registration.
	AgentVersion string
	// HTTPClient talks to the server; nil uses a client of its own.
	HTTPClient *http.Client
	// Clock is the time source of every timer; nil is the wall clock.
	Clock Clock
	// Logger receives the agent's events; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default set. JoinToken,
// DataDir, CPU, Memory and Runtime have no default.
func DefaultConfig() Config {
	return Config{
		Server:           DefaultServer,
		Cluster:          DefaultCluster,
		CleanupGrace:     DefaultCleanupGrace,
		PollWait:         DefaultPollWait,
		StatusInterval:   DefaultStatusInterval,
		LogFlushInterval: DefaultLogFlushInterval,
		LogBatchLines:    DefaultLogBatchLines,
		RetryMin:         DefaultRetryMin,
		RetryMax:         DefaultRetryMax,
		AgentVersion:     "dev",
		Clock:            wallClock{},
		Logger:           slog.New(slog.DiscardHandler),
	}
}

// withDefaults fills every zero field that has a default, but
// CleanupGrace (0 is a setting: remove at once).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&c.Server, d.Server)
	set(&c.Cluster, d.Cluster)
	set(&c.AgentVersion, d.AgentVersion)
	for _, f := range []struct{ dst, def *time.Duration }{
		{&c.PollWait, &d.PollWait},
		{&c.StatusInterval, &d.StatusInterval}, {&c.LogFlushInterval, &d.LogFlushInterval},
		{&c.RetryMin, &d.RetryMin}, {&c.RetryMax, &d.RetryMax},
	} {
		if *f.dst == 0 {
			*f.dst = *f.def
		}
	}
	if c.LogBatchLines == 0 {
		c.LogBatchLines = d.LogBatchLines
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// clusterRE is what the server accepts as a cluster name.
var clusterRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// minJoinToken is the server's minimum join token length.
const minJoinToken = 16

// Validate checks the config; errors name the flag (or the field, for
// fields that have none).
func (c Config) Validate() error {
	u, err := url.Parse(c.Server)
	switch {
	case err != nil:
		return fmt.Errorf("--server: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("--server: %q: want an http:// or https:// URL, like %s", c.Server, DefaultServer)
	case u.Host == "":
		return fmt.Errorf("--server: %q has no host", c.Server)
	}
	if c.JoinToken == "" {
		return errors.New("--join-token: required (or set BERTH_JOIN_TOKEN); the server prints it at start")
	}
	if c.PublishAddress != "" {
		if a, err := netip.ParseAddr(c.PublishAddress); err != nil || a.Zone() != "" {
			return fmt.Errorf("--publish-address: %q is not an IP address", c.PublishAddress)
		}
	}
	if len(c.JoinToken) < minJoinToken {
		return fmt.Errorf("--join-token: at least %d characters, got %d", minJoinToken, len(c.JoinToken))
	}
	if !clusterRE.MatchString(c.Cluster) {
		return fmt.Errorf("--cluster: %q: 1-255 letters, digits, hyphens and underscores", c.Cluster)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir: required")
	}
	if c.CPU <= 0 {
		return fmt.Errorf("--cpu: must be positive, got %d", c.CPU)
	}
	if c.Memory <= 0 {
		return fmt.Errorf("--memory: must be positive, got %d", c.Memory)
	}
	switch c.RuntimeName {
	case RuntimeDocker, RuntimeProcess:
	default:
		return fmt.Errorf("--runtime: %q is not docker or process", c.RuntimeName)
	}
	if c.Runtime == nil {
		return errors.New("Runtime: required")
	}
	for i, a := range c.Attributes {
		if a.Name == "" {
			return fmt.Errorf("--attribute: attribute %d has no name (want key=value)", i+1)
		}
	}
	if c.CleanupGrace < 0 {
		return errors.New("--cleanup-grace: must not be negative")
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"PollWait", c.PollWait}, {"StatusInterval", c.StatusInterval},
		{"LogFlushInterval", c.LogFlushInterval}, {"RetryMin", c.RetryMin}, {"RetryMax", c.RetryMax},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s: must be positive, got %v", f.name, f.v)
		}
	}
	if c.RetryMax < c.RetryMin {
		return fmt.Errorf("RetryMax: %v is less than RetryMin %v", c.RetryMax, c.RetryMin)
	}
	if c.LogBatchLines <= 0 {
		return fmt.Errorf("LogBatchLines: must be positive, got %d", c.LogBatchLines)
	}
	return nil
}
