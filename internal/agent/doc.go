// Package agent is `berth agent`: it registers one host as a container
// instance, runs the tasks the server places on it through a
// runtime.Runtime, and reports what it observes. It speaks the agent
// protocol (api/agent) to the server.
//
//	server                          agent
//	  ◀── register ──────────────── identity (<data-dir>/instance.json)
//	  ◀── heartbeat ─────────────── heartbeatLoop, every HeartbeatIntervalMs
//	  ─── poll (long) ─────────────▶ pollLoop ──▶ taskManager.apply (planPoll)
//	                                                 │ one goroutine per task
//	                                                 ▼
//	                                              taskRunner (nextAction table)
//	                                                 │ status          │ output
//	                                                 ▼                 ▼
//	  ◀── status ────────────────── reportLoop ◀── reporter       logShipper
//	  ◀── logs ────────────────────────────────────────────────── (batches)
//	                                janitor: removes exited and orphan
//	                                containers after CleanupGrace
//
// The protocol is level-triggered: every poll answer is the complete desired
// state of the instance and every report carries complete task status, so
// the agent never needs to remember a message, only the latest state.
//
// Each task is owned by exactly one goroutine, its taskRunner: the only
// code that acts on the task's containers or changes its status. The
// runner compares the desired status (from the server, or its own decision
// after a failure or an essential container's exit) with the status it has
// reached, looks up what to do in the status→action table (nextAction) and
// does it; decisions that need no I/O (planStart, stopWaves, taskHealth,
// containerSpec, planPoll, expired) are pure functions, tested on their own.
//
// Restarts: when Run ends (ctx cancelled) the tasks keep running. The next
// Run on the same data dir lists the runtime's containers labelled with its
// cluster and agent ID before touching anything, re-registers as the same
// instance, and hands each task's containers to the task's new runner,
// which adopts them instead of creating new ones. See README.md for the
// state diagram, the transition table and the log stream names.
package agent
