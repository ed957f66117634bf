package lb

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock that moves only when told.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at   time.Time
	f    func()
	done bool
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	if d <= 0 {
		t.done = true
		go f()
		return func() bool { return false }
	}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.done {
			return false
		}
		t.done = true
		return true
	}
}

// Advance moves time on and runs the timers that fall due, waiting for them.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

var _ Clock = (*manualClock)(nil)

var discard = slog.New(slog.DiscardHandler)

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// backend is an httptest server that answers with its name.
func backend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostPort(s *httptest.Server) string { return s.Listener.Addr().String() }

// forward is a listener that sends everything to the given groups equally.
func forward(port int, tgs ...string) Listener {
	l := Listener{Port: port}
	for _, tg := range tgs {
		l.DefaultAction.Forward = append(l.DefaultAction.Forward, WeightedTargetGroup{TargetGroup: tg})
	}
	return l
}

// newTestLB returns an LB on a manual clock, closed at cleanup.
func newTestLB(t testing.TB) (*LB, *manualClock) {
	t.Helper()
	clk := newManualClock()
	l := New(Options{Clock: clk})
	t.Cleanup(func() { l.Close() })
	return l, clk
}

// checkRound runs one health-check round and waits for its probes.
func checkRound(l *LB) {
	var wg sync.WaitGroup
	l.checkHealth(context.Background(), &wg)
	wg.Wait()
}

// makeHealthy runs enough rounds, a second apart, for new targets to pass
// the default healthy threshold.
func makeHealthy(l *LB, clk *manualClock) {
	for range DefaultHealthyThreshold {
		checkRound(l)
		clk.Advance(DefaultInterval)
	}
}

// get fetches url and returns status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func lbURL(port int, path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(port) + path
}

func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
