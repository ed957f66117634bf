// Package ecsapi implements the Amazon ECS API operations over the store:
// validation, ECS semantics (revision numbering, deployments bookkeeping,
// name-or-ARN resolution, MISSING failures) and the exact error types ECS
// returns. It knows nothing of HTTP: the protocol edge (internal/awsjson,
// internal/apiserver) decodes requests into api/ecs shapes and calls Ops.
package ecsapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/clusterstate"
	"github.com/berth-io/berth/internal/scheduler"
	"github.com/berth-io/berth/internal/store"
)

// Config configures the ECS API.
type Config struct {
	Store store.Store
	// Region and AccountID go into every ARN.
	Region    string
	AccountID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Cache, when set, serves the read-only scans (see cache.go); it must
	// be running over the same store.
	Cache *clusterstate.Cache
	// TargetGroups, when set, checks the target groups services name.
	TargetGroups TargetGroups
	// Exec opens ExecuteCommand's sessions; nil refuses ExecuteCommand.
	Exec ExecSessions
}

// TargetGroups tells whether a target group exists and is attached to a
// load balancer (internal/elbv2api).
type TargetGroups interface {
	TargetGroup(ctx context.Context, arn string) (exists, attached bool, err error)
}

// Service implements the ECS operations.
type Service struct {
	st      store.Store
	region  string
	account string
	now     func() time.Time
	log     *slog.Logger

	// mu serializes this API's read-modify-write operations; the store's
	// compare-and-swap still guards against other writers (controllers).
	mu sync.Mutex
	// taskDefRevs is the last revision allocated per family (guarded by
	// mu); see nextTaskDefRevision.
	taskDefRevs map[string]int32
	cache       *clusterstate.Cache
	tgs         TargetGroups
	// placer keeps the scheduler's scratch memory between placements
	// (guarded by mu).
	placer scheduler.Placer
	exec   ExecSessions
}

// New returns the ECS API over cfg.Store.
func New(cfg Config) *Service {
	s := &Service{st: cfg.Store, region: cfg.Region, account: cfg.AccountID, now: cfg.Now, log: cfg.Logger,
		taskDefRevs: map[string]int32{}, cache: cfg.Cache, tgs: cfg.TargetGroups, exec: cfg.Exec}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Ops returns the operation table for the JSON protocol edge.
func (s *Service) Ops() map[string]awsjson.Op {
	m := map[string]awsjson.Op{}
	s.addClusterOps(m)
	s.addTaskDefinitionOps(m)
	s.addServiceOps(m)
	s.addTaskOps(m)
	s.addInstanceOps(m)
	s.addTagOps(m)
	s.addAttributeOps(m)
	m["ExecuteCommand"] = awsjson.Handle(s.ExecuteCommand)
	return m
}

// newID returns a 32-hex-digit identifier, the form ECS uses for task and
// container instance IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// nowUTC returns the current time truncated to milliseconds (the wire precision).
func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Millisecond) }
