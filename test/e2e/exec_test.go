package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// execTimeout bounds one `berth exec` run.
const execTimeout = 30 * time.Second

// TestExec runs `berth exec` (the real CLI, through ExecuteCommand, the
// server's broker and the agent) against a running task, once per
// runtime: output and exit code, piped stdin, and a terminal.
func TestExec(t *testing.T) {
	t.Parallel()
	for _, rt := range agentRuntimes {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			e := newAgentEnv(t, rt)
			ctx := ctxT(t)
			family := e.register(t, "exec", e.webContainer("app"))
			arn := e.agent.runTask(t, ctx, family)
			e.agent.waitStatus(t, arn, "RUNNING")
			task := taskID(arn)

			// The process runtime runs commands on the host, which has a
			// shell; the docker image is FROM scratch, where the testapp's
			// repl stands in for one.
			shellC := []string{e.app.Path, "repl", "-c"}
			shell := []string{e.app.Path, "repl"}
			if rt == runtimeProcess {
				shellC, shell = []string{"sh", "-c"}, []string{"sh"}
			}

			t.Run("OutputAndExitCode", func(t *testing.T) {
				out, code := e.berthExec(t, task, "", append(shellC, "echo hi; exit 7")...)
				if out != "hi\n" || code != 7 {
					t.Errorf("berth exec -- %q = %q, exit %d; want \"hi\\n\", exit 7", append(shellC, "echo hi; exit 7"), out, code)
				}
			})
			t.Run("Stdin", func(t *testing.T) {
				in := "hello\nworld\n"
				out, code := e.berthExec(t, task, in, e.app.Path, "cat")
				if out != in || code != 0 {
					t.Errorf("berth exec -- cat with stdin %q = %q, exit %d; want it back, exit 0", in, out, code)
				}
			})
			t.Run("TTY", func(t *testing.T) {
				out, code := e.berthExecTTY(t, task, "tty; exit 3\n", shell...)
				if !strings.Contains(out, "/dev/pts/") || code != 3 {
					t.Errorf("berth exec on a terminal, typing `tty; exit 3`: output %q, exit %d; want a /dev/pts/ name, exit 3", out, code)
				}
			})
			t.Run("NoSuchTask", func(t *testing.T) {
				_, code := e.berthExec(t, "0123456789abcdef0123456789abcdef", "", e.app.Path, "echo")
				if code != 255 {
					t.Errorf("berth exec of an unknown task: exit %d, want 255", code)
				}
			})
		})
	}
}

// execCommand is `berth exec --cluster <cluster> TASK -- args...` with the
// server's endpoint and credentials in the environment.
func (e *agentEnv) execCommand(ctx context.Context, task string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, berthBin, append([]string{"exec", "--cluster", e.agent.opts.Cluster, task, "--"}, args...)...)
	cmd.Env = append(envWithout(os.Environ(), "AWS_", "BERTH_"),
		"AWS_ENDPOINT_URL="+e.srv.endpoint, "AWS_ACCESS_KEY_ID="+testAccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+testSecretAccessKey, "AWS_REGION="+testRegion)
	return cmd
}

// berthExec runs berth exec with stdin piped from in and returns its
// stdout and exit code (stderr goes to the test log).
func (e *agentEnv) berthExec(t *testing.T, task, in string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), execTimeout)
	defer cancel()
	cmd := e.execCommand(ctx, task, args...)
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("berth exec stderr: %s", stderr.String())
	}
	return stdout.String(), exitCode(t, err)
}

// berthExecTTY runs berth exec on a terminal, types typed, and returns
// everything the terminal showed and the exit code.
func (e *agentEnv) berthExecTTY(t *testing.T, task, typed string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctxT(t), execTimeout)
	defer cancel()
	cmd := e.execCommand(ctx, task, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start berth exec on a terminal: %v", err)
	}
	defer ptmx.Close()
	var out lockedBuffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx) // ends with EIO once berth exited
		close(copied)
	}()
	if _, err := io.WriteString(ptmx, typed); err != nil {
		t.Fatalf("type into the terminal: %v", err)
	}
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Errorf("the terminal's output did not end after berth exited")
	}
	return out.String(), exitCode(t, err)
}

// exitCode is the exit code of a finished command.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("berth exec: %v", err)
		return -1
	}
}
