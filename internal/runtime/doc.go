// Package runtime is the container runtime layer the agent drives: one
// Runtime interface, the ContainerSpec it creates containers from, and the
// Status it reports back. Implementations live in sub-packages:
//
//	docker/       Docker Engine API (github.com/moby/moby/client)
//	process/      containers as host processes, no Docker needed
//	fake/         data-driven fake for the agent's unit tests
//	runtimetest/  the contract suite every implementation passes
//
// A container moves through three states. The agent pulls the image,
// creates the container, starts it, and later stops and removes it; a
// container never goes back to an earlier state (the agent replaces a
// stopped container with a new one instead of restarting it).
//
//	        Create             Start              exits, or Stop: the stop
//	(none) ---------> created -------> running ----- signal, then SIGKILL ----> exited
//	                     |                |          after the stop timeout      |
//	                     |                |                                      |
//	                     +----------------+--------------- Remove ---------------+--> (gone)
//	                                (Remove kills a running container first)
//
// While running, a container with a HealthCheck moves between health
// statuses as Docker's HEALTHCHECK does (a container without one stays
// UNKNOWN):
//
//	           a check passes           Retries consecutive failures
//	UNKNOWN -----------------> HEALTHY ----------------------------> UNHEALTHY
//	   |                          ^                                    |  ^
//	   |                          +--------- a check passes -----------+  |
//	   +---------- Retries consecutive failures after StartPeriod --------+
//
// Failures during StartPeriod do not count; a pass during it makes the
// container HEALTHY at once.
//
// Containers carry the labels berth.cluster, berth.task and berth.container
// (from ContainerSpec.Cluster, Task and Name), so an agent that restarts
// finds its containers again with List and re-adopts them instead of
// killing them.
package runtime
