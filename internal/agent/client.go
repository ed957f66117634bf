package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
)

// Sentinel errors.
var (
	// ErrJoinTokenRejected: the server refused the join token. The agent
	// stops (Run returns it): retrying would not help.
	ErrJoinTokenRejected = errors.New("agent: the server refused the join token")
	// errNotRegistered: a call needs the instance ID, and the agent has
	// none (it is registering again); the caller retries later.
	errNotRegistered = errors.New("agent: not registered")
)

// Error codes the agent protocol answers with besides the ECS ones.
const (
	codeInvalidParameter = "InvalidParameter" // agentapi: bad cluster or instance ID
	codeMalformedRequest = "MalformedRequest" // agentapi: the body does not decode
)

// permanent reports whether the server refused a request as invalid, so
// that sending it again cannot succeed: a validation error, or a body too
// large. Everything else is worth retrying: conflicts (409),
// throttling (429), UpdateInProgressException (503), other 5xx, a server
// that does not answer. A refused join token is ErrJoinTokenRejected, not
// a ServerError.
func permanent(err error) bool {
	var se *ServerError
	if !errors.As(err, &se) || se.Status/100 != 4 {
		return false
	}
	switch {
	case se.Status == http.StatusRequestEntityTooLarge:
		return true
	case se.Status != http.StatusBadRequest:
		return false
	}
	switch se.Code {
	case ecs.ErrInvalidParameter, codeInvalidParameter, codeMalformedRequest:
		return true
	}
	return false
}

// reached reports whether a call got an answer from the server itself:
// success, any 4xx, or a 5xx the server chose to send
// (UpdateInProgressException: busy, not gone). A refused join token
// counts too.
func reached(err error) bool {
	var se *ServerError
	switch {
	case err == nil, errors.Is(err, ErrJoinTokenRejected):
		return true
	case errors.As(err, &se):
		return se.Status < 500 || se.Code == ecs.ErrUpdateInProgress
	}
	return false
}

// ServerError is a non-2xx answer of the server, other than a refused join
// token.
type ServerError struct {
	Path    string
	Status  int
	Code    string
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s: %s", e.Path, e.Status, e.Code, e.Message)
}

// callTimeout bounds every call but the long-poll, which gets its wait on
// top.
const callTimeout = 15 * time.Second

// client speaks the agent protocol (api/agent).
type client struct {
	base  string
	token Secret
	http  *http.Client
}

func newClient(base string, token Secret, hc *http.Client) *client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return &client{base: strings.TrimSuffix(base, "/"), token: token, http: hc}
}

// call POSTs in to path and decodes the answer into out (nil discards it).
// The call gets timeout on top of ctx.
func (c *client) call(ctx context.Context, path string, timeout time.Duration, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(c.token))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e agent.Error
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("%s: %w: %s", path, ErrJoinTokenRejected, e.Message)
		}
		return &ServerError{Path: path, Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", path, err)
	}
	return nil
}

func (c *client) register(ctx context.Context, in *agent.RegisterRequest) (*agent.RegisterResponse, error) {
	var out agent.RegisterResponse
	if err := c.call(ctx, agent.PathRegister, callTimeout, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *client) poll(ctx context.Context, in *agent.PollRequest) (*agent.PollResponse, error) {
	var out agent.PollResponse
	wait := time.Duration(in.WaitSeconds) * time.Second
	if err := c.call(ctx, agent.PathPoll, wait+callTimeout, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *client) heartbeat(ctx context.Context, in *agent.HeartbeatRequest) error {
	return c.call(ctx, agent.PathHeartbeat, callTimeout, in, nil)
}

func (c *client) status(ctx context.Context, in *agent.StatusReport) (*agent.StatusResponse, error) {
	var out agent.StatusResponse
	if err := c.call(ctx, agent.PathStatus, callTimeout, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *client) logs(ctx context.Context, in *agent.LogBatch) error {
	return c.call(ctx, agent.PathLogs, callTimeout, in, nil)
}

func (c *client) execPoll(ctx context.Context, in *agent.ExecPollRequest) (*agent.ExecPollResponse, error) {
	var out agent.ExecPollResponse
	wait := time.Duration(in.WaitSeconds) * time.Second
	if err := c.call(ctx, agent.PathExec, wait+callTimeout, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
