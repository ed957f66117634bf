package state

import "github.com/berth-io/berth/api/elbv2"

// Elastic Load Balancing v2 key layout (all under "elbv2/"). IDs are the 16
// hex digits that end each resource's ARN, so they never contain the
// separator:
//
//	elbv2/loadbalancers/<lb id>                      ELBLoadBalancer
//	elbv2/targetgroups/<tg id>                       ELBTargetGroup (with its targets)
//	elbv2/listeners/<lb id>/<listener id>            ELBListener (with its default rule)
//	elbv2/rules/<lb id>/<listener id>/<rule id>      ELBRule
//	elbv2/certs/<lb id>                              ELBCertificate (berth:self-signed)
const (
	ELBv2Prefix            = "elbv2/"
	ELBLoadBalancersPrefix = "elbv2/loadbalancers/"
	ELBTargetGroupsPrefix  = "elbv2/targetgroups/"
	ELBListenersPrefix     = "elbv2/listeners/"
	ELBRulesPrefix         = "elbv2/rules/"
	ELBCertsPrefix         = "elbv2/certs/"
)

// ELBLoadBalancerKey is the key of a load balancer.
func ELBLoadBalancerKey(lbID string) string { return ELBLoadBalancersPrefix + lbID }

// ELBTargetGroupKey is the key of a target group.
func ELBTargetGroupKey(tgID string) string { return ELBTargetGroupsPrefix + tgID }

// ELBListenerKey is the key of a listener.
func ELBListenerKey(lbID, listenerID string) string {
	return ELBListenersPrefix + lbID + "/" + listenerID
}

// ELBListenersOf lists the listeners of a load balancer.
func ELBListenersOf(lbID string) string { return ELBListenersPrefix + lbID + "/" }

// ELBRuleKey is the key of a (non-default) listener rule.
func ELBRuleKey(lbID, listenerID, ruleID string) string {
	return ELBRulesPrefix + lbID + "/" + listenerID + "/" + ruleID
}

// ELBRulesOfLoadBalancer lists the rules of every listener of a load balancer.
func ELBRulesOfLoadBalancer(lbID string) string { return ELBRulesPrefix + lbID + "/" }

// ELBRulesOf lists the rules of a listener.
func ELBRulesOf(lbID, listenerID string) string {
	return ELBRulesPrefix + lbID + "/" + listenerID + "/"
}

// ELBCertKey is the key of a load balancer's self-signed certificate.
func ELBCertKey(lbID string) string { return ELBCertsPrefix + lbID }

// ELBLoadBalancer is a stored load balancer. DNSName and the state are
// derived when it is described, not stored.
type ELBLoadBalancer struct {
	elbv2.LoadBalancer
	Tags []elbv2.Tag `json:"tags,omitzero"`
}

// ELBTarget is one registered target: an IP address and port.
type ELBTarget struct {
	ID               string `json:"id"`
	Port             int32  `json:"port"`
	AvailabilityZone string `json:"availabilityZone,omitzero"`
}

// ELBTargetGroup is a stored target group with its attributes and
// registered targets. LoadBalancerArns is derived from the listeners and
// rules that forward to it, never stored.
type ELBTargetGroup struct {
	elbv2.TargetGroup
	Attributes []elbv2.TargetGroupAttribute `json:"attributes,omitzero"`
	Targets    []ELBTarget                  `json:"targets,omitzero"`
	Tags       []elbv2.Tag                  `json:"tags,omitzero"`
}

// ELBListener is a stored listener. Its default rule is not stored apart:
// DefaultRuleArn names it and DefaultActions are its actions.
type ELBListener struct {
	elbv2.Listener
	DefaultRuleArn  string      `json:"defaultRuleArn"`
	DefaultRuleTags []elbv2.Tag `json:"defaultRuleTags,omitzero"`
	Tags            []elbv2.Tag `json:"tags,omitzero"`
}

// ELBRule is a stored non-default listener rule.
type ELBRule struct {
	elbv2.Rule
	ListenerArn string      `json:"listenerArn"`
	Tags        []elbv2.Tag `json:"tags,omitzero"`
}

// ELBCertificate is a PEM certificate chain and private key berth
// generated for a load balancer (berth:self-signed).
type ELBCertificate struct {
	CertPEM []byte `json:"certPEM"`
	KeyPEM  []byte `json:"keyPEM"`
}
