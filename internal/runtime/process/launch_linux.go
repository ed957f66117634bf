package process

import (
	"errors"
	"fmt"
	"os/exec"
	goruntime "runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/internal/runtime"
)

// rlimits maps ulimit names (see runtime.Ulimit) to resources.
var rlimits = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// launch starts the command newCmd builds with the ulimits applied before
// its program runs: the child starts traced (PTRACE_TRACEME), stops at its
// first instruction after exec, gets its limits with prlimit(2), and is let
// go. Where ptrace is not allowed it starts a second command untraced and
// applies the limits right after exec instead; traced reports which.
func launch(newCmd func() *exec.Cmd, limits []runtime.Ulimit) (cmd *exec.Cmd, traced bool, err error) {
	// The tracer is the thread that forked the child: keep this
	// goroutine on it until the child is detached.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	cmd = newCmd()
	cmd.SysProcAttr.Ptrace = true
	err = cmd.Start()
	if errors.Is(err, syscall.EPERM) {
		cmd = newCmd()
		if err := cmd.Start(); err != nil {
			return nil, false, err
		}
		if err := setLimits(cmd.Process.Pid, limits); err != nil {
			killAndReap(cmd)
			return nil, false, err
		}
		return cmd, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	pid := cmd.Process.Pid
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		killAndReap(cmd)
		return nil, false, fmt.Errorf("wait for the exec stop: %w", err)
	}
	if !ws.Stopped() {
		killAndReap(cmd)
		return nil, false, fmt.Errorf("process ended before it ran (wait status %#x)", ws)
	}
	if err := setLimits(pid, limits); err != nil {
		killAndReap(cmd)
		return nil, false, err
	}
	if err := syscall.PtraceDetach(pid); err != nil {
		killAndReap(cmd)
		return nil, false, fmt.Errorf("detach: %w", err)
	}
	return cmd, true, nil
}

func setLimits(pid int, limits []runtime.Ulimit) error {
	for _, u := range limits {
		res, ok := rlimits[u.Name]
		if !ok {
			return fmt.Errorf("set ulimit %s: unknown resource", u.Name)
		}
		lim := unix.Rlimit{Cur: uint64(u.Soft), Max: uint64(u.Hard)}
		if err := unix.Prlimit(pid, res, &lim, nil); err != nil {
			return fmt.Errorf("set ulimit %s=%d:%d: %w", u.Name, u.Soft, u.Hard, err)
		}
	}
	return nil
}

// killAndReap ends a child that failed to launch.
func killAndReap(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
