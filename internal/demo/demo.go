// Package demo is the small web application `berth up` runs as its demo
// service. It is built into the berth binary (`berth demo-app`), so the demo
// needs no image from a registry: the Docker runtime runs it from a local
// FROM scratch image holding the berth executable, the process runtime runs
// the executable itself.
//
//	GET /         hello, with who answered: task, instance, host, version
//	              (JSON; an HTML page for browsers); ?delay=2s answers
//	              that much later, to watch requests in flight survive a
//	              deploy or a stop
//	GET /health   200 "ok" while serving, 503 once shutting down
//
// It listens on $HOST:$PORT (HOST empty: every interface; PORT default
// 8080). On SIGTERM it stops accepting connections, lets requests in
// flight finish, and exits.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultPort is the port the demo listens on when $PORT is not set, and
// the containerPort of the demo's task definition.
const DefaultPort = "8080"

// DefaultShutdownTimeout bounds how long requests in flight may take to
// finish after SIGTERM.
const DefaultShutdownTimeout = 10 * time.Second

// Config configures the demo server.
type Config struct {
	// Addr is the address to listen on, host:port.
	Addr string
	// Version is the berth version (or build) reported in answers.
	Version string
	// Hostname is reported in answers.
	Hostname string
	// Task is the task that runs the demo, when known: its ID, family and
	// revision.
	Task TaskInfo
	// ShutdownTimeout bounds the wait for requests in flight at shutdown;
	// 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// Ready, if set, is called with the bound address once serving.
	Ready func(addr string)
}

// TaskInfo is what the demo knows about its task.
type TaskInfo struct {
	ID       string `json:"id,omitzero"`
	Family   string `json:"family,omitzero"`
	Revision string `json:"revision,omitzero"`
}

// Answer is the JSON body of GET /.
type Answer struct {
	Message string `json:"message"`
	// Task is the answering task's ID, when the runtime makes it known
	// (the ECS task metadata endpoint).
	Task TaskInfo `json:"task,omitzero"`
	// Instance is a random ID the demo process picks at start: it tells
	// apart the processes answering, with or without a task ID.
	Instance string `json:"instance"`
	Hostname string `json:"hostname"`
	// PID is the demo's process ID (as its container sees it).
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// Requests is how many requests to / this process has answered,
	// this one included.
	Requests int64 `json:"requests"`
	// Time is when it answered, RFC 3339.
	Time string `json:"time"`
}

// AddrFromEnv returns $HOST:$PORT, PORT defaulting to DefaultPort.
func AddrFromEnv(getenv func(string) string) string {
	port := getenv("PORT")
	if port == "" {
		port = DefaultPort
	}
	return net.JoinHostPort(getenv("HOST"), port)
}

// server is the demo's HTTP handler state.
type server struct {
	cfg      Config
	instance string
	requests atomic.Int64
	stopping atomic.Bool
}

// Run serves until ctx ends, then shuts down gracefully: the listener
// closes at once, requests in flight get ShutdownTimeout to finish.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	s, err := newServer(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	attrs := []any{"addr", addr, "instance", s.instance}
	if cfg.Task.ID != "" {
		attrs = append(attrs, "task", cfg.Task.ID)
	}
	log.Info("demo serving", attrs...)
	if cfg.Ready != nil {
		cfg.Ready(addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("demo: serve: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	log.Info("demo shutting down: no new connections, finishing requests in flight", "timeout", cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("demo: shutdown: %w", err)
	}
	log.Info("demo stopped", "requests", s.requests.Load())
	return nil
}

func newServer(cfg Config) (*server, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("demo: instance id: %w", err)
	}
	return &server{cfg: cfg, instance: hex.EncodeToString(r[:])}, nil
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /{$}", s.hello)
	return mux
}

func (s *server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.stopping.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "stopping")
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *server) answer(now time.Time) Answer {
	return Answer{
		Message:  "Hello from berth!",
		Task:     s.cfg.Task,
		Instance: s.instance,
		Hostname: s.cfg.Hostname,
		PID:      os.Getpid(),
		Version:  s.cfg.Version,
		Requests: s.requests.Add(1),
		Time:     now.UTC().Format(time.RFC3339),
	}
}

// MaxDelay caps the delay a request may ask for.
const MaxDelay = 30 * time.Second

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	if d := r.URL.Query().Get("delay"); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil || delay < 0 || delay > MaxDelay {
			http.Error(w, fmt.Sprintf("delay: want a duration from 0 to %v, like 500ms", MaxDelay), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	a := s.answer(time.Now())
	if wantsHTML(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, a)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a)
}

// wantsHTML reports whether an Accept header asks for HTML by name (a
// browser); curl's */* gets JSON.
func wantsHTML(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>berth demo</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}
dt{font-weight:bold;float:left;width:8em}dd{margin-left:9em}</style></head>
<body><h1>{{.Message}}</h1>
<p>This page came through berth's load balancer from one of the demo service's tasks. Reload to see the other.</p>
<dl>
{{with .Task.ID}}<dt>task</dt><dd>{{.}}</dd>{{end}}
{{with .Task.Family}}<dt>task definition</dt><dd>{{.}}{{with $.Task.Revision}}:{{.}}{{end}}</dd>{{end}}
<dt>instance</dt><dd>{{.Instance}}</dd>
<dt>hostname</dt><dd>{{.Hostname}}</dd>
<dt>pid</dt><dd>{{.PID}}</dd>
<dt>version</dt><dd>{{.Version}}</dd>
<dt>requests</dt><dd>{{.Requests}}</dd>
<dt>time</dt><dd>{{.Time}}</dd>
</dl></body></html>
`))

// Check asks the demo at addr (host:port; an empty or unspecified host
// means 127.0.0.1) for /health and returns nil on 200. The demo's health
// check command (`berth demo-app check`) runs it.
func Check(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("demo check: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("demo check: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("demo check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo check: GET %s: %s", url, resp.Status)
	}
	return nil
}

// ErrNoMetadata: the runtime offers no task metadata endpoint.
var ErrNoMetadata = errors.New("demo: no task metadata endpoint ($ECS_CONTAINER_METADATA_URI_V4 unset)")
