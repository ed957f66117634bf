package lb

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Protocol names a listener or health-check protocol.
type Protocol string

// Protocols.
const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS" // listeners only
	ProtocolTCP   Protocol = "TCP"   // health checks only
)

// Algorithm is a target group's load-balancing algorithm.
type Algorithm string

// Algorithms, named as ELBv2 names them.
const (
	RoundRobin               Algorithm = "round_robin"
	LeastOutstandingRequests Algorithm = "least_outstanding_requests"
)

// TrafficPort makes health checks use each target's own port.
const TrafficPort = "traffic-port"

// Config is the whole desired state of the load balancer. Apply replaces the
// previous Config with it.
type Config struct {
	// Listeners accept client connections and route them by their rules.
	Listeners []Listener
	// TargetGroups are referenced by name from listener actions.
	TargetGroups []TargetGroup
}

// Listener is one bound address.
type Listener struct {
	// BindAddress is the IP to listen on; default 127.0.0.1.
	BindAddress string
	// Port to listen on, 1–65535. Port 0 is refused: a listener is identified
	// by BindAddress:Port, and keeps its socket across Apply calls.
	Port int
	// Protocol is HTTP (the default) or HTTPS. Changing it across Apply
	// keeps the socket; connections accepted from then on use the new one.
	Protocol Protocol
	// Certificates are an HTTPS listener's certificates (and private keys):
	// the first is the default, and a client's SNI server name picks among
	// them by their DNS names (exact, then "*.domain" wildcards). Replacing
	// them across Apply keeps the listener; new handshakes use the new ones.
	// Required for HTTPS, refused for HTTP. Print as [redacted].
	Certificates []tls.Certificate
	// Rules are evaluated lowest Priority first; the first match wins.
	Rules []Rule
	// DefaultAction applies when no rule matches.
	DefaultAction Action
}

// String prints l with its certificates redacted.
func (l Listener) String() string {
	type plain Listener // without the String method
	p := plain(l)
	p.Certificates = nil
	return fmt.Sprintf("%+v (Certificates: [redacted] x%d)", p, len(l.Certificates))
}

// Addr is the listener's host:port, which identifies it across Apply calls.
func (l Listener) Addr() string {
	return net.JoinHostPort(l.BindAddress, strconv.Itoa(l.Port))
}

// Rule matches requests and says what to do with them.
type Rule struct {
	// Priority orders rules within a listener, lowest first; unique per listener.
	Priority int
	// Hosts are host-header patterns (case-insensitive, * matches any run of
	// characters, ? one). Empty means any host; otherwise any one must match.
	Hosts []string
	// Paths are URL path patterns (case-sensitive, * and ?). Empty means any
	// path; otherwise any one must match.
	Paths []string
	// Action is taken when both Hosts and Paths match.
	Action Action
}

// Action forwards to weighted target groups or answers with a fixed response.
// With neither set the listener answers 503.
type Action struct {
	// Forward splits requests across target groups by weight.
	Forward []WeightedTargetGroup
	// Fixed answers directly without contacting any target.
	Fixed *FixedResponse
}

// WeightedTargetGroup is one leg of a forward action.
type WeightedTargetGroup struct {
	// TargetGroup is a TargetGroup.Name.
	TargetGroup string
	// Weight is 0–999; a group gets Weight/sum of the requests. If every
	// weight is 0 the groups share equally.
	Weight int
}

// FixedResponse is a canned answer.
type FixedResponse struct {
	StatusCode  int
	ContentType string
	Body        string
}

// TargetGroup is a set of targets with a shared health check.
type TargetGroup struct {
	// Name identifies the group; targets keep their health state across Apply
	// calls while the group and target stay.
	Name string
	// Targets are ip:port addresses.
	Targets []string
	// Algorithm is round_robin (default) or least_outstanding_requests.
	Algorithm Algorithm
	// HealthCheck decides which targets receive traffic.
	HealthCheck HealthCheck
	// DeregistrationDelay is how long at most a removed target keeps
	// serving its in-flight requests (it gets no new ones); after it they are
	// cancelled. The target is forgotten as soon as none is left, at once if
	// it had none. Default 5 s (ELB's is 300 s). Negative means 0.
	DeregistrationDelay time.Duration
	// SlowStart, when positive, ramps a newly healthy target's share of
	// requests linearly from 0 to full over this long (only when the group
	// has other healthy targets). Round robin only, as in ELB. Default off.
	SlowStart time.Duration
}

// HealthCheck configures active health checking. Zero fields take berth's
// fast defaults; every field is honoured when set.
type HealthCheck struct {
	// Protocol is HTTP (default) or TCP.
	Protocol Protocol
	// Path for HTTP checks; default "/".
	Path string
	// Port is "traffic-port" (default) or a port number.
	Port string
	// Interval between checks of one target; default 1 s.
	Interval time.Duration
	// Timeout of one check; default 1 s, at most Interval.
	Timeout time.Duration
	// HealthyThreshold consecutive passes make a target healthy; default 2.
	HealthyThreshold int
	// UnhealthyThreshold consecutive failures make it unhealthy; default 2.
	UnhealthyThreshold int
	// Matcher lists the HTTP codes that pass: "200", "200-399", "200,204".
	// Default "200-399".
	Matcher string
}

// Default values.
const (
	DefaultBindAddress         = "127.0.0.1"
	DefaultDeregistrationDelay = 5 * time.Second
	DefaultInterval            = time.Second
	DefaultTimeout             = time.Second
	DefaultHealthyThreshold    = 2
	DefaultUnhealthyThreshold  = 2
	DefaultMatcher             = "200-399"
	DefaultHealthPath          = "/"
)

// ErrInvalidConfig is wrapped by every validation error.
var ErrInvalidConfig = errors.New("invalid load balancer config")

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	out := Config{
		Listeners:    make([]Listener, len(c.Listeners)),
		TargetGroups: make([]TargetGroup, len(c.TargetGroups)),
	}
	for i, l := range c.Listeners {
		if l.BindAddress == "" {
			l.BindAddress = DefaultBindAddress
		}
		if l.Protocol == "" {
			l.Protocol = ProtocolHTTP
		}
		out.Listeners[i] = l
	}
	for i, tg := range c.TargetGroups {
		if tg.Algorithm == "" {
			tg.Algorithm = RoundRobin
		}
		if tg.DeregistrationDelay == 0 {
			tg.DeregistrationDelay = DefaultDeregistrationDelay
		} else if tg.DeregistrationDelay < 0 {
			tg.DeregistrationDelay = 0
		}
		hc := &tg.HealthCheck
		if hc.Protocol == "" {
			hc.Protocol = ProtocolHTTP
		}
		if hc.Path == "" {
			hc.Path = DefaultHealthPath
		}
		if hc.Port == "" {
			hc.Port = TrafficPort
		}
		if hc.Interval == 0 {
			hc.Interval = DefaultInterval
		}
		if hc.Timeout == 0 {
			hc.Timeout = min(DefaultTimeout, hc.Interval)
		}
		if hc.HealthyThreshold == 0 {
			hc.HealthyThreshold = DefaultHealthyThreshold
		}
		if hc.UnhealthyThreshold == 0 {
			hc.UnhealthyThreshold = DefaultUnhealthyThreshold
		}
		if hc.Matcher == "" {
			hc.Matcher = DefaultMatcher
		}
		out.TargetGroups[i] = tg
	}
	return out
}

// Validate reports the first problem in c (after defaults), naming the field.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

func (c Config) validate() error {
	tgs := map[string]bool{}
	for i, tg := range c.TargetGroups {
		f := fmt.Sprintf("TargetGroups[%d]", i)
		if tg.Name == "" {
			return invalid(f+".Name", "empty")
		}
		if tgs[tg.Name] {
			return invalid(f+".Name", "duplicate %q", tg.Name)
		}
		tgs[tg.Name] = true
		for j, t := range tg.Targets {
			if _, _, err := splitTarget(t); err != nil {
				return invalid(fmt.Sprintf("%s.Targets[%d]", f, j), "%v", err)
			}
		}
		if tg.Algorithm != RoundRobin && tg.Algorithm != LeastOutstandingRequests {
			return invalid(f+".Algorithm", "unknown %q", tg.Algorithm)
		}
		if tg.SlowStart < 0 || (tg.SlowStart > 0 && tg.Algorithm != RoundRobin) {
			return invalid(f+".SlowStart", "must be >= 0, and only with round_robin")
		}
		hc := tg.HealthCheck
		if hc.Protocol != ProtocolHTTP && hc.Protocol != ProtocolTCP {
			return invalid(f+".HealthCheck.Protocol", "unknown %q", hc.Protocol)
		}
		if !strings.HasPrefix(hc.Path, "/") {
			return invalid(f+".HealthCheck.Path", "must start with /")
		}
		if hc.Port != TrafficPort {
			if p, err := strconv.Atoi(hc.Port); err != nil || p < 1 || p > 65535 {
				return invalid(f+".HealthCheck.Port", "want traffic-port or 1-65535, got %q", hc.Port)
			}
		}
		if hc.Interval < 0 || hc.Timeout < 0 || hc.Timeout > hc.Interval {
			return invalid(f+".HealthCheck.Timeout", "want 0 < Timeout <= Interval")
		}
		if hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1 {
			return invalid(f+".HealthCheck.HealthyThreshold", "thresholds must be >= 1")
		}
		if _, err := parseMatcher(hc.Matcher); err != nil {
			return invalid(f+".HealthCheck.Matcher", "%v", err)
		}
	}
	addrs := map[string]bool{}
	for i, l := range c.Listeners {
		f := fmt.Sprintf("Listeners[%d]", i)
		if net.ParseIP(l.BindAddress) == nil {
			return invalid(f+".BindAddress", "not an IP: %q", l.BindAddress)
		}
		if l.Port < 1 || l.Port > 65535 {
			return invalid(f+".Port", "want 1-65535, got %d", l.Port)
		}
		switch l.Protocol {
		case ProtocolHTTP:
			if len(l.Certificates) > 0 {
				return invalid(f+".Certificates", "only for HTTPS listeners")
			}
		case ProtocolHTTPS:
			if len(l.Certificates) == 0 {
				return invalid(f+".Certificates", "an HTTPS listener needs at least one")
			}
			if _, err := newCertSet(l.Certificates); err != nil {
				return invalid(f+".Certificates", "%v", err)
			}
		default:
			return invalid(f+".Protocol", "want HTTP or HTTPS, got %q", l.Protocol)
		}
		if addrs[l.Addr()] {
			return invalid(f+".Port", "duplicate listener %s", l.Addr())
		}
		addrs[l.Addr()] = true
		prios := map[int]bool{}
		for j, r := range l.Rules {
			rf := fmt.Sprintf("%s.Rules[%d]", f, j)
			if prios[r.Priority] {
				return invalid(rf+".Priority", "duplicate %d", r.Priority)
			}
			prios[r.Priority] = true
			if err := validateAction(rf+".Action", r.Action, tgs); err != nil {
				return err
			}
		}
		if err := validateAction(f+".DefaultAction", l.DefaultAction, tgs); err != nil {
			return err
		}
	}
	return nil
}

func validateAction(f string, a Action, tgs map[string]bool) error {
	if a.Fixed != nil && len(a.Forward) > 0 {
		return invalid(f, "set Forward or Fixed, not both")
	}
	if a.Fixed != nil && (a.Fixed.StatusCode < 100 || a.Fixed.StatusCode > 599) {
		return invalid(f+".Fixed.StatusCode", "want 100-599, got %d", a.Fixed.StatusCode)
	}
	for i, w := range a.Forward {
		if !tgs[w.TargetGroup] {
			return invalid(fmt.Sprintf("%s.Forward[%d].TargetGroup", f, i), "unknown %q", w.TargetGroup)
		}
		if w.Weight < 0 || w.Weight > 999 {
			return invalid(fmt.Sprintf("%s.Forward[%d].Weight", f, i), "want 0-999, got %d", w.Weight)
		}
	}
	return nil
}

func splitTarget(t string) (string, int, error) {
	h, p, err := net.SplitHostPort(t)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", t)
	}
	if net.ParseIP(h) == nil {
		return "", 0, fmt.Errorf("not an ip:port: %q", t)
	}
	return h, port, nil
}
