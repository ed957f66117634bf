// Package process is a runtime.Runtime that runs a task's containers as
// plain host processes, so berth runs tasks on a machine without Docker (as
// Nomad's raw_exec does). It is Linux only. There is no isolation: the
// process shares the host's filesystem, network and users.
//
// # Targeting it from a task definition
//
// A container definition targets the process runtime through its image,
// which names an executable instead of a container image:
//
//	process:///opt/web/bin/server   an absolute path (process:/opt/... also works)
//	process:server                  a command looked up in the agent's PATH
//
// Any other image ("nginx:1.27") is not a process image (IsImage reports
// which); Pull fails on it with a *runtime.PullError. The executable plays
// the part of the image's entrypoint: the process runs it with the
// definition's command as arguments. An entryPoint, when set, replaces it
// (its first element resolved the same way: absolute, or on the PATH). For
// example:
//
//	{
//	  "name": "web",
//	  "image": "process:///opt/web/bin/server",
//	  "command": ["--log-level=info"],
//	  "environment": [{"name": "DB_URL", "value": "postgres://127.0.0.1/web"}],
//	  "portMappings": [{"containerPort": 8080}],
//	  "healthCheck": {"command": ["CMD-SHELL", "curl -fs http://127.0.0.1:$PORT/health"]},
//	  "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}]
//	}
//
// Pull checks that the executable exists and returns "sha256:" and the
// SHA-256 of its contents as the image digest; Create records it.
//
// # What the process gets
//
//   - Environment: the agent's PATH and HOME (the user's home when User is
//     set), then the definition's environment, then the port variables.
//   - Ports: there is no network namespace, so the process listens on the
//     host. For each port mapping the runtime picks the host port (a
//     dynamic one by listening on hostIP:0 and closing it again, unless the
//     mapping fixes it), reports it as the binding, and passes it as
//     PORT_<containerPort>; the first mapping's is also PORT, overriding
//     the definition's. The application must listen on $PORT: the runtime
//     cannot move it to another port. The binding's host address is what
//     the runtime reports and load balancers use; it is passed as HOST
//     (127.0.0.1 unless the mapping says otherwise), and the process should
//     bind $HOST:$PORT, not every interface.
//   - Working directory: WorkingDir, else a directory of its own under the
//     data directory, deleted by Remove.
//   - User: User as "name", "uid", "name:group" or "uid:gid"; switching
//     users needs the agent to run as root.
//   - Process group: the process leads a new process group (Setpgid). The
//     stop signal goes to the whole group; after the stop timeout the
//     group gets SIGKILL, and so does whatever remains of it once the
//     leader exits, as a container's processes die with its PID 1.
//   - Output: stdout and stderr go straight to a log file in the data
//     directory (the runtime is not in the path, so the process outlives
//     an agent restart); Logs reads it.
//   - Ulimits: set on the child with prlimit(2) while it is stopped at its
//     first instruction (started under PTRACE_TRACEME), so the program
//     never runs with other limits. Without ptrace (Yama ptrace_scope 2+)
//     the limits are set right after exec instead, and a warning logged.
//     nofile defaults to 65536, capped at the agent's hard limit when the
//     agent may not raise limits (runtime.HostNofile).
//   - Health checks: run by the runtime on the interval with the
//     container's environment, working directory and user; "CMD-SHELL"
//     uses the host's /bin/sh. Exec runs commands the same way, each in a
//     process group of its own that is killed when its context ends.
//
// Not supported, and ignored: CPUShares, MemoryMiB, MemoryReservationMiB
// (no cgroups), InitProcessEnabled (the runtime already signals and reaps
// the whole process group), and log rotation.
//
// # Restarts
//
// Each container has a directory under the data directory holding a state
// file (spec, pid, the process's start time in clock ticks since boot from
// /proc/<pid>/stat, ports, status), its log and its working directory. A
// Runtime opened on the same data directory after an agent restart loads
// every state file and re-adopts the processes still alive: same pid and
// same start time, so a reused pid is never mistaken for the container. An
// adopted process is not the new agent's child, so its exit is noticed by
// polling and its exit code is runtime.ExitCodeUnknown; health checks
// resume.
package process
