package execbroker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/exec"
	"github.com/berth-io/berth/internal/execbroker"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	b     *execbroker.Broker
	srv   *httptest.Server
	clock *clock
}

func newEnv(t *testing.T, cfg execbroker.Config) *env {
	t.Helper()
	c := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Now = c.Now
	b := execbroker.New(cfg)
	mux := http.NewServeMux()
	mux.Handle(exec.SessionPath, b)
	mux.HandleFunc(agent.PathExec+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		b.ServeAgent(w, r, r.PathValue("id"))
	})
	srv := httptest.NewServer(execbroker.WithRequestBase(mux))
	t.Cleanup(func() {
		b.Close()
		srv.Close()
	})
	return &env{b: b, srv: srv, clock: c}
}

func (e *env) open(t *testing.T) (id, url, token string) {
	t.Helper()
	s, err := e.b.Open(t.Context(), "c", "i-1", agent.ExecSession{TaskArn: "arn:task", Container: "app", Command: []string{"sh"}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s.SessionId, e.srv.URL + s.StreamUrl, s.TokenValue
}

func dial(t *testing.T, url, token string, h http.Header) (net.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.Dial(ctx, url, token, h, nil)
}

// attachAsync dials as the client in the background (the upgrade
// completes once the broker hijacked the connection) and returns the
// connection, nil if the attach failed; the test's end closes it.
func attachAsync(t *testing.T, url, token string, h http.Header) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	var conn net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, _ := dial(t, url, token, h) // nil on failure: the caller checks
		conn = c
		ch <- c
	}()
	t.Cleanup(func() {
		<-done
		if conn != nil {
			conn.Close()
		}
	})
	return ch
}

func pending(t *testing.T, b *execbroker.Broker, wait time.Duration) []agent.ExecSession {
	t.Helper()
	got, err := b.Pending(t.Context(), "c", "i-1", wait)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return got
}

func TestSplice(t *testing.T) {
	e := newEnv(t, execbroker.Config{})
	id, url, token := e.open(t) // Open saw no request base: the URL was a path
	clientc := attachAsync(t, url, token, http.Header{exec.HeaderTTY: {"1"}, exec.HeaderSize: {"30x100"}})

	got := pending(t, e.b, 5*time.Second)
	want := []agent.ExecSession{{SessionID: id, TaskArn: "arn:task", Container: "app", Command: []string{"sh"}, TTY: true, Rows: 30, Cols: 100}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Pending (-want +got):\n%s", diff)
	}
	if again := pending(t, e.b, 10*time.Millisecond); len(again) != 0 {
		t.Errorf("Pending again = %v, want nothing: a session is delivered once", again)
	}
	ag, err := dial(t, e.srv.URL+agent.PathExec+"/"+id, "join-token-checked-by-agentapi", nil)
	if err != nil {
		t.Fatalf("agent attach: %v", err)
	}
	defer ag.Close()
	client := <-clientc
	if client == nil {
		t.Fatal("the client's attach failed")
	}

	cw, aw := exec.NewWriter(client), exec.NewWriter(ag)
	if err := cw.Data(exec.Stdin, []byte("echo hi\n")); err != nil {
		t.Fatal(err)
	}
	f, err := exec.NewReader(ag).Next()
	if err != nil || f.Type != exec.Stdin || string(f.Payload) != "echo hi\n" {
		t.Fatalf("agent read %v %q, %v; want the client's stdin", f.Type, f.Payload, err)
	}
	if err := aw.Data(exec.Stdout, []byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	if err := aw.Exit(7); err != nil {
		t.Fatal(err)
	}
	ag.Close()
	cr := exec.NewReader(client)
	f, err = cr.Next()
	if err != nil || f.Type != exec.Stdout || string(f.Payload) != "hi\n" {
		t.Fatalf("client read %v %q, %v; want stdout hi", f.Type, f.Payload, err)
	}
	f, err = cr.Next()
	if code, cerr := f.ExitCode(); err != nil || cerr != nil || code != 7 {
		t.Fatalf("client read %v %q, %v; want exit 7", f.Type, f.Payload, err)
	}
	if _, err := cr.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the exit frame: %v, want EOF", err)
	}
}

func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, execbroker.Config{AttachTimeout: time.Minute})
	id, _, token := e.open(t)
	url := e.srv.URL + exec.SessionPath + id

	wantStatus := func(name string, err error, status int) {
		t.Helper()
		var de *exec.DialError
		if !errors.As(err, &de) || de.Status != status {
			t.Errorf("%s: err = %v, want HTTP %d", name, err, status)
		}
	}
	_, err := dial(t, url, "bxt_wrong", nil)
	wantStatus("wrong token", err, http.StatusUnauthorized)
	_, err = dial(t, e.srv.URL+exec.SessionPath+"nosuch", token, nil)
	wantStatus("unknown session", err, http.StatusNotFound)

	clientc := attachAsync(t, url, token, nil)
	pending(t, e.b, 5*time.Second) // the client has attached
	_, err = dial(t, url, token, nil)
	wantStatus("token used twice", err, http.StatusConflict)
	_ = clientc
}

func TestTokenExpires(t *testing.T) {
	e := newEnv(t, execbroker.Config{TokenTTL: 30 * time.Second})
	id, _, token := e.open(t)
	e.clock.Add(31 * time.Second)
	_, err := dial(t, e.srv.URL+exec.SessionPath+id, token, nil)
	var de *exec.DialError
	if !errors.As(err, &de) || de.Status != http.StatusGone || de.Code != "SessionExpired" {
		t.Errorf("attach after 31s: err = %v, want HTTP 410 SessionExpired", err)
	}
	_, err = dial(t, e.srv.URL+exec.SessionPath+id, token, nil)
	if !errors.As(err, &de) || de.Status != http.StatusNotFound {
		t.Errorf("attach again: err = %v, want HTTP 404: an expired session is gone", err)
	}
}

func TestAgentNeverAttaches(t *testing.T) {
	e := newEnv(t, execbroker.Config{AttachTimeout: 50 * time.Millisecond})
	id, _, token := e.open(t)
	c, err := dial(t, e.srv.URL+exec.SessionPath+id, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := exec.NewReader(c).Next()
	if err != nil || f.Type != exec.Error || !strings.Contains(string(f.Payload), "did not attach") {
		t.Fatalf("read %v %q, %v; want an error frame saying the agent did not attach", f.Type, f.Payload, err)
	}
	if got := pending(t, e.b, 10*time.Millisecond); len(got) != 0 {
		t.Errorf("Pending after the timeout = %v, want nothing", got)
	}
}

// TestPendingWakesPromptly: an agent's poll answers as soon as a client
// attaches, not at the end of its wait.
func TestPendingWakesPromptly(t *testing.T) {
	e := newEnv(t, execbroker.Config{})
	id, _, token := e.open(t)
	type result struct {
		got []agent.ExecSession
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		got, _ := e.b.Pending(context.Background(), "c", "i-1", 20*time.Second)
		done <- result{got, time.Now()}
	}()
	other, _ := e.b.Pending(t.Context(), "c", "i-2", 10*time.Millisecond)
	if len(other) != 0 {
		t.Errorf("another instance's Pending = %v, want nothing", other)
	}
	start := time.Now()
	attachAsync(t, e.srv.URL+exec.SessionPath+id, token, nil)
	select {
	case r := <-done:
		if len(r.got) != 1 || r.got[0].SessionID != id {
			t.Errorf("Pending = %v, want session %s", r.got, id)
		}
		t.Logf("Pending answered %v after the attach began", r.at.Sub(start))
	case <-time.After(5 * time.Second):
		t.Fatal("Pending did not answer within 5s of the client attaching")
	}
}

func TestStreamURLFromRequest(t *testing.T) {
	b := execbroker.New(execbroker.Config{})
	defer b.Close()
	var got string
	h := execbroker.WithRequestBase(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := b.Open(r.Context(), "c", "i", agent.ExecSession{})
		got = s.StreamUrl
	}))
	r := httptest.NewRequest(http.MethodPost, "http://berth.example:7700/", nil)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.HasPrefix(got, "http://berth.example:7700"+exec.SessionPath) {
		t.Errorf("streamUrl = %q, want it on http://berth.example:7700%s", got, exec.SessionPath)
	}
}
