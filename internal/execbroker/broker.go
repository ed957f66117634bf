// Package execbroker brokers `berth exec` sessions on the server: the ECS
// ExecuteCommand operation opens a session (Open), the client attaches to
// it with the one-time token, the agent of the task's instance learns of it
// from its exec long-poll (Pending) and attaches too, and the broker splices
// the two connections byte for byte. It never reads the frames (api/exec)
// the two ends exchange, except to tell the client why a session failed
// before the agent came.
//
//	ExecuteCommand ──Open──▶ open ──client attaches (token, once, within
//	                          │      TokenTTL)──▶ waiting ──Pending──▶ delivered
//	      token unused for    │                     │                     │
//	      TokenTTL: dropped ◀─┘   no agent within   └──────┬──────────────┘
//	                              AttachTimeout:           │ agent attaches
//	                              Error frame, closed      ▼
//	                                                    spliced ──▶ either end
//	                                                                closes: gone
//
// Sessions live in memory only: a server restart ends them all.
package execbroker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/api/exec"
)

// Defaults.
const (
	// DefaultTokenTTL is how long a session's token may wait for its
	// client.
	DefaultTokenTTL = 30 * time.Second
	// DefaultAttachTimeout is how long an attached client waits for the
	// agent.
	DefaultAttachTimeout = 10 * time.Second
	// MaxPollWait bounds the agents' exec long-poll.
	MaxPollWait = 30 * time.Second
	// drainGrace is how long a finished session waits for the client to
	// close its end after the broker closed its side, so that nothing
	// unread turns the close into a reset that loses the last frames.
	drainGrace = 5 * time.Second
)

// Config configures a Broker.
type Config struct {
	TokenTTL      time.Duration
	AttachTimeout time.Duration
	// Now is the clock of token expiry; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

type phase int

const (
	phaseOpen      phase = iota // waiting for the client and its token
	phaseWaiting                // the client attached; waiting for Pending
	phaseDelivered              // Pending handed it to the agent
)

type session struct {
	cluster, instance string
	token             string
	expires           time.Time
	phase             phase
	req               agent.ExecSession
	// agentConn receives the agent's connection (nil if its upgrade
	// failed) once ServeAgent took the session out of the map.
	agentConn chan net.Conn
}

// Broker holds the exec sessions. Its ServeHTTP serves the clients'
// streams (exec.SessionPath); ServeAgent and Pending serve the agents.
type Broker struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	wake     map[string]chan struct{} // by cluster/instance; closed when a session starts waiting
	conns    map[net.Conn]struct{}    // hijacked connections, closed by Close
	closed   bool
}

// New returns an empty broker.
func New(cfg Config) *Broker {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.AttachTimeout <= 0 {
		cfg.AttachTimeout = DefaultAttachTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broker{
		cfg: cfg, log: log.With("component", "execbroker"),
		sessions: map[string]*session{}, wake: map[string]chan struct{}{}, conns: map[net.Conn]struct{}{},
	}
}

// Open creates a session for req (its SessionID is set here) on the agent
// of cluster/instanceID. The stream URL is absolute when ctx carries the
// request's base URL (WithRequestBase), else a path.
func (b *Broker) Open(ctx context.Context, cluster, instanceID string, req agent.ExecSession) (ecs.Session, error) {
	id, token := randomHex(16), "bxt_"+randomHex(32)
	req.SessionID = id
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	for sid, s := range b.sessions {
		if s.phase == phaseOpen && now.After(s.expires) {
			delete(b.sessions, sid)
		}
	}
	b.sessions[id] = &session{
		cluster: cluster, instance: instanceID, token: token, expires: now.Add(b.cfg.TokenTTL),
		req: req, agentConn: make(chan net.Conn, 1),
	}
	base, _ := ctx.Value(baseKey{}).(string)
	return ecs.Session{SessionId: id, StreamUrl: base + exec.SessionPath + id, TokenValue: token}, nil
}

// ServeHTTP attaches a client to its session: GET exec.SessionPath<id>
// with the session's token as bearer and an upgrade to exec.UpgradeProtocol.
// The token works once, within TokenTTL of Open.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, exec.SessionPath)
	if !ok || id == "" || strings.Contains(id, "/") {
		writeErr(w, http.StatusNotFound, "NotFound", "no exec endpoint "+r.URL.Path)
		return
	}
	if !upgradeRequested(r) {
		writeErr(w, http.StatusUpgradeRequired, "UpgradeRequired", "attach with GET, Connection: Upgrade and Upgrade: "+exec.UpgradeProtocol)
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	b.mu.Lock()
	s := b.sessions[id]
	switch {
	case s == nil:
		b.mu.Unlock()
		writeErr(w, http.StatusNotFound, "SessionNotFound", "no exec session "+id+": it expired, was used, or never existed")
		return
	case subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1:
		b.mu.Unlock()
		writeErr(w, http.StatusUnauthorized, "InvalidToken", "missing or invalid session token (Authorization: Bearer <session.tokenValue>)")
		return
	case s.phase != phaseOpen:
		b.mu.Unlock()
		writeErr(w, http.StatusConflict, "SessionInUse", "exec session "+id+" is already attached; its token works once")
		return
	case b.cfg.Now().After(s.expires):
		delete(b.sessions, id)
		b.mu.Unlock()
		writeErr(w, http.StatusGone, "SessionExpired", "exec session "+id+" expired: attach within "+b.cfg.TokenTTL.String()+" of ExecuteCommand")
		return
	}
	s.phase = phaseWaiting // the token is spent
	s.req.TTY = r.Header.Get(exec.HeaderTTY) == "1"
	if rows, cols, ok := exec.ParseSize(r.Header.Get(exec.HeaderSize)); ok {
		s.req.Rows, s.req.Cols = rows, cols
	}
	b.mu.Unlock()

	conn, rd, err := b.hijack(w)
	if err != nil {
		b.drop(id, s)
		b.log.Warn("exec client upgrade failed", "session", id, "err", err)
		return
	}
	b.log.Info("exec client attached", "session", id, "task", s.req.TaskArn, "container", s.req.Container, "tty", s.req.TTY)
	b.mu.Lock()
	b.wakeLocked(s.cluster, s.instance)
	b.mu.Unlock()

	timer := time.NewTimer(b.cfg.AttachTimeout)
	defer timer.Stop()
	var ac net.Conn
	select {
	case ac = <-s.agentConn:
	case <-timer.C:
		if b.drop(id, s) {
			b.log.Warn("exec session: the agent did not attach", "session", id, "timeout", b.cfg.AttachTimeout)
			_ = exec.NewWriter(conn).Error("the agent of the task's container instance did not attach to the session within " + b.cfg.AttachTimeout.String())
			b.finish(conn)
			return
		}
		ac = <-s.agentConn // ServeAgent took it just now
	}
	if ac == nil {
		_ = exec.NewWriter(conn).Error("the agent failed to attach to the session")
		b.finish(conn)
		return
	}
	b.splice(conn, rd, ac)
	b.log.Info("exec session ended", "session", id)
}

// drop removes a session that no agent has taken; false when one has.
func (b *Broker) drop(id string, s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions[id] != s {
		return false
	}
	delete(b.sessions, id)
	return true
}

// Pending returns the sessions waiting for the agent of cluster/instanceID,
// each once, waiting up to wait (at most MaxPollWait) for one.
func (b *Broker) Pending(ctx context.Context, cluster, instanceID string, wait time.Duration) ([]agent.ExecSession, error) {
	timer := time.NewTimer(min(wait, MaxPollWait))
	defer timer.Stop()
	key := cluster + "/" + instanceID
	for {
		b.mu.Lock()
		var out []agent.ExecSession
		for _, s := range b.sessions {
			if s.phase == phaseWaiting && s.cluster == cluster && s.instance == instanceID {
				s.phase = phaseDelivered
				out = append(out, s.req)
			}
		}
		if len(out) > 0 || b.closed {
			b.mu.Unlock()
			return out, nil
		}
		ch := b.wake[key]
		if ch == nil {
			ch = make(chan struct{})
			b.wake[key] = ch
		}
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, nil
		}
	}
}

func (b *Broker) wakeLocked(cluster, instance string) {
	key := cluster + "/" + instance
	if ch := b.wake[key]; ch != nil {
		close(ch)
		delete(b.wake, key)
	}
}

// ServeAgent attaches the agent to a session Pending delivered: an upgraded
// request, already authenticated (the join token) by the caller.
func (b *Broker) ServeAgent(w http.ResponseWriter, r *http.Request, id string) {
	if !upgradeRequested(r) {
		writeErr(w, http.StatusUpgradeRequired, "UpgradeRequired", "attach with GET, Connection: Upgrade and Upgrade: "+exec.UpgradeProtocol)
		return
	}
	b.mu.Lock()
	s := b.sessions[id]
	if s == nil || s.phase != phaseDelivered {
		b.mu.Unlock()
		writeErr(w, http.StatusNotFound, "SessionNotFound", "no exec session "+id+" waits for an agent")
		return
	}
	delete(b.sessions, id) // the client's handler owns it now
	b.mu.Unlock()
	conn, rd, err := b.hijack(w)
	if err != nil {
		b.log.Warn("exec agent upgrade failed", "session", id, "err", err)
		s.agentConn <- nil
		return
	}
	s.agentConn <- &readConn{Conn: conn, r: rd}
}

// hijack takes over the connection and answers 101.
func (b *Broker) hijack(w http.ResponseWriter) (net.Conn, io.Reader, error) {
	rc := http.NewResponseController(w)
	conn, brw, err := rc.Hijack()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "InternalError", "cannot upgrade this connection")
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+exec.UpgradeProtocol+"\r\n\r\n"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		conn.Close()
		return nil, nil, net.ErrClosed
	}
	b.conns[conn] = struct{}{}
	b.mu.Unlock()
	return conn, brw.Reader, nil
}

// splice copies both ways until one end is done. When the agent ends the
// session (after its Exit or Error frame), the client's side is
// half-closed and given drainGrace to close, so the last frames arrive.
func (b *Broker) splice(client net.Conn, clientR io.Reader, ag net.Conn) {
	defer b.untrack(ag)
	fromClient := make(chan struct{})
	fromAgent := make(chan struct{})
	go func() {
		_, _ = io.Copy(ag, clientR)
		close(fromClient)
	}()
	go func() {
		_, _ = io.Copy(client, ag)
		close(fromAgent)
	}()
	select {
	case <-fromAgent:
		ag.Close()
		b.finish(client)
		<-fromClient
	case <-fromClient:
		ag.Close()
		client.Close()
		<-fromAgent
		b.untrack(client)
	}
}

// finish half-closes conn, waits (bounded) for the other end to close,
// and closes it.
func (b *Broker) finish(conn net.Conn) {
	defer b.untrack(conn)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(drainGrace))
		_, _ = io.Copy(io.Discard, conn)
	}
	conn.Close()
}

func (b *Broker) untrack(conn net.Conn) {
	if rc, ok := conn.(*readConn); ok {
		conn = rc.Conn
	}
	conn.Close()
	b.mu.Lock()
	delete(b.conns, conn)
	b.mu.Unlock()
}

// Close ends every session: attached streams are closed, open sessions
// forgotten, pollers woken. The server calls it when it shuts down.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	for key, ch := range b.wake {
		close(ch)
		delete(b.wake, key)
	}
	clear(b.sessions)
}

// readConn reads what the HTTP server buffered first.
type readConn struct {
	net.Conn
	r io.Reader
}

func (c *readConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func upgradeRequested(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), exec.UpgradeProtocol) &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

type baseKey struct{}

// WithRequestBase records the request's scheme and host in its context, so
// that Open returns an absolute stream URL on the address the client used.
func WithRequestBase(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), baseKey{}, scheme+r.Host)))
	})
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(agent.Error{Code: code, Message: msg})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
