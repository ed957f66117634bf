package controller

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/ecsapi"
)

// What the service's events and the stopped tasks say, worded as ECS
// words them where ECS has a wording.

const (
	reasonUnhealthy = "Task failed container health checks"
	// reasonELBPrefix starts the reason of a task stopped because a target
	// group reported it unhealthy.
	reasonELBPrefix = "Task failed ELB health checks in "
	troubleshooting = "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
)

// scalingReason is the stoppedReason of a task the scheduler stops to
// scale a deployment in (scale-in, or an older deployment giving way).
func scalingReason(deploymentID string) string {
	return "Scaling activity initiated by (deployment " + deploymentID + ")"
}

func drainingReason(instanceARN string) string {
	return "Task stopped because its container instance " + lastPart(instanceARN) + " is DRAINING"
}

func unmatchedReason(instanceARN string) string {
	return "Task stopped because its container instance " + lastPart(instanceARN) + " no longer satisfies the service's placement constraints"
}

// What happened to a lost instance.
const (
	whyLost = "lost contact (agent disconnected)"
	whyGone = "was deregistered"
)

// lostReason is the stoppedReason of a task whose instance lost contact.
func lostReason(instanceARN string) string {
	return "Task stopped because its container instance " + lastPart(instanceARN) + " " + whyLost
}

func goneReason(instanceARN string) string {
	return "Task stopped because its container instance " + lastPart(instanceARN) + " " + whyGone
}

// lostEvent tells a service that tasks of its stopped with their instance.
func lostEvent(service string, l LostInstance, tasks []ecs.Task) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(service %s) (container-instance %s) %s: %d tasks stopped:", service, l.ID, l.Why, len(tasks))
	for _, t := range tasks {
		b.WriteString(" (task " + lastPart(t.TaskArn) + ")")
	}
	b.WriteString(".")
	return b.String()
}

func startedEvent(service string, tasks []ecs.Task) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(service %s) has started %d tasks:", service, len(tasks))
	for _, t := range tasks {
		b.WriteString(" (task " + lastPart(t.TaskArn) + ")")
	}
	b.WriteString(".")
	return b.String()
}

// targetUnhealthyEvent tells that a target group found a task unhealthy,
// as ECS tells it (berth names the task where ECS names instance and port).
func targetUnhealthyEvent(service, taskArn, tg string) string {
	return "(service " + service + ") (task " + lastPart(taskArn) + ") is unhealthy in (target-group " + tg + ") due to (reason Health checks failed)."
}

func stoppedEvent(service string, stops []Stop) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(service %s) has stopped %d running tasks:", service, len(stops))
	for _, s := range stops {
		b.WriteString(" (task " + lastPart(s.TaskArn) + ")")
	}
	b.WriteString(".")
	return b.String()
}

func steadyStateEvent(service string) string {
	return "(service " + service + ") has reached a steady state."
}

func deploymentCompletedEvent(service, deploymentID string) string {
	return "(service " + service + ") (deployment " + deploymentID + ") deployment completed."
}

func unableToStartEvent(service string) string {
	return "(service " + service + ") is unable to consistently start tasks successfully. " + troubleshooting
}

// placementEvent tells why a task could not be placed, naming the instance
// that came closest.
func placementEvent(service string, f ecs.Failure) string {
	head := "(service " + service + ") was unable to place a task because no container instance met all of its requirements."
	if f.Arn == "" {
		return head + " Reason: " + f.Reason + " " + troubleshooting
	}
	var why string
	switch f.Reason {
	case "RESOURCE:CPU":
		why = "has insufficient CPU units available"
	case "RESOURCE:MEMORY":
		why = "has insufficient memory available"
	case "RESOURCE:PORTS", "RESOURCE:PORTS_UDP":
		why = "is already using a port required by your task"
	case "MemberOf constraint":
		why = "does not satisfy the memberOf placement constraint"
	case "DistinctInstance constraint":
		why = "already runs a task of this service (distinctInstance placement constraint)"
	case "AGENT":
		why = "has its agent disconnected"
	case "DRAINING":
		why = "is DRAINING"
	case "MISSING":
		why = "is no longer registered"
	default:
		why = fmt.Sprintf("encountered error %q", f.Reason)
	}
	return head + " The closest matching (container-instance " + lastPart(f.Arn) + ") " + why + ". " + troubleshooting
}

// repeatable reports whether msg is an event held back while the same one
// is recent (the failure events a stuck service would otherwise repeat on
// every reconcile).
func repeatable(msg string) bool {
	return strings.Contains(msg, ") was unable to place a task") || strings.Contains(msg, ") is unable to consistently start tasks")
}

// addEvents adds msgs (oldest first) to svc's events at now, except a
// repeatable one that svc already has from within repeat. It reports
// whether it added any.
func addEvents(svc *ecs.Service, now time.Time, msgs []string, repeat time.Duration) bool {
	added := false
	for _, m := range msgs {
		if repeatable(m) && hasRecentEvent(svc, m, now.Add(-repeat)) {
			continue
		}
		ecsapi.AddServiceEvent(svc, now, m)
		added = true
	}
	return added
}

func hasRecentEvent(svc *ecs.Service, msg string, since time.Time) bool {
	for _, ev := range svc.Events {
		if ev.Message == msg && ev.CreatedAt != nil && ev.CreatedAt.After(since) {
			return true
		}
	}
	return false
}

// lastPart is the ID at the end of an ARN.
func lastPart(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// reasonELBUnhealthy is the stop reason of a task target group tg reported
// unhealthy, as ECS words it.
func reasonELBUnhealthy(tg string) string { return reasonELBPrefix + "(target-group " + tg + ")" }

// failedHealthChecks reports whether reason is a stop for failing health
// checks, container or load balancer.
func failedHealthChecks(reason string) bool {
	return reason == reasonUnhealthy || strings.HasPrefix(reason, reasonELBPrefix)
}
