package elbv2api

import (
	"context"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Limits, as ELB's default quotas.
const (
	maxLoadBalancers = 50
	maxTargetGroups  = 3000
	maxListeners     = 50  // per load balancer
	maxRules         = 100 // per listener, the default rule not counted
	maxTargets       = 1000
	maxTags          = 50
)

// hostedZoneID is the CanonicalHostedZoneId every berth load balancer
// reports: there is no Route 53 zone, but the member must be stable.
const hostedZoneID = "ZBERTHLOCAL0001"

// CreateLoadBalancer creates an application load balancer. As in ELB it is
// idempotent: creating one with the same name and settings returns it.
func (s *Service) CreateLoadBalancer(ctx context.Context, in *elbv2.CreateLoadBalancerInput) (*elbv2.CreateLoadBalancerOutput, error) {
	if !nameRE.MatchString(in.Name) {
		return nil, errValidation("Name: load balancer names are 1-32 letters, digits and hyphens, and must not begin or end with a hyphen")
	}
	if strings.HasPrefix(in.Name, "internal-") {
		return nil, errValidation("Name: load balancer names must not begin with 'internal-'")
	}
	typ := in.Type
	if typ == "" {
		typ = elbv2.LoadBalancerTypeEnumApplication
	}
	if typ != elbv2.LoadBalancerTypeEnumApplication {
		return nil, errValidation("Type: berth serves application load balancers only, got '%s'", clip(typ))
	}
	scheme := in.Scheme
	if scheme == "" {
		scheme = elbv2.LoadBalancerSchemeEnumInternetFacing
	}
	if !elbv2.ValidLoadBalancerSchemeEnum(scheme) {
		return nil, errValidation("Scheme: must be internet-facing or internal, got '%s'", clip(scheme))
	}
	ipType := in.IpAddressType
	if ipType == "" {
		ipType = elbv2.IpAddressTypeIpv4
	}
	if ipType != elbv2.IpAddressTypeIpv4 {
		return nil, errValidation("IpAddressType: berth supports ipv4 only, got '%s'", clip(ipType))
	}
	if err := validateTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.CreateLoadBalancerOutput, []store.Op, error) {
		if old, ok := w.lbByName(in.Name); ok {
			if old.v.Scheme == scheme && old.v.Type == typ && old.v.IpAddressType == ipType {
				return &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbv2.LoadBalancer{s.lbView(old.v)}}, nil, nil
			}
			return nil, nil, apiErr(elbv2.ErrDuplicateLoadBalancerName, "A load balancer with the same name '%s' exists, but with different settings", in.Name)
		}
		if len(w.lbs) >= maxLoadBalancers {
			return nil, nil, apiErr(elbv2.ErrTooManyLoadBalancers, "The maximum number of load balancers (%d) has been reached", maxLoadBalancers)
		}
		id := newID()
		rec := &state.ELBLoadBalancer{
			LoadBalancer: elbv2.LoadBalancer{
				LoadBalancerArn:       s.lbARN(in.Name, id),
				LoadBalancerName:      in.Name,
				CanonicalHostedZoneId: hostedZoneID,
				CreatedTime:           elbv2.NewTime(s.nowUTC()),
				Scheme:                scheme,
				Type:                  typ,
				IpAddressType:         ipType,
				VpcId:                 "vpc-berth",
				SecurityGroups:        in.SecurityGroups,
			},
			Tags: in.Tags,
		}
		for _, sn := range in.Subnets {
			rec.AvailabilityZones = append(rec.AvailabilityZones, elbv2.AvailabilityZone{SubnetId: sn, ZoneName: s.region + "a"})
		}
		for _, sm := range in.SubnetMappings {
			rec.AvailabilityZones = append(rec.AvailabilityZones, elbv2.AvailabilityZone{SubnetId: sm.SubnetId, ZoneName: s.region + "a"})
		}
		ops, err := put(state.ELBLoadBalancerKey(id), rec, store.Absent)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.CreateLoadBalancerOutput{LoadBalancers: []elbv2.LoadBalancer{s.lbView(rec)}}, ops, nil
	})
}

// lbView is the wire form of a stored load balancer: its DNS name is the
// address its listeners bind, and it is always active (it has nothing to
// provision).
func (s *Service) lbView(r *state.ELBLoadBalancer) elbv2.LoadBalancer {
	v := r.LoadBalancer
	v.DNSName = s.bindFor(v.Scheme)
	v.State = &elbv2.LoadBalancerState{Code: elbv2.LoadBalancerStateEnumActive}
	if v.AvailabilityZones == nil {
		v.AvailabilityZones = []elbv2.AvailabilityZone{{ZoneName: s.region + "a", SubnetId: "subnet-berth"}}
	}
	return v
}

// DescribeLoadBalancers describes the named load balancers, or all of them.
func (s *Service) DescribeLoadBalancers(ctx context.Context, in *elbv2.DescribeLoadBalancersInput) (*elbv2.DescribeLoadBalancersOutput, error) {
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, errValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	if len(in.LoadBalancerArns) > 20 || len(in.Names) > 20 {
		return nil, errValidation("LoadBalancerArns, Names: at most 20 may be given")
	}
	for _, a := range in.LoadBalancerArns {
		if _, err := parseLBARN(a); err != nil {
			return nil, err
		}
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	var sel []rec[state.ELBLoadBalancer]
	switch {
	case len(in.LoadBalancerArns) > 0:
		if sel, err = each(in.LoadBalancerArns, w.lb); err != nil {
			return nil, err
		}
	case len(in.Names) > 0:
		for _, n := range dedupe(in.Names) {
			r, ok := w.lbByName(n)
			if !ok {
				return nil, apiErr(elbv2.ErrLoadBalancerNotFound, "Load balancers '[%s]' not found", n)
			}
			sel = append(sel, r)
		}
	default:
		sel = w.lbs
	}
	pg, next, err := pageByKey(sel, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbv2.LoadBalancer{}, NextMarker: next}
	for _, r := range pg {
		out.LoadBalancers = append(out.LoadBalancers, s.lbView(r.v))
	}
	return out, nil
}

// DeleteLoadBalancer deletes a load balancer with its listeners, rules and
// self-signed certificate. Its target groups stay. Deleting one that does
// not exist succeeds, as in ELB.
func (s *Service) DeleteLoadBalancer(ctx context.Context, in *elbv2.DeleteLoadBalancerInput) (*elbv2.DeleteLoadBalancerOutput, error) {
	id, err := parseLBARN(in.LoadBalancerArn)
	if err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.DeleteLoadBalancerOutput, []store.Op, error) {
		r, ok := w.lbByARN(in.LoadBalancerArn)
		if !ok {
			return &elbv2.DeleteLoadBalancerOutput{}, nil, nil
		}
		ops := []store.Op{store.DeleteIf(r.key, r.rev)}
		for _, l := range w.listenersOf(r.v.LoadBalancerArn) {
			ops = append(ops, store.DeleteIf(l.key, l.rev))
			for _, ru := range w.rulesOf(l.v.ListenerArn) {
				ops = append(ops, store.DeleteIf(ru.key, ru.rev))
			}
		}
		if c, ok := w.certs[id]; ok {
			ops = append(ops, store.DeleteIf(c.key, c.rev))
		}
		return &elbv2.DeleteLoadBalancerOutput{}, ops, nil
	})
}

// dedupe returns ss without repeats, in first-seen order.
func dedupe(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// sortByKey sorts records by store key (the pagination order).
func sortByKey[T any](rs []rec[T]) {
	slices.SortFunc(rs, func(a, b rec[T]) int { return strings.Compare(a.key, b.key) })
}

// pageByKey sorts records by store key and returns the page after marker.
func pageByKey[T any](rs []rec[T], marker string, pageSize *int32) ([]rec[T], string, error) {
	sortByKey(rs)
	return page(rs, func(r rec[T]) string { return r.key }, marker, pageSize)
}
