package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/internal/runtime/fake"
	"github.com/berth-io/berth/internal/runtime/testapp"
)

// execBehavior runs until stopped; its Exec runs the testapp in-process.
func execBehavior() fake.Behavior {
	return fake.Behavior{
		Program: func(ctx context.Context, p *fake.Proc) int {
			select {
			case <-ctx.Done():
				return 137
			case <-p.Signals:
				return 0
			}
		},
		Exec: func(ctx context.Context, p *fake.Proc, cmd []string) int {
			return testapp.Main(ctx, cmd[1:], testapp.System{Getenv: p.Getenv, Stdout: p.Stdout, Stdin: p.Stdin, Stderr: p.Stderr})
		},
	}
}

// execResult is what a client saw of a session.
type execResult struct {
	stdout, stderr string
	code           int
	errMsg         string
}

// runExec calls ExecuteCommand and plays the client: it sends stdin (and
// closes it) and reads the frames to the end.
func runExecClient(t *testing.T, s *testServer, task, command, stdin string) execResult {
	t.Helper()
	out, err := s.ecs.ExecuteCommand(context.Background(), &ecs.ExecuteCommandRequest{Task: task, Command: command, Interactive: true})
	if err != nil {
		t.Fatalf("ExecuteCommand(%q): %v", command, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := exec.Dial(ctx, s.url()+out.Session.StreamUrl, out.Session.TokenValue, nil, nil)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	w := exec.NewWriter(conn)
	if stdin != "" {
		if err := w.Data(exec.Stdin, []byte(stdin)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	var res execResult
	r := exec.NewReader(conn)
	for {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("read frame: %v (so far %+v)", err, res)
		}
		switch f.Type {
		case exec.Stdout:
			res.stdout += string(f.Payload)
		case exec.Stderr:
			res.stderr += string(f.Payload)
		case exec.Exit:
			res.code, _ = f.ExitCode()
			return res
		case exec.Error:
			res.errMsg = string(f.Payload)
			return res
		}
	}
}

func TestAgentExec(t *testing.T) {
	s := newTestServer(t)
	f := fake.New(fake.Config{Default: execBehavior()})
	h := startAgent(t, testAgentConfig(t, s, f, t.TempDir()))
	s.instance(t, h)
	task := s.runTask(t, s.registerTaskDef(t, webDef()))
	s.waitTask(t, task, "RUNNING")

	tests := []struct {
		name, command, stdin string
		want                 execResult
	}{
		{"echo", "testapp echo hi there", "", execResult{stdout: "hi there\n"}},
		{"exit code", "testapp exit 7", "", execResult{stdout: "exit 7\n", code: 7}},
		{"stderr", "testapp stderr oops", "", execResult{stderr: "oops\n"}},
		{"stdin", "testapp cat", "line 1\nline 2\n", execResult{stdout: "line 1\nline 2\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runExecClient(t, s, task, tt.command, tt.stdin)
			if got != tt.want {
				t.Errorf("exec %q = %+v, want %+v", tt.command, got, tt.want)
			}
		})
	}
}

func TestAgentExecContainerGone(t *testing.T) {
	s := newTestServer(t)
	f := fake.New(fake.Config{Default: execBehavior()})
	h := startAgent(t, testAgentConfig(t, s, f, t.TempDir()))
	s.instance(t, h)
	task := s.runTask(t, s.registerTaskDef(t, webDef()))
	s.waitTask(t, task, "RUNNING")
	id := idOfTask(t, f, task)
	if err := f.Remove(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The records may still say RUNNING: the agent refuses with an error.
	out, err := s.ecs.ExecuteCommand(context.Background(), &ecs.ExecuteCommandRequest{Task: task, Command: "ls", Interactive: true})
	if err != nil {
		t.Skipf("the server noticed first: %v", err)
	}
	conn, err := exec.Dial(context.Background(), s.url()+out.Session.StreamUrl, out.Session.TokenValue, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fr, err := exec.NewReader(conn).Next()
	if err != nil || fr.Type != exec.Error || !strings.Contains(string(fr.Payload), "not running") {
		t.Fatalf("frame %v %q, %v; want an error saying the container is not running", fr.Type, fr.Payload, err)
	}
	if _, err := exec.NewReader(conn).Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the error frame: %v, want EOF", err)
	}
}

// idOfTask returns the runtime ID of the task's one container.
func idOfTask(t *testing.T, f *fake.Fake, taskArn string) string {
	t.Helper()
	cs, err := f.List(context.Background(), map[string]string{"berth.task": taskArn[strings.LastIndexByte(taskArn, '/')+1:]})
	if err != nil || len(cs) != 1 {
		t.Fatal(fmt.Sprintf("list: %v, %v", cs, err))
	}
	return cs[0].ID
}

func TestStdinBuffer(t *testing.T) {
	b := newStdinBuffer(4)
	// Writes return at once below the bound, whether or not anyone reads.
	if n, err := b.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := b.Write([]byte("de")); n != 2 || err != nil {
		t.Fatalf("second Write = %d, %v", n, err)
	}
	// At the bound a writer waits, and a close lets it go.
	done := make(chan error, 1)
	go func() { _, err := b.Write([]byte("f")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Write over the bound returned %v at once, want it to wait", err)
	case <-time.After(20 * time.Millisecond):
	}
	p := make([]byte, 16)
	n, err := b.Read(p)
	if err != nil || string(p[:n]) != "abcde" {
		t.Fatalf("Read = %q, %v", p[:n], err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting Write: %v", err)
	}
	_ = b.Close()
	if n, err := b.Read(p); string(p[:n]) != "f" || err != nil {
		t.Fatalf("Read after Close = %q, %v; want the rest first", p[:n], err)
	}
	if _, err := b.Read(p); err != io.EOF {
		t.Fatalf("Read at the end = %v, want EOF", err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}
