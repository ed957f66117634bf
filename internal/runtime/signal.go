package runtime

import (
	"fmt"
	"strconv"
	"strings"
)

// signals are the Linux signal numbers (x86, arm) by canonical name.
// Containers run Linux, so the table does not depend on the agent's OS.
var signals = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5,
	"SIGABRT": 6, "SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10,
	"SIGSEGV": 11, "SIGUSR2": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
	"SIGSTKFLT": 16, "SIGCHLD": 17, "SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20,
	"SIGTTIN": 21, "SIGTTOU": 22, "SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25,
	"SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30,
	"SIGSYS": 31,
}

// ParseSignal accepts a signal as "SIGUSR1", "USR1" (any case) or "10" and
// returns its canonical name and number.
func ParseSignal(s string) (name string, num int, err error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, convErr := strconv.Atoi(t); convErr == nil {
		if name := SignalName(n); name != "" {
			return name, n, nil
		}
		return "", 0, fmt.Errorf("unknown signal number %d", n)
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	if n, ok := signals[t]; ok {
		return t, n, nil
	}
	return "", 0, fmt.Errorf("unknown signal %q", s)
}

// SignalName returns the canonical name of signal number n ("SIGTERM" for
// 15), or "" for a number it does not know.
func SignalName(n int) string {
	for name, num := range signals {
		if num == n {
			return name
		}
	}
	return ""
}

// ResolveStopSignal picks the signal Stop sends, in order: the spec's
// StopSignal; the image's STOPSIGNAL; a berth.stop-signal label on the spec,
// then on the image; SIGTERM. It returns the canonical name.
func ResolveStopSignal(spec ContainerSpec, imageStopSignal string, imageLabels map[string]string) (string, error) {
	candidates := []struct{ from, value string }{
		{"StopSignal", spec.StopSignal},
		{"image STOPSIGNAL", imageStopSignal},
		{"label " + LabelStopSignal, spec.Labels[LabelStopSignal]},
		{"image label " + LabelStopSignal, imageLabels[LabelStopSignal]},
	}
	for _, c := range candidates {
		if c.value == "" {
			continue
		}
		name, _, err := ParseSignal(c.value)
		if err != nil {
			return "", fmt.Errorf("stop signal from %s: %w", c.from, err)
		}
		return name, nil
	}
	return DefaultStopSignal, nil
}
