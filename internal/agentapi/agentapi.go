// Package agentapi serves berth's agent protocol (api/agent) on the
// server: registration, the long-poll that hands each agent its desired
// tasks, heartbeats, status reports, log shipping, and the agents' side of
// exec sessions (a long-poll and the stream, served by an ExecBroker). Every call must carry
// the join token (`Authorization: Bearer <token>`).
//
// It also owns agent liveness: a Tracker remembers when each instance was
// last heard from, and its Run loop marks an instance's agentConnected false
// once it misses heartbeats for the timeout (true again when it returns).
package agentapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
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

// ExecBroker serves the agents' side of exec sessions (implemented by
// *execbroker.Broker).
type ExecBroker interface {
	// Pending returns the sessions waiting for the instance's agent, each
	// once, waiting up to wait for one.
	Pending(ctx context.Context, cluster, instanceID string, wait time.Duration) ([]agent.ExecSession, error)
	// ServeAgent attaches the (authenticated) agent to a session: an
	// HTTP upgrade.
	ServeAgent(w http.ResponseWriter, r *http.Request, sessionID string)
}

// Defaults.
const (
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatTimeout  = 3 * time.Second
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
	// Exec serves exec sessions; nil answers the exec endpoints with 404.
	Exec ExecBroker
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
	if id, ok := strings.CutPrefix(r.URL.Path, agent.PathExec+"/"); ok && s.cfg.Exec != nil {
		// The agent's end of an exec stream: an upgraded GET.
		if !s.authorized(r) {
			writeErr(w, http.StatusUnauthorized, "InvalidJoinToken", "missing or invalid join token")
			return
		}
		s.cfg.Exec.ServeAgent(w, r, id)
		return
	}
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
	case agent.PathExec:
		var in agent.ExecPollRequest
		if s.cfg.Exec != nil && decode(w, body, &in) && s.validInstance(w, in.Cluster, in.InstanceID) {
			wait := min(time.Duration(in.WaitSeconds)*time.Second, MaxPollWait)
			sessions, err := s.cfg.Exec.Pending(ctx, in.Cluster, in.InstanceID, wait)
			reply(w, &agent.ExecPollResponse{Sessions: sessions}, err)
		} else if s.cfg.Exec == nil {
			writeErr(w, http.StatusNotFound, "NotFound", "this server does not serve exec sessions")
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

// poll answers with the instance's desired tasks. With a fingerprint, it
// waits (up to WaitSeconds) until the desired state differs from it; with
// only AfterRevision, until anything about the instance's tasks changed
// after that revision.
func (s *Server) poll(ctx context.Context, in *agent.PollRequest) (*agent.PollResponse, error) {
	wait := min(time.Duration(in.WaitSeconds)*time.Second, MaxPollWait)
	rev, err := s.cfg.Store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if in.Fingerprint == "" && in.AfterRevision > 0 && in.AfterRevision <= rev && wait > 0 {
		if _, err := s.nextChange(ctx, in, in.AfterRevision, wait); err == nil {
			rev = s.currentRevision(rev)
		}
		return s.desired(ctx, in, rev)
	}
	out, err := s.desired(ctx, in, rev)
	if err != nil || in.Fingerprint == "" || out.Fingerprint != in.Fingerprint || wait <= 0 {
		return out, err
	}
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return out, nil
		}
		changed, err := s.nextChange(ctx, in, out.Revision, left)
		if err != nil || !changed {
			return out, nil // the wait ended (or the watch broke): answer with what we have
		}
		next, err := s.desired(ctx, in, s.currentRevision(out.Revision))
		if err != nil {
			return nil, err
		}
		out = next
		if out.Fingerprint != in.Fingerprint {
			return out, nil
		}
	}
}

// desired reads the instance's desired state at revision rev.
func (s *Server) desired(ctx context.Context, in *agent.PollRequest, rev int64) (*agent.PollResponse, error) {
	tasks, gone, err := s.cfg.Records.AgentTasks(ctx, in.Cluster, in.InstanceID)
	if err != nil {
		return nil, err
	}
	return &agent.PollResponse{Revision: rev, Fingerprint: fingerprint(tasks, gone), Tasks: tasks, Deregistered: gone}, nil
}

// fingerprint identifies a desired state by its task ARNs and desired
// statuses (a task's definition never changes under its ARN).
func fingerprint(tasks []agent.AssignedTask, gone bool) string {
	parts := make([]string, 0, len(tasks)+1)
	for _, t := range tasks {
		parts = append(parts, t.Task.TaskArn+"="+t.Task.DesiredStatus)
	}
	if gone {
		parts = append(parts, "deregistered")
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:16])
}

// nextChange waits until something concerning the instance (one of its
// tasks, or its own record) changes after revision after, or wait ends.
// changed is false when the wait ended without such a change.
func (s *Server) nextChange(ctx context.Context, in *agent.PollRequest, after int64, wait time.Duration) (changed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	arn := s.cfg.Records.InstanceARN(in.Cluster, in.InstanceID)
	instKey := state.InstanceKey(in.Cluster, in.InstanceID)
	tasks, err := s.cfg.Store.Watch(ctx, state.TasksOf(in.Cluster), after)
	if err != nil {
		return false, err
	}
	inst, err := s.cfg.Store.Watch(ctx, instKey, after)
	if err != nil {
		return false, err
	}
	for {
		select {
		case ev, ok := <-tasks:
			if !ok {
				return ctx.Err() == nil, nil
			}
			if ev.Type == store.EventDelete || taskOnInstance(ev.KV.Value, arn) {
				return true, nil
			}
		case ev, ok := <-inst:
			if !ok {
				return ctx.Err() == nil, nil
			}
			if ev.KV.Key == instKey {
				return true, nil
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
		status := e.HTTPStatus()
		if e.Code == "UpdateInProgressException" {
			status = http.StatusServiceUnavailable // a write conflict: retry
		}
		writeErr(w, status, e.Code, e.Message)
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
