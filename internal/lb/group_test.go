package lb

import (
	"testing"
	"time"
)

func TestSlowStart(t *testing.T) {
	clk := newManualClock()
	g := newGroup("tg", clk, discard)
	g.update(TargetGroup{Name: "tg", Algorithm: RoundRobin, Targets: []string{"10.0.0.1:80"}, SlowStart: 100 * time.Second, HealthCheck: HealthCheck{HealthyThreshold: 1, UnhealthyThreshold: 1, Matcher: "200"}}, true, clk, clk.Now())
	old := g.targets["10.0.0.1:80"]
	g.record(old, probeResult{ok: true})
	if old.slowUntil.Load() != 0 {
		t.Fatal("first healthy target entered slow start, want not (no other healthy target)")
	}
	g.update(TargetGroup{Name: "tg", Algorithm: RoundRobin, Targets: []string{"10.0.0.1:80", "10.0.0.2:80"}, SlowStart: 100 * time.Second, HealthCheck: HealthCheck{HealthyThreshold: 1, UnhealthyThreshold: 1, Matcher: "200"}}, true, clk, clk.Now())
	fresh := g.targets["10.0.0.2:80"]
	g.record(fresh, probeResult{ok: true})

	share := func() float64 {
		const n = 20000
		got := 0
		for range n {
			if g.pick(nil) == fresh {
				got++
			}
		}
		return float64(got) / n
	}
	tests := []struct {
		at       time.Duration
		min, max float64
	}{
		{0, 0, 0.01},
		{20 * time.Second, 0.07, 0.13}, // 20% of its round-robin half
		{60 * time.Second, 0.26, 0.34},
		{100 * time.Second, 0.48, 0.52}, // ramp over: a full half
	}
	var elapsed time.Duration
	for _, tt := range tests {
		clk.Advance(tt.at - elapsed)
		elapsed = tt.at
		if got := share(); got < tt.min || got > tt.max {
			t.Errorf("at %v: new target share %.3f, want in [%.2f, %.2f]", tt.at, got, tt.min, tt.max)
		}
	}
}
