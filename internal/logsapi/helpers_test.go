package logsapi

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/logstore"
)

var bg = context.Background()

// t0 is the test clock's start.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// ms returns t0 minus ago in epoch milliseconds.
func ms(ago time.Duration) int64 { return t0.Add(-ago).UnixMilli() }

// testClock is a settable clock; its timers never fire (tests sweep
// directly).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestService returns the Logs API over a fresh store in t.TempDir,
// with region us-east-1, account 123456789012 and a fixed clock shared by
// the API and the store.
func newTestService(t testing.TB) (*Service, *logstore.Store, *testClock) {
	t.Helper()
	clk := &testClock{t: t0}
	st, err := logstore.Open(filepath.Join(t.TempDir(), "logs.db"), logstore.Options{Clock: clk})
	if err != nil {
		t.Fatalf("open log store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}), st, clk
}

// wantErr fails unless err is an *awserr.Error with the given code and,
// if message is not empty, exactly that message.
func wantErr(t *testing.T, err error, code, message string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if e.Code != code || (message != "" && e.Message != message) {
		t.Fatalf("got %s %q, want %s %q", e.Code, e.Message, code, message)
	}
}

// must fails the test on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// call runs an operation through the Ops table with a JSON body and
// returns its output re-encoded as JSON.
func call(t *testing.T, s *Service, op, body string) (string, error) {
	t.Helper()
	f, ok := s.Ops()[op]
	if !ok {
		t.Fatalf("no operation %s", op)
	}
	out, err := f(bg, []byte(body))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("encode %s output: %v", op, err)
	}
	return string(b), nil
}
