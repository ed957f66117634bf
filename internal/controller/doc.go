// Package controller holds berth's level-triggered reconcilers. Services
// keeps every ECS service's tasks as its records ask, and watches the health
// of container instances:
//
//	       store: services · tasks · instances
//	                │ Watch (debounced) + resync timer
//	                ▼
//	┌──────────────── Services.Step, per cluster ────────────────┐
//	│ ReadCluster ──▶ PlanLost (pure) ──▶ MarkTasksLost          │
//	│      │                                                     │
//	│      └──▶ for each service: Plan(Input) Output (pure)      │
//	│               │                                            │
//	│               ▼ apply                                      │
//	│      StopTasks ─▶ Launch{Service,Daemon}Tasks ─▶           │
//	│      UpdateServiceRecord (events, deployments, status)     │
//	└────────────────────────────────────────────────────────────┘
//
// Decisions are pure functions of the records and the time (Plan, PlanLost),
// table-tested on their own; the Step around them only reads the records
// and writes the decisions back through internal/ecsapi, which owns the
// record semantics. The controller keeps almost no state of its own: a
// restart reconciles again from the records. It remembers when a Step first
// saw each instance's agent disconnected, so a blip is not acted on, and
// each service's last COMPLETED deployment, for a circuit breaker rollback
// after that deployment has left the record (lost on restart).
//
// A service's life, as the controller completes it:
//
//	ACTIVE ──DeleteService──▶ DRAINING ──(no task left that is not STOPPED)──▶ INACTIVE
//
// Deployments (REPLICA and DAEMON alike):
//
//	PRIMARY IN_PROGRESS ──(only deployment left; desiredCount tasks RUNNING and healthy)──▶ PRIMARY COMPLETED
//	ACTIVE (older) ──(its tasks stopped, within minimumHealthyPercent/maximumPercent)──▶ removed
//	PRIMARY IN_PROGRESS ──(circuit breaker: failed tasks ≥ threshold)──▶ PRIMARY FAILED (launches no more)
//	    └─ rollback: ──▶ ACTIVE FAILED, new PRIMARY on the last COMPLETED task definition (breaker.go)
//
// Instance health:
//
//	agentConnected false ──(seen by a Step, still false LostAfter later)──▶ tasks STOPPED
//	(stopCode TerminationNotice, "…lost contact…"), reservations released;
//	service tasks then replaced elsewhere by the next Plan.
package controller
