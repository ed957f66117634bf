package lb

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HealthState is a target's state as ELBv2 reports it.
type HealthState string

// Target states.
const (
	StateInitial   HealthState = "initial"
	StateHealthy   HealthState = "healthy"
	StateUnhealthy HealthState = "unhealthy"
	StateDraining  HealthState = "draining"
	StateUnused    HealthState = "unused"
)

// Reason codes, as ELBv2 names them.
const (
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonNotInUse                 = "Target.NotInUse"
)

// TargetState is one target's health, for the deployment controller.
type TargetState struct {
	Target      string // ip:port
	State       HealthState
	Reason      string // empty when healthy
	Description string
	InFlight    int64 // requests being proxied to it now
}

// target is one registered (or draining) backend.
type target struct {
	addr        string
	g           *group
	outstanding atomic.Int64
	// draining is set (under g.mu) when the target is deregistered; read
	// lock-free by acquire and release.
	draining atomic.Bool
	ctx      context.Context // cancelled when draining ends
	cancel   context.CancelFunc
	pool     connPool // idle keep-alive connections to it
	// slowFrom and slowUntil (unix ns) bound the target's slow-start ramp;
	// slowUntil is 0 outside slow start.
	slowFrom, slowUntil atomic.Int64

	// Guarded by group.mu.
	state     HealthState
	reason    string
	desc      string
	passes    int
	fails     int
	nextCheck time.Time
	probing   bool
	stopDrain func() bool
}

// acquire counts one request on t. It reports false, counting nothing, if
// t has started draining: the caller must pick another target. Together
// with drainLocked's store-then-load this guarantees that a target found
// idle while draining never sees another request.
func (t *target) acquire() bool {
	t.outstanding.Add(1)
	if t.draining.Load() {
		t.release()
		return false
	}
	return true
}

// release ends a request counted by acquire; the last one on a draining
// target completes its deregistration.
func (t *target) release() {
	if t.outstanding.Add(-1) == 0 && t.draining.Load() {
		t.g.mu.Lock()
		t.g.forgetIfIdleLocked(t)
		t.g.mu.Unlock()
	}
}

// group is a target group's live state. It survives Apply while its name does.
type group struct {
	name string
	rr   atomic.Uint64
	// routable holds the targets new requests may go to; replaced whole.
	routable atomic.Pointer[[]*target]
	algo     atomic.Value // Algorithm
	clock    Clock
	log      *slog.Logger

	mu      sync.Mutex
	cfg     TargetGroup
	matcher statusMatcher
	targets map[string]*target
	used    bool
}

func newGroup(name string, clk Clock, log *slog.Logger) *group {
	g := &group{name: name, targets: map[string]*target{}, clock: clk, log: log.With("target_group", name)}
	g.routable.Store(&[]*target{})
	g.algo.Store(RoundRobin)
	return g
}

// recomputeLocked republishes the routable set: healthy targets, or every
// target not draining when none is healthy (fail open, as ELB does). So
// right after a restart, when every target is back in its first health
// checks, traffic still flows to the targets that served it.
func (g *group) recomputeLocked() {
	var healthy, others []*target
	for _, t := range g.targets {
		switch {
		case t.draining.Load():
		case t.state == StateHealthy:
			healthy = append(healthy, t)
		case t.state == StateUnhealthy || t.state == StateInitial:
			others = append(others, t)
		}
	}
	r := healthy
	if len(r) == 0 {
		r = others
	}
	sort.Slice(r, func(i, j int) bool { return r[i].addr < r[j].addr })
	g.routable.Store(&r)
}

// pick chooses a routable target not in tried, or nil.
func (g *group) pick(tried []*target) *target {
	ts := *g.routable.Load()
	n := len(ts)
	if n == 0 {
		return nil
	}
	start := int(g.rr.Add(1) % uint64(n))
	lor := g.algo.Load().(Algorithm) == LeastOutstandingRequests
	var best, fallback *target
	var bestN, now int64
	for i := range n {
		t := ts[(start+i)%n]
		if contains(tried, t) {
			continue
		}
		if !lor {
			// In slow start a target takes its turn with probability
			// growing linearly from 0 to 1 over the ramp.
			if until := t.slowUntil.Load(); until != 0 {
				if now == 0 {
					now = g.clock.Now().UnixNano()
				}
				if from := t.slowFrom.Load(); now < until && until > from {
					if fallback == nil {
						fallback = t
					}
					if rand.Float64()*float64(until-from) >= float64(now-from) {
						continue
					}
				}
			}
			return t
		}
		if o := t.outstanding.Load(); best == nil || o < bestN {
			best, bestN = t, o
		}
	}
	if !lor {
		return fallback
	}
	return best
}

func contains(ts []*target, t *target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// update applies a new TargetGroup config: new targets start initial and are
// checked at once; removed ones drain for the deregistration delay.
func (g *group) update(cfg TargetGroup, used bool, clk Clock, now time.Time) {
	m, _ := parseMatcher(cfg.HealthCheck.Matcher) // validated
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cfg, g.matcher, g.used = cfg, m, used
	g.algo.Store(cfg.Algorithm)
	want := map[string]bool{}
	for _, a := range cfg.Targets {
		want[a] = true
		t, ok := g.targets[a]
		if ok && !t.draining.Load() {
			continue
		}
		if ok { // re-registered while draining: stop the drain, start over
			t.stopDrain()
			t.draining.Store(false)
		} else {
			t = &target{addr: a, g: g}
			t.ctx, t.cancel = context.WithCancel(context.Background())
			g.targets[a] = t
		}
		t.state, t.reason, t.desc = StateInitial, ReasonInitialHealthChecking, "Initial health checks in progress"
		t.passes, t.fails, t.nextCheck = 0, 0, now
	}
	for a, t := range g.targets {
		if !want[a] && !t.draining.Load() {
			g.drainLocked(t, clk)
		}
	}
	g.recomputeLocked()
}

// drainLocked stops new requests to t. It is forgotten as soon as it has
// no request in flight (at once if it has none, as ELB completes such a
// deregistration without waiting); at the latest when the deregistration
// delay ends, when its remaining requests are cancelled.
func (g *group) drainLocked(t *target, clk Clock) {
	t.draining.Store(true)
	t.state, t.reason, t.desc = StateDraining, ReasonDeregistrationInProgress, "Target deregistration is in progress"
	t.stopDrain = clk.AfterFunc(g.cfg.DeregistrationDelay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !t.draining.Load() {
			return
		}
		g.forgetLocked(t)
	})
	g.forgetIfIdleLocked(t)
}

// forgetIfIdleLocked forgets t if it is draining with nothing in flight.
func (g *group) forgetIfIdleLocked(t *target) {
	if t.draining.Load() && t.outstanding.Load() == 0 {
		g.forgetLocked(t)
	}
}

// forgetLocked ends t's deregistration: its requests are cancelled and it
// is no longer reported.
func (g *group) forgetLocked(t *target) {
	if t.stopDrain != nil {
		t.stopDrain()
	}
	t.cancel()
	t.pool.close()
	if g.targets[t.addr] == t {
		delete(g.targets, t.addr)
	}
}

// drainAll drains every target (the group was removed).
func (g *group) drainAll(clk Clock) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.targets {
		if !t.draining.Load() {
			g.drainLocked(t, clk)
		}
	}
	g.used = false
	g.recomputeLocked()
}

// states reports every target, sorted by address.
func (g *group) states() []TargetState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TargetState, 0, len(g.targets))
	for _, t := range g.targets {
		s := TargetState{Target: t.addr, State: t.state, Reason: t.reason, Description: t.desc, InFlight: t.outstanding.Load()}
		if !g.used && !t.draining.Load() {
			s.State, s.Reason, s.Description = StateUnused, ReasonNotInUse, "Target group is not configured to receive traffic from the load balancer"
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// probeResult is the outcome of one health check.
type probeResult struct {
	ok     bool
	reason string
	desc   string
}

// check starts a probe for every due target and returns at once; wg is done
// when they have all reported. Unlike ELB, groups no listener uses are
// checked too (though reported "unused"), so a blue/green switch lands on
// targets already known healthy. It returns the earliest next due time.
func (g *group) check(ctx context.Context, now time.Time, client *http.Client, wg *sync.WaitGroup, done func()) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	var next time.Time
	hc := g.cfg.HealthCheck
	for _, t := range g.targets {
		if t.draining.Load() || t.probing {
			continue
		}
		if now.Before(t.nextCheck) {
			if next.IsZero() || t.nextCheck.Before(next) {
				next = t.nextCheck
			}
			continue
		}
		t.probing = true
		t.nextCheck = now.Add(hc.Interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := probe(ctx, client, t.addr, hc, g.matcher)
			g.record(t, res)
			if done != nil {
				done()
			}
		}()
	}
	return next
}

// record applies one probe result to t's counters and state.
func (g *group) record(t *target, res probeResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.probing = false
	if t.draining.Load() {
		return
	}
	hc := g.cfg.HealthCheck
	before := t.state
	if res.ok {
		t.fails = 0
		t.passes++
		if t.state != StateHealthy && t.passes >= hc.HealthyThreshold {
			t.state, t.reason, t.desc = StateHealthy, "", ""
			g.startSlowLocked(t)
		}
	} else {
		t.passes = 0
		t.fails++
		if t.state == StateUnhealthy {
			t.reason, t.desc = res.reason, res.desc
		} else if t.fails >= hc.UnhealthyThreshold {
			t.state, t.reason, t.desc = StateUnhealthy, res.reason, res.desc
		}
	}
	if t.state != before {
		g.log.Info("target health changed", "target", t.addr, "from", before, "to", t.state, "reason", t.reason)
		g.recomputeLocked()
	}
}

// startSlowLocked puts a newly healthy t in slow start, if the group has
// one and other healthy targets to carry the load meanwhile (as ELB does).
func (g *group) startSlowLocked(t *target) {
	t.slowUntil.Store(0)
	if g.cfg.SlowStart <= 0 {
		return
	}
	for _, o := range g.targets {
		if o != t && !o.draining.Load() && o.state == StateHealthy {
			now := g.clock.Now()
			t.slowFrom.Store(now.UnixNano())
			t.slowUntil.Store(now.Add(g.cfg.SlowStart).UnixNano())
			return
		}
	}
}

// probe runs one health check against addr.
func probe(ctx context.Context, client *http.Client, addr string, hc HealthCheck, m statusMatcher) probeResult {
	if hc.Port != TrafficPort {
		host, _, _ := net.SplitHostPort(addr)
		addr = net.JoinHostPort(host, hc.Port)
	}
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	if hc.Protocol == ProtocolTCP {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return failure(ctx, err)
		}
		c.Close()
		return probeResult{ok: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+hc.Path, nil)
	if err != nil {
		return probeResult{reason: ReasonFailedHealthChecks, desc: err.Error()}
	}
	req.Header.Set("User-Agent", "berth-lb-HealthChecker/1.0")
	resp, err := client.Do(req)
	if err != nil {
		return failure(ctx, err)
	}
	resp.Body.Close()
	if !m.match(resp.StatusCode) {
		return probeResult{reason: ReasonResponseCodeMismatch, desc: "Health checks failed with these codes: [" + strconv.Itoa(resp.StatusCode) + "]"}
	}
	return probeResult{ok: true}
}

func failure(ctx context.Context, err error) probeResult {
	if ctx.Err() != nil {
		return probeResult{reason: ReasonTimeout, desc: "Request timed out"}
	}
	return probeResult{reason: ReasonFailedHealthChecks, desc: fmt.Sprintf("Health checks failed: %v", err)}
}
