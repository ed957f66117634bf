package runtime

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// capSysResource is CAP_SYS_RESOURCE's bit in the capability sets.
const capSysResource = 24

// HostNofile is NofileDefault for this process: its hard RLIMIT_NOFILE and
// whether it holds CAP_SYS_RESOURCE. Runtimes use it as the default of
// their DefaultNofile setting; the Docker runtime assumes the engine runs
// with limits like the agent's.
func HostNofile() Ulimit {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return NofileDefault(0, true)
	}
	return NofileDefault(lim.Max, hasCapability(capSysResource))
}

// hasCapability reads the effective capability set from /proc/self/status.
func hasCapability(bit uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return err == nil && caps&(1<<bit) != 0
	}
	return false
}
