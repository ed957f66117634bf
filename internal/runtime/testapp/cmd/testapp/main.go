//go:build unix

// Command testapp is testapp.Main as a program; see package testapp. Tests
// build it with CGO_ENABLED=0 so it runs in a FROM scratch image.
package main

import (
	"context"
	"net"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/internal/runtime"
	"github.com/berth-io/berth/internal/runtime/testapp"
)

func main() {
	raw := make(chan os.Signal, 8)
	signal.Notify(raw, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGUSR1, syscall.SIGUSR2)
	names := make(chan string, 8)
	go func() {
		for sig := range raw {
			names <- runtime.SignalName(int(sig.(syscall.Signal)))
		}
	}()
	os.Exit(testapp.Main(context.Background(), os.Args[1:], testapp.System{
		Getenv:  os.Getenv,
		Stdout:  os.Stdout,
		Signals: names,
		Listen:  net.Listen,
		Nofile: func() (uint64, uint64, error) {
			var lim syscall.Rlimit
			err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
			return lim.Cur, lim.Max, err
		},
		Stdin:    os.Stdin,
		Stderr:   os.Stderr,
		Terminal: terminal,
	}))
}

// terminal names stdin's terminal and its size.
func terminal() (string, int, int, error) {
	ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
	if err != nil {
		return "", 0, 0, err
	}
	name, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return "", 0, 0, err
	}
	return name, int(ws.Row), int(ws.Col), nil
}
