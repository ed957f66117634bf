// Package apiserver is berth's protocol edge: one HTTP endpoint that serves
// every AWS-compatible API berth speaks. Each request gets a request ID, a
// bounded body, SigV4 verification, and is dispatched to the service whose
// protocol it uses:
//
//	X-Amz-Target: <prefix>.<Op>   -> an AWS JSON service (ECS today;
//	                                 Application Auto Scaling, CloudWatch Logs later)
//	Action=<Op>&Version=<v> form  -> an AWS Query service (ELBv2, later)
//
// Errors are encoded by the protocol that matched; anything before dispatch
// (auth, body size) is encoded in the JSON form unless the request is
// clearly a Query one.
package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsjson"
)

// DefaultMaxBodyBytes bounds a request body (ECS's own limit is 1 MiB for
// most calls; task definitions can be large, so allow a little more).
const DefaultMaxBodyBytes = 4 << 20

// Authenticator verifies a request's signature. It returns an *awserr.Error
// for a refused request.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) error
}

// QueryService is an AWS Query-protocol service (form-encoded Action=...).
type QueryService interface {
	// Version is the API version the service answers to (e.g. 2015-12-01).
	Version() string
	// ServeQuery handles one request whose form was already parsed.
	ServeQuery(ctx context.Context, w http.ResponseWriter, action string, form map[string][]string, requestID string)
	// WriteError writes an error in the service's XML error form.
	WriteError(w http.ResponseWriter, e *awserr.Error, requestID string)
}

// Config configures the edge.
type Config struct {
	// Auth verifies signatures. Required unless NoAuth.
	Auth Authenticator
	// NoAuth disables authentication (--insecure-no-auth).
	NoAuth bool
	// JSON services dispatched on X-Amz-Target.
	JSON []*awsjson.Service
	// Query services dispatched on the form's Version.
	Query []QueryService
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Server is the edge's http.Handler.
type Server struct {
	cfg Config
	log *slog.Logger
}

// New returns the edge handler. It refuses a config with no Auth unless
// NoAuth says so explicitly.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil && !cfg.NoAuth {
		return nil, errors.New("apiserver: no authenticator configured (set NoAuth to run without one)")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log.With("component", "apiserver")}, nil
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	target := r.Header.Get("X-Amz-Target")
	isQuery := target == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
	fail := func(e *awserr.Error) {
		if isQuery && len(s.cfg.Query) > 0 {
			s.cfg.Query[0].WriteError(w, e, reqID)
		} else {
			awsjson.WriteError(w, e)
		}
		s.log.Debug("request refused", "request_id", reqID, "code", e.Code, "message", e.Message)
	}

	if r.Method != http.MethodPost || (r.URL.Path != "/" && r.URL.Path != "") {
		w.Header().Set("Allow", http.MethodPost)
		fail(awserr.WithStatus(http.StatusMethodNotAllowed, awserr.CodeUnknownOperation, "berth serves AWS APIs at POST /; got %s %s", r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(awserr.WithStatus(http.StatusRequestEntityTooLarge, awserr.CodeRequestEntityTooLarge, "request body exceeds %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		fail(awserr.New(awserr.CodeSerialization, "read request body: %v", err))
		return
	}
	if !s.cfg.NoAuth {
		if err := s.cfg.Auth.Authenticate(r, body); err != nil {
			fail(awserr.As(err))
			return
		}
	}

	if target != "" {
		for _, svc := range s.cfg.JSON {
			if op, ok := svc.Operation(target); ok {
				code := svc.Serve(r.Context(), w, op, body)
				s.log.Debug("request", "request_id", reqID, "op", op, "code", code, "duration", time.Since(start))
				return
			}
		}
		awsjson.WriteError(w, awserr.New(awserr.CodeUnknownOperation, "unknown X-Amz-Target %q", target))
		return
	}
	if isQuery && len(s.cfg.Query) > 0 {
		form, err := parseForm(body)
		if err != nil {
			fail(awserr.New("MalformedQueryString", "%v", err))
			return
		}
		action := firstOf(form["Action"])
		version := firstOf(form["Version"])
		for _, q := range s.cfg.Query {
			if q.Version() == version {
				q.ServeQuery(r.Context(), w, action, form, reqID)
				s.log.Debug("request", "request_id", reqID, "action", action, "duration", time.Since(start))
				return
			}
		}
		fail(awserr.New("InvalidAction", "no API with Version %q is served here", version))
		return
	}
	fail(awserr.New(awserr.CodeUnknownOperation, "request names no operation: send X-Amz-Target (JSON protocols) or a form with Action and Version (Query protocols)"))
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
