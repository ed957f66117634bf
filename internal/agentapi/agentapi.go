// Package agentapi serves berth's agent protocol (api/agent) on the
// server: registration, the long-poll that hands each agent its desired
// tasks, heartbeats, status reports and log shipping. Every call must carry
// the join token (`Authorization: Bearer <token>`).
//
// It also owns agent liveness: a Tracker remembers when each instance was
// last heard from, and its Run loop marks an instance's agentConnected false
// once it misses heartbeats for the timeout (true again when it returns).
package agentapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Records is the ECS side of the protocol (implemented by *ecsapi.Service).
type Records interface {
	RegisterAgent(ctx context.Context, in *agent.RegisterRequest) (*agent.RegisterResponse, error)
	AgentTasks(ctx context.Context, cluster, instanceID string) ([]agent.AssignedTask, bool, error)
	ReportTaskStatus(ctx context.Context, in *agent.StatusReport) (*agent.StatusResponse, error)
	SetAgentConnected(ctx context.Context, cluster, instanceID string, connected bool) error
	InstanceARN(cluster, instanceID string) string
}

// LogSink stores shipped container output: one batch of streams at a time,
// all or nothing.
type LogSink interface {
	AppendLogs(ctx context.Context, streams []agent.LogStream) error
}

// Defaults.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatTimeout  = 5 * time.Second
	// MaxPollWait bounds a long-poll.
	MaxPollWait = 30 * time.Second
	// maxBody bounds a request body (log batches are the largest).
	maxBody = 8 << 20
)

// Config configures the agent API.
type Config struct {
	JoinToken string
	Records   Records
	Store     store.Store
	Logs      LogSink // nil drops logs
	// HeartbeatInterval is what agents are told to use; HeartbeatTimeout
	// is how long without one marks an agent disconnected.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	Now               func() time.Time
	Logger            *slog.Logger
}

// Server is the agent protocol's http.Handler, plus the liveness loop.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tracker *Tracker
}

// New returns the agent API. It refuses an empty join token.
func New(cfg Config) (*Server, error) {
	if len(cfg.JoinToken) < 16 {
		return nil, errors.New("agentapi: join token must be at least 16 characters")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "agentapi")
	return &Server{cfg: cfg, log: log, tracker: NewTracker(cfg.Records, cfg.HeartbeatTimeout, cfg.Now, log)}, nil
}

// Tracker returns the liveness tracker (for Run and for tests).
func (s *Server) Tracker() *Tracker { return s.tracker }

// Owns reports whether a request is for the agent protocol.
func Owns(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/agent/") }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeErr(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "agent protocol calls are POST")
		return
	}
	if !s.authorized(r) {
		writeErr(w, http.StatusUnauthorized, "InvalidJoinToken", "missing or invalid join token (Authorization: Bearer <token>; see `join token:` in the server's output or <data-dir>/join-token)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", err.Error())
		return
	}
	ctx := r.Context()
	switch r.URL.Path {
	case agent.PathRegister:
		var in agent.RegisterRequest
		if decode(w, body, &in) {
			out, err := s.cfg.Records.RegisterAgent(ctx, &in)
			if err == nil {
				out.HeartbeatIntervalMs = s.cfg.HeartbeatInterval.Milliseconds()
				s.tracker.Seen(ctx, out.Cluster, out.InstanceID)
			}
			reply(w, out, err)
		}
	case agent.PathHeartbeat:
		var in agent.HeartbeatRequest
		if decode(w, body, &in) && s.validInstance(w, in.Cluster, in.InstanceID) {
			s.tracker.Seen(ctx, in.Cluster, in.InstanceID)
			reply(w, struct{}{}, nil)
		}
	case agent.PathPoll:
		var in agent.PollRequest
		if decode(w, body, &in) && s.validInstance(w, in.Cluster, in.InstanceID) {
			s.tracker.Seen(ctx, in.Cluster, in.InstanceID)
			out, err := s.poll(ctx, &in)
			reply(w, out, err)
		}
	case agent.PathStatus:
		var in agent.StatusReport
		if decode(w, body, &in) && s.validInstance(w, in.Cluster, in.InstanceID) {
			s.tracker.Seen(ctx, in.Cluster, in.InstanceID)
			out, err := s.cfg.Records.ReportTaskStatus(ctx, &in)
			reply(w, out, err)
		}
	case agent.PathLogs:
		var in agent.LogBatch
		if decode(w, body, &in) && s.validInstance(w, in.Cluster, in.InstanceID) {
			reply(w, struct{}{}, s.appendLogs(ctx, &in))
		}
	default:
		writeErr(w, http.StatusNotFound, "NotFound", "no agent protocol endpoint "+r.URL.Path)
	}
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.JoinToken)) == 1
}

func (s *Server) validInstance(w http.ResponseWriter, cluster, id string) bool {
	if cluster == "" || id == "" || strings.ContainsAny(cluster+id, "/:") {
		writeErr(w, http.StatusBadRequest, "InvalidParameter", "cluster and instanceId are required and must be plain names")
		return false
	}
	return true
}

// poll answers with the instance's desired tasks as soon as they changed
// after in.AfterRevision, or after the wait.
func (s *Server) poll(ctx context.Context, in *agent.PollRequest) (*agent.PollResponse, error) {
	rev, err := s.cfg.Store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	wait := min(time.Duration(in.WaitSeconds)*time.Second, MaxPollWait)
	if in.AfterRevision > 0 && in.AfterRevision <= rev && wait > 0 {
		rev = s.waitForChange(ctx, in, wait, rev)
	}
	tasks, gone, err := s.cfg.Records.AgentTasks(ctx, in.Cluster, in.InstanceID)
	if err != nil {
		return nil, err
	}
	return &agent.PollResponse{Revision: rev, Tasks: tasks, Deregistered: gone}, nil
}

// waitForChange blocks until a change that concerns the instance happens
// after in.AfterRevision (its tasks or its own record), the wait ends, or
// ctx ends. It returns the revision to report.
func (s *Server) waitForChange(ctx context.Context, in *agent.PollRequest, wait time.Duration, rev int64) int64 {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	arn := s.cfg.Records.InstanceARN(in.Cluster, in.InstanceID)
	instKey := state.InstanceKey(in.Cluster, in.InstanceID)
	tasks, err := s.cfg.Store.Watch(ctx, state.TasksOf(in.Cluster), in.AfterRevision)
	if err != nil {
		return rev // compacted or closed: answer with the full state now
	}
	inst, err := s.cfg.Store.Watch(ctx, instKey, in.AfterRevision)
	if err != nil {
		return rev
	}
	for {
		select {
		case ev, ok := <-tasks:
			if !ok {
				return s.currentRevision(rev)
			}
			if ev.Type == store.EventDelete || taskOnInstance(ev.KV.Value, arn) {
				return max(ev.KV.ModRevision, rev)
			}
		case ev, ok := <-inst:
			if !ok {
				return s.currentRevision(rev)
			}
			if ev.KV.Key == instKey {
				return max(ev.KV.ModRevision, rev)
			}
		}
	}
}

func (s *Server) currentRevision(fallback int64) int64 {
	rev, err := s.cfg.Store.Revision(context.Background())
	if err != nil {
		return fallback
	}
	return rev
}

// taskOnInstance reports whether a stored task record is placed on the
// instance with the given ARN, without decoding it.
func taskOnInstance(value []byte, instanceArn string) bool {
	return strings.Contains(string(value), `"containerInstanceArn":"`+instanceArn+`"`)
}

func (s *Server) appendLogs(ctx context.Context, in *agent.LogBatch) error {
	if s.cfg.Logs == nil {
		return nil
	}
	for _, st := range in.Streams {
		if st.Group == "" || st.Stream == "" {
			return awserr.New("InvalidParameter", "streams[].group and .stream are required")
		}
	}
	return s.cfg.Logs.AppendLogs(ctx, in.Streams)
}

func decode(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeErr(w, http.StatusBadRequest, "MalformedRequest", "decode request: "+err.Error())
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		e := awserr.As(err)
		writeErr(w, e.HTTPStatus(), e.Code, e.Message)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(agent.Error{Code: code, Message: msg})
}
