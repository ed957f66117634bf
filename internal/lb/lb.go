package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("load balancer closed")

// Options are an LB's dependencies.
type Options struct {
	// Logger receives listener and health events; required in production,
	// nil discards.
	Logger *slog.Logger
	// Clock defaults to the wall clock.
	Clock Clock
	// MaxRetries is how many other targets a failed connection is retried
	// on; default 2.
	MaxRetries int
}

// LB is the data plane: listeners, route tables, target groups and their
// health checks.
type LB struct {
	log        *slog.Logger
	clock      Clock
	maxRetries int
	hcClient   *http.Client

	// table is the current route tables, one per listener address. Swapped
	// whole by Apply; read lock-free by every request.
	table atomic.Pointer[table]
	wake  chan struct{}

	mu        sync.Mutex // serializes Apply and Close
	listeners map[string]*listener
	groups    map[string]*group
	closed    bool
	wg        sync.WaitGroup // listener serve goroutines and shutdowns
}

// table maps listener addresses to their routes.
type table struct {
	routes map[string]*routes
}

// New returns an LB with no listeners; call Apply to configure it and Run
// to start health checks.
func New(opts Options) *LB {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 2
	}
	l := &LB{
		log:        opts.Logger.With("component", "lb"),
		clock:      opts.Clock,
		maxRetries: max(opts.MaxRetries, 0),
		hcClient: &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		wake:      make(chan struct{}, 1),
		listeners: map[string]*listener{},
		groups:    map[string]*group{},
	}
	l.table.Store(&table{routes: map[string]*routes{}})
	return l
}

// Apply makes cfg the running configuration. It validates cfg, binds any new
// listeners, builds the new route tables, then swaps them in atomically;
// listeners that stay keep their sockets and connections. Only after the
// swap are removed listeners shut down gracefully. On error nothing changes.
func (l *LB) Apply(cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}

	// Bind new listeners first: a failure leaves the old config untouched.
	var added []*listener
	want := map[string]bool{}
	for _, lc := range cfg.Listeners {
		addr := lc.Addr()
		want[addr] = true
		if _, ok := l.listeners[addr]; ok {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, a := range added {
				a.ln.Close()
			}
			return fmt.Errorf("bind listener %s: %w", addr, err)
		}
		added = append(added, newListener(addr, ln))
	}

	// Target groups: keep live state for names that stay.
	used := map[string]bool{}
	for _, lc := range cfg.Listeners {
		for _, r := range append([]Rule{{Action: lc.DefaultAction}}, lc.Rules...) {
			for _, w := range r.Action.Forward {
				used[w.TargetGroup] = true
			}
		}
	}
	now := l.clock.Now()
	groups := map[string]*group{}
	for _, tc := range cfg.TargetGroups {
		g := l.groups[tc.Name]
		if g == nil {
			g = newGroup(tc.Name, l.clock, l.log)
		}
		g.update(tc, used[tc.Name], l.clock, now)
		groups[tc.Name] = g
	}
	for name, g := range l.groups {
		if groups[name] == nil {
			g.drainAll(l.clock)
		}
	}

	// Build the new table, then swap.
	nt := &table{routes: map[string]*routes{}}
	for _, lc := range cfg.Listeners {
		nt.routes[lc.Addr()] = compileRoutes(lc, groups)
	}
	certs := map[string]*certSet{}
	for _, lc := range cfg.Listeners {
		if lc.Protocol == ProtocolHTTPS {
			certs[lc.Addr()], _ = newCertSet(lc.Certificates) // validated
		}
	}
	for _, a := range added {
		a.certs.Store(certs[a.addr])
	}
	for addr, ls := range l.listeners {
		if want[addr] {
			ls.certs.Store(certs[addr])
		}
	}
	l.table.Store(nt)
	l.groups = groups

	for _, a := range added {
		l.serveLocked(a)
	}
	for addr, ls := range l.listeners {
		if !want[addr] {
			delete(l.listeners, addr)
			l.shutdown(ls)
		}
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (l *LB) serveLocked(ls *listener) {
	l.listeners[ls.addr] = ls
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.acceptLoop(ls)
	}()
	l.log.Info("listener started", "addr", ls.addr)
}

// shutdown stops ls gracefully in the background: it takes no new
// connections, idle ones are closed, and busy ones get shutdownGrace to
// finish their request.
func (l *LB) shutdown(ls *listener) {
	ls.closing.Store(true)
	ls.ln.Close()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		deadline := time.Now().Add(shutdownGrace)
		for ls.closeConns(false) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		ls.closeConns(true)
		l.log.Info("listener stopped", "addr", ls.addr)
	}()
}

// Addrs returns the addresses of the bound listeners.
func (l *LB) Addrs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.listeners))
	for a := range l.listeners {
		out = append(out, a)
	}
	return out
}

// TargetHealth reports the targets of target group tg, sorted by address,
// or nil if there is no such group.
func (l *LB) TargetHealth(tg string) []TargetState {
	l.mu.Lock()
	g := l.groups[tg]
	l.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.states()
}

// Run runs health checks until ctx is done, then closes the LB.
func (l *LB) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		l.Close()
	}()
	for {
		next := l.checkHealth(ctx, &wg)
		d := time.Second
		if !next.IsZero() {
			d = max(next.Sub(l.clock.Now()), time.Millisecond)
		}
		ch := make(chan struct{})
		stop := l.clock.AfterFunc(d, func() { close(ch) })
		select {
		case <-ch:
		case <-l.wake:
			stop()
		case <-ctx.Done():
			stop()
			return nil
		}
	}
}

// checkHealth starts the probes that are due, registering them on wg, and
// returns when the next probe falls due (zero if none is scheduled). It is
// Run's loop body.
func (l *LB) checkHealth(ctx context.Context, wg *sync.WaitGroup) time.Time {
	l.mu.Lock()
	gs := make([]*group, 0, len(l.groups))
	for _, g := range l.groups {
		gs = append(gs, g)
	}
	l.mu.Unlock()
	now := l.clock.Now()
	var next time.Time
	for _, g := range gs {
		n := g.check(ctx, now, l.hcClient, wg, l.poke)
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}

// poke wakes Run so it reschedules after a probe finishes.
func (l *LB) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Close stops every listener at once and drops idle upstream connections.
func (l *LB) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	var errs []error
	for addr, ls := range l.listeners {
		ls.closing.Store(true)
		errs = append(errs, ls.ln.Close())
		ls.closeConns(true)
		delete(l.listeners, addr)
	}
	for _, g := range l.groups {
		g.mu.Lock()
		for _, t := range g.targets {
			if t.stopDrain != nil {
				t.stopDrain()
			}
			t.cancel()
			t.pool.close()
		}
		g.mu.Unlock()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return errors.Join(errs...)
}
