package docker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/docker"
	"github.com/berth-io/berth/internal/runtime/runtimetest"
)

// testWriter sends log output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newRuntime connects to the local engine, skipping the test when none
// answers.
func newRuntime(t *testing.T) *docker.Runtime {
	t.Helper()
	r, err := docker.New(docker.Config{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := r.Ping(ctx); err != nil {
		t.Skipf("skipping: no Docker daemon answers (%v); start dockerd (or set DOCKER_HOST) to run the Docker runtime tests", err)
	}
	return r
}

func TestContract(t *testing.T) {
	r := newRuntime(t)
	version, _ := r.Ping(t.Context())
	t.Logf("engine API version %s", version)
	image := buildImage(t, runtimetest.BuildTestApp(t), "")
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newRuntime(t) }, runtimetest.ImageSet{
		TestApp:       image,
		TestAppPath:   "/testapp",
		Missing:       "127.0.0.1:1/berth/missing:latest", // nothing listens there
		DefaultNofile: runtime.HostNofile().Hard,
	})
}

// buildImage builds a FROM scratch image holding the testapp as /testapp
// (its entrypoint), plus the Dockerfile lines in extra, with the engine's
// legacy builder: no base image, nothing pulled. The tag is a hash of the
// contents; the image is removed when t ends.
func buildImage(t *testing.T, app, extra string) string {
	t.Helper()
	bin, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY testapp /testapp\nENTRYPOINT [\"/testapp\"]\n" + extra
	sum := sha256.Sum256(append(bin, dockerfile...))
	tag := "berth-testapp:" + hex.EncodeToString(sum[:6])

	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(t.Context(), tag); err == nil {
		return tag // another run's; it removes it
	}

	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"testapp", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := cli.ImageBuild(t.Context(), &ctxTar, client.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("build %s: %v", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	var out strings.Builder
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("build %s: %v", tag, err)
		}
		if m.Error != nil {
			t.Fatalf("build %s: %s\n%s", tag, m.Error.Message, out.String())
		}
		out.WriteString(m.Stream)
	}
	t.Logf("built %s", tag)
	t.Cleanup(func() {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			return
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Logf("remove image %s: %v", tag, err)
		}
	})
	return tag
}

func TestStopSignalResolution(t *testing.T) {
	r := newRuntime(t)
	app := runtimetest.BuildTestApp(t)
	tests := []struct {
		name       string
		dockerfile string // lines added to the image
		spec       string // ContainerSpec.StopSignal
		label      string // the spec's berth.stop-signal label
		want       string
	}{
		{"image STOPSIGNAL", "STOPSIGNAL SIGINT\n", "", "", "SIGINT"},
		{"spec beats image", "STOPSIGNAL SIGINT\n", "SIGUSR2", "", "SIGUSR2"},
		{"image beats label", "STOPSIGNAL SIGINT\n", "", "SIGHUP", "SIGINT"},
		{"spec label", "", "", "SIGHUP", "SIGHUP"},
		{"image label", "LABEL berth.stop-signal=SIGQUIT\n", "", "", "SIGQUIT"},
		{"default", "", "", "", "SIGTERM"},
	}
	images := map[string]string{} // by Dockerfile lines, removed when the test ends
	for _, tt := range tests {
		if images[tt.dockerfile] == "" {
			images[tt.dockerfile] = buildImage(t, app, tt.dockerfile)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			image := images[tt.dockerfile]
			spec := runtime.ContainerSpec{
				Task: "stopsig-" + rand.Text(),
				Name: "app", Image: image, Command: []string{"serve"}, StopSignal: tt.spec,
				Env:          map[string]string{"PORT": "8080"},
				PortMappings: []runtime.PortMapping{{ContainerPort: 8080}},
			}
			if tt.label != "" {
				spec.Labels = map[string]string{runtime.LabelStopSignal: tt.label}
			}
			id, err := r.Create(t.Context(), spec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			t.Cleanup(func() { _ = r.Remove(context.Background(), id) })
			if err := r.Start(t.Context(), id); err != nil {
				t.Fatalf("Start: %v", err)
			}
			st, err := r.Inspect(t.Context(), id)
			if err != nil || st.StopSignal != tt.want {
				t.Fatalf("StopSignal = %q, %v; want %q", st.StopSignal, err, tt.want)
			}
			waitLogs(t, r, id, "listening on")
			if err := r.Stop(t.Context(), id, 30*time.Second); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if got := logsOf(t, r, id); !strings.Contains(got, "signal: "+tt.want+"\n") {
				t.Errorf("logs = %q, want the app to have received %s", got, tt.want)
			}
		})
	}
}

func logsOf(t *testing.T, r runtime.Runtime, id string) string {
	t.Helper()
	rc, err := r.Logs(t.Context(), id, false)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// waitLogs polls the logs until they contain want.
func waitLogs(t *testing.T, r runtime.Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(logsOf(t, r, id), want) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in the logs: %q", want, logsOf(t, r, id))
		}
		<-tick.C
	}
}
