package agent

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the agent's time source: heartbeats, backoff, health polling,
// log batching and the janitor's grace period all run on it.
// *fake.ManualClock (internal/runtime/fake) satisfies it, so one manual
// clock can drive the fake runtime and the agent together.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call and reports whether it did.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// after returns a channel closed once d has passed on c, and a func that
// cancels the timer.
func after(c Clock, d time.Duration) (<-chan struct{}, func() bool) {
	ch := make(chan struct{})
	stop := c.AfterFunc(d, func() { close(ch) })
	return ch, stop
}

// sleep waits d on c, or until ctx is done.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	ch, stop := after(c, d)
	defer stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is capped exponential backoff with ±20% jitter.
type backoff struct {
	min, max time.Duration
	n        int
}

// next returns how long to wait before the next attempt.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	b.n++
	if j := int64(d) * 2 / 5; j > 0 {
		d = d - time.Duration(j/2) + time.Duration(rand.Int64N(j+1))
	}
	return d
}

// reset starts again from min after a success.
func (b *backoff) reset() { b.n = 0 }
