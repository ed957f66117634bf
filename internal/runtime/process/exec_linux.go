package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-io/berth/internal/runtime"
)

// startHealthLocked starts the container's health checker, if it has a
// health check.
func (r *Runtime) startHealthLocked(c *container) {
	hc := c.rec.Spec.HealthCheck
	if hc == nil {
		return
	}
	ctx, cancel := context.WithCancel(r.bg)
	c.stopHealth = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.runHealth(ctx, c, *hc)
	}()
}

// runHealth runs the health check every interval until ctx is done.
func (r *Runtime) runHealth(ctx context.Context, c *container, hc runtime.HealthCheck) {
	r.mu.Lock()
	tracker := runtime.NewHealthTracker(hc, c.rec.StartedAt)
	env, dir, user := c.rec.Env, c.rec.Dir, c.rec.Spec.User
	r.mu.Unlock()
	args, shell, err := hc.Exec()
	if err != nil {
		return // Validate rejected this already
	}
	if shell {
		args = []string{"/bin/sh", "-c", args[0]}
	}
	tick := time.NewTicker(hc.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		checkCtx, cancel := context.WithTimeout(ctx, hc.Timeout)
		code, err := runCommand(checkCtx, args, env, dir, user, nil, io.Discard, io.Discard)
		cancel()
		if ctx.Err() != nil {
			return
		}
		passed := err == nil && code == 0
		r.mu.Lock()
		if c.rec.State == runtime.StateRunning {
			was := c.health
			c.health = tracker.Record(passed, start)
			if c.health != was {
				r.log.Info("container health changed", "id", c.rec.ID, "health", c.health, "exit_code", code, "err", err)
			}
		}
		r.mu.Unlock()
	}
}

// Exec runs a command with the container's environment, working directory
// and user.
func (r *Runtime) Exec(ctx context.Context, id string, req runtime.ExecRequest) (int, error) {
	r.mu.Lock()
	c, err := r.getLocked(id)
	if err != nil {
		r.mu.Unlock()
		return 0, err
	}
	if c.rec.State != runtime.StateRunning {
		r.mu.Unlock()
		return 0, fmt.Errorf("exec in container %s: %w", id, runtime.ErrNotRunning)
	}
	env, dir, user := c.rec.Env, c.rec.Dir, c.rec.Spec.User
	r.mu.Unlock()
	if len(req.Cmd) == 0 {
		return 0, fmt.Errorf("exec in container %s: empty command", id)
	}
	var code int
	if req.TTY {
		code, err = runTTY(ctx, req.Cmd, env, dir, user, req.Stdin, req.Stdout, req.Resize)
	} else {
		code, err = runExec(ctx, req.Cmd, env, dir, user, req.Stdin, req.Stdout, req.Stderr)
	}
	if err != nil {
		return code, fmt.Errorf("exec in container %s: %w", id, err)
	}
	return code, nil
}

// command builds a command run like the container's process, in a process
// group of its own that is killed when ctx is done.
func command(ctx context.Context, args []string, env map[string]string, dir, userSpec string) (*exec.Cmd, error) {
	cred, _, err := lookupUser(userSpec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = runtime.EnvList(env)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd, nil
}

// runCommand runs args to completion and returns its exit code. A command
// that could not start is an error.
func runCommand(ctx context.Context, args []string, env map[string]string, dir, userSpec string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd, err := command(ctx, args, env, dir, userSpec)
	if err != nil {
		return 0, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) || err == nil || errors.Is(err, exec.ErrWaitDelay) {
		if ctx.Err() != nil {
			return exitCode(cmd.ProcessState), ctx.Err()
		}
		return exitCode(cmd.ProcessState), nil
	}
	return 0, err
}

// runExec is runCommand for Exec: stdin goes through a pipe the command
// reads, so its exit is not held up by a Read blocked on stdin (an
// interactive client's input may never end).
func runExec(ctx context.Context, args []string, env map[string]string, dir, userSpec string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if stdin == nil {
		return runCommand(ctx, args, env, dir, userSpec, nil, stdout, stderr)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer pw.Close() // a copy still running fails at its next write
	go func() {
		_, _ = io.Copy(pw, stdin)
		pw.Close()
	}()
	code, err := runCommand(ctx, args, env, dir, userSpec, pr, stdout, stderr)
	pr.Close()
	return code, err
}

// lookupUser resolves "user", "uid", "user:group" or "uid:gid" to process
// credentials and the user's home directory. An empty spec runs as the
// agent's user (nil credentials).
func lookupUser(spec string) (*syscall.Credential, string, error) {
	if spec == "" {
		return nil, "", nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	var cred syscall.Credential
	var home string
	if uid, err := strconv.ParseUint(name, 10, 32); err == nil {
		cred.Uid, cred.Gid = uint32(uid), uint32(uid)
		if u, err := user.LookupId(name); err == nil {
			home = u.HomeDir
			if gid, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
				cred.Gid = uint32(gid)
			}
		}
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return nil, "", fmt.Errorf("user %q: %w", spec, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred.Uid, cred.Gid, home = uint32(uid), uint32(gid), u.HomeDir
	}
	if hasGroup {
		if gid, err := strconv.ParseUint(group, 10, 32); err == nil {
			cred.Gid = uint32(gid)
		} else {
			g, err := user.LookupGroup(group)
			if err != nil {
				return nil, "", fmt.Errorf("user %q: %w", spec, err)
			}
			gid, _ := strconv.ParseUint(g.Gid, 10, 32)
			cred.Gid = uint32(gid)
		}
	}
	if int(cred.Uid) == os.Getuid() && int(cred.Gid) == os.Getgid() {
		return nil, home, nil // no switch needed, and none allowed unprivileged
	}
	cred.NoSetGroups = os.Getuid() != 0
	return &cred, home, nil
}
