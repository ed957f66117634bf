package elbv2api

import (
	"fmt"
	"regexp"
	"strings"
)

// ARNs follow ELB's forms:
//
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/LBID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/TGID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LBNAME/LBID/LID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LBNAME/LBID/LID/RID
//
// IDs are 16 hex digits; they key the records (see internal/state).

const arnService = "elasticloadbalancing"

var idRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (s *Service) arn(resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", arnService, s.region, s.account, resource)
}

func (s *Service) lbARN(name, id string) string { return s.arn("loadbalancer/app/" + name + "/" + id) }
func (s *Service) tgARN(name, id string) string { return s.arn("targetgroup/" + name + "/" + id) }

// listenerARN derives a listener's ARN from its load balancer's.
func listenerARN(lbARN, id string) string {
	return strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + id
}

// ruleARN derives a rule's ARN from its listener's.
func ruleARN(listenerARN, id string) string {
	return strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/" + id
}

// arnRef is an ELB ARN's resource IDs.
type arnRef struct {
	lb, tg, listener, rule string
}

// parseARN splits an ELB ARN of the given type ("loadbalancer",
// "targetgroup", "listener", "listener-rule"). ok is false for anything
// else, including another type.
func parseARN(s, typ string) (arnRef, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != arnService {
		return arnRef{}, false
	}
	t, rest, _ := strings.Cut(parts[5], "/")
	if t != typ {
		return arnRef{}, false
	}
	p := strings.Split(rest, "/")
	ids := func(ns ...int) bool {
		for _, n := range ns {
			if !idRE.MatchString(p[n]) {
				return false
			}
		}
		return true
	}
	switch {
	case typ == "targetgroup" && len(p) == 2 && ids(1):
		return arnRef{tg: p[1]}, true
	case typ == "loadbalancer" && len(p) == 3 && p[0] == "app" && ids(2):
		return arnRef{lb: p[2]}, true
	case typ == "listener" && len(p) == 4 && p[0] == "app" && ids(2, 3):
		return arnRef{lb: p[2], listener: p[3]}, true
	case typ == "listener-rule" && len(p) == 5 && p[0] == "app" && ids(2, 3, 4):
		return arnRef{lb: p[2], listener: p[3], rule: p[4]}, true
	}
	return arnRef{}, false
}

// resourceType returns the type part of an ELB ARN, or "".
func resourceType(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != arnService {
		return ""
	}
	t, _, _ := strings.Cut(parts[5], "/")
	return t
}

func parseLBARN(s string) (string, error) {
	r, ok := parseARN(s, "loadbalancer")
	if !ok {
		return "", errValidation("'%s' is not a valid load balancer ARN", clip(s))
	}
	return r.lb, nil
}

func parseTGARN(s string) (string, error) {
	r, ok := parseARN(s, "targetgroup")
	if !ok {
		return "", errValidation("'%s' is not a valid target group ARN", clip(s))
	}
	return r.tg, nil
}

func parseListenerARN(s string) (arnRef, error) {
	r, ok := parseARN(s, "listener")
	if !ok {
		return arnRef{}, errValidation("'%s' is not a valid listener ARN", clip(s))
	}
	return r, nil
}

func parseRuleARN(s string) (arnRef, error) {
	r, ok := parseARN(s, "listener-rule")
	if !ok {
		return arnRef{}, errValidation("'%s' is not a valid listener rule ARN", clip(s))
	}
	return r, nil
}

// clip shortens a caller's value for an error message.
func clip(s string) string {
	if len(s) > 128 {
		return s[:125] + "..."
	}
	return s
}

// nameRE is ELB's rule for load balancer and target group names: up to 32
// letters, digits and hyphens, not starting or ending with a hyphen.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)
