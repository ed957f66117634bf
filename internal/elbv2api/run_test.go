package elbv2api

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunRestoresAndRetries: a new Service over a store that already holds
// a listener applies it at start (a restart restores listeners), and a
// failing Apply is retried.
func TestRunRestoresAndRetries(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 80)
	port := freePort(t)
	e.createListener(t, l.LoadBalancerArn, port, forwardTo(tg.TargetGroupArn))

	restarted := New(Config{Store: e.st, Region: "us-east-1", AccountID: "123456789012", Debounce: time.Millisecond})
	dp := &fakeDP{err: errors.New("bind: address in use")}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- restarted.Run(ctx, dp) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "a failed Apply", func() bool {
		dp.mu.Lock()
		defer dp.mu.Unlock()
		return dp.attempts > 0
	})
	dp.mu.Lock()
	dp.err = nil
	dp.mu.Unlock()
	eventually(t, "the stored listener applied after a retry", func() bool {
		cfg, _ := dp.last()
		return len(cfg.Listeners) == 1 && cfg.Listeners[0].Port == int(port) && len(cfg.TargetGroups) == 1
	})
}

func TestSyncReportsApplyError(t *testing.T) {
	e := newEnv(t)
	dp := &fakeDP{err: errors.New("boom")}
	if err := e.svc.Sync(bg, dp); err == nil {
		t.Fatal("Sync: got nil, want the Apply error")
	}
	dp.err = nil
	if err := e.svc.Sync(bg, dp); err != nil {
		t.Fatal(err)
	}
	if _, n := dp.last(); n != 1 {
		t.Errorf("applied %d configs, want 1", n)
	}
}
