package elbv2api

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// CreateListener adds an HTTP or HTTPS listener to a load balancer. Its
// port must be free among berth's listeners and bindable on the load
// balancer's address. As in ELB, creating the same listener again returns
// it.
func (s *Service) CreateListener(ctx context.Context, in *elbv2.CreateListenerInput) (*elbv2.CreateListenerOutput, error) {
	lbID, err := parseLBARN(in.LoadBalancerArn)
	if err != nil {
		return nil, err
	}
	if in.Port == nil {
		return nil, errValidation("Port: a listener port must be specified")
	}
	if err := checkPort(*in.Port, "port"); err != nil {
		return nil, err
	}
	proto := in.Protocol
	if proto == "" {
		proto = elbv2.ProtocolEnumHTTP
	}
	if err := validateTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.CreateListenerOutput, []store.Op, error) {
		lbr, err := w.lb(in.LoadBalancerArn)
		if err != nil {
			return nil, nil, err
		}
		l := &state.ELBListener{Listener: elbv2.Listener{
			LoadBalancerArn: in.LoadBalancerArn,
			Port:            in.Port,
			Protocol:        proto,
			Certificates:    in.Certificates,
			SslPolicy:       in.SslPolicy,
			AlpnPolicy:      in.AlpnPolicy,
		}}
		if in.MutualAuthentication != nil && in.MutualAuthentication.Mode != "" && in.MutualAuthentication.Mode != "off" {
			return nil, nil, errConfig("MutualAuthentication.Mode: berth does not support mutual TLS")
		}
		needSelfSigned, err := checkListener(l)
		if err != nil {
			return nil, nil, err
		}
		if l.DefaultActions, err = checkActions(w, in.LoadBalancerArn, in.DefaultActions, "DefaultActions"); err != nil {
			return nil, nil, err
		}
		for _, old := range w.listenersOf(in.LoadBalancerArn) {
			if *old.v.Port != *in.Port {
				continue
			}
			if old.v.Protocol == l.Protocol && reflect.DeepEqual(old.v.DefaultActions, l.DefaultActions) && reflect.DeepEqual(old.v.Certificates, l.Certificates) && old.v.SslPolicy == l.SslPolicy {
				return &elbv2.CreateListenerOutput{Listeners: []elbv2.Listener{old.v.Listener}}, nil, nil
			}
			return nil, nil, apiErr(elbv2.ErrDuplicateListener, "A listener already exists on port %d of this load balancer", *in.Port)
		}
		if len(w.listenersOf(in.LoadBalancerArn)) >= maxListeners {
			return nil, nil, apiErr(elbv2.ErrTooManyListeners, "A load balancer can have at most %d listeners", maxListeners)
		}
		if err := s.checkPortFree(w, lbr.v, *in.Port, ""); err != nil {
			return nil, nil, err
		}
		id := newID()
		l.ListenerArn = listenerARN(in.LoadBalancerArn, id)
		l.DefaultRuleArn = ruleARN(l.ListenerArn, newID())
		l.Tags = in.Tags
		ops, err := put(state.ELBListenerKey(lbID, id), l, store.Absent)
		if err != nil {
			return nil, nil, err
		}
		if ops, err = s.withSelfSigned(ops, w, lbID, lbr.v, needSelfSigned); err != nil {
			return nil, nil, err
		}
		return &elbv2.CreateListenerOutput{Listeners: []elbv2.Listener{l.Listener}}, ops, nil
	})
}

// checkListener validates a listener's protocol and TLS members in place,
// and reports whether it needs the load balancer's self-signed certificate.
func checkListener(l *state.ELBListener) (selfSigned bool, err error) {
	if len(l.AlpnPolicy) > 0 {
		return false, errConfig("AlpnPolicy: ALPN policies apply to TLS listeners, which berth does not serve")
	}
	switch l.Protocol {
	case elbv2.ProtocolEnumHTTP:
		if len(l.Certificates) > 0 || l.SslPolicy != "" {
			return false, errValidation("Certificates, SslPolicy: not allowed with protocol HTTP")
		}
		return false, nil
	case elbv2.ProtocolEnumHTTPS:
		certs, self, err := checkCertificates(l.Certificates, "Certificates")
		if err != nil {
			return false, err
		}
		l.Certificates = certs
		if l.SslPolicy == "" {
			l.SslPolicy = defaultSSLPolicy
		}
		if !strings.HasPrefix(l.SslPolicy, "ELBSecurityPolicy-") {
			return false, apiErr(elbv2.ErrSSLPolicyNotFound, "SslPolicy: '%s' not found (berth accepts the ELBSecurityPolicy-* names and serves TLS 1.2+ with Go's defaults)", clip(l.SslPolicy))
		}
		return self, nil
	}
	if elbv2.ValidProtocolEnum(l.Protocol) {
		return false, apiErr(elbv2.ErrUnsupportedProtocol, "Protocol: application load balancer listeners are HTTP or HTTPS, not %s", l.Protocol)
	}
	return false, errValidation("Protocol: '%s' is not a valid protocol", clip(l.Protocol))
}

// withSelfSigned appends to ops the op storing a new self-signed
// certificate for the load balancer, when a listener needs one and none is
// stored yet.
func (s *Service) withSelfSigned(ops []store.Op, w *world, lbID string, lb *state.ELBLoadBalancer, need bool) ([]store.Op, error) {
	if _, stored := w.certs[lbID]; !need || stored {
		return ops, nil
	}
	c, err := newSelfSigned(s.bindFor(lb.Scheme), s.now())
	if err != nil {
		return nil, errServer(err)
	}
	cert, err := put(state.ELBCertKey(lbID), c, store.Absent)
	if err != nil {
		return nil, err
	}
	return append(ops, cert...), nil
}

// checkPortFree refuses a port another berth listener uses (self excepted)
// and one the load balancer's address cannot bind.
func (s *Service) checkPortFree(w *world, lb *state.ELBLoadBalancer, port int32, self string) error {
	for _, l := range w.listeners {
		if l.v.ListenerArn != self && *l.v.Port == port {
			return apiErr(elbv2.ErrDuplicateListener, "Port %d is already used by listener %s", port, l.v.ListenerArn)
		}
	}
	addr := net.JoinHostPort(s.bindFor(lb.Scheme), strconv.Itoa(int(port)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errConfig("Port %d: berth cannot listen on %s: %v", port, addr, err)
	}
	_ = ln.Close()
	return nil
}

// DescribeListeners describes the listeners of a load balancer, or the
// named ones.
func (s *Service) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput) (*elbv2.DescribeListenersOutput, error) {
	if (in.LoadBalancerArn == "") == (len(in.ListenerArns) == 0) {
		return nil, errValidation("LoadBalancerArn, ListenerArns: give a load balancer ARN or listener ARNs (one of them)")
	}
	if in.LoadBalancerArn != "" {
		if _, err := parseLBARN(in.LoadBalancerArn); err != nil {
			return nil, err
		}
	}
	for _, a := range in.ListenerArns {
		if _, err := parseListenerARN(a); err != nil {
			return nil, err
		}
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	var sel []rec[state.ELBListener]
	if in.LoadBalancerArn != "" {
		if _, err := w.lb(in.LoadBalancerArn); err != nil {
			return nil, err
		}
		sel = w.listenersOf(in.LoadBalancerArn)
	} else if sel, err = each(in.ListenerArns, w.listener); err != nil {
		return nil, err
	}
	pg, next, err := pageByKey(sel, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &elbv2.DescribeListenersOutput{Listeners: []elbv2.Listener{}, NextMarker: next}
	for _, r := range pg {
		out.Listeners = append(out.Listeners, r.v.Listener)
	}
	return out, nil
}

// ModifyListener changes a listener's port, protocol, certificate, policy
// or default actions.
func (s *Service) ModifyListener(ctx context.Context, in *elbv2.ModifyListenerInput) (*elbv2.ModifyListenerOutput, error) {
	ref, err := parseListenerARN(in.ListenerArn)
	if err != nil {
		return nil, err
	}
	if in.Port != nil {
		if err := checkPort(*in.Port, "port"); err != nil {
			return nil, err
		}
	}
	if in.MutualAuthentication != nil && in.MutualAuthentication.Mode != "" && in.MutualAuthentication.Mode != "off" {
		return nil, errConfig("MutualAuthentication.Mode: berth does not support mutual TLS")
	}
	return update(ctx, s, func(w *world) (*elbv2.ModifyListenerOutput, []store.Op, error) {
		r, err := w.listener(in.ListenerArn)
		if err != nil {
			return nil, nil, err
		}
		lbr, ok := w.lbByARN(r.v.LoadBalancerArn)
		if !ok {
			return nil, nil, errListenerNotFound()
		}
		next := *r.v
		if in.Port != nil {
			next.Port = in.Port
		}
		if in.Protocol != "" && in.Protocol != next.Protocol {
			next.Protocol = in.Protocol
			if in.Protocol == elbv2.ProtocolEnumHTTP {
				next.Certificates, next.SslPolicy = nil, ""
			}
		}
		if in.Certificates != nil {
			next.Certificates = in.Certificates
		}
		if in.SslPolicy != "" {
			next.SslPolicy = in.SslPolicy
		}
		if in.AlpnPolicy != nil {
			next.AlpnPolicy = in.AlpnPolicy
		}
		needSelfSigned, err := checkListener(&next)
		if err != nil {
			return nil, nil, err
		}
		if in.DefaultActions != nil {
			if next.DefaultActions, err = checkActions(w, next.LoadBalancerArn, in.DefaultActions, "DefaultActions"); err != nil {
				return nil, nil, err
			}
		}
		if *next.Port != *r.v.Port {
			if err := s.checkPortFree(w, lbr.v, *next.Port, next.ListenerArn); err != nil {
				return nil, nil, err
			}
		}
		ops, err := put(r.key, &next, r.rev)
		if err != nil {
			return nil, nil, err
		}
		if ops, err = s.withSelfSigned(ops, w, ref.lb, lbr.v, needSelfSigned); err != nil {
			return nil, nil, err
		}
		return &elbv2.ModifyListenerOutput{Listeners: []elbv2.Listener{next.Listener}}, ops, nil
	})
}

// DeleteListener deletes a listener and its rules.
func (s *Service) DeleteListener(ctx context.Context, in *elbv2.DeleteListenerInput) (*elbv2.DeleteListenerOutput, error) {
	if _, err := parseListenerARN(in.ListenerArn); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.DeleteListenerOutput, []store.Op, error) {
		r, err := w.listener(in.ListenerArn)
		if err != nil {
			return nil, nil, err
		}
		ops := []store.Op{store.DeleteIf(r.key, r.rev)}
		for _, ru := range w.rulesOf(r.v.ListenerArn) {
			ops = append(ops, store.DeleteIf(ru.key, ru.rev))
		}
		return &elbv2.DeleteListenerOutput{}, ops, nil
	})
}
