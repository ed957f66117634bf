// Package elbv2api implements the Elastic Load Balancing v2 API (application
// load balancers) over berth's store, and turns what is stored into the
// configuration of berth's data plane (internal/lb).
//
//	SDK / CLI ──► apiserver ──► awsquery ──► Service ops ──► store (elbv2/…)
//	                                                             │ Watch
//	                           Run: debounce ──► Sync: read ──► BuildConfig ──► lb.Apply
//
// The operations validate like ELB (errors carry ELB's codes and name the
// member at fault), are idempotent where ELB's are, and serialize their
// read-modify-writes on one mutex (the store's compare-and-swap still guards
// against other writers). BuildConfig is pure; Sync reads the store,
// resolves certificates and applies; Run calls Sync at start and after
// every change.
//
// Where berth differs from ELB (documented in docs/api-coverage-elbv2.md
// and on the constants below): health checks default to berth's fast values
// and may run every second; the deregistration delay defaults to 5 s;
// targets are IP addresses whatever the target type; certificates are
// file:// PEM paths or berth:self-signed, not ACM ARNs; a load balancer's
// DNS name is the address its listeners bind.
package elbv2api

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/awsquery"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/store"
)

// DefaultBindAddress is where internet-facing load balancers listen unless
// Config.BindAddress says otherwise. Internal ones always listen here.
const DefaultBindAddress = "127.0.0.1"

// Health reports the data plane's view of a target group's targets.
// *lb.LB implements it.
type Health interface {
	// TargetHealth returns the targets of target group tg (named by its
	// ARN), including those still draining, or nil if the data plane does
	// not know the group.
	TargetHealth(tg string) []lb.TargetState
}

var _ Health = (*lb.LB)(nil)

// Config configures the ELBv2 API.
type Config struct {
	// Store holds the load balancers, target groups, listeners and rules.
	Store store.Store
	// Region and AccountID go into every ARN.
	Region    string
	AccountID string
	// BindAddress is the IP that internet-facing load balancers' listeners
	// bind, and their reported DNS name; default 127.0.0.1. Set 0.0.0.0 to
	// serve other hosts. Internal load balancers always bind 127.0.0.1.
	BindAddress string
	// Health answers DescribeTargetHealth; nil reports every registered
	// target as initial (registration in progress).
	Health Health
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Debounce is how long Run waits for changes to settle before it
	// rebuilds the data plane's config; default 50 ms.
	Debounce time.Duration
}

// Service implements the ELBv2 operations.
type Service struct {
	st       store.Store
	region   string
	account  string
	bind     string
	health   Health
	log      *slog.Logger
	now      func() time.Time
	debounce time.Duration

	// mu serializes this API's read-modify-write operations.
	mu sync.Mutex
}

// New returns the ELBv2 API over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{
		st:       cfg.Store,
		region:   cfg.Region,
		account:  cfg.AccountID,
		bind:     cfg.BindAddress,
		health:   cfg.Health,
		log:      cfg.Logger,
		now:      cfg.Now,
		debounce: cfg.Debounce,
	}
	if s.bind == "" {
		s.bind = DefaultBindAddress
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "elbv2api")
	if s.now == nil {
		s.now = time.Now
	}
	if s.debounce <= 0 {
		s.debounce = 50 * time.Millisecond
	}
	return s
}

// Query returns the Query-protocol service to register with apiserver.
func (s *Service) Query() *awsquery.Service {
	return &awsquery.Service{APIVersion: elbv2.APIVersion, Namespace: elbv2.XMLNamespace, Ops: s.Ops()}
}

// Ops returns the operation table.
func (s *Service) Ops() map[string]awsquery.Op {
	return map[string]awsquery.Op{
		"CreateLoadBalancer":            awsquery.Handle(s.CreateLoadBalancer),
		"DescribeLoadBalancers":         awsquery.Handle(s.DescribeLoadBalancers),
		"DeleteLoadBalancer":            awsquery.Handle(s.DeleteLoadBalancer),
		"CreateTargetGroup":             awsquery.Handle(s.CreateTargetGroup),
		"DescribeTargetGroups":          awsquery.Handle(s.DescribeTargetGroups),
		"ModifyTargetGroup":             awsquery.Handle(s.ModifyTargetGroup),
		"DeleteTargetGroup":             awsquery.Handle(s.DeleteTargetGroup),
		"DescribeTargetGroupAttributes": awsquery.Handle(s.DescribeTargetGroupAttributes),
		"ModifyTargetGroupAttributes":   awsquery.Handle(s.ModifyTargetGroupAttributes),
		"CreateListener":                awsquery.Handle(s.CreateListener),
		"DescribeListeners":             awsquery.Handle(s.DescribeListeners),
		"ModifyListener":                awsquery.Handle(s.ModifyListener),
		"DeleteListener":                awsquery.Handle(s.DeleteListener),
		"CreateRule":                    awsquery.Handle(s.CreateRule),
		"DescribeRules":                 awsquery.Handle(s.DescribeRules),
		"ModifyRule":                    awsquery.Handle(s.ModifyRule),
		"DeleteRule":                    awsquery.Handle(s.DeleteRule),
		"SetRulePriorities":             awsquery.Handle(s.SetRulePriorities),
		"RegisterTargets":               awsquery.Handle(s.registerTargetsOp),
		"DeregisterTargets":             awsquery.Handle(s.deregisterTargetsOp),
		"DescribeTargetHealth":          awsquery.Handle(s.DescribeTargetHealth),
		"AddTags":                       awsquery.Handle(s.AddTags),
		"RemoveTags":                    awsquery.Handle(s.RemoveTags),
		"DescribeTags":                  awsquery.Handle(s.DescribeTags),
	}
}

// newID returns the 16 hex digits that end an ELB ARN.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// nowUTC returns the current time truncated to milliseconds (the wire precision).
func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// bindFor returns the address a load balancer of the given scheme listens on.
func (s *Service) bindFor(scheme string) string {
	if scheme == elbv2.LoadBalancerSchemeEnumInternal {
		return DefaultBindAddress
	}
	return s.bind
}
