package elbv2api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// rec is a decoded record with its key and the revision it was read at.
type rec[T any] struct {
	key string
	v   *T
	rev int64
}

// world is every ELBv2 record, read in one List (one store revision). The
// API keeps few of them (tens of load balancers, hundreds of rules), so
// each operation reads them all and decides over a consistent view.
type world struct {
	lbs       []rec[state.ELBLoadBalancer]
	tgs       []rec[state.ELBTargetGroup]
	listeners []rec[state.ELBListener]
	rules     []rec[state.ELBRule]
	certs     map[string]rec[state.ELBCertificate] // by load balancer ID
}

func decode[T any](kv store.KV) (rec[T], error) {
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return rec[T]{}, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	return rec[T]{key: kv.Key, v: v, rev: kv.ModRevision}, nil
}

// read lists and decodes every record under elbv2/.
func (s *Service) read(ctx context.Context) (*world, error) {
	kvs, _, err := s.st.List(ctx, state.ELBv2Prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", state.ELBv2Prefix, err)
	}
	w := &world{certs: map[string]rec[state.ELBCertificate]{}}
	for _, kv := range kvs {
		var err error
		switch {
		case strings.HasPrefix(kv.Key, state.ELBLoadBalancersPrefix):
			var r rec[state.ELBLoadBalancer]
			if r, err = decode[state.ELBLoadBalancer](kv); err == nil {
				w.lbs = append(w.lbs, r)
			}
		case strings.HasPrefix(kv.Key, state.ELBTargetGroupsPrefix):
			var r rec[state.ELBTargetGroup]
			if r, err = decode[state.ELBTargetGroup](kv); err == nil {
				w.tgs = append(w.tgs, r)
			}
		case strings.HasPrefix(kv.Key, state.ELBListenersPrefix):
			var r rec[state.ELBListener]
			if r, err = decode[state.ELBListener](kv); err == nil {
				w.listeners = append(w.listeners, r)
			}
		case strings.HasPrefix(kv.Key, state.ELBRulesPrefix):
			var r rec[state.ELBRule]
			if r, err = decode[state.ELBRule](kv); err == nil {
				w.rules = append(w.rules, r)
			}
		case strings.HasPrefix(kv.Key, state.ELBCertsPrefix):
			var r rec[state.ELBCertificate]
			if r, err = decode[state.ELBCertificate](kv); err == nil {
				w.certs[strings.TrimPrefix(kv.Key, state.ELBCertsPrefix)] = r
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// find returns the first record whose value matches.
func find[T any](rs []rec[T], match func(*T) bool) (rec[T], bool) {
	for _, r := range rs {
		if match(r.v) {
			return r, true
		}
	}
	return rec[T]{}, false
}

func (w *world) lbByARN(arn string) (rec[state.ELBLoadBalancer], bool) {
	return find(w.lbs, func(v *state.ELBLoadBalancer) bool { return v.LoadBalancerArn == arn })
}

func (w *world) lbByName(name string) (rec[state.ELBLoadBalancer], bool) {
	return find(w.lbs, func(v *state.ELBLoadBalancer) bool { return v.LoadBalancerName == name })
}

func (w *world) tgByARN(arn string) (rec[state.ELBTargetGroup], bool) {
	return find(w.tgs, func(v *state.ELBTargetGroup) bool { return v.TargetGroupArn == arn })
}

func (w *world) tgByName(name string) (rec[state.ELBTargetGroup], bool) {
	return find(w.tgs, func(v *state.ELBTargetGroup) bool { return v.TargetGroupName == name })
}

func (w *world) listenerByARN(arn string) (rec[state.ELBListener], bool) {
	return find(w.listeners, func(v *state.ELBListener) bool { return v.ListenerArn == arn })
}

func (w *world) ruleByARN(arn string) (rec[state.ELBRule], bool) {
	return find(w.rules, func(v *state.ELBRule) bool { return v.RuleArn == arn })
}

// lb, tg and listener look a resource up by ARN for an operation: a
// missing one is ELB's NotFound error for its type.
func (w *world) lb(arn string) (rec[state.ELBLoadBalancer], error) {
	return orNotFound(w.lbByARN, arn, errLBNotFound)
}

func (w *world) tg(arn string) (rec[state.ELBTargetGroup], error) {
	return orNotFound(w.tgByARN, arn, errTGNotFound)
}

func (w *world) listener(arn string) (rec[state.ELBListener], error) {
	return orNotFound(w.listenerByARN, arn, errListenerNotFound)
}

func orNotFound[T any](lookup func(string) (rec[T], bool), arn string, notFound func() error) (rec[T], error) {
	r, ok := lookup(arn)
	if !ok {
		return r, notFound()
	}
	return r, nil
}

// each looks up every ARN once, in first-given order; the first missing
// one is the lookup's error.
func each[T any](arns []string, lookup func(string) (rec[T], error)) ([]rec[T], error) {
	var out []rec[T]
	for _, a := range dedupe(arns) {
		r, err := lookup(a)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// listenersOf returns the listeners of a load balancer, in key order.
func (w *world) listenersOf(lbARN string) []rec[state.ELBListener] {
	var out []rec[state.ELBListener]
	for _, r := range w.listeners {
		if r.v.LoadBalancerArn == lbARN {
			out = append(out, r)
		}
	}
	return out
}

// rulesOf returns the non-default rules of a listener, in key order.
func (w *world) rulesOf(listenerARN string) []rec[state.ELBRule] {
	var out []rec[state.ELBRule]
	for _, r := range w.rules {
		if r.v.ListenerArn == listenerARN {
			out = append(out, r)
		}
	}
	return out
}

// tgLoadBalancers maps each target group ARN to the load balancers whose
// listeners or rules forward to it, in load balancer key order.
func (w *world) tgLoadBalancers() map[string][]string {
	lbOf := map[string]string{}
	for _, l := range w.listeners {
		lbOf[l.v.ListenerArn] = l.v.LoadBalancerArn
	}
	seen := map[[2]string]bool{}
	out := map[string][]string{}
	add := func(lbARN string, actions []elbv2.Action) {
		for _, a := range actions {
			for _, tg := range forwardTGs(a) {
				k := [2]string{tg, lbARN}
				if !seen[k] {
					seen[k] = true
					out[tg] = append(out[tg], lbARN)
				}
			}
		}
	}
	for _, l := range w.listeners {
		add(l.v.LoadBalancerArn, l.v.DefaultActions)
	}
	for _, r := range w.rules {
		add(lbOf[r.v.ListenerArn], r.v.Actions)
	}
	return out
}
