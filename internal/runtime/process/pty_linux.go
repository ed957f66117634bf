package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/internal/runtime"
)

// openPTY opens a pseudo-terminal pair: the controlling side for the
// runtime and the terminal for the command.
func openPTY() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("open pty terminal: %w", err)
	}
	return ptmx, tty, nil
}

// setSize sets the terminal's size; the kernel signals SIGWINCH to its
// foreground process group.
func setSize(ptmx *os.File, sz runtime.TermSize) {
	rc, err := ptmx.SyscallConn() // not Fd(): it would make reads blocking
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Rows, Col: sz.Cols})
	})
}

// runTTY runs args on a new terminal, in a session of its own, copying
// stdin to the terminal and the terminal's output to stdout.
// Sizes from resize are applied to the terminal as they come; one ready
// before the start is the terminal's initial size.
func runTTY(ctx context.Context, args []string, env map[string]string, dir, userSpec string, stdin io.Reader, stdout io.Writer, resize <-chan runtime.TermSize) (int, error) {
	cmd, err := command(ctx, args, env, dir, userSpec)
	if err != nil {
		return 0, err
	}
	ptmx, tty, err := openPTY()
	if err != nil {
		return 0, err
	}
	defer ptmx.Close()
	select {
	case sz := <-resize:
		setSize(ptmx, sz)
	default:
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case sz := <-resize:
				setSize(ptmx, sz)
			}
		}
	}()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr.Setpgid = false
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0                             // the child's stdin
	cmd.Env = append([]string{"TERM=xterm"}, cmd.Env...) // the container's TERM wins
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return 0, err
	}
	if stdin != nil {
		go func() {
			// A terminal cannot be half-closed: the end of stdin is
			// typed as ^D, which ends input in canonical mode.
			if _, err := io.Copy(ptmx, stdin); err == nil {
				_, _ = ptmx.Write([]byte{4})
			}
		}()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	copied := make(chan struct{})
	go func() {
		// Reading the pty ends with EIO once the command and everything
		// holding the terminal have exited.
		_, _ = io.Copy(stdout, ptmx)
		close(copied)
	}()
	err = cmd.Wait()
	<-copied
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 0, err
	}
	if ctx.Err() != nil {
		return exitCode(cmd.ProcessState), ctx.Err()
	}
	return exitCode(cmd.ProcessState), nil
}
