package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func TestHello(t *testing.T) {
	s, err := newServer(Config{Version: "v1.2.3", Hostname: "host-a", Task: TaskInfo{ID: "abc", Family: "berth-demo", Revision: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	h := s.handler()
	for want := int64(1); want <= 2; want++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET /: got %d %q, want 200 application/json", rec.Code, rec.Header().Get("Content-Type"))
		}
		var a Answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("GET /: %v\n%s", err, rec.Body)
		}
		if a.Requests != want || a.Instance != s.instance || a.Hostname != "host-a" || a.Version != "v1.2.3" || a.Task.ID != "abc" || a.Task.Revision != "3" || a.PID == 0 {
			t.Errorf("GET / #%d: got %+v", want, a)
		}
	}
}

func TestHelloHTML(t *testing.T) {
	s, _ := newServer(Config{Hostname: "host-a"})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	s.handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), "host-a") {
		t.Errorf("GET / for a browser: got %s\n%s", ct, rec.Body)
	}
}

func TestWantsHTML(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"text/html", true},
		{"application/json, TEXT/HTML;q=0.5", true},
	} {
		if got := wantsHTML(tc.accept); got != tc.want {
			t.Errorf("wantsHTML(%q): got %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestHealth(t *testing.T) {
	s, _ := newServer(Config{})
	h := s.handler()
	get := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		return rec.Code
	}
	if got := get(); got != 200 {
		t.Errorf("GET /health while serving: got %d, want 200", got)
	}
	s.stopping.Store(true)
	if got := get(); got != 503 {
		t.Errorf("GET /health while stopping: got %d, want 503", got)
	}
	if got := s.requests.Load(); got != 0 {
		t.Errorf("health checks counted as requests: %d", got)
	}
}

func TestBadDelay(t *testing.T) {
	s, _ := newServer(Config{})
	for _, d := range []string{"x", "-1s", "1h"} {
		rec := httptest.NewRecorder()
		s.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/?delay="+d, nil))
		if rec.Code != 400 {
			t.Errorf("GET /?delay=%s: got %d, want 400", d, rec.Code)
		}
	}
}

func TestAddrFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ":8080"},
		{map[string]string{"PORT": "31000"}, ":31000"},
		{map[string]string{"PORT": "31000", "HOST": "127.0.0.1"}, "127.0.0.1:31000"},
		{map[string]string{"HOST": "::1"}, "[::1]:8080"},
	} {
		if got := AddrFromEnv(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("AddrFromEnv(%v): got %q, want %q", tc.env, got, tc.want)
		}
	}
}

// startDemo runs the demo on a free loopback port until the test ends or
// stop is called; stop returns Run's error.
func startDemo(t *testing.T) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Addr: "127.0.0.1:0", Logger: testLogger(t), Ready: func(a string) { ready <- a }})
	}()
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-errc
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stop
}

func TestRunFinishesRequestsInFlight(t *testing.T) {
	addr, stop := startDemo(t)
	// Send a slow request on a connection of our own, then make sure the
	// server has accepted it: connections are accepted in order, so once
	// a later one is answered, ours is in the server's hands.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /?delay=300ms HTTP/1.1\r\nHost: demo\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if err := stop(); err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request in flight at shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello from berth") {
		t.Errorf("request in flight at shutdown: got %d %q, want 200 and the answer", resp.StatusCode, body)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after shutdown", addr)
	}
}

func TestCheck(t *testing.T) {
	addr, stop := startDemo(t)
	_, port, _ := net.SplitHostPort(addr)
	ctx := context.Background()
	if err := Check(ctx, ":"+port); err != nil {
		t.Errorf("Check(:%s) while serving: %v", port, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, addr); err == nil {
		t.Errorf("Check(%s) after stop: got nil, want an error", addr)
	}
}

func TestTaskFromMetadata(t *testing.T) {
	if _, err := TaskFromMetadata(context.Background(), func(string) string { return "" }); err != ErrNoMetadata {
		t.Errorf("without the variable: got %v, want ErrNoMetadata", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"TaskARN":"arn:aws:ecs:us-east-1:000000000000:task/default/0123abcd","Family":"berth-demo","Revision":"4"}`)
	}))
	defer srv.Close()
	got, err := TaskFromMetadata(context.Background(), func(string) string { return srv.URL + "/v4/abc" })
	if want := (TaskInfo{ID: "0123abcd", Family: "berth-demo", Revision: "4"}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
}
