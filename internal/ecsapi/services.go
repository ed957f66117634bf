package ecsapi

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/clusterquery"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Services are records at state.ServiceKey(cluster, name) holding the wire
// ecs.Service (see serviceRecord). This file keeps the desired state and the
// bookkeeping ECS shows; the service controller (internal/controller)
// starts and stops the tasks and completes the transitions marked
// (controller):
//
//	CreateService ──▶ ACTIVE ──DeleteService──▶ DRAINING ──(controller: no tasks left)──▶ INACTIVE
//	                              │                                                     ▲
//	                              └── the service has no task that is not STOPPED ──────┘
//
// An INACTIVE service stays describable, and a new service of the same name
// may then be created in its place. DRAINING and INACTIVE services are no
// longer listed.
//
// Deployments (ECS deployment controller only; CODE_DEPLOY and EXTERNAL
// services are stored but have none, ECS tracks those as task sets):
//
//	CreateService ──▶ PRIMARY (rolloutState IN_PROGRESS)
//	UpdateService that changes what runs ──▶ new PRIMARY; older PRIMARY ──▶ ACTIVE
//	(controller) ACTIVE deployment drained ──▶ removed; PRIMARY steady ──▶ COMPLETED
//
// What changes what runs follows the UpdateService documentation:
// taskDefinition, networkConfiguration, platformVersion, loadBalancers,
// serviceRegistries, serviceConnectConfiguration, volumeConfigurations,
// vpcLatticeConfigurations (each only when it differs from the current
// value) and forceNewDeployment. desiredCount changes the service and the
// PRIMARY deployment only; the other members change the service only.
//
// Task counts are not stored: runningCount and pendingCount, of the service
// and of each deployment, are counted from the task records whose group is
// "service:NAME" (and, per deployment, whose startedBy is the deployment
// ID, as the controller will start them).

// Service status values (the model has no enum for them).
const (
	serviceActive   = "ACTIVE"
	serviceDraining = "DRAINING"
	serviceInactive = "INACTIVE"
)

// Deployment status values.
const (
	deploymentPrimary = "PRIMARY"
	deploymentActive  = "ACTIVE"
)

// Limits ECS applies to services.
const (
	maxServiceEvents          = 100
	maxDescribeServices       = 10
	defaultListServices       = 10
	maxServiceLoadBalancers   = 5
	maxServicePlacementRules  = 5
	maxPlacementConstraints   = 10
	maxServiceSubnets         = 16
	maxServiceSecurityGroups  = 5
	maxServiceClientTokenSize = 36
)

// Messages ECS uses for services, word for word.
const (
	svcMsgNotIdempotent      = "Creation of service was not idempotent."
	svcMsgScaledAboveZero    = "The service cannot be stopped while it is scaled above 0."
	svcMsgDaemonDesiredCount = "The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again"
	svcMsgDaemonStrategy     = "The daemon scheduling strategy does not support placement strategies. Remove the placement strategy and try again"
	svcMsgDaemonMaxPercent   = "The daemon scheduling strategy does not support values above 100 for maximumPercent on a deployment configuration. Change the maximumPercent value to 100, and try again"
	svcMsgDaemonCP           = "Specifying a capacity provider strategy is not supported when you create a service using the DAEMON scheduling strategy."
	svcMsgRoleWithSLR        = "You cannot specify an IAM role for services that require a service linked role."
	svcMsgPublicIP           = "Assign public IP is not supported for this launch type."
	svcMsgCircuitBreaker     = "The deployment circuit breaker can only be used for services using the rolling update (ECS) deployment type."
)

// serviceRecord is what berth stores at state.ServiceKey: the wire Service
// plus the clientToken of the CreateService that made it, for idempotent
// retries. Readers that decode a plain ecs.Service ignore the extra member.
type serviceRecord struct {
	ecs.Service
	ClientToken string `json:"berthClientToken,omitzero"`
	// ImageDigests are, by deployment ID and container name, the image
	// digests the deployment's tasks run (see pins.go).
	ImageDigests map[string]map[string]string `json:"berthImageDigests,omitzero"`
}

func (s *Service) addServiceOps(m map[string]awsjson.Op) {
	m["CreateService"] = awsjson.Handle(s.CreateService)
	m["UpdateService"] = awsjson.Handle(s.UpdateService)
	m["DeleteService"] = awsjson.Handle(s.DeleteService)
	m["DescribeServices"] = awsjson.Handle(s.DescribeServices)
	m["ListServices"] = awsjson.Handle(s.ListServices)
}

// CreateService creates a service. Creating a service whose name is taken
// by an ACTIVE or DRAINING service fails with "Creation of service was not
// idempotent." unless the request is a retry: the service is ACTIVE, was
// created with the same clientToken (or both have none) and the request
// asks for exactly what it has, in which case the existing service is
// returned unchanged, as ECS does.
func (s *Service) CreateService(ctx context.Context, in *ecs.CreateServiceRequest) (*ecs.CreateServiceResponse, error) {
	if err := checkCreateServiceRequest(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cluster, crec, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	var td *state.TaskDefinition
	if in.TaskDefinition != "" {
		if td, err = s.resolveActiveTaskDef(ctx, in.TaskDefinition, "taskDefinition"); err != nil {
			return nil, err
		}
	}
	now := ecs.NewTime(s.nowUTC())
	svc := s.serviceFromRequest(cluster, crec.Value, in, td, now)
	if err := checkServiceConfig(svc, td, crec.Value); err != nil {
		return nil, err
	}
	if err := s.checkTargetGroups(ctx, svc.LoadBalancers); err != nil {
		return nil, err
	}
	normalizePlacementStrategy(svc.PlacementStrategy)

	key := state.ServiceKey(cluster, in.ServiceName)
	old, err := state.Get[serviceRecord](ctx, s.st, key)
	want := store.Absent
	switch {
	case err == nil && old.Value.Status != serviceInactive:
		if old.Value.Status == serviceActive && old.Value.ClientToken == in.ClientToken && sameServiceSpec(&old.Value.Service, svc) {
			v, err := s.serviceViews(ctx, cluster, []*ecs.Service{&old.Value.Service}, true)
			if err != nil {
				return nil, errServer(err)
			}
			return &ecs.CreateServiceResponse{Service: &v[0]}, nil
		}
		return nil, errInvalidParameter(svcMsgNotIdempotent)
	case err == nil:
		want = old.Revision
	case !state.IsNotFound(err):
		return nil, errServer(err)
	}

	if isECSController(svc) {
		svc.Deployments = []ecs.Deployment{newServiceDeployment(svc, now, deploymentExtras{
			serviceConnect: in.ServiceConnectConfiguration,
			volumes:        in.VolumeConfigurations,
			lattice:        in.VpcLatticeConfigurations,
		})}
	} else {
		svc.Deployments = []ecs.Deployment{}
		svc.TaskSets = []ecs.TaskSet{}
	}
	addServiceEvent(svc, now, "(service "+svc.ServiceName+") was created.")
	op, err := state.PutOp(key, &serviceRecord{Service: *svc, ClientToken: in.ClientToken}, want)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	v, err := s.serviceViews(ctx, cluster, []*ecs.Service{svc}, true)
	if err != nil {
		return nil, errServer(err)
	}
	return &ecs.CreateServiceResponse{Service: &v[0]}, nil
}

// checkCreateServiceRequest applies the CreateService rules that need
// nothing from the store.
func checkCreateServiceRequest(in *ecs.CreateServiceRequest) error {
	if !nameRE.MatchString(in.ServiceName) {
		return errInvalidParameter("serviceName: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed")
	}
	if n := len(in.ClientToken); n > maxServiceClientTokenSize || strings.ContainsFunc(in.ClientToken, func(r rune) bool { return r < 33 || r > 126 }) {
		return errInvalidParameter("clientToken: up to %d ASCII characters in the range 33-126 are allowed", maxServiceClientTokenSize)
	}
	strategy := in.SchedulingStrategy
	if strategy == "" {
		strategy = ecs.SchedulingStrategyREPLICA
	}
	if !ecs.ValidSchedulingStrategy(strategy) {
		return errInvalidParameter("schedulingStrategy: %q is not one of REPLICA, DAEMON", in.SchedulingStrategy)
	}
	controller := ecs.DeploymentControllerTypeECS
	if in.DeploymentController != nil {
		controller = in.DeploymentController.Type
	}
	switch {
	case strategy == ecs.SchedulingStrategyDAEMON && in.DesiredCount != nil:
		return errInvalidParameter("desiredCount: %s", svcMsgDaemonDesiredCount)
	case strategy == ecs.SchedulingStrategyREPLICA && in.DesiredCount == nil:
		return errInvalidParameter("desiredCount: required for services using the REPLICA scheduling strategy")
	case in.DesiredCount != nil && *in.DesiredCount < 0:
		return errInvalidParameter("desiredCount: must be at least 0, got %d", *in.DesiredCount)
	case in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0:
		return errInvalidParameter("launchType: %s", msgLaunchTypeAndCP)
	case in.TaskDefinition == "" && controller != ecs.DeploymentControllerTypeEXTERNAL:
		return errInvalidParameter("taskDefinition: required for services using the ECS or CODE_DEPLOY deployment controller")
	case in.Role != "" && len(in.LoadBalancers) == 0:
		return errInvalidParameter("role: only permitted for services with loadBalancers")
	}
	if err := checkServiceLaunchType(in.LaunchType); err != nil {
		return err
	}
	return validateTags(in.Tags, "tags")
}

func checkServiceLaunchType(lt string) error {
	switch {
	case lt == "":
	case !ecs.ValidLaunchType(lt):
		return errInvalidParameter("launchType: %q is not one of EC2, FARGATE, EXTERNAL", lt)
	case lt == ecs.LaunchTypeMANAGEDINSTANCES:
		return errInvalidParameter("launchType: Amazon ECS Managed Instances are used through capacityProviderStrategy; omit launchType")
	}
	return nil
}

// serviceFromRequest builds the service a CreateService asks for, with
// ECS's defaults filled in (no deployments or events yet).
func (s *Service) serviceFromRequest(cluster string, c *ecs.Cluster, in *ecs.CreateServiceRequest, td *state.TaskDefinition, now *ecs.Time) *ecs.Service {
	svc := &ecs.Service{
		ServiceArn:                  s.serviceARN(cluster, in.ServiceName),
		ServiceName:                 in.ServiceName,
		ClusterArn:                  s.clusterARN(cluster),
		Status:                      serviceActive,
		LaunchType:                  in.LaunchType,
		CapacityProviderStrategy:    in.CapacityProviderStrategy,
		LoadBalancers:               emptyIfNil(in.LoadBalancers),
		ServiceRegistries:           emptyIfNil(in.ServiceRegistries),
		PlacementConstraints:        emptyIfNil(in.PlacementConstraints),
		PlacementStrategy:           emptyIfNil(slices.Clone(in.PlacementStrategy)),
		NetworkConfiguration:        in.NetworkConfiguration,
		SchedulingStrategy:          in.SchedulingStrategy,
		DeploymentController:        in.DeploymentController,
		PlatformVersion:             in.PlatformVersion,
		PropagateTags:               in.PropagateTags,
		EnableECSManagedTags:        in.EnableECSManagedTags,
		EnableExecuteCommand:        in.EnableExecuteCommand,
		Tags:                        in.Tags,
		AvailabilityZoneRebalancing: in.AvailabilityZoneRebalancing,
		CreatedAt:                   now,
		CreatedBy:                   "arn:aws:iam::" + s.account + ":root",
		Events:                      []ecs.ServiceEvent{},
	}
	if in.DesiredCount != nil {
		svc.DesiredCount = *in.DesiredCount
	}
	if td != nil {
		svc.TaskDefinition = s.taskDefARN(td.Family, td.Revision)
	}
	if svc.SchedulingStrategy == "" {
		svc.SchedulingStrategy = ecs.SchedulingStrategyREPLICA
	}
	if svc.DeploymentController == nil {
		svc.DeploymentController = &ecs.DeploymentController{Type: ecs.DeploymentControllerTypeECS}
	}
	if svc.LaunchType == "" && len(svc.CapacityProviderStrategy) == 0 {
		if len(c.DefaultCapacityProviderStrategy) > 0 {
			svc.CapacityProviderStrategy = slices.Clone(c.DefaultCapacityProviderStrategy)
		} else {
			svc.LaunchType = ecs.LaunchTypeEC2
		}
	}
	if svc.LaunchType == ecs.LaunchTypeFARGATE && svc.PlatformVersion == "" {
		svc.PlatformVersion = "LATEST"
	}
	if svc.PropagateTags == "" {
		svc.PropagateTags = ecs.PropagateTagsNONE
	}
	if svc.AvailabilityZoneRebalancing == "" {
		svc.AvailabilityZoneRebalancing = ecs.AvailabilityZoneRebalancingENABLED
		if svc.SchedulingStrategy == ecs.SchedulingStrategyDAEMON {
			svc.AvailabilityZoneRebalancing = ecs.AvailabilityZoneRebalancingDISABLED
		}
	}
	grace := int32(0)
	if in.HealthCheckGracePeriodSeconds != nil {
		grace = *in.HealthCheckGracePeriodSeconds
	}
	svc.HealthCheckGracePeriodSeconds = &grace
	svc.DeploymentConfiguration = mergeDeploymentConfiguration(defaultDeploymentConfiguration(svc.SchedulingStrategy), in.DeploymentConfiguration)
	svc.RoleArn = s.serviceRoleARN(in.Role, svc.LoadBalancers)
	return svc
}

// serviceRoleARN is the roleArn a service reports: the role given (a name
// or path/name becomes an IAM role ARN), else ECS's service-linked role for
// a service with load balancers.
func (s *Service) serviceRoleARN(role string, lbs []ecs.LoadBalancer) string {
	switch {
	case strings.HasPrefix(role, "arn:"):
		return role
	case role != "":
		return "arn:aws:iam::" + s.account + ":role/" + strings.TrimPrefix(role, "/")
	case len(lbs) > 0:
		return "arn:aws:iam::" + s.account + ":role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"
	}
	return ""
}

// defaultDeploymentConfiguration is what ECS reports when a request sets
// nothing: 100/200 for REPLICA, 0/100 for DAEMON, circuit breaker off.
func defaultDeploymentConfiguration(strategy string) *ecs.DeploymentConfiguration {
	minimum, maximum := int32(100), int32(200)
	if strategy == ecs.SchedulingStrategyDAEMON {
		minimum, maximum = 0, 100
	}
	return &ecs.DeploymentConfiguration{
		MinimumHealthyPercent:    &minimum,
		MaximumPercent:           &maximum,
		DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{},
	}
}

// mergeDeploymentConfiguration returns base with every member upd sets
// replaced (an absent member keeps its value, as UpdateService does).
func mergeDeploymentConfiguration(base, upd *ecs.DeploymentConfiguration) *ecs.DeploymentConfiguration {
	out := *base
	if upd == nil {
		return &out
	}
	if upd.MinimumHealthyPercent != nil {
		out.MinimumHealthyPercent = upd.MinimumHealthyPercent
	}
	if upd.MaximumPercent != nil {
		out.MaximumPercent = upd.MaximumPercent
	}
	if upd.DeploymentCircuitBreaker != nil {
		out.DeploymentCircuitBreaker = upd.DeploymentCircuitBreaker
	}
	if upd.Alarms != nil {
		out.Alarms = upd.Alarms
	}
	if upd.Strategy != "" {
		out.Strategy = upd.Strategy
	}
	if upd.BakeTimeInMinutes != nil {
		out.BakeTimeInMinutes = upd.BakeTimeInMinutes
	}
	if upd.CanaryConfiguration != nil {
		out.CanaryConfiguration = upd.CanaryConfiguration
	}
	if upd.LinearConfiguration != nil {
		out.LinearConfiguration = upd.LinearConfiguration
	}
	if upd.LifecycleHooks != nil {
		out.LifecycleHooks = upd.LifecycleHooks
	}
	return &out
}

// checkServiceConfig applies ECS's rules to a whole service configuration
// (a new one, or an existing one with an update applied), so CreateService
// and UpdateService validate alike. td is the service's task definition
// (nil for an EXTERNAL service without one). Messages name the member.
func checkServiceConfig(svc *ecs.Service, td *state.TaskDefinition, c *ecs.Cluster) error {
	controller := svc.DeploymentController.Type
	if !ecs.ValidDeploymentControllerType(controller) {
		return errInvalidParameter("deploymentController.type: %q is not one of ECS, CODE_DEPLOY, EXTERNAL", controller)
	}
	daemon := svc.SchedulingStrategy == ecs.SchedulingStrategyDAEMON
	if daemon {
		switch {
		case svc.LaunchType == ecs.LaunchTypeFARGATE:
			return errInvalidParameter("schedulingStrategy: tasks using the Fargate launch type do not support the DAEMON scheduling strategy")
		case controller != ecs.DeploymentControllerTypeECS:
			return errInvalidParameter("schedulingStrategy: the DAEMON scheduling strategy requires the ECS deployment controller, not %s", controller)
		case len(svc.CapacityProviderStrategy) > 0:
			return errInvalidParameter("capacityProviderStrategy: %s", svcMsgDaemonCP)
		case len(svc.PlacementStrategy) > 0:
			return errInvalidParameter("placementStrategy: %s", svcMsgDaemonStrategy)
		}
	}
	if err := validateCapacityProviderStrategy(svc.CapacityProviderStrategy, "capacityProviderStrategy"); err != nil {
		return err
	}
	for i, it := range svc.CapacityProviderStrategy {
		if !slices.Contains(c.CapacityProviders, it.CapacityProvider) {
			return errInvalidParameter("capacityProviderStrategy[%d].capacityProvider: %s", i, msgCPNotInCluster)
		}
	}
	if td != nil && svc.LaunchType != "" && len(td.Compatibilities) > 0 && !slices.Contains(td.Compatibilities, svc.LaunchType) {
		return errInvalidParameter("launchType: Task definition does not support launch_type %s.", svc.LaunchType)
	}
	if err := checkDeploymentConfiguration(svc.DeploymentConfiguration, daemon, controller); err != nil {
		return err
	}
	if err := checkPlacement(svc.PlacementConstraints, svc.PlacementStrategy, td); err != nil {
		return err
	}
	if err := checkServiceLoadBalancers(svc.LoadBalancers, td); err != nil {
		return err
	}
	if err := checkServiceNetwork(svc, td); err != nil {
		return err
	}
	if svc.HealthCheckGracePeriodSeconds != nil && *svc.HealthCheckGracePeriodSeconds < 0 {
		return errInvalidParameter("healthCheckGracePeriodSeconds: must be between 0 and %d, got %d", math.MaxInt32, *svc.HealthCheckGracePeriodSeconds)
	}
	if !ecs.ValidPropagateTags(svc.PropagateTags) {
		return errInvalidParameter("propagateTags: %q is not one of TASK_DEFINITION, SERVICE, NONE", svc.PropagateTags)
	}
	if !ecs.ValidAvailabilityZoneRebalancing(svc.AvailabilityZoneRebalancing) {
		return errInvalidParameter("availabilityZoneRebalancing: %q is not one of ENABLED, DISABLED", svc.AvailabilityZoneRebalancing)
	}
	if len(svc.ServiceRegistries) > 1 {
		return errInvalidParameter("serviceRegistries: a service may have at most one service registry, got %d", len(svc.ServiceRegistries))
	}
	return nil
}

func checkDeploymentConfiguration(dc *ecs.DeploymentConfiguration, daemon bool, controller string) error {
	const m = "deploymentConfiguration"
	minimum, maximum := *dc.MinimumHealthyPercent, *dc.MaximumPercent
	if minimum < 0 || minimum > 100 {
		return errInvalidParameter("%s.minimumHealthyPercent: must be between 0 and 100, got %d", m, minimum)
	}
	switch {
	case daemon && maximum > 100:
		return errInvalidParameter("%s.maximumPercent: %s", m, svcMsgDaemonMaxPercent)
	case daemon && maximum < minimum:
		return errInvalidParameter("%s.maximumPercent: must be at least minimumHealthyPercent (%d), got %d", m, minimum, maximum)
	case !daemon && maximum < 100:
		return errInvalidParameter("%s.maximumPercent: must be at least 100 for the REPLICA scheduling strategy, got %d", m, maximum)
	}
	if cb := dc.DeploymentCircuitBreaker; cb != nil && cb.Enable && controller != ecs.DeploymentControllerTypeECS {
		return errInvalidParameter("%s.deploymentCircuitBreaker: %s", m, svcMsgCircuitBreaker)
	}
	if dc.Strategy != "" && !ecs.ValidDeploymentStrategy(dc.Strategy) {
		return errInvalidParameter("%s.strategy: %q is not one of ROLLING, BLUE_GREEN, LINEAR, CANARY", m, dc.Strategy)
	}
	if dc.LinearConfiguration != nil && dc.Strategy != ecs.DeploymentStrategyLINEAR {
		return errInvalidParameter("%s.linearConfiguration: only valid with strategy LINEAR", m)
	}
	if dc.CanaryConfiguration != nil && dc.Strategy != ecs.DeploymentStrategyCANARY {
		return errInvalidParameter("%s.canaryConfiguration: only valid with strategy CANARY", m)
	}
	if b := dc.BakeTimeInMinutes; b != nil && (*b < 0 || *b > 1440) {
		return errInvalidParameter("%s.bakeTimeInMinutes: must be between 0 and 1440, got %d", m, *b)
	}
	return nil
}

// checkPlacement checks placement constraints (at most 10, counting the
// task definition's) and strategies (at most 5) of a service or a task.
func checkPlacement(cons []ecs.PlacementConstraint, strat []ecs.PlacementStrategy, td *state.TaskDefinition) error {
	n := len(cons)
	if td != nil {
		n += len(td.PlacementConstraints)
	}
	if n > maxPlacementConstraints {
		return errInvalidParameter("placementConstraints: at most %d constraints, counting the task definition's; got %d", maxPlacementConstraints, n)
	}
	for i, c := range cons {
		switch c.Type {
		case ecs.PlacementConstraintTypeDistinctInstance:
			if c.Expression != "" {
				return errInvalidParameter("placementConstraints[%d].expression: a distinctInstance constraint takes no expression", i)
			}
		case ecs.PlacementConstraintTypeMemberOf:
			if strings.TrimSpace(c.Expression) == "" {
				return errInvalidParameter("placementConstraints[%d].expression: a memberOf constraint requires a cluster query language expression", i)
			}
			if _, err := clusterquery.Parse(c.Expression); err != nil {
				return errInvalidParameter("placementConstraints[%d].expression: memberOf expression: %v", i, err)
			}
		default:
			return errInvalidParameter("placementConstraints[%d].type: %q is not one of distinctInstance, memberOf", i, c.Type)
		}
	}
	if len(strat) > maxServicePlacementRules {
		return errInvalidParameter("placementStrategy: at most %d strategies, got %d", maxServicePlacementRules, len(strat))
	}
	for i, st := range strat {
		f := st.Field
		switch st.Type {
		case ecs.PlacementStrategyTypeRandom:
			if f != "" {
				return errInvalidParameter("placementStrategy[%d].field: the random strategy takes no field", i)
			}
		case ecs.PlacementStrategyTypeSpread:
			attr, isAttr := strings.CutPrefix(f, "attribute:")
			if !strings.EqualFold(f, "instanceId") && !strings.EqualFold(f, "host") && (!isAttr || attr == "") {
				return errInvalidParameter("placementStrategy[%d].field: the spread strategy takes instanceId, host or attribute:NAME, got %q", i, f)
			}
		case ecs.PlacementStrategyTypeBinpack:
			if !strings.EqualFold(f, "cpu") && !strings.EqualFold(f, "memory") {
				return errInvalidParameter("placementStrategy[%d].field: the binpack strategy takes cpu or memory, got %q", i, f)
			}
		default:
			return errInvalidParameter("placementStrategy[%d].type: %q is not one of random, spread, binpack", i, st.Type)
		}
	}
	return nil
}

// normalizePlacementStrategy rewrites fields the way ECS reports them:
// spread on host is spread on instanceId; binpack fields are upper case.
func normalizePlacementStrategy(strat []ecs.PlacementStrategy) {
	for i := range strat {
		st := &strat[i]
		switch {
		case st.Type == ecs.PlacementStrategyTypeSpread && (strings.EqualFold(st.Field, "host") || strings.EqualFold(st.Field, "instanceId")):
			st.Field = "instanceId"
		case st.Type == ecs.PlacementStrategyTypeBinpack:
			st.Field = strings.ToUpper(st.Field)
		}
	}
}

// checkTargetGroups checks, as ECS does, that each target group a
// service names exists and is attached to a load balancer (without
// Config.TargetGroups, nothing is checked).
func (s *Service) checkTargetGroups(ctx context.Context, lbs []ecs.LoadBalancer) error {
	if s.tgs == nil {
		return nil
	}
	for i, l := range lbs {
		if l.TargetGroupArn == "" {
			continue
		}
		exists, attached, err := s.tgs.TargetGroup(ctx, l.TargetGroupArn)
		switch {
		case err != nil:
			return errServer(err)
		case !exists:
			return errInvalidParameter("loadBalancers[%d].targetGroupArn: target group %s does not exist.", i, l.TargetGroupArn)
		case !attached:
			return errInvalidParameter("loadBalancers[%d].targetGroupArn: The target group with targetGroupArn %s does not have an associated load balancer.", i, l.TargetGroupArn)
		}
	}
	return nil
}

// checkServiceLoadBalancers checks each load balancer's shape and, as ECS
// does, that its container and port exist in the task definition.
func checkServiceLoadBalancers(lbs []ecs.LoadBalancer, td *state.TaskDefinition) error {
	if len(lbs) > maxServiceLoadBalancers {
		return errInvalidParameter("loadBalancers: at most %d load balancers (target groups), got %d", maxServiceLoadBalancers, len(lbs))
	}
	for i, lb := range lbs {
		switch {
		case lb.TargetGroupArn != "" && lb.LoadBalancerName != "":
			return errInvalidParameter("loadBalancers[%d]: give targetGroupArn (Application or Network Load Balancer) or loadBalancerName (Classic Load Balancer), not both", i)
		case lb.TargetGroupArn == "" && lb.LoadBalancerName == "":
			return errInvalidParameter("loadBalancers[%d]: targetGroupArn or loadBalancerName is required", i)
		case lb.TargetGroupArn != "" && !isTargetGroupARN(lb.TargetGroupArn):
			return errInvalidParameter("loadBalancers[%d].targetGroupArn: %q is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)", i, lb.TargetGroupArn)
		case lb.ContainerName == "":
			return errInvalidParameter("loadBalancers[%d].containerName: required", i)
		case lb.ContainerPort == nil:
			return errInvalidParameter("loadBalancers[%d].containerPort: required", i)
		case *lb.ContainerPort < 0 || *lb.ContainerPort > 65535:
			return errInvalidParameter("loadBalancers[%d].containerPort: must be between 0 and 65535, got %d", i, *lb.ContainerPort)
		}
		if td == nil {
			continue
		}
		j := slices.IndexFunc(td.ContainerDefinitions, func(c ecs.ContainerDefinition) bool { return c.Name == lb.ContainerName })
		if j < 0 {
			return errInvalidParameter("loadBalancers[%d].containerName: The container %s does not exist in the task definition.", i, lb.ContainerName)
		}
		if !slices.ContainsFunc(td.ContainerDefinitions[j].PortMappings, func(p ecs.PortMapping) bool {
			return p.ContainerPort != nil && *p.ContainerPort == *lb.ContainerPort
		}) {
			return errInvalidParameter("loadBalancers[%d].containerPort: The container %s did not have a container port %d defined.", i, lb.ContainerName, *lb.ContainerPort)
		}
	}
	return nil
}

func isTargetGroupARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "elasticloadbalancing" && strings.HasPrefix(parts[5], "targetgroup/")
}

// checkServiceNetwork matches networkConfiguration with the task
// definition's network mode, as ECS does, and checks its shape. berth
// stores awsvpc configurations but does not implement awsvpc networking.
func checkServiceNetwork(svc *ecs.Service, td *state.TaskDefinition) error {
	nc := svc.NetworkConfiguration
	if td != nil {
		awsvpc := td.NetworkMode == ecs.NetworkModeAwsvpc
		switch {
		case awsvpc && nc == nil:
			return errInvalidParameter("networkConfiguration: %s", msgNetConfigRequired)
		case !awsvpc && nc != nil:
			return errInvalidParameter("networkConfiguration: %s", msgNetConfigNotValid)
		case awsvpc && svc.RoleArn != "" && !strings.Contains(svc.RoleArn, ":role/aws-service-role/"):
			return errInvalidParameter("role: %s", svcMsgRoleWithSLR)
		}
	}
	if nc == nil {
		return nil
	}
	const m = "networkConfiguration.awsvpcConfiguration"
	vpc := nc.AwsvpcConfiguration
	switch {
	case vpc == nil:
		return errInvalidParameter("%s: required", m)
	case len(vpc.Subnets) == 0:
		return errInvalidParameter("%s.subnets: subnets can not be empty.", m)
	case len(vpc.Subnets) > maxServiceSubnets:
		return errInvalidParameter("%s.subnets: at most %d subnets, got %d", m, maxServiceSubnets, len(vpc.Subnets))
	case len(vpc.SecurityGroups) > maxServiceSecurityGroups:
		return errInvalidParameter("%s.securityGroups: at most %d security groups, got %d", m, maxServiceSecurityGroups, len(vpc.SecurityGroups))
	case vpc.AssignPublicIp != "" && !ecs.ValidAssignPublicIp(vpc.AssignPublicIp):
		return errInvalidParameter("%s.assignPublicIp: %q is not one of ENABLED, DISABLED", m, vpc.AssignPublicIp)
	case vpc.AssignPublicIp == ecs.AssignPublicIpENABLED && svc.LaunchType != ecs.LaunchTypeFARGATE && len(svc.CapacityProviderStrategy) == 0:
		return errInvalidParameter("%s.assignPublicIp: %s", m, svcMsgPublicIP)
	}
	return nil
}

// resolveActiveTaskDef resolves a task definition reference of a service or
// a task ("family" meaning its latest ACTIVE revision, "family:revision", or
// an ARN) to an ACTIVE revision, with ECS's errors.
func (s *Service) resolveActiveTaskDef(ctx context.Context, ref, member string) (*state.TaskDefinition, error) {
	rec, found, err := s.taskDefRecord(ctx, ref, member)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errClient(msgTaskDefNotFound)
	}
	if rec.Value.Status != ecs.TaskDefinitionStatusACTIVE {
		return nil, errInvalidParameter(msgTaskDefInactive)
	}
	return rec.Value, nil
}

// currentServiceTaskDef reads the task definition a service already runs,
// whatever its status now; nil when there is none (or it was deleted).
func (s *Service) currentServiceTaskDef(ctx context.Context, arn string) (*state.TaskDefinition, error) {
	if arn == "" {
		return nil, nil
	}
	rec, found, err := s.taskDefRecord(ctx, arn, "taskDefinition")
	if err != nil || !found {
		return nil, err
	}
	return rec.Value, nil
}

// deploymentExtras are deployment members that have no service-level twin.
type deploymentExtras struct {
	serviceConnect *ecs.ServiceConnectConfiguration
	volumes        []ecs.ServiceVolumeConfiguration
	lattice        []ecs.VpcLatticeConfiguration
}

// newServiceDeployment returns a PRIMARY deployment of svc as it now is.
func newServiceDeployment(svc *ecs.Service, now *ecs.Time, x deploymentExtras) ecs.Deployment {
	id := newDeploymentID()
	d := ecs.Deployment{
		Id:                          id,
		Status:                      deploymentPrimary,
		TaskDefinition:              svc.TaskDefinition,
		DesiredCount:                svc.DesiredCount,
		CreatedAt:                   now,
		UpdatedAt:                   now,
		LaunchType:                  svc.LaunchType,
		CapacityProviderStrategy:    svc.CapacityProviderStrategy,
		PlatformVersion:             svc.PlatformVersion,
		NetworkConfiguration:        svc.NetworkConfiguration,
		ServiceConnectConfiguration: x.serviceConnect,
		VolumeConfigurations:        x.volumes,
		VpcLatticeConfigurations:    x.lattice,
	}
	// ECS reports a rollout state except behind a Classic Load Balancer.
	if !slices.ContainsFunc(svc.LoadBalancers, func(lb ecs.LoadBalancer) bool { return lb.LoadBalancerName != "" }) {
		d.RolloutState = ecs.DeploymentRolloutStateINPROGRESS
		d.RolloutStateReason = "ECS deployment " + id + " in progress."
	}
	return d
}

// newDeploymentID returns an ID of ECS's form: "ecs-svc/" and 19 digits.
func newDeploymentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	const lo, span = 1_000_000_000_000_000_000, 9_000_000_000_000_000_000
	return "ecs-svc/" + strconv.FormatUint(lo+binary.BigEndian.Uint64(b[:])%span, 10)
}

// newServiceEventID returns a random (version 4) UUID, the form of ECS
// service event IDs.
func newServiceEventID() string {
	h := []byte(newID())
	h[12] = '4'
	h[16] = "89ab"[h[16]%4]
	return string(h[0:8]) + "-" + string(h[8:12]) + "-" + string(h[12:16]) + "-" + string(h[16:20]) + "-" + string(h[20:32])
}

// addServiceEvent puts an event first in svc's events, keeping the newest
// maxServiceEvents as ECS does.
func addServiceEvent(svc *ecs.Service, now *ecs.Time, msg string) {
	ev := ecs.ServiceEvent{Id: newServiceEventID(), CreatedAt: now, Message: msg}
	svc.Events = append([]ecs.ServiceEvent{ev}, svc.Events...)
	if len(svc.Events) > maxServiceEvents {
		svc.Events = svc.Events[:maxServiceEvents]
	}
}

func isECSController(svc *ecs.Service) bool {
	return svc.DeploymentController == nil || svc.DeploymentController.Type == ecs.DeploymentControllerTypeECS
}

// sameServiceSpec reports whether two services ask for the same thing,
// ignoring status, bookkeeping and counts (the idempotency check).
func sameServiceSpec(a, b *ecs.Service) bool {
	spec := func(s *ecs.Service) []byte {
		v := *s
		v.Status, v.CreatedAt, v.CreatedBy = "", nil, ""
		v.Deployments, v.Events, v.TaskSets = nil, nil, nil
		v.RunningCount, v.PendingCount = 0, 0
		if len(v.Tags) == 0 {
			v.Tags = nil
		}
		b, _ := json.Marshal(&v)
		return b
	}
	return string(spec(a)) == string(spec(b))
}

func emptyIfNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// serviceRefs resolves a request's cluster and service members. A service
// ARN names its cluster; given both, they must agree.
func serviceRefs(clusterRef, svcRef, member string) (clusterArg, name string, err error) {
	arnCluster, name, err := serviceName(svcRef, member)
	if err != nil {
		return "", "", err
	}
	if arnCluster == "" {
		return clusterRef, name, nil
	}
	if clusterRef == "" {
		return arnCluster, name, nil
	}
	c, err := clusterName(clusterRef, "cluster")
	if err != nil {
		return "", "", err
	}
	if c != arnCluster {
		return "", "", errInvalidParameter("%s: the service ARN names cluster %q, but cluster is %q", member, arnCluster, c)
	}
	return clusterRef, name, nil
}

// UpdateService changes a service. See the file comment for which members
// start a new deployment.
func (s *Service) UpdateService(ctx context.Context, in *ecs.UpdateServiceRequest) (*ecs.UpdateServiceResponse, error) {
	if in.DesiredCount != nil && *in.DesiredCount < 0 {
		return nil, errInvalidParameter("desiredCount: must be at least 0, got %d", *in.DesiredCount)
	}
	clusterArg, name, err := serviceRefs(in.Cluster, in.Service, "service")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cluster, crec, err := s.activeCluster(ctx, clusterArg, "cluster")
	if err != nil {
		return nil, err
	}
	key := state.ServiceKey(cluster, name)
	rec, err := state.Get[serviceRecord](ctx, s.st, key)
	if state.IsNotFound(err) {
		return nil, errServiceNotFound()
	}
	if err != nil {
		return nil, errServer(err)
	}
	if rec.Value.Status != serviceActive {
		return nil, errServiceNotActive()
	}
	svc := &rec.Value.Service
	fillServiceDefaults(svc)
	old := cloneService(svc)
	now := ecs.NewTime(s.nowUTC())
	daemon := svc.SchedulingStrategy == ecs.SchedulingStrategyDAEMON
	if daemon && in.DesiredCount != nil {
		return nil, errInvalidParameter("desiredCount: %s", svcMsgDaemonDesiredCount)
	}

	td, err := s.currentServiceTaskDef(ctx, svc.TaskDefinition)
	if err != nil {
		return nil, err
	}
	if in.TaskDefinition != "" {
		if td, err = s.resolveActiveTaskDef(ctx, in.TaskDefinition, "taskDefinition"); err != nil {
			return nil, err
		}
		svc.TaskDefinition = s.taskDefARN(td.Family, td.Revision)
	}
	primary := primaryDeployment(svc)
	extras := deploymentExtras{}
	if primary != nil {
		extras = deploymentExtras{serviceConnect: primary.ServiceConnectConfiguration, volumes: primary.VolumeConfigurations, lattice: primary.VpcLatticeConfigurations}
	}
	// Members that change what runs: record which changed.
	var redeploy []string
	changed := func(member string, before, after any) {
		b1, _ := json.Marshal(before)
		b2, _ := json.Marshal(after)
		if string(b1) != string(b2) {
			redeploy = append(redeploy, member)
		}
	}
	changed("taskDefinition", old.TaskDefinition, svc.TaskDefinition)
	if in.NetworkConfiguration != nil {
		svc.NetworkConfiguration = in.NetworkConfiguration
		changed("networkConfiguration", old.NetworkConfiguration, svc.NetworkConfiguration)
	}
	if in.PlatformVersion != "" {
		svc.PlatformVersion = in.PlatformVersion
		changed("platformVersion", old.PlatformVersion, svc.PlatformVersion)
	}
	if in.LoadBalancers != nil {
		svc.LoadBalancers = in.LoadBalancers
		changed("loadBalancers", old.LoadBalancers, svc.LoadBalancers)
		if old.RoleArn == "" || strings.Contains(old.RoleArn, ":role/aws-service-role/") {
			svc.RoleArn = s.serviceRoleARN("", svc.LoadBalancers)
		}
	}
	if in.ServiceRegistries != nil {
		svc.ServiceRegistries = in.ServiceRegistries
		changed("serviceRegistries", old.ServiceRegistries, svc.ServiceRegistries)
	}
	if in.ServiceConnectConfiguration != nil {
		changed("serviceConnectConfiguration", extras.serviceConnect, in.ServiceConnectConfiguration)
		extras.serviceConnect = in.ServiceConnectConfiguration
	}
	if in.VolumeConfigurations != nil {
		changed("volumeConfigurations", emptyIfNil(extras.volumes), in.VolumeConfigurations)
		extras.volumes = in.VolumeConfigurations
	}
	if in.VpcLatticeConfigurations != nil {
		changed("vpcLatticeConfigurations", emptyIfNil(extras.lattice), in.VpcLatticeConfigurations)
		extras.lattice = in.VpcLatticeConfigurations
	}
	if !isECSController(svc) && len(redeploy) > 0 {
		return nil, errInvalidParameter("%s: Unable to update %s on services with a %s deployment controller. %s", redeploy[0], redeploy[0], svc.DeploymentController.Type, externalDeployHint(svc.DeploymentController.Type))
	}

	// Members that change only the service.
	if in.DesiredCount != nil {
		svc.DesiredCount = *in.DesiredCount
	}
	if in.CapacityProviderStrategy != nil {
		if len(in.CapacityProviderStrategy) > 0 {
			svc.CapacityProviderStrategy, svc.LaunchType = in.CapacityProviderStrategy, ""
		} else {
			svc.CapacityProviderStrategy = nil
			if svc.LaunchType == "" {
				svc.LaunchType = ecs.LaunchTypeEC2
			}
		}
	}
	if in.DeploymentConfiguration != nil {
		svc.DeploymentConfiguration = mergeDeploymentConfiguration(svc.DeploymentConfiguration, in.DeploymentConfiguration)
	}
	if in.DeploymentController != nil {
		svc.DeploymentController = in.DeploymentController
	}
	if in.PlacementConstraints != nil {
		svc.PlacementConstraints = in.PlacementConstraints
	}
	if in.PlacementStrategy != nil {
		svc.PlacementStrategy = slices.Clone(in.PlacementStrategy)
	}
	if in.HealthCheckGracePeriodSeconds != nil {
		svc.HealthCheckGracePeriodSeconds = in.HealthCheckGracePeriodSeconds
	}
	if in.EnableExecuteCommand != nil {
		svc.EnableExecuteCommand = *in.EnableExecuteCommand
	}
	if in.EnableECSManagedTags != nil {
		svc.EnableECSManagedTags = *in.EnableECSManagedTags
	}
	if in.PropagateTags != "" {
		svc.PropagateTags = in.PropagateTags
	}
	if in.AvailabilityZoneRebalancing != "" {
		svc.AvailabilityZoneRebalancing = in.AvailabilityZoneRebalancing
	}
	if err := checkServiceConfig(svc, td, crec.Value); err != nil {
		return nil, err
	}
	if err := s.checkTargetGroups(ctx, svc.LoadBalancers); err != nil {
		return nil, err
	}
	normalizePlacementStrategy(svc.PlacementStrategy)

	if in.ForceNewDeployment {
		redeploy = append(redeploy, "forceNewDeployment")
	}
	switch {
	case isECSController(svc) && len(redeploy) > 0:
		for i := range svc.Deployments {
			if svc.Deployments[i].Status == deploymentPrimary {
				svc.Deployments[i].Status = deploymentActive
				svc.Deployments[i].UpdatedAt = now
			}
		}
		d := newServiceDeployment(svc, now, extras)
		svc.Deployments = append([]ecs.Deployment{d}, svc.Deployments...)
		addServiceEvent(svc, now, "(service "+svc.ServiceName+") has started deployment "+d.Id+".")
	case in.DesiredCount != nil && primary != nil && primary.DesiredCount != svc.DesiredCount:
		primary.DesiredCount = svc.DesiredCount
		primary.UpdatedAt = now
	}
	op, err := state.PutOp(key, rec.Value, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	v, err := s.serviceViews(ctx, cluster, []*ecs.Service{svc}, false)
	if err != nil {
		return nil, errServer(err)
	}
	return &ecs.UpdateServiceResponse{Service: &v[0]}, nil
}

func externalDeployHint(controller string) string {
	if controller == ecs.DeploymentControllerTypeCODEDEPLOY {
		return "Use AWS CodeDeploy to trigger a new deployment."
	}
	return "Use CreateTaskSet to start new tasks."
}

// fillServiceDefaults supplies what a record written by another writer
// may lack, so the rules can be checked against it.
func fillServiceDefaults(svc *ecs.Service) {
	if svc.SchedulingStrategy == "" {
		svc.SchedulingStrategy = ecs.SchedulingStrategyREPLICA
	}
	if svc.DeploymentController == nil {
		svc.DeploymentController = &ecs.DeploymentController{Type: ecs.DeploymentControllerTypeECS}
	}
	svc.DeploymentConfiguration = mergeDeploymentConfiguration(defaultDeploymentConfiguration(svc.SchedulingStrategy), svc.DeploymentConfiguration)
	if svc.PropagateTags == "" {
		svc.PropagateTags = ecs.PropagateTagsNONE
	}
	if svc.AvailabilityZoneRebalancing == "" {
		svc.AvailabilityZoneRebalancing = ecs.AvailabilityZoneRebalancingDISABLED
	}
}

// primaryDeployment returns svc's PRIMARY deployment, or nil.
func primaryDeployment(svc *ecs.Service) *ecs.Deployment {
	for i := range svc.Deployments {
		if svc.Deployments[i].Status == deploymentPrimary {
			return &svc.Deployments[i]
		}
	}
	return nil
}

// cloneService returns a deep copy of svc.
func cloneService(svc *ecs.Service) *ecs.Service {
	b, _ := json.Marshal(svc)
	var out ecs.Service
	_ = json.Unmarshal(b, &out)
	return &out
}

// DeleteService deletes a service: it scales it to 0 and marks it DRAINING.
// A REPLICA service still scaled above 0 needs force. A service with no
// task left that is not STOPPED becomes INACTIVE at once; otherwise the
// service controller makes it INACTIVE when its last task has stopped.
// Deleting a DRAINING service again returns it as it is.
func (s *Service) DeleteService(ctx context.Context, in *ecs.DeleteServiceRequest) (*ecs.DeleteServiceResponse, error) {
	clusterArg, name, err := serviceRefs(in.Cluster, in.Service, "service")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cluster, _, err := s.activeCluster(ctx, clusterArg, "cluster")
	if err != nil {
		return nil, err
	}
	key := state.ServiceKey(cluster, name)
	rec, err := state.Get[serviceRecord](ctx, s.st, key)
	if state.IsNotFound(err) || (err == nil && rec.Value.Status == serviceInactive) {
		return nil, errServiceNotFound()
	}
	if err != nil {
		return nil, errServer(err)
	}
	svc := &rec.Value.Service
	if svc.Status == serviceDraining {
		v, err := s.serviceViews(ctx, cluster, []*ecs.Service{svc}, false)
		if err != nil {
			return nil, errServer(err)
		}
		return &ecs.DeleteServiceResponse{Service: &v[0]}, nil
	}
	force := in.Force != nil && *in.Force
	if svc.SchedulingStrategy != ecs.SchedulingStrategyDAEMON && svc.DesiredCount > 0 && !force {
		return nil, errInvalidParameter(svcMsgScaledAboveZero)
	}
	idx, err := s.indexServiceTasks(ctx, cluster)
	if err != nil {
		return nil, errServer(err)
	}
	now := ecs.NewTime(s.nowUTC())
	svc.DesiredCount = 0
	for i := range svc.Deployments {
		svc.Deployments[i].DesiredCount = 0
		svc.Deployments[i].UpdatedAt = now
	}
	if idx.live[svc.ServiceName] == 0 {
		svc.Status = serviceInactive
		addServiceEvent(svc, now, "(service "+svc.ServiceName+") was deleted.")
	} else {
		svc.Status = serviceDraining
		addServiceEvent(svc, now, "(service "+svc.ServiceName+") is draining.")
	}
	op, err := state.PutOp(key, rec.Value, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	v := serviceView(svc, idx, false)
	return &ecs.DeleteServiceResponse{Service: &v}, nil
}

// DescribeServices describes up to 10 services of one cluster, by name or
// ARN. Unknown ones come back as failures with reason MISSING; DRAINING and
// INACTIVE services are described, as ECS does.
func (s *Service) DescribeServices(ctx context.Context, in *ecs.DescribeServicesRequest) (*ecs.DescribeServicesResponse, error) {
	switch n := len(in.Services); {
	case n == 0:
		return nil, errInvalidParameter("services: at least one service is required")
	case n > maxDescribeServices:
		return nil, errInvalidParameter("services: at most %d services per request, got %d", maxDescribeServices, n)
	}
	tags := false
	for i, f := range in.Include {
		if !ecs.ValidServiceField(f) {
			return nil, errInvalidParameter("include[%d]: %q is not TAGS", i, f)
		}
		tags = true
	}
	cluster, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	idx, err := s.indexServiceTasks(ctx, cluster)
	if err != nil {
		return nil, errServer(err)
	}
	out := &ecs.DescribeServicesResponse{Services: []ecs.Service{}, Failures: []ecs.Failure{}}
	for i, ref := range in.Services {
		arnCluster, name, err := serviceName(ref, "services["+strconv.Itoa(i)+"]")
		if err != nil || (arnCluster != "" && arnCluster != cluster) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: ref, Reason: "MISSING"})
			continue
		}
		rec, err := state.Get[serviceRecord](ctx, s.st, state.ServiceKey(cluster, name))
		if state.IsNotFound(err) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: s.serviceARN(cluster, name), Reason: "MISSING"})
			continue
		}
		if err != nil {
			return nil, errServer(err)
		}
		out.Services = append(out.Services, serviceView(&rec.Value.Service, idx, tags))
	}
	return out, nil
}

// ListServices lists the ARNs of a cluster's ACTIVE services (DRAINING and
// INACTIVE ones are not listed, as in ECS), optionally only those of one
// launch type, scheduling strategy or resource management type. Pages hold
// 10 services unless maxResults (1-100) says otherwise.
func (s *Service) ListServices(ctx context.Context, in *ecs.ListServicesRequest) (*ecs.ListServicesResponse, error) {
	switch {
	case in.LaunchType != "" && !ecs.ValidLaunchType(in.LaunchType):
		return nil, errInvalidParameter("launchType: %q is not one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES", in.LaunchType)
	case in.SchedulingStrategy != "" && !ecs.ValidSchedulingStrategy(in.SchedulingStrategy):
		return nil, errInvalidParameter("schedulingStrategy: %q is not one of REPLICA, DAEMON", in.SchedulingStrategy)
	case in.ResourceManagementType != "" && !ecs.ValidResourceManagementType(in.ResourceManagementType):
		return nil, errInvalidParameter("resourceManagementType: %q is not one of CUSTOMER, ECS", in.ResourceManagementType)
	}
	cluster, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	recs, err := state.List[ecs.Service](ctx, s.st, state.ServicesOf(cluster))
	if err != nil {
		return nil, errServer(err)
	}
	names := make([]string, 0, len(recs))
	for _, r := range recs {
		v := r.Value
		rmt := v.ResourceManagementType
		if rmt == "" {
			rmt = ecs.ResourceManagementTypeCUSTOMER
		}
		if v.Status != serviceActive ||
			(in.LaunchType != "" && v.LaunchType != in.LaunchType) ||
			(in.SchedulingStrategy != "" && v.SchedulingStrategy != in.SchedulingStrategy) ||
			(in.ResourceManagementType != "" && rmt != in.ResourceManagementType) {
			continue
		}
		names = append(names, v.ServiceName)
	}
	maxResults := in.MaxResults
	if maxResults == nil {
		n := int32(defaultListServices)
		maxResults = &n
	}
	pg, next, err := page(names, func(n string) string { return n }, in.NextToken, maxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListServicesResponse{ServiceArns: make([]string, 0, len(pg)), NextToken: next}
	for _, n := range pg {
		out.ServiceArns = append(out.ServiceArns, s.serviceARN(cluster, n))
	}
	return out, nil
}

// serviceTaskCounts are the task counts ECS reports.
type serviceTaskCounts struct{ running, pending int32 }

// serviceTaskIndex counts a cluster's service tasks.
type serviceTaskIndex struct {
	byService    map[string]serviceTaskCounts // by service name
	byDeployment map[string]serviceTaskCounts // by service name + "/" + deployment ID
	live         map[string]int               // tasks not STOPPED, by service name
}

// indexServiceTasks reads the cluster's tasks once and counts those of
// each service (group "service:NAME") and deployment (startedBy).
func (s *Service) indexServiceTasks(ctx context.Context, cluster string) (serviceTaskIndex, error) {
	idx := serviceTaskIndex{byService: map[string]serviceTaskCounts{}, byDeployment: map[string]serviceTaskCounts{}, live: map[string]int{}}
	if s.freshCache(ctx) {
		// The index keeps these counts per service: no task is visited.
		for _, r := range s.cache.Services(cluster) {
			name := r.Value.ServiceName
			gc := s.cache.ServiceCounts(cluster, name)
			idx.live[name] = gc.Live()
			idx.byService[name] = serviceTaskCounts{running: int32(gc.Running), pending: int32(gc.Pending)}
			for by, c := range gc.ByStartedBy {
				idx.byDeployment[name+"/"+by] = serviceTaskCounts{running: int32(c.Running), pending: int32(c.Pending)}
			}
		}
		return idx, nil
	}
	tasks, err := s.readTasks(ctx, cluster)
	if err != nil {
		return idx, err
	}
	for _, r := range tasks {
		t := r.Value
		name, ok := strings.CutPrefix(t.Group, "service:")
		if !ok {
			continue
		}
		if t.LastStatus != "STOPPED" {
			idx.live[name]++
		}
		var c serviceTaskCounts
		switch t.LastStatus {
		case "RUNNING":
			c.running = 1
		case "PROVISIONING", "PENDING", "ACTIVATING":
			c.pending = 1
		default:
			continue
		}
		add := func(m map[string]serviceTaskCounts, k string) {
			v := m[k]
			v.running += c.running
			v.pending += c.pending
			m[k] = v
		}
		add(idx.byService, name)
		if t.StartedBy != "" {
			add(idx.byDeployment, name+"/"+t.StartedBy)
		}
	}
	return idx, nil
}

// serviceViews returns the wire form of services of one cluster.
func (s *Service) serviceViews(ctx context.Context, cluster string, svcs []*ecs.Service, tags bool) ([]ecs.Service, error) {
	idx, err := s.indexServiceTasks(ctx, cluster)
	if err != nil {
		return nil, err
	}
	out := make([]ecs.Service, 0, len(svcs))
	for _, svc := range svcs {
		out = append(out, serviceView(svc, idx, tags))
	}
	return out, nil
}

// serviceView returns the wire form of svc: task counts filled in, tags
// only when asked for.
func serviceView(svc *ecs.Service, idx serviceTaskIndex, tags bool) ecs.Service {
	v := *svc
	c := idx.byService[v.ServiceName]
	v.RunningCount, v.PendingCount = c.running, c.pending
	v.Deployments = slices.Clone(svc.Deployments)
	for i := range v.Deployments {
		d := &v.Deployments[i]
		dc := idx.byDeployment[v.ServiceName+"/"+d.Id]
		d.RunningCount, d.PendingCount = dc.running, dc.pending
	}
	if !tags {
		v.Tags = nil
	} else if v.Tags == nil {
		v.Tags = []ecs.Tag{}
	}
	return v
}
