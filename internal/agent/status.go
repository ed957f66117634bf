package agent

import "slices"

// Task lastStatus values, in lifecycle order.
const (
	statusProvisioning   = "PROVISIONING"
	statusPending        = "PENDING"
	statusActivating     = "ACTIVATING"
	statusRunning        = "RUNNING"
	statusDeactivating   = "DEACTIVATING"
	statusStopping       = "STOPPING"
	statusDeprovisioning = "DEPROVISIONING"
	statusStopped        = "STOPPED"
)

// Container lastStatus values.
const (
	containerPending = "PENDING"
	containerRunning = "RUNNING"
	containerStopped = "STOPPED"
)

// statusOrder is the ECS task lifecycle, in order.
func statusOrder() []string {
	return []string{statusProvisioning, statusPending, statusActivating, statusRunning,
		statusDeactivating, statusStopping, statusDeprovisioning, statusStopped}
}

// rank is a status's place in the lifecycle; -1 for an unknown one.
func rank(status string) int { return slices.Index(statusOrder(), status) }

// laterStatus returns whichever of a and b comes later in the lifecycle.
func laterStatus(a, b string) string {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// action is what a task runner does next.
type action int

const (
	actPull        action = iota // pull the images of containers not created yet
	actStart                     // create containers, start them in dependency order
	actActivate                  // inspect: network bindings, digests → RUNNING
	actMonitor                   // wait for exits, health changes, a stop
	actDeactivate                // → DEACTIVATING
	actBeginStop                 // stoppingAt → STOPPING
	actStop                      // stop containers in reverse dependency order → DEPROVISIONING
	actDeprovision               // exit codes, stoppedAt → STOPPED
	actDone                      // STOPPED: the runner ends
)

func (a action) String() string {
	return [...]string{"pull", "start", "activate", "monitor", "deactivate", "begin-stop", "stop", "deprovision", "done"}[a]
}

// nextAction is the status→action table: what a runner does for a task in
// lastStatus last whose (effective) desired status is desired. Desired
// STOPPED turns every status before DEACTIVATING into the stop sequence;
// from DEACTIVATING on, the stop runs to its end whatever is desired.
//
//	lastStatus      desired RUNNING               desired STOPPED
//	PROVISIONING    pull        → PENDING         deactivate → DEACTIVATING
//	PENDING         start       → ACTIVATING      deactivate → DEACTIVATING
//	ACTIVATING      activate    → RUNNING         deactivate → DEACTIVATING
//	RUNNING         monitor       (stays)         deactivate → DEACTIVATING
//	DEACTIVATING    begin-stop  → STOPPING        begin-stop → STOPPING
//	STOPPING        stop        → DEPROVISIONING  stop       → DEPROVISIONING
//	DEPROVISIONING  deprovision → STOPPED         deprovision → STOPPED
//	STOPPED         done                          done
func nextAction(last, desired string) action {
	whileRunning, whileStopped := transition(last)
	if desired == statusStopped {
		return whileStopped
	}
	return whileRunning
}

// transition is one row of the table: the action for lastStatus last while
// the task is desired RUNNING, and while it is desired STOPPED.
func transition(last string) (whileRunning, whileStopped action) {
	switch last {
	case statusProvisioning:
		return actPull, actDeactivate
	case statusPending:
		return actStart, actDeactivate
	case statusActivating:
		return actActivate, actDeactivate
	case statusRunning:
		return actMonitor, actDeactivate
	case statusDeactivating:
		return actBeginStop, actBeginStop
	case statusStopping:
		return actStop, actStop
	case statusDeprovisioning:
		return actDeprovision, actDeprovision
	default: // STOPPED
		return actDone, actDone
	}
}
