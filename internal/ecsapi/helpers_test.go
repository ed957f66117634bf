package ecsapi

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/store/bolt"
)

// testClock is a settable clock for tests.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// newTestService returns an ECS API over a fresh bolt store in t.TempDir,
// with region us-east-1, account 123456789012 and a fixed clock.
func newTestService(t testing.TB) (*Service, *testClock) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &testClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	return New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Now: clk.Now}), clk
}

// wantCode fails unless err is an *awserr.Error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s (%s), want %s", e.Code, e.Message, code)
	}
}

var bg = context.Background()

// ptr returns a pointer to v, for the model's boxed members.
func ptr[T any](v T) *T { return &v }
