package agent

import (
	"fmt"
	"log/slog"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime/fake"
)

func validConfig() Config {
	cfg := DefaultConfig()
	cfg.JoinToken = "0123456789abcdef"
	cfg.DataDir = "/var/lib/berth-agent"
	cfg.CPU, cfg.Memory = 1024, 2048
	cfg.RuntimeName = RuntimeProcess
	cfg.Runtime = fake.New(fake.Config{})
	return cfg
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // prefix of the error; "" for valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"server scheme", func(c *Config) { c.Server = "127.0.0.1:7700" }, "--server:"},
		{"server host", func(c *Config) { c.Server = "http://" }, "--server:"},
		{"no token", func(c *Config) { c.JoinToken = "" }, "--join-token: required"},
		{"short token", func(c *Config) { c.JoinToken = "short" }, "--join-token: at least 16"},
		{"cluster", func(c *Config) { c.Cluster = "a/b" }, "--cluster:"},
		{"data dir", func(c *Config) { c.DataDir = "" }, "--data-dir:"},
		{"cpu", func(c *Config) { c.CPU = 0 }, "--cpu:"},
		{"memory", func(c *Config) { c.Memory = -1 }, "--memory:"},
		{"runtime name", func(c *Config) { c.RuntimeName = "podman" }, "--runtime:"},
		{"runtime", func(c *Config) { c.Runtime = nil }, "Runtime:"},
		{"attribute", func(c *Config) { c.Attributes = []ecs.Attribute{{Value: "x"}} }, "--attribute:"},
		{"grace", func(c *Config) { c.CleanupGrace = -time.Second }, "--cleanup-grace:"},
		{"retry", func(c *Config) { c.RetryMax = time.Millisecond }, "RetryMax:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	cfg := validConfig()
	cfg.Server, cfg.Cluster, cfg.PollWait, cfg.RetryMin, cfg.Clock, cfg.Logger = "", "", 0, 0, nil, nil
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.Server != DefaultServer || a.cfg.Cluster != DefaultCluster || a.cfg.PollWait != DefaultPollWait || a.cfg.RetryMin != DefaultRetryMin {
		t.Errorf("got %s %s %v %v, want the defaults", a.cfg.Server, a.cfg.Cluster, a.cfg.PollWait, a.cfg.RetryMin)
	}
}

// 0 is a setting of CleanupGrace (remove at once), not "unset".
func TestNewKeepsZeroCleanupGrace(t *testing.T) {
	cfg := validConfig()
	cfg.CleanupGrace = 0
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.CleanupGrace != 0 {
		t.Errorf("--cleanup-grace 0: got %v, want 0 (remove at once)", a.cfg.CleanupGrace)
	}
	if got := DefaultConfig().CleanupGrace; got != DefaultCleanupGrace {
		t.Errorf("DefaultConfig: got CleanupGrace %v, want %v", got, DefaultCleanupGrace)
	}
}

func TestJoinTokenRedacted(t *testing.T) {
	cfg := validConfig()
	cfg.JoinToken = "super-secret-join-token"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", cfg.JoinToken)
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		if strings.Contains(s, "super-secret") {
			t.Errorf("the join token leaks: %s", s)
		}
	}
}

func TestAttributes(t *testing.T) {
	cfg := validConfig()
	cfg.AvailabilityZone = "eu-west-1b"
	cfg.Attributes = []ecs.Attribute{{Name: "stack", Value: "blue"}, {Name: "berth.runtime", Value: "custom"}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, at := range a.attributes() {
		got[at.Name] = at.Value
	}
	want := map[string]string{"ecs.os-type": "linux", "ecs.cpu-architecture": cpuArchitecture(goarchForTest()),
		"berth.runtime": "custom", "ecs.availability-zone": "eu-west-1b", "stack": "blue"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	if cpuArchitecture("amd64") != "x86_64" || cpuArchitecture("arm64") != "arm64" {
		t.Error("cpuArchitecture: want x86_64 for amd64 and arm64 for arm64")
	}
}

func TestReporter(t *testing.T) {
	p := newReporter()
	p.update(agent.TaskStatus{TaskArn: "a", LastStatus: statusPending})
	p.update(agent.TaskStatus{TaskArn: "a", LastStatus: statusRunning}) // latest wins
	p.update(agent.TaskStatus{TaskArn: "b", LastStatus: statusStopped})
	batch, versions := p.pending()
	if got := []string{batch[0].LastStatus, batch[1].LastStatus}; !cmp.Equal(got, []string{statusRunning, statusStopped}) {
		t.Fatalf("got %v, want only the latest per task", got)
	}
	p.update(agent.TaskStatus{TaskArn: "a", LastStatus: statusDeactivating}) // changed while in flight
	p.acked(versions, nil)
	batch, versions = p.pending()
	if len(batch) != 1 || batch[0].LastStatus != statusDeactivating {
		t.Fatalf("after the ack: got %+v, want a's newer status only", batch)
	}
	p.acked(versions, nil)
	if batch, _ := p.pending(); len(batch) != 0 {
		t.Fatalf("got %+v pending, want none", batch)
	}
	p.resendAll()
	if batch, _ := p.pending(); len(batch) != 1 || batch[0].TaskArn != "a" {
		t.Fatalf("after a reconnect: got %+v, want a (b was STOPPED and acknowledged, so forgotten)", batch)
	}
	_, versions = p.pending()
	p.acked(versions, []string{"a"})
	p.update(agent.TaskStatus{TaskArn: "a", LastStatus: statusStopped})
	if batch, _ := p.pending(); len(batch) != 0 {
		t.Errorf("got %+v, want nothing for a task the server does not know", batch)
	}
}

func goarchForTest() string { return goruntime.GOARCH }
