package elbv2api

import (
	"context"
	"fmt"
	"strconv"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Rules: each listener has a default rule (priority "default", its
// listener's DefaultActions, never stored apart) and up to maxRules rules
// with priorities 1-50000, unique per listener.

const defaultPriority = "default"

// CreateRule adds a rule to a listener.
func (s *Service) CreateRule(ctx context.Context, in *elbv2.CreateRuleInput) (*elbv2.CreateRuleOutput, error) {
	ref, err := parseListenerARN(in.ListenerArn)
	if err != nil {
		return nil, err
	}
	if in.Priority == nil || *in.Priority < 1 || *in.Priority > 50000 {
		return nil, errValidation("Priority: must be between 1 and 50000")
	}
	conds, err := checkConditions(in.Conditions, "Conditions")
	if err != nil {
		return nil, err
	}
	if len(in.Transforms) > 0 {
		return nil, errConfig("Transforms: berth does not rewrite requests")
	}
	if err := validateTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.CreateRuleOutput, []store.Op, error) {
		l, err := w.listener(in.ListenerArn)
		if err != nil {
			return nil, nil, err
		}
		actions, err := checkActions(w, l.v.LoadBalancerArn, in.Actions, "Actions")
		if err != nil {
			return nil, nil, err
		}
		prio := strconv.Itoa(int(*in.Priority))
		rules := w.rulesOf(in.ListenerArn)
		for _, r := range rules {
			if r.v.Priority == prio {
				return nil, nil, apiErr(elbv2.ErrPriorityInUse, "Priority '%s' is currently in use", prio)
			}
		}
		if len(rules) >= maxRules {
			return nil, nil, apiErr(elbv2.ErrTooManyRules, "A listener can have at most %d rules", maxRules)
		}
		id := newID()
		rule := &state.ELBRule{
			Rule: elbv2.Rule{
				RuleArn:    ruleARN(in.ListenerArn, id),
				Priority:   prio,
				Conditions: conds,
				Actions:    actions,
				IsDefault:  ptr(false),
			},
			ListenerArn: in.ListenerArn,
			Tags:        in.Tags,
		}
		ops, err := put(state.ELBRuleKey(ref.lb, ref.listener, id), rule, store.Absent)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.CreateRuleOutput{Rules: []elbv2.Rule{rule.Rule}}, ops, nil
	})
}

// defaultRule is the wire form of a listener's default rule.
func defaultRule(l *state.ELBListener) elbv2.Rule {
	return elbv2.Rule{
		RuleArn:    l.DefaultRuleArn,
		Priority:   defaultPriority,
		IsDefault:  ptr(true),
		Conditions: []elbv2.RuleCondition{},
		Actions:    l.DefaultActions,
	}
}

// findRule resolves a rule ARN to a stored rule or a listener's default
// rule (then rule is nil).
func findRule(w *world, arn string) (rule *rec[state.ELBRule], dflt *rec[state.ELBListener], err error) {
	if _, err := parseRuleARN(arn); err != nil {
		return nil, nil, err
	}
	if r, ok := w.ruleByARN(arn); ok {
		return &r, nil, nil
	}
	for _, l := range w.listeners {
		if l.v.DefaultRuleArn == arn {
			return nil, &l, nil
		}
	}
	return nil, nil, errRuleNotFound()
}

// DescribeRules describes a listener's rules (its default rule last), or
// the named ones.
func (s *Service) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput) (*elbv2.DescribeRulesOutput, error) {
	if (in.ListenerArn == "") == (len(in.RuleArns) == 0) {
		return nil, errValidation("ListenerArn, RuleArns: give a listener ARN or rule ARNs (one of them)")
	}
	if in.ListenerArn != "" {
		if _, err := parseListenerARN(in.ListenerArn); err != nil {
			return nil, err
		}
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	type keyed struct {
		key  string
		rule elbv2.Rule
	}
	var sel []keyed
	if in.ListenerArn != "" {
		l, err := w.listener(in.ListenerArn)
		if err != nil {
			return nil, err
		}
		rs := w.rulesOf(in.ListenerArn)
		for _, r := range rs {
			sel = append(sel, keyed{rule: r.v.Rule})
		}
		sortRules(sel, func(k keyed) string { return k.rule.Priority })
		sel = append(sel, keyed{rule: defaultRule(l.v)})
	} else {
		for _, a := range dedupe(in.RuleArns) {
			r, l, err := findRule(w, a)
			if err != nil {
				return nil, err
			}
			if r != nil {
				sel = append(sel, keyed{rule: r.v.Rule})
			} else {
				sel = append(sel, keyed{rule: defaultRule(l.v)})
			}
		}
	}
	// Page in the order shown: the key is the position.
	for i := range sel {
		sel[i].key = fmt.Sprintf("%06d", i)
	}
	pg, next, err := page(sel, func(k keyed) string { return k.key }, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &elbv2.DescribeRulesOutput{Rules: []elbv2.Rule{}, NextMarker: next}
	for _, k := range pg {
		out.Rules = append(out.Rules, k.rule)
	}
	return out, nil
}

// sortRules orders rules by numeric priority.
func sortRules[T any](rs []T, prio func(T) string) {
	n := func(t T) int { p, _ := strconv.Atoi(prio(t)); return p }
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && n(rs[j]) < n(rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// ModifyRule replaces a rule's conditions and/or actions. The default
// rule's actions (its listener's default actions) may change, its
// conditions may not.
func (s *Service) ModifyRule(ctx context.Context, in *elbv2.ModifyRuleInput) (*elbv2.ModifyRuleOutput, error) {
	if _, err := parseRuleARN(in.RuleArn); err != nil {
		return nil, err
	}
	if len(in.Transforms) > 0 {
		return nil, errConfig("Transforms: berth does not rewrite requests")
	}
	var conds []elbv2.RuleCondition
	if in.Conditions != nil {
		var err error
		if conds, err = checkConditions(in.Conditions, "Conditions"); err != nil {
			return nil, err
		}
	}
	return update(ctx, s, func(w *world) (*elbv2.ModifyRuleOutput, []store.Op, error) {
		r, l, err := findRule(w, in.RuleArn)
		if err != nil {
			return nil, nil, err
		}
		if l != nil {
			if in.Conditions != nil {
				return nil, nil, apiErr(elbv2.ErrOperationNotPermitted, "The conditions of a default rule cannot be modified")
			}
			next := *l.v
			if in.Actions != nil {
				if next.DefaultActions, err = checkActions(w, next.LoadBalancerArn, in.Actions, "Actions"); err != nil {
					return nil, nil, err
				}
			}
			ops, err := put(l.key, &next, l.rev)
			if err != nil {
				return nil, nil, err
			}
			return &elbv2.ModifyRuleOutput{Rules: []elbv2.Rule{defaultRule(&next)}}, ops, nil
		}
		next := *r.v
		if conds != nil {
			next.Conditions = conds
		}
		if in.Actions != nil {
			lr, ok := w.listenerByARN(next.ListenerArn)
			if !ok {
				return nil, nil, errRuleNotFound()
			}
			if next.Actions, err = checkActions(w, lr.v.LoadBalancerArn, in.Actions, "Actions"); err != nil {
				return nil, nil, err
			}
		}
		ops, err := put(r.key, &next, r.rev)
		if err != nil {
			return nil, nil, err
		}
		return &elbv2.ModifyRuleOutput{Rules: []elbv2.Rule{next.Rule}}, ops, nil
	})
}

// DeleteRule deletes a rule; the default rule cannot be deleted.
func (s *Service) DeleteRule(ctx context.Context, in *elbv2.DeleteRuleInput) (*elbv2.DeleteRuleOutput, error) {
	if _, err := parseRuleARN(in.RuleArn); err != nil {
		return nil, err
	}
	return update(ctx, s, func(w *world) (*elbv2.DeleteRuleOutput, []store.Op, error) {
		r, l, err := findRule(w, in.RuleArn)
		if err != nil {
			return nil, nil, err
		}
		if l != nil {
			return nil, nil, apiErr(elbv2.ErrOperationNotPermitted, "A default rule cannot be deleted")
		}
		return &elbv2.DeleteRuleOutput{}, []store.Op{store.DeleteIf(r.key, r.rev)}, nil
	})
}

// SetRulePriorities changes the priorities of rules of one listener at
// once, so priorities can be swapped.
func (s *Service) SetRulePriorities(ctx context.Context, in *elbv2.SetRulePrioritiesInput) (*elbv2.SetRulePrioritiesOutput, error) {
	if len(in.RulePriorities) == 0 {
		return nil, errValidation("RulePriorities: at least one rule must be given")
	}
	for i, p := range in.RulePriorities {
		if _, err := parseRuleARN(p.RuleArn); err != nil {
			return nil, err
		}
		if p.Priority == nil || *p.Priority < 1 || *p.Priority > 50000 {
			return nil, errValidation("RulePriorities.member.%d.Priority: must be between 1 and 50000", i+1)
		}
	}
	return update(ctx, s, func(w *world) (*elbv2.SetRulePrioritiesOutput, []store.Op, error) {
		changed := map[string]*state.ELBRule{} // by rule ARN
		var recs []rec[state.ELBRule]
		for _, p := range in.RulePriorities {
			r, l, err := findRule(w, p.RuleArn)
			if err != nil {
				return nil, nil, err
			}
			if l != nil {
				return nil, nil, apiErr(elbv2.ErrOperationNotPermitted, "The priority of a default rule cannot be changed")
			}
			if changed[p.RuleArn] != nil {
				return nil, nil, errValidation("RulePriorities: rule '%s' is given twice", p.RuleArn)
			}
			next := *r.v
			next.Priority = strconv.Itoa(int(*p.Priority))
			changed[p.RuleArn] = &next
			recs = append(recs, *r)
		}
		// Every listener touched must end with unique priorities.
		for _, r := range recs {
			seen := map[string]bool{}
			for _, other := range w.rulesOf(r.v.ListenerArn) {
				v := other.v
				if c := changed[v.RuleArn]; c != nil {
					v = c
				}
				if seen[v.Priority] {
					return nil, nil, apiErr(elbv2.ErrPriorityInUse, "Priority '%s' is currently in use", v.Priority)
				}
				seen[v.Priority] = true
			}
		}
		ops := make([]store.Op, 0, len(recs))
		out := &elbv2.SetRulePrioritiesOutput{}
		for _, r := range recs {
			next := changed[r.v.RuleArn]
			op, err := put(r.key, next, r.rev)
			if err != nil {
				return nil, nil, err
			}
			ops = append(ops, op...)
			out.Rules = append(out.Rules, next.Rule)
		}
		return out, ops, nil
	})
}
