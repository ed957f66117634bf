package elbv2api

import (
	"context"
	"reflect"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Health check defaults. berth's are faster than ELB's (interval 30 s,
// timeout 5 s, healthy 5, unhealthy 2, matcher 200) so a new target gets
// traffic about a second after it answers; any value given is honoured.
// berth allows intervals and timeouts down to 1 s (ELB: 5 s and 2 s), a
// timeout equal to the interval, and TCP checks on HTTP target groups.
const (
	DefaultHealthCheckIntervalSeconds = 1
	DefaultHealthCheckTimeoutSeconds  = 1
	DefaultHealthyThresholdCount      = 2
	DefaultUnhealthyThresholdCount    = 2
	DefaultMatcher                    = "200-399"
	DefaultHealthCheckPath            = "/"
)

// healthCheck is the health check members CreateTargetGroup and
// ModifyTargetGroup share.
type healthCheck struct {
	Enabled            *bool
	Protocol, Port     string
	Path               string
	Interval, Timeout  *int32
	Healthy, Unhealthy *int32
	Matcher            *elbv2.Matcher
}

// CreateTargetGroup creates a target group of IP targets. As in ELB it is
// idempotent: creating one with the same name and settings returns it.
func (s *Service) CreateTargetGroup(ctx context.Context, in *elbv2.CreateTargetGroupInput) (*elbv2.CreateTargetGroupOutput, error) {
	if !nameRE.MatchString(in.Name) {
		return nil, errValidation("Name: target group names are 1-32 letters, digits and hyphens, and must not begin or end with a hyphen")
	}
	tt := in.TargetType
	if tt == "" {
		tt = elbv2.TargetTypeEnumInstance
	}
	if tt != elbv2.TargetTypeEnumIp && tt != elbv2.TargetTypeEnumInstance {
		return nil, errConfig("TargetType: berth supports ip and instance target groups (both take IP address targets), got '%s'", clip(tt))
	}
	if in.Protocol == "" {
		return nil, errValidation("Protocol: a protocol must be specified")
	}
	if in.Protocol != elbv2.ProtocolEnumHTTP && in.Protocol != elbv2.ProtocolEnumHTTPS {
		return nil, errValidation("Protocol: application load balancer target groups use HTTP or HTTPS, got '%s'", clip(in.Protocol))
	}
	if in.Port == nil {
		return nil, errValidation("Port: a port must be specified")
	}
	if err := checkPort(*in.Port, "Port"); err != nil {
		return nil, err
	}
	pv := in.ProtocolVersion
	if pv == "" {
		pv = "HTTP1"
	}
	if pv != "HTTP1" {
		return nil, errConfig("ProtocolVersion: berth supports HTTP1, got '%s'", clip(pv))
	}
	ipType := in.IpAddressType
	if ipType == "" {
		ipType = elbv2.TargetGroupIpAddressTypeEnumIpv4
	}
	if ipType != elbv2.TargetGroupIpAddressTypeEnumIpv4 {
		return nil, errValidation("IpAddressType: berth supports ipv4 only, got '%s'", clip(ipType))
	}
	if err := validateTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	tg := elbv2.TargetGroup{
		TargetGroupName: in.Name,
		Protocol:        in.Protocol,
		ProtocolVersion: pv,
		Port:            in.Port,
		TargetType:      tt,
		IpAddressType:   ipType,
		VpcId:           in.VpcId,
	}
	if tg.VpcId == "" {
		tg.VpcId = "vpc-berth"
	}
	hc := healthCheck{
		Enabled: in.HealthCheckEnabled, Protocol: in.HealthCheckProtocol, Port: in.HealthCheckPort, Path: in.HealthCheckPath,
		Interval: in.HealthCheckIntervalSeconds, Timeout: in.HealthCheckTimeoutSeconds,
		Healthy: in.HealthyThresholdCount, Unhealthy: in.UnhealthyThresholdCount, Matcher: in.Matcher,
	}
	if err := applyHealthCheck(&tg, hc, true); err != nil {
		return nil, err
	}

	return update(ctx, s, func(w *world) (*elbv2.CreateTargetGroupOutput, []store.Op, error) {
		if old, ok := w.tgByName(in.Name); ok {
			same := old.v.TargetGroup
			same.TargetGroupArn = ""
			if reflect.DeepEqual(same, tg) {
				return &elbv2.CreateTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{tgView(old.v, w.tgLoadBalancers())}}, nil, nil
			}
			return nil, nil, apiErr(elbv2.ErrDuplicateTargetGroupName, "A target group with the same name '%s' exists, but with different settings", in.Name)
		}
		if len(w.tgs) >= maxTargetGroups {
			return nil, nil, apiErr(elbv2.ErrTooManyTargetGroups, "The maximum number of target groups (%d) has been reached", maxTargetGroups)
		}
		id := newID()
		tg.TargetGroupArn = s.tgARN(in.Name, id)
		rec := &state.ELBTargetGroup{TargetGroup: tg, Attributes: defaultAttributes(), Tags: in.Tags}
		ops, err := put(state.ELBTargetGroupKey(id), rec, store.Absent)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.CreateTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{tgView(rec, nil)}}, ops, nil
	})
}

func checkPort(p int32, member string) error {
	if p < 1 || p > 65535 {
		return errValidation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and 65535", p, member)
	}
	return nil
}

// applyHealthCheck validates hc and sets the members it gives on tg; with
// defaults, members neither given nor set take berth's defaults.
func applyHealthCheck(tg *elbv2.TargetGroup, hc healthCheck, defaults bool) error {
	if hc.Enabled != nil && !*hc.Enabled {
		return errConfig("HealthCheckEnabled: health checks cannot be disabled for target groups of type ip or instance")
	}
	tg.HealthCheckEnabled = ptr(true)
	if hc.Protocol != "" {
		switch hc.Protocol {
		case elbv2.ProtocolEnumHTTP, elbv2.ProtocolEnumHTTPS, elbv2.ProtocolEnumTCP:
		default:
			return errValidation("HealthCheckProtocol: must be HTTP, HTTPS or TCP, got '%s'", clip(hc.Protocol))
		}
		tg.HealthCheckProtocol = hc.Protocol
	} else if defaults {
		tg.HealthCheckProtocol = tg.Protocol
	}
	if hc.Port != "" {
		if hc.Port != "traffic-port" {
			p, err := strconv.Atoi(hc.Port)
			if err != nil || p < 1 || p > 65535 {
				return errValidation("HealthCheckPort: must be traffic-port or 1-65535, got '%s'", clip(hc.Port))
			}
		}
		tg.HealthCheckPort = hc.Port
	} else if defaults {
		tg.HealthCheckPort = "traffic-port"
	}
	if hc.Path != "" {
		if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > 1024 {
			return errValidation("HealthCheckPath: must start with / and be at most 1024 characters")
		}
		tg.HealthCheckPath = hc.Path
	}
	if tg.HealthCheckProtocol == elbv2.ProtocolEnumTCP {
		if hc.Path != "" {
			return errConfig("HealthCheckPath: not allowed with TCP health checks")
		}
		if hc.Matcher != nil {
			return errConfig("Matcher: not allowed with TCP health checks")
		}
		tg.HealthCheckPath, tg.Matcher = "", nil
	} else {
		if tg.HealthCheckPath == "" {
			tg.HealthCheckPath = DefaultHealthCheckPath
		}
		if hc.Matcher != nil {
			if hc.Matcher.GrpcCode != "" {
				return errConfig("Matcher.GrpcCode: berth target groups are HTTP1; give Matcher.HttpCode")
			}
			if err := checkMatcher(hc.Matcher.HttpCode); err != nil {
				return err
			}
			tg.Matcher = &elbv2.Matcher{HttpCode: hc.Matcher.HttpCode}
		} else if tg.Matcher == nil {
			tg.Matcher = &elbv2.Matcher{HttpCode: DefaultMatcher}
		}
	}
	set := func(dst **int32, v *int32, def, lo, hi int32, member string) error {
		if v != nil {
			if *v < lo || *v > hi {
				return errValidation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", *v, member, lo, hi)
			}
			*dst = ptr(*v)
		} else if *dst == nil {
			*dst = ptr(def)
		}
		return nil
	}
	if hc.Interval == nil && hc.Timeout != nil && tg.HealthCheckIntervalSeconds == nil {
		// Only a timeout given: the interval must not be shorter.
		hc.Interval = ptr(max(DefaultHealthCheckIntervalSeconds, *hc.Timeout))
	}
	for _, f := range []struct {
		dst         **int32
		v           *int32
		def, lo, hi int32
		member      string
	}{
		{&tg.HealthCheckIntervalSeconds, hc.Interval, DefaultHealthCheckIntervalSeconds, 1, 300, "healthCheckIntervalSeconds"},
		{&tg.HealthCheckTimeoutSeconds, hc.Timeout, DefaultHealthCheckTimeoutSeconds, 1, 120, "healthCheckTimeoutSeconds"},
		{&tg.HealthyThresholdCount, hc.Healthy, DefaultHealthyThresholdCount, 2, 10, "healthyThresholdCount"},
		{&tg.UnhealthyThresholdCount, hc.Unhealthy, DefaultUnhealthyThresholdCount, 2, 10, "unhealthyThresholdCount"},
	} {
		if err := set(f.dst, f.v, f.def, f.lo, f.hi, f.member); err != nil {
			return err
		}
	}
	if *tg.HealthCheckTimeoutSeconds > *tg.HealthCheckIntervalSeconds {
		return errConfig("HealthCheckTimeoutSeconds: the timeout (%d s) must not exceed the interval (%d s)", *tg.HealthCheckTimeoutSeconds, *tg.HealthCheckIntervalSeconds)
	}
	return nil
}

// checkMatcher validates an ALB success-code matcher: "200", "200,202",
// "200-299", codes 200-499.
func checkMatcher(s string) error {
	if s == "" {
		return errValidation("Matcher.HttpCode: must not be empty")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 200 || b > 499 || a > b {
			return errValidation("Matcher.HttpCode: '%s' is not a list or range of HTTP codes between 200 and 499", clip(s))
		}
	}
	return nil
}

// tgView is the wire form of a stored target group; lbs maps target group
// ARNs to the load balancers that use them.
func tgView(r *state.ELBTargetGroup, lbs map[string][]string) elbv2.TargetGroup {
	v := r.TargetGroup
	v.LoadBalancerArns = lbs[v.TargetGroupArn]
	if v.LoadBalancerArns == nil {
		v.LoadBalancerArns = []string{}
	}
	return v
}

// DescribeTargetGroups describes target groups by ARN, name or load
// balancer, or all of them.
func (s *Service) DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput) (*elbv2.DescribeTargetGroupsOutput, error) {
	n := 0
	for _, given := range []bool{in.LoadBalancerArn != "", len(in.TargetGroupArns) > 0, len(in.Names) > 0} {
		if given {
			n++
		}
	}
	if n > 1 {
		return nil, errValidation("LoadBalancerArn, TargetGroupArns and Names: give at most one")
	}
	for _, a := range in.TargetGroupArns {
		if _, err := parseTGARN(a); err != nil {
			return nil, err
		}
	}
	if in.LoadBalancerArn != "" {
		if _, err := parseLBARN(in.LoadBalancerArn); err != nil {
			return nil, err
		}
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	lbs := w.tgLoadBalancers()
	var sel []rec[state.ELBTargetGroup]
	switch {
	case len(in.TargetGroupArns) > 0:
		if sel, err = each(in.TargetGroupArns, w.tg); err != nil {
			return nil, err
		}
	case len(in.Names) > 0:
		for _, nm := range dedupe(in.Names) {
			r, ok := w.tgByName(nm)
			if !ok {
				return nil, apiErr(elbv2.ErrTargetGroupNotFound, "Target groups '[%s]' not found", nm)
			}
			sel = append(sel, r)
		}
	case in.LoadBalancerArn != "":
		if _, err := w.lb(in.LoadBalancerArn); err != nil {
			return nil, err
		}
		for _, r := range w.tgs {
			for _, l := range lbs[r.v.TargetGroupArn] {
				if l == in.LoadBalancerArn {
					sel = append(sel, r)
					break
				}
			}
		}
	default:
		sel = w.tgs
	}
	pg, next, err := pageByKey(sel, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &elbv2.DescribeTargetGroupsOutput{TargetGroups: []elbv2.TargetGroup{}, NextMarker: next}
	for _, r := range pg {
		out.TargetGroups = append(out.TargetGroups, tgView(r.v, lbs))
	}
	return out, nil
}

// ModifyTargetGroup changes a target group's health check.
func (s *Service) ModifyTargetGroup(ctx context.Context, in *elbv2.ModifyTargetGroupInput) (*elbv2.ModifyTargetGroupOutput, error) {
	if _, err := parseTGARN(in.TargetGroupArn); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.ModifyTargetGroupOutput, []store.Op, error) {
		r, err := w.tg(in.TargetGroupArn)
		if err != nil {
			return nil, nil, err
		}
		next := *r.v
		hc := healthCheck{
			Enabled: in.HealthCheckEnabled, Protocol: in.HealthCheckProtocol, Port: in.HealthCheckPort, Path: in.HealthCheckPath,
			Interval: in.HealthCheckIntervalSeconds, Timeout: in.HealthCheckTimeoutSeconds,
			Healthy: in.HealthyThresholdCount, Unhealthy: in.UnhealthyThresholdCount, Matcher: in.Matcher,
		}
		if err := applyHealthCheck(&next.TargetGroup, hc, false); err != nil {
			return nil, nil, err
		}
		ops, err := put(r.key, &next, r.rev)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.ModifyTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{tgView(&next, w.tgLoadBalancers())}}, ops, nil
	})
}

// DeleteTargetGroup deletes a target group no listener or rule forwards
// to. Deleting one that does not exist succeeds, as in ELB.
func (s *Service) DeleteTargetGroup(ctx context.Context, in *elbv2.DeleteTargetGroupInput) (*elbv2.DeleteTargetGroupOutput, error) {
	if _, err := parseTGARN(in.TargetGroupArn); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.DeleteTargetGroupOutput, []store.Op, error) {
		r, ok := w.tgByARN(in.TargetGroupArn)
		if !ok {
			return &elbv2.DeleteTargetGroupOutput{}, nil, nil
		}
		if lbs := w.tgLoadBalancers()[in.TargetGroupArn]; len(lbs) > 0 {
			return nil, nil, apiErr(elbv2.ErrResourceInUse, "Target group '%s' is currently in use by a listener or a rule", in.TargetGroupArn)
		}
		return &elbv2.DeleteTargetGroupOutput{}, []store.Op{store.DeleteIf(r.key, r.rev)}, nil
	})
}

func ptr[T any](v T) *T { return &v }
