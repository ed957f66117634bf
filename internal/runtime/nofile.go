package runtime

// NofileDefault is the nofile ulimit a container gets when its spec sets
// none: DefaultNofileLimit, or the host's hard limit when that is lower and
// the runtime may not raise limits (no CAP_SYS_RESOURCE), since asking for
// more would make every container fail to start.
func NofileDefault(hostHard uint64, canRaise bool) Ulimit {
	n := int64(DefaultNofileLimit)
	if !canRaise && hostHard > 0 && hostHard < uint64(n) {
		n = int64(hostHard)
	}
	return Ulimit{Name: "nofile", Soft: n, Hard: n}
}
