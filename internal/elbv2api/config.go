package elbv2api

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/state"
)

// Snapshot is everything BuildConfig needs: the stored records and the
// certificates of HTTPS listeners, already loaded.
type Snapshot struct {
	// BindAddress is where internet-facing load balancers listen.
	BindAddress   string
	LoadBalancers []state.ELBLoadBalancer
	TargetGroups  []state.ELBTargetGroup
	Listeners     []state.ELBListener
	Rules         []state.ELBRule
	// Certificates of HTTPS listeners, by listener ARN.
	Certificates map[string][]tls.Certificate
}

// httpsListener turns l into an HTTPS listener serving certs (the first
// is the default; the data plane picks among several by SNI).
func httpsListener(l lb.Listener, certs []tls.Certificate) lb.Listener {
	l.Protocol = lb.ProtocolHTTPS
	l.Certificates = certs
	return l
}

// BuildConfig translates the stored ELB resources into the data plane's
// config. It is pure. Target groups are named by their ARNs; every
// listener of every load balancer is included, its rules by priority.
// What cannot be served (an HTTPS listener without its certificate, a
// forward to a target group that is gone) is left out and reported in
// problems; the rest is still returned.
func BuildConfig(snap Snapshot) (cfg lb.Config, problems []error) {
	tgs := slices.Clone(snap.TargetGroups)
	slices.SortFunc(tgs, func(a, b state.ELBTargetGroup) int { return cmp.Compare(a.TargetGroupArn, b.TargetGroupArn) })
	known := map[string]bool{}
	for i := range tgs {
		cfg.TargetGroups = append(cfg.TargetGroups, convertTargetGroup(&tgs[i]))
		known[tgs[i].TargetGroupArn] = true
	}
	lbs := map[string]*state.ELBLoadBalancer{}
	for i := range snap.LoadBalancers {
		lbs[snap.LoadBalancers[i].LoadBalancerArn] = &snap.LoadBalancers[i]
	}
	rules := map[string][]state.ELBRule{}
	for _, r := range snap.Rules {
		rules[r.ListenerArn] = append(rules[r.ListenerArn], r)
	}
	bind := snap.BindAddress
	if bind == "" {
		bind = DefaultBindAddress
	}
	listeners := slices.Clone(snap.Listeners)
	slices.SortFunc(listeners, func(a, b state.ELBListener) int { return cmp.Compare(*a.Port, *b.Port) })
	for _, l := range listeners {
		owner := lbs[l.LoadBalancerArn]
		if owner == nil {
			problems = append(problems, fmt.Errorf("listener %s: its load balancer is gone", l.ListenerArn))
			continue
		}
		out := lb.Listener{BindAddress: bind, Port: int(*l.Port), Protocol: lb.ProtocolHTTP}
		if owner.Scheme == elbv2.LoadBalancerSchemeEnumInternal {
			out.BindAddress = DefaultBindAddress
		}
		var err error
		out.DefaultAction, err = convertActions(l.DefaultActions, known)
		if err != nil {
			problems = append(problems, fmt.Errorf("listener %s default action: %w", l.ListenerArn, err))
		}
		rs := rules[l.ListenerArn]
		sortRules(rs, func(r state.ELBRule) string { return r.Priority })
		for _, r := range rs {
			prio, perr := strconv.Atoi(r.Priority)
			if perr != nil {
				problems = append(problems, fmt.Errorf("rule %s: priority %q", r.RuleArn, r.Priority))
				continue
			}
			lr := lb.Rule{Priority: prio}
			for _, c := range r.Conditions {
				switch c.Field {
				case "host-header":
					lr.Hosts = append(lr.Hosts, c.Values...)
				case "path-pattern":
					lr.Paths = append(lr.Paths, c.Values...)
				}
			}
			if lr.Action, err = convertActions(r.Actions, known); err != nil {
				problems = append(problems, fmt.Errorf("rule %s: %w", r.RuleArn, err))
			}
			out.Rules = append(out.Rules, lr)
		}
		if l.Protocol == elbv2.ProtocolEnumHTTPS {
			certs := snap.Certificates[l.ListenerArn]
			if len(certs) == 0 {
				problems = append(problems, fmt.Errorf("listener %s: no certificate loaded; left out", l.ListenerArn))
				continue
			}
			out = httpsListener(out, certs)
		}
		cfg.Listeners = append(cfg.Listeners, out)
	}
	return cfg, problems
}

// convertActions converts a stored action list (one forward or
// fixed-response action). Forwards to unknown target groups are dropped
// and reported; with none left the listener answers 503.
func convertActions(actions []elbv2.Action, known map[string]bool) (lb.Action, error) {
	var out lb.Action
	var errs []error
	for _, a := range actions {
		switch a.Type {
		case elbv2.ActionTypeEnumForward:
			tuples := []elbv2.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: ptr(int32(1))}}
			if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
				tuples = a.ForwardConfig.TargetGroups
			}
			for _, t := range tuples {
				if !known[t.TargetGroupArn] {
					errs = append(errs, fmt.Errorf("target group %s is gone", t.TargetGroupArn))
					continue
				}
				w := 1
				if t.Weight != nil {
					w = int(*t.Weight)
				}
				out.Forward = append(out.Forward, lb.WeightedTargetGroup{TargetGroup: t.TargetGroupArn, Weight: w})
			}
		case elbv2.ActionTypeEnumFixedResponse:
			if f := a.FixedResponseConfig; f != nil {
				code, _ := strconv.Atoi(f.StatusCode)
				out.Fixed = &lb.FixedResponse{StatusCode: code, ContentType: f.ContentType, Body: f.MessageBody}
			}
		}
	}
	return out, errors.Join(errs...)
}

// convertTargetGroup converts a target group with its attributes. HTTPS
// health checks run as plain HTTP (the data plane does not speak TLS to
// targets); so does forwarding to an HTTPS target group.
func convertTargetGroup(tg *state.ELBTargetGroup) lb.TargetGroup {
	out := lb.TargetGroup{Name: tg.TargetGroupArn, Algorithm: lb.Algorithm(attrValue(tg.Attributes, attrAlgorithm))}
	for _, t := range tg.Targets {
		out.Targets = append(out.Targets, net.JoinHostPort(t.ID, strconv.Itoa(int(t.Port))))
	}
	if d, err := strconv.Atoi(attrValue(tg.Attributes, attrDeregistrationDelay)); err == nil {
		out.DeregistrationDelay = time.Duration(d) * time.Second
		if d == 0 {
			out.DeregistrationDelay = -1 // lb: negative means none; zero means its default
		}
	}
	if d, err := strconv.Atoi(attrValue(tg.Attributes, attrSlowStart)); err == nil {
		out.SlowStart = time.Duration(d) * time.Second
	}
	hc := &out.HealthCheck
	hc.Protocol = lb.ProtocolHTTP
	if tg.HealthCheckProtocol == elbv2.ProtocolEnumTCP {
		hc.Protocol = lb.ProtocolTCP
	}
	hc.Path = tg.HealthCheckPath
	hc.Port = tg.HealthCheckPort
	if tg.Matcher != nil {
		hc.Matcher = tg.Matcher.HttpCode
	}
	sec := func(p *int32, def int32) time.Duration {
		if p == nil {
			return time.Duration(def) * time.Second
		}
		return time.Duration(*p) * time.Second
	}
	n := func(p *int32, def int32) int {
		if p == nil {
			return int(def)
		}
		return int(*p)
	}
	hc.Interval = sec(tg.HealthCheckIntervalSeconds, DefaultHealthCheckIntervalSeconds)
	hc.Timeout = sec(tg.HealthCheckTimeoutSeconds, DefaultHealthCheckTimeoutSeconds)
	hc.HealthyThreshold = n(tg.HealthyThresholdCount, DefaultHealthyThresholdCount)
	hc.UnhealthyThreshold = n(tg.UnhealthyThresholdCount, DefaultUnhealthyThresholdCount)
	if hc.Protocol == lb.ProtocolHTTP {
		if hc.Path == "" {
			hc.Path = DefaultHealthCheckPath
		}
		if hc.Matcher == "" {
			hc.Matcher = DefaultMatcher
		}
	} else {
		hc.Path, hc.Matcher = "", ""
	}
	if hc.Port == "" {
		hc.Port = lb.TrafficPort
	}
	return out
}

// snapshot reads the store and loads HTTPS listeners' certificates; a
// certificate that cannot be loaded is reported, and its listener left
// out by BuildConfig.
func (s *Service) snapshot(ctx context.Context) (Snapshot, []error, error) {
	w, err := s.read(ctx)
	if err != nil {
		return Snapshot{}, nil, err
	}
	snap := Snapshot{BindAddress: s.bind, Certificates: map[string][]tls.Certificate{}}
	for _, r := range w.lbs {
		snap.LoadBalancers = append(snap.LoadBalancers, *r.v)
	}
	for _, r := range w.tgs {
		snap.TargetGroups = append(snap.TargetGroups, *r.v)
	}
	for _, r := range w.rules {
		snap.Rules = append(snap.Rules, *r.v)
	}
	var problems []error
	for _, r := range w.listeners {
		snap.Listeners = append(snap.Listeners, *r.v)
		if r.v.Protocol == elbv2.ProtocolEnumHTTPS {
			certs, err := resolveCertificates(w, r.v)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			snap.Certificates[r.v.ListenerArn] = certs
		}
	}
	return snap, problems, nil
}

// DataPlaneConfig reads the store and returns the data plane's config.
// Problems with single listeners or actions (see BuildConfig) are logged,
// not returned.
func (s *Service) DataPlaneConfig(ctx context.Context) (lb.Config, error) {
	snap, problems, err := s.snapshot(ctx)
	if err != nil {
		return lb.Config{}, err
	}
	cfg, more := BuildConfig(snap)
	for _, p := range append(problems, more...) {
		s.log.Warn("load balancer config", "problem", p)
	}
	return cfg, nil
}
