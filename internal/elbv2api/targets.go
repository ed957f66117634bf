package elbv2api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Target is a registered target: berth's targets are IP addresses with a
// port, whatever the target group's TargetType.
type Target struct {
	// ID is the target's IP address.
	ID string
	// Port is where it listens; 0 means the target group's port.
	Port int32
	// AZ is its availability zone, stored and reported only.
	AZ string
}

func (t Target) addr() string { return net.JoinHostPort(t.ID, strconv.Itoa(int(t.Port))) }

// RegisterTargets registers targets with a target group, for berth's own
// controllers. It is idempotent: a target already registered (same IP and
// port) stays as it is. A missing target group is ErrTargetGroupNotFound.
func (s *Service) RegisterTargets(ctx context.Context, tgARN string, targets []Target) error {
	return internalErr(s.changeTargets(ctx, tgARN, targets, true))
}

// DeregisterTargets deregisters targets from a target group; the data
// plane drains them for the group's deregistration delay. Targets not
// registered are ignored.
func (s *Service) DeregisterTargets(ctx context.Context, tgARN string, targets []Target) error {
	return internalErr(s.changeTargets(ctx, tgARN, targets, false))
}

func internalErr(err error) error {
	if isCode(err, elbv2.ErrTargetGroupNotFound) {
		return fmt.Errorf("%w: %v", ErrTargetGroupNotFound, err)
	}
	return err
}

func (s *Service) registerTargetsOp(ctx context.Context, in *elbv2.RegisterTargetsInput) (*elbv2.RegisterTargetsOutput, error) {
	ts, err := targetsOf(in.Targets)
	if err != nil {
		return nil, err
	}
	if err := s.changeTargets(ctx, in.TargetGroupArn, ts, true); err != nil {
		return nil, err
	}
	return &elbv2.RegisterTargetsOutput{}, nil
}

func (s *Service) deregisterTargetsOp(ctx context.Context, in *elbv2.DeregisterTargetsInput) (*elbv2.DeregisterTargetsOutput, error) {
	ts, err := targetsOf(in.Targets)
	if err != nil {
		return nil, err
	}
	if err := s.changeTargets(ctx, in.TargetGroupArn, ts, false); err != nil {
		return nil, err
	}
	return &elbv2.DeregisterTargetsOutput{}, nil
}

func targetsOf(ds []elbv2.TargetDescription) ([]Target, error) {
	if len(ds) == 0 {
		return nil, errValidation("Targets: at least one target must be given")
	}
	out := make([]Target, len(ds))
	for i, d := range ds {
		out[i] = Target{ID: d.Id, AZ: d.AvailabilityZone}
		if d.Port != nil {
			if err := checkPort(*d.Port, fmt.Sprintf("targets.member.%d.port", i+1)); err != nil {
				return nil, err
			}
			out[i].Port = *d.Port
		}
	}
	return out, nil
}

// maxConflictRetries bounds changeTargets' retries; each lost race means
// another writer made progress.
const maxConflictRetries = 100

// changeTargets registers (add) or deregisters targets. A write that
// loses a compare-and-swap to another writer of the store is retried.
func (s *Service) changeTargets(ctx context.Context, tgARN string, targets []Target, add bool) error {
	for try := 0; ; try++ {
		err := s.changeTargetsOnce(ctx, tgARN, targets, add)
		var conflict *store.ConflictError
		if !errors.As(err, &conflict) || try == maxConflictRetries {
			return err
		}
	}
}

func (s *Service) changeTargetsOnce(ctx context.Context, tgARN string, targets []Target, add bool) error {
	if _, err := parseTGARN(tgARN); err != nil {
		return err
	}
	for i, t := range targets {
		ip := net.ParseIP(t.ID)
		if ip == nil {
			return apiErr(elbv2.ErrInvalidTarget, "Targets.member.%d.Id: '%s' is not an IP address (berth's targets are IP addresses)", i+1, clip(t.ID))
		}
		if ip.To4() == nil {
			return apiErr(elbv2.ErrInvalidTarget, "Targets.member.%d.Id: '%s' is not an IPv4 address (berth's target groups are ipv4)", i+1, t.ID)
		}
		if t.Port < 0 || t.Port > 65535 {
			return errValidation("Targets.member.%d.Port: must be between 1 and 65535", i+1)
		}
	}
	_, err := update(ctx, s, func(w *world) (struct{}, []store.Op, error) {
		r, err := w.tg(tgARN)
		if err != nil {
			return struct{}{}, nil, err
		}
		next := *r.v
		next.Targets = slices.Clone(r.v.Targets)
		changed := false
		for _, t := range targets {
			if t.Port == 0 {
				t.Port = *r.v.Port
			}
			i := slices.IndexFunc(next.Targets, func(x state.ELBTarget) bool { return x.ID == t.ID && x.Port == t.Port })
			switch {
			case add && i < 0:
				next.Targets = append(next.Targets, state.ELBTarget{ID: t.ID, Port: t.Port, AvailabilityZone: t.AZ})
				changed = true
			case !add && i >= 0:
				next.Targets = slices.Delete(next.Targets, i, i+1)
				changed = true
			}
		}
		if !changed {
			return struct{}{}, nil, nil
		}
		if len(next.Targets) > maxTargets {
			return struct{}{}, nil, apiErr(elbv2.ErrTooManyTargets, "A target group can have at most %d targets", maxTargets)
		}
		ops, err := put(r.key, &next, r.rev)
		return struct{}{}, ops, err
	})
	return err
}

// TargetGroupInfo is what berth's ECS service controller needs to know
// about a target group named in a service's loadBalancers.
type TargetGroupInfo struct {
	// Exists is false when no target group has the ARN; the other fields
	// are then zero.
	Exists   bool
	ARN      string
	Name     string
	Protocol string // HTTP or HTTPS
	Port     int32
	// HealthCheck is the check the data plane runs, defaults filled in.
	HealthCheck lb.HealthCheck
	// DeregistrationDelay is how long a deregistered target drains.
	DeregistrationDelay time.Duration
	// LoadBalancerArns are the load balancers whose listeners or rules
	// forward to it (ECS refuses a target group attached to none).
	LoadBalancerArns []string
}

// TargetGroupInfo describes a target group for berth's controllers. An
// ARN that is malformed or names no target group gives Exists false.
func (s *Service) TargetGroupInfo(ctx context.Context, arn string) (TargetGroupInfo, error) {
	if _, ok := parseARN(arn, "targetgroup"); !ok {
		return TargetGroupInfo{}, nil
	}
	w, err := s.read(ctx)
	if err != nil {
		return TargetGroupInfo{}, err
	}
	r, ok := w.tgByARN(arn)
	if !ok {
		return TargetGroupInfo{}, nil
	}
	tg := convertTargetGroup(r.v)
	return TargetGroupInfo{
		Exists:              true,
		ARN:                 arn,
		Name:                r.v.TargetGroupName,
		Protocol:            r.v.Protocol,
		Port:                *r.v.Port,
		HealthCheck:         tg.HealthCheck,
		DeregistrationDelay: tg.DeregistrationDelay,
		LoadBalancerArns:    w.tgLoadBalancers()[arn],
	}, nil
}

// DescribeTargetHealth reports the health of a target group's targets as
// the data plane sees them: a registered target it does not know yet is
// initial (Elb.RegistrationInProgress); a deregistered one it still drains
// is draining; the targets of a group no listener uses are unused.
func (s *Service) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput) (*elbv2.DescribeTargetHealthOutput, error) {
	if _, err := parseTGARN(in.TargetGroupArn); err != nil {
		return nil, err
	}
	for i, inc := range in.Include {
		if !elbv2.ValidDescribeTargetHealthInputIncludeEnum(inc) {
			return nil, errValidation("Include.member.%d: '%s' is not valid", i+1, clip(inc))
		}
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	r, err := w.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	var observed []lb.TargetState
	if s.health != nil {
		observed = s.health.TargetHealth(in.TargetGroupArn)
	}
	used := len(w.tgLoadBalancers()[in.TargetGroupArn]) > 0
	descs := targetHealth(r.v, observed, used)
	if len(in.Targets) > 0 {
		var sel []elbv2.TargetHealthDescription
		for i, t := range in.Targets {
			port := *r.v.Port
			if t.Port != nil {
				port = *t.Port
			}
			if net.ParseIP(t.Id) == nil {
				return nil, apiErr(elbv2.ErrInvalidTarget, "Targets.member.%d.Id: '%s' is not an IP address", i+1, clip(t.Id))
			}
			j := slices.IndexFunc(descs, func(d elbv2.TargetHealthDescription) bool {
				return d.Target.Id == t.Id && *d.Target.Port == port
			})
			if j >= 0 {
				sel = append(sel, descs[j])
				continue
			}
			sel = append(sel, elbv2.TargetHealthDescription{
				Target:          &elbv2.TargetDescription{Id: t.Id, Port: ptr(port)},
				HealthCheckPort: healthCheckPort(r.v, port),
				TargetHealth: &elbv2.TargetHealth{
					State:       elbv2.TargetHealthStateEnumUnused,
					Reason:      elbv2.TargetHealthReasonEnumTargetNotRegistered,
					Description: "Target is not registered to the target group",
				},
			})
		}
		descs = sel
	}
	if descs == nil {
		descs = []elbv2.TargetHealthDescription{}
	}
	return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: descs}, nil
}

func healthCheckPort(tg *state.ELBTargetGroup, port int32) string {
	if tg.HealthCheckPort == "" || tg.HealthCheckPort == lb.TrafficPort {
		return strconv.Itoa(int(port))
	}
	return tg.HealthCheckPort
}

// targetHealth merges the registered targets with the data plane's view.
// It is pure.
func targetHealth(tg *state.ELBTargetGroup, observed []lb.TargetState, used bool) []elbv2.TargetHealthDescription {
	byAddr := make(map[string]lb.TargetState, len(observed))
	for _, o := range observed {
		byAddr[o.Target] = o
	}
	var out []elbv2.TargetHealthDescription
	registered := map[string]bool{}
	for _, t := range tg.Targets {
		addr := Target{ID: t.ID, Port: t.Port}.addr()
		registered[addr] = true
		h := &elbv2.TargetHealth{}
		o, seen := byAddr[addr]
		switch {
		case !used:
			h.State = elbv2.TargetHealthStateEnumUnused
			h.Reason = elbv2.TargetHealthReasonEnumTargetNotInUse
			h.Description = "Target group is not configured to receive traffic from the load balancer"
		case !seen || o.State == lb.StateDraining || o.State == lb.StateUnused:
			h.State = elbv2.TargetHealthStateEnumInitial
			h.Reason = elbv2.TargetHealthReasonEnumElbRegistrationInProgress
			h.Description = "Target registration is in progress"
		default:
			h.State, h.Reason, h.Description = string(o.State), o.Reason, o.Description
		}
		out = append(out, elbv2.TargetHealthDescription{
			Target:          &elbv2.TargetDescription{Id: t.ID, Port: ptr(t.Port), AvailabilityZone: t.AvailabilityZone},
			HealthCheckPort: healthCheckPort(tg, t.Port),
			TargetHealth:    h,
		})
	}
	for _, o := range observed {
		if o.State != lb.StateDraining || registered[o.Target] {
			continue
		}
		host, p, err := net.SplitHostPort(o.Target)
		if err != nil {
			continue
		}
		port, _ := strconv.Atoi(p)
		out = append(out, elbv2.TargetHealthDescription{
			Target:          &elbv2.TargetDescription{Id: host, Port: ptr(int32(port))},
			HealthCheckPort: healthCheckPort(tg, int32(port)),
			TargetHealth: &elbv2.TargetHealth{
				State:       elbv2.TargetHealthStateEnumDraining,
				Reason:      elbv2.TargetHealthReasonEnumTargetDeregistrationInProgress,
				Description: "Target deregistration is in progress",
			},
		})
	}
	return out
}
