package ecsapi

import (
	"flag"
	"maps"
	"slices"
	"testing"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/apicoverage"
)

var updateCoverage = flag.Bool("update-coverage", false, "rewrite docs/api-coverage.md")

// partial lists the served operations that do not do everything ECS does,
// with what is missing. Every served operation not listed here is claimed
// supported, so an entry must be added when a gap is known.
var partial = map[string]string{
	"CreateCluster":               "capacityProviders and serviceConnectDefaults are stored and returned, not acted on",
	"PutClusterCapacityProviders": "stored and returned; placement does not use capacity providers yet",
	"RegisterTaskDefinition":      "every field is stored and returned; requiresAttributes is always empty; EFS/FSx volumes are stored, not mounted",
	"CreateService":               "loadBalancers, CODE_DEPLOY/EXTERNAL controllers, awsvpc, Service Connect, service registries, alarms and lifecycle hooks are stored, not acted on yet; the circuit breaker forgets its rollback target across a server restart",
	"UpdateService":               "as CreateService; rolling replacement honours minimumHealthyPercent/maximumPercent, without load balancer health yet",
	"DeleteTaskDefinitions":       "revisions stay DELETE_IN_PROGRESS (describable) and are never reaped",
	"RunTask":                     "clientToken is not remembered; awsvpc networking is not implemented; FARGATE tasks are placed on container instances",
	"StartTask":                   "places on the named instances; placement constraints do not apply (as in ECS)",
	"ListTasks":                   "the daemonName filter matches nothing (no daemons)",
	"RegisterContainerInstance":   "the instance identity document's signature is not checked; berth's agent registers through its own protocol",
	"ExecuteCommand":              "the session is berth's own stream (`berth exec`, docs/exec.md), not SSM: the aws CLI's session-manager-plugin cannot attach; the command runs without a shell; enableExecuteCommand is not required",
}

// notYet explains unserved operations where there is more to say than "not yet".
var notYet = map[string]string{
	"SubmitTaskStateChange":      "berth's agent reports over its own protocol (docs/agent-protocol.md)",
	"SubmitContainerStateChange": "berth's agent reports over its own protocol (docs/agent-protocol.md)",
	"DiscoverPollEndpoint":       "berth's agent polls the server's own endpoint",
}

// TestAPICoverageDoc keeps docs/api-coverage.md true: it is generated from the
// model's operation list and the table of operations this package serves.
func TestAPICoverageDoc(t *testing.T) {
	s, _ := newTestService(t)
	served := s.Ops()
	apicoverage.Check(t, apicoverage.Doc{
		Title:      "ECS API coverage",
		Package:    "./internal/ecsapi",
		Operations: ecs.Operations(),
		Served:     slices.Collect(maps.Keys(served)),
		Partial:    partial,
		NotYet:     notYet,
	}, "../../docs/api-coverage.md", *updateCoverage)
}
