//go:build !linux

package runtime

// HostNofile is NofileDefault for this host. Off Linux (an agent driving a
// Docker Desktop VM) the agent's own limits say nothing about the engine's,
// so it is DefaultNofileLimit.
func HostNofile() Ulimit { return NofileDefault(0, true) }
