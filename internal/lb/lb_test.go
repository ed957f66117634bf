package lb

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthTransitions(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/health" {
			t.Errorf("health check path = %q, want /health", r.URL.Path)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()

	l, clk := newTestLB(t)
	hc := HealthCheck{Path: "/health", Interval: 10 * time.Second, Timeout: 2 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 2, Matcher: "200,204"}
	err := l.Apply(Config{
		Listeners:    []Listener{forward(freePort(t), "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}, HealthCheck: hc}},
	})
	if err != nil {
		t.Fatal(err)
	}
	state := func() TargetState {
		t.Helper()
		s := l.TargetHealth("tg")
		if len(s) != 1 {
			t.Fatalf("TargetHealth = %v, want one target", s)
		}
		return s[0]
	}
	steps := []struct {
		advance    time.Duration
		status     int32
		wantHits   int32
		wantState  HealthState
		wantReason string
	}{
		{0, 200, 1, StateInitial, ReasonInitialHealthChecking},               // checked at once on registration
		{5 * time.Second, 200, 1, StateInitial, ReasonInitialHealthChecking}, // interval honoured: not due yet
		{5 * time.Second, 204, 2, StateInitial, ReasonInitialHealthChecking},
		{10 * time.Second, 200, 3, StateHealthy, ""}, // third pass
		{10 * time.Second, 500, 4, StateHealthy, ""}, // one failure is not enough
		{10 * time.Second, 503, 5, StateUnhealthy, ReasonResponseCodeMismatch},
		{10 * time.Second, 200, 6, StateUnhealthy, ReasonResponseCodeMismatch},
		{10 * time.Second, 200, 7, StateUnhealthy, ReasonResponseCodeMismatch},
		{10 * time.Second, 200, 8, StateHealthy, ""},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		status.Store(s.status)
		checkRound(l)
		got := state()
		if hits.Load() != s.wantHits || got.State != s.wantState || got.Reason != s.wantReason {
			t.Fatalf("step %d: hits %d, state %s (%s), want hits %d, %s (%s)", i, hits.Load(), got.State, got.Reason, s.wantHits, s.wantState, s.wantReason)
		}
	}

	// A closed port fails as FailedHealthChecks.
	srv.Close()
	for range 2 {
		clk.Advance(10 * time.Second)
		checkRound(l)
	}
	if got := state(); got.State != StateUnhealthy || got.Reason != ReasonFailedHealthChecks {
		t.Errorf("after close: %s (%s), want unhealthy (%s)", got.State, got.Reason, ReasonFailedHealthChecks)
	}
}

func TestHealthTCPAndUnused(t *testing.T) {
	srv := backend(t, "a")
	l, clk := newTestLB(t)
	err := l.Apply(Config{
		TargetGroups: []TargetGroup{
			{Name: "tcp", Targets: []string{hostPort(srv)}, HealthCheck: HealthCheck{Protocol: ProtocolTCP}},
		},
		Listeners: []Listener{forward(freePort(t), "tcp")},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	if got := l.TargetHealth("tcp"); got[0].State != StateHealthy {
		t.Errorf("tcp check: %v, want healthy", got)
	}
	// Drop the listener: the group is no longer used.
	err = l.Apply(Config{TargetGroups: []TargetGroup{{Name: "tcp", Targets: []string{hostPort(srv)}, HealthCheck: HealthCheck{Protocol: ProtocolTCP}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.TargetHealth("tcp"); got[0].State != StateUnused || got[0].Reason != ReasonNotInUse {
		t.Errorf("unused group: %v, want unused", got)
	}
	if got := l.TargetHealth("nope"); got != nil {
		t.Errorf("TargetHealth(unknown) = %v, want nil", got)
	}
}

func TestWeightedSplit(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners: []Listener{{Port: port, DefaultAction: Action{Forward: []WeightedTargetGroup{{TargetGroup: "a", Weight: 80}, {TargetGroup: "b", Weight: 20}}}}},
		TargetGroups: []TargetGroup{
			{Name: "a", Targets: []string{hostPort(a)}},
			{Name: "b", Targets: []string{hostPort(b)}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	const n = 2000
	counts := map[string]int{}
	for range n {
		code, body, err := get(c, lbURL(port, "/"))
		if err != nil || code != 200 {
			t.Fatalf("get: %d %v", code, err)
		}
		counts[body]++
	}
	frac := float64(counts["a"]) / n
	if frac < 0.75 || frac > 0.85 {
		t.Errorf("group a got %.3f of requests, want 0.80±0.05 (counts %v)", frac, counts)
	}
}

func TestRoundRobinEven(t *testing.T) {
	a, b, c3 := backend(t, "a"), backend(t, "b"), backend(t, "c")
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(a), hostPort(b), hostPort(c3)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	counts := map[string]int{}
	for range 300 {
		_, body, err := get(c, lbURL(port, "/"))
		if err != nil {
			t.Fatal(err)
		}
		counts[body]++
	}
	for _, k := range []string{"a", "b", "c"} {
		if counts[k] != 100 {
			t.Errorf("round robin counts %v, want 100 each", counts)
			break
		}
	}
}

// blocker is a backend whose requests wait for release.
type blocker struct {
	*httptest.Server
	started chan struct{}
	release chan struct{}
}

func newBlocker(t *testing.T, name string) *blocker {
	b := &blocker{started: make(chan struct{}, 100), release: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			b.started <- struct{}{}
			<-b.release
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
	})
	return b
}

func TestLeastOutstandingPicksIdle(t *testing.T) {
	busy, idle := newBlocker(t, "busy"), newBlocker(t, "idle")
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Algorithm: LeastOutstandingRequests, Targets: []string{hostPort(busy.Server), hostPort(idle.Server)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	// Hold one slow request, wherever it lands.
	done := make(chan string)
	go func() {
		_, body, _ := get(c, lbURL(port, "/slow"))
		done <- body
	}()
	var held string
	select {
	case <-busy.started:
		held = "busy"
	case <-idle.started:
		held = "idle"
	case <-time.After(5 * time.Second):
		t.Fatal("slow request never arrived")
	}
	for i := range 20 {
		_, body, err := get(c, lbURL(port, "/"))
		if err != nil {
			t.Fatal(err)
		}
		if body == held {
			t.Fatalf("request %d went to %s, which has a request outstanding", i, held)
		}
	}
	close(busy.release)
	close(idle.release)
	if got := <-done; got != held {
		t.Errorf("slow request answered by %q, want %q", got, held)
	}
}

func TestDraining(t *testing.T) {
	old, next := newBlocker(t, "old"), backend(t, "new")
	l, clk := newTestLB(t)
	port := freePort(t)
	tg := func(targets ...string) Config {
		return Config{
			Listeners:    []Listener{forward(port, "tg")},
			TargetGroups: []TargetGroup{{Name: "tg", Targets: targets, DeregistrationDelay: 30 * time.Second}},
		}
	}
	if err := l.Apply(tg(hostPort(old.Server))); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result)
	go func() {
		code, body, err := get(c, lbURL(port, "/slow"))
		inflight <- result{code, body, err}
	}()
	<-old.started

	// Deploy: register new, deregister old.
	if err := l.Apply(tg(hostPort(next))); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	states := l.TargetHealth("tg")
	if len(states) != 2 || states[0].Target != hostPort(next) && states[1].Target != hostPort(next) {
		t.Fatalf("TargetHealth = %v, want old and new", states)
	}
	for _, s := range states {
		if s.Target == hostPort(old.Server) && (s.State != StateDraining || s.InFlight != 1) {
			t.Errorf("old target: %+v, want draining with 1 in flight", s)
		}
	}
	for range 20 {
		code, body, err := get(c, lbURL(port, "/"))
		if err != nil || code != 200 || body != "new" {
			t.Fatalf("new request: %d %q %v, want 200 from new", code, body, err)
		}
	}
	close(old.release)
	if r := <-inflight; r.err != nil || r.code != 200 || r.body != "old" {
		t.Errorf("in-flight request on draining target: %d %q %v, want 200 from old", r.code, r.body, r.err)
	}
	clk.Advance(30 * time.Second)
	if s := l.TargetHealth("tg"); len(s) != 1 || s[0].Target != hostPort(next) {
		t.Errorf("after deregistration delay: %v, want only new", s)
	}
}

func TestDrainDeadlineCancels(t *testing.T) {
	old := newBlocker(t, "old")
	l, clk := newTestLB(t)
	port := freePort(t)
	cfg := Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(old.Server)}, DeregistrationDelay: 10 * time.Second}},
	}
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	codes := make(chan int)
	go func() {
		code, _, _ := get(c, lbURL(port, "/slow"))
		codes <- code
	}()
	<-old.started
	cfg.TargetGroups[0].Targets = nil
	if err := l.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	select {
	case code := <-codes:
		if code != http.StatusBadGateway {
			t.Errorf("request past the delay: %d, want 502", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request not cancelled after the deregistration delay")
	}
}

func TestRetryOnDeadTarget(t *testing.T) {
	a, b, dead := backend(t, "a"), backend(t, "b"), backend(t, "dead")
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(a), hostPort(b), hostPort(dead)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	// Warm the pools so the dead target has idle upstream connections.
	for range 30 {
		if _, _, err := get(c, lbURL(port, "/")); err != nil {
			t.Fatal(err)
		}
	}
	dead.CloseClientConnections()
	dead.Close() // still "healthy": no health check has run since
	var failures int
	for i := range 200 {
		var code int
		var body string
		var err error
		if i%2 == 0 {
			code, body, err = get(c, lbURL(port, "/"))
		} else {
			var resp *http.Response
			resp, err = c.Post(lbURL(port, "/"), "text/plain", strings.NewReader("payload"))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				code, body = resp.StatusCode, string(b)
			}
		}
		if err != nil || code != 200 || body == "dead" {
			failures++
			t.Logf("request %d: %d %q %v", i, code, body, err)
		}
	}
	if failures != 0 {
		t.Errorf("%d of 200 requests failed with one dead target, want 0", failures)
	}
}

func TestApplyUnderLoad(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	l, clk := newTestLB(t)
	port := freePort(t)
	cfg := func(tg string) Config {
		return Config{
			Listeners: []Listener{{Port: port, Rules: []Rule{{Priority: 1, Paths: []string{"/x/*"}, Action: Action{Forward: []WeightedTargetGroup{{TargetGroup: tg}}}}},
				DefaultAction: Action{Forward: []WeightedTargetGroup{{TargetGroup: tg}}}}},
			TargetGroups: []TargetGroup{{Name: "a", Targets: []string{hostPort(a)}}, {Name: "b", Targets: []string{hostPort(b)}}},
		}
	}
	if err := l.Apply(cfg("a")); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var total, failed atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, body, err := get(c, lbURL(port, fmt.Sprintf("/x/%d", w)))
				total.Add(1)
				if err != nil || code != 200 || (body != "a" && body != "b") {
					failed.Add(1)
				}
			}
		}()
	}
	for i := range 100 {
		if err := l.Apply(cfg([]string{"a", "b"}[i%2])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let traffic interleave with the swaps
	}
	cancel()
	wg.Wait()
	t.Logf("%d requests across 100 Apply calls", total.Load())
	if failed.Load() != 0 || total.Load() == 0 {
		t.Errorf("%d of %d requests failed during Apply, want 0", failed.Load(), total.Load())
	}
}

func TestApplyBindFailureKeepsOld(t *testing.T) {
	a := backend(t, "a")
	l, clk := newTestLB(t)
	port := freePort(t)
	good := Config{Listeners: []Listener{forward(port, "a")}, TargetGroups: []TargetGroup{{Name: "a", Targets: []string{hostPort(a)}}}}
	if err := l.Apply(good); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	busyPort := a.Listener.Addr().(*net.TCPAddr).Port // already taken
	bad := good
	bad.Listeners = []Listener{forward(busyPort, "a")}
	if err := l.Apply(bad); err == nil {
		t.Fatal("Apply on a taken port succeeded, want error")
	}
	if code, body, err := get(newClient(t), lbURL(port, "/")); err != nil || code != 200 || body != "a" {
		t.Errorf("after failed Apply: %d %q %v, want old listener serving", code, body, err)
	}
}

func TestRunNewTargetGetsTraffic(t *testing.T) {
	l := New(Options{})
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error)
	go func() { runDone <- l.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()
	srv := backend(t, "a")
	start := time.Now()
	err := l.Apply(Config{Listeners: []Listener{forward(port, "tg")}, TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, _ := get(c, lbURL(port, "/"))
		if code == 200 && body == "a" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target never got traffic; health %v", l.TargetHealth("tg"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("new target received traffic %v after registration (target <= 2s)", time.Since(start))
}

func TestApplyKeepsListener(t *testing.T) {
	a := backend(t, "a")
	l, clk := newTestLB(t)
	p1, p2 := freePort(t), freePort(t)
	tgs := []TargetGroup{{Name: "a", Targets: []string{hostPort(a)}}}
	if err := l.Apply(Config{Listeners: []Listener{forward(p1, "a")}, TargetGroups: tgs}); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	// One keep-alive connection to p1, reused across both Apply calls.
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var conns atomic.Int32
	trace := func() { conns.Add(1) }
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		trace()
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	check := func(port int, when string) {
		t.Helper()
		if code, body, err := get(c, lbURL(port, "/")); err != nil || code != 200 || body != "a" {
			t.Fatalf("%s: %d %q %v, want 200 a", when, code, body, err)
		}
	}
	check(p1, "before")
	if err := l.Apply(Config{Listeners: []Listener{forward(p1, "a"), forward(p2, "a")}, TargetGroups: tgs}); err != nil {
		t.Fatal(err)
	}
	check(p1, "after adding a listener")
	check(p2, "new listener")
	if err := l.Apply(Config{Listeners: []Listener{forward(p1, "a")}, TargetGroups: tgs}); err != nil {
		t.Fatal(err)
	}
	check(p1, "after removing the other listener")
	if got := conns.Load(); got != 2 {
		t.Errorf("dialed %d connections, want 2 (one per listener; p1's reused)", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr.CloseIdleConnections()
		if _, _, err := get(c, lbURL(p2, "/")); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("removed listener still accepts connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFailOpenAndNoTargets(t *testing.T) {
	var status atomic.Int32
	status.Store(500)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") == "berth-lb-HealthChecker/1.0" {
			w.WriteHeader(int(status.Load()))
			return
		}
		io.WriteString(w, "a")
	}))
	defer srv.Close()
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	// Fail open: with no healthy target, targets still in their first
	// checks (as after a restart) get the traffic.
	if code, body, err := get(c, lbURL(port, "/")); err != nil || code != 200 || body != "a" {
		t.Errorf("only initial targets (fail open): %d %q %v, want 200", code, body, err)
	}
	makeHealthy(l, clk) // two failures: unhealthy
	if s := l.TargetHealth("tg"); s[0].State != StateUnhealthy {
		t.Fatalf("state %v, want unhealthy", s)
	}
	if code, body, err := get(c, lbURL(port, "/")); err != nil || code != 200 || body != "a" {
		t.Errorf("all unhealthy (fail open): %d %q %v, want 200", code, body, err)
	}
	// No target at all: 503.
	if err := l.Apply(Config{Listeners: []Listener{forward(port, "tg")}, TargetGroups: []TargetGroup{{Name: "tg"}}}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(c, lbURL(port, "/")); code != http.StatusServiceUnavailable {
		t.Errorf("no targets: %d, want 503", code)
	}
}

// TestDrainCompletesEarly checks ELB's early deregistration: a draining
// target with nothing in flight is forgotten at once, one with requests in
// flight as soon as the last one ends, both well before the delay.
func TestDrainCompletesEarly(t *testing.T) {
	idle, busy, next := backend(t, "idle"), newBlocker(t, "busy"), backend(t, "next")
	l, clk := newTestLB(t)
	port := freePort(t)
	cfg := func(targets ...string) Config {
		return Config{
			Listeners:    []Listener{forward(port, "tg")},
			TargetGroups: []TargetGroup{{Name: "tg", Targets: targets, DeregistrationDelay: time.Hour}},
		}
	}
	targets := func() []string {
		var out []string
		for _, s := range l.TargetHealth("tg") {
			out = append(out, s.Target+"="+string(s.State))
		}
		return out
	}
	if err := l.Apply(cfg(hostPort(idle), hostPort(busy.Server))); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c := newClient(t)
	inflight := make(chan string)
	go func() {
		// Round robin: keep asking until the slow path lands on busy.
		for {
			_, body, err := get(c, lbURL(port, "/slow"))
			if err != nil || body != "idle" {
				inflight <- body
				return
			}
		}
	}()
	<-busy.started

	if err := l.Apply(cfg(hostPort(next))); err != nil {
		t.Fatal(err)
	}
	want := []string{hostPort(busy.Server) + "=draining", hostPort(next) + "=initial"}
	if hostPort(next) < hostPort(busy.Server) {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, targets()); diff != "" {
		t.Fatalf("right after deregistration (-want +got; the idle target must be gone at once):\n%s", diff)
	}

	close(busy.release)
	if body := <-inflight; body != "busy" {
		t.Fatalf("in-flight request answered %q, want busy", body)
	}
	want = []string{hostPort(next) + "=initial"}
	deadline := time.Now().Add(5 * time.Second)
	for diff := cmp.Diff(want, targets()); diff != ""; diff = cmp.Diff(want, targets()) {
		if time.Now().After(deadline) {
			t.Fatalf("after the last in-flight request (-want +got):\n%s", diff)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
