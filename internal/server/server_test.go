package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/api/agent"
)

// startTestServer runs Run in the background on a free loopback port and
// returns its address and a stop function that waits for Run to return.
func startTestServer(t *testing.T, dir string) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", DataDir: dir, Getenv: func(string) string { return "" },
			Ready: func(a string) { ready <- a }})
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stop
}

// Shutdown must not wait for agents' long-polls to run out.
func TestShutdownEndsLongPolls(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startTestServer(t, dir)
	tok, err := os.ReadFile(filepath.Join(dir, joinTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	call := func(path string, in, out any) error {
		b, _ := json.Marshal(in)
		req, _ := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if out != nil {
			return json.NewDecoder(resp.Body).Decode(out)
		}
		return nil
	}
	var reg agent.RegisterResponse
	if err := call(agent.PathRegister, agent.RegisterRequest{Cluster: "c", CPU: 1024, Memory: 1024}, &reg); err != nil {
		t.Fatal(err)
	}
	var first agent.PollResponse
	if err := call(agent.PathPoll, agent.PollRequest{Cluster: "c", InstanceID: reg.InstanceID}, &first); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = call(agent.PathPoll, agent.PollRequest{Cluster: "c", InstanceID: reg.InstanceID, Fingerprint: first.Fingerprint, WaitSeconds: 30}, nil)
	}()
	// Give the poll a moment to be in flight; the check below is on
	// Shutdown's outcome, not on this timing.
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want a clean shutdown", err)
	}
	t.Logf("shutdown with a long-poll in flight took %v", time.Since(start))
}
