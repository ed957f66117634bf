// Package targets keeps the tasks of ECS services with loadBalancers
// registered in their target groups, as ECS does for a service behind an
// ALB, and tells the service controller how the load balancer sees them:
//
//	task RUNNING (desired RUNNING), port bound ──▶ RegisterTargets(tg, ip:hostPort)
//	task asked to stop: DEACTIVATING ──▶ DeregisterTargets ──▶ the data plane drains
//	    it (no new requests; in-flight ones finish) ──▶ target gone from the data
//	    plane ──▶ ReleaseDrained: STOPPING, the agent sends the stop signal
//	task STOPPED (exited, lost, …) ──▶ DeregisterTargets
//
// So the stop signal reaches a container only after the load balancer has
// stopped sending it requests and its in-flight requests have finished —
// never the other way round. Step is level-triggered: it computes what the
// target groups should hold from the task records and makes it so; a
// restart loses nothing. Plan is the pure part.
package targets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/controller"
	"github.com/berth-io/berth/internal/ecsapi"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Target is one ip:port in a target group.
type Target struct {
	IP   string
	Port int32
}

// Addr is the target's ip:port, as the data plane names it.
func (t Target) Addr() string { return net.JoinHostPort(t.IP, strconv.Itoa(int(t.Port))) }

// ELB is the Elastic Load Balancing side: the target groups' registered
// targets (internal/elbv2api).
type ELB interface {
	// AllTargets returns the registered targets of every target group, by
	// target group ARN (a group without targets maps to an empty list).
	AllTargets(ctx context.Context) (map[string][]Target, error)
	RegisterTargets(ctx context.Context, tg string, targets []Target) error
	DeregisterTargets(ctx context.Context, tg string, targets []Target) error
}

// DataPlane is the running load balancer's view of a target group's
// targets (internal/lb).
type DataPlane interface {
	TargetHealth(tg string) []lb.TargetState
}

// ECS is the slice of the ECS records this package reads and writes.
type ECS interface {
	ActiveClusters(ctx context.Context) ([]string, error)
	// ReadServicesAndTasks reads a cluster's services and tasks (the rest
	// of the ClusterState may be empty).
	ReadServicesAndTasks(ctx context.Context, cluster string) (*ecsapi.ClusterState, error)
	ReleaseDrained(ctx context.Context, cluster, taskArn string) (bool, error)
}

// Config configures the Reconciler.
type Config struct {
	ECS       ECS
	ELB       ELB
	DataPlane DataPlane
	Store     store.Store // watched for task and service changes
	// Kick is called when a task's health in its target groups changed,
	// so the service controller looks again (controller.Services.Kick).
	Kick func()
	// Every is the longest Run goes between Steps (default 200 ms): drains
	// and health changes are noticed at least this often.
	Every time.Duration
	// DrainTimeout is the longest a task stays DEACTIVATING, whatever the
	// data plane says (default 1 h, ELB's largest deregistration delay).
	DrainTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Reconciler registers and deregisters service tasks (see the package
// comment). It implements controller.TargetHealthSource.
type Reconciler struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// health is the last Step's view of each task's target health, to
	// notice changes.
	health map[string]controller.TargetHealth
}

var _ controller.TargetHealthSource = (*Reconciler)(nil)

// New returns a Reconciler.
func New(cfg Config) *Reconciler {
	if cfg.Every <= 0 {
		cfg.Every = 200 * time.Millisecond
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Kick == nil {
		cfg.Kick = func() {}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{cfg: cfg, log: log.With("component", "targets"), health: map[string]controller.TargetHealth{}}
}

// TargetOf returns the target a task offers for one of its service's load
// balancers: the host address and port its container port is bound to.
// A binding on every address (0.0.0.0) is reached on 127.0.0.1.
func TargetOf(t *ecs.Task, l ecs.LoadBalancer) (Target, bool) {
	if l.ContainerPort == nil {
		return Target{}, false
	}
	for _, c := range t.Containers {
		if c.Name != l.ContainerName {
			continue
		}
		for _, b := range c.NetworkBindings {
			if b.ContainerPort == nil || *b.ContainerPort != *l.ContainerPort || b.HostPort == nil || *b.HostPort == 0 {
				continue
			}
			if b.Protocol != "" && b.Protocol != ecs.TransportProtocolTcp {
				continue
			}
			ip := b.BindIP
			if a, err := netip.ParseAddr(ip); err != nil || a.IsUnspecified() {
				ip = "127.0.0.1"
			}
			return Target{IP: ip, Port: *b.HostPort}, true
		}
	}
	return Target{}, false
}

// wanted reports whether t's targets belong in its target groups.
func wanted(t *ecs.Task) bool {
	return t.LastStatus == "RUNNING" && t.DesiredStatus == "RUNNING"
}

// Changes are what one target group needs.
type Changes struct {
	Register, Deregister []Target
}

// boundTargets are every address t's containers are bound to (where a
// load balancer would have reached it, whichever its service named).
func boundTargets(t *ecs.Task) []Target {
	var out []Target
	for _, c := range t.Containers {
		for _, b := range c.NetworkBindings {
			if b.ContainerPort == nil || b.HostPort == nil || *b.HostPort == 0 {
				continue
			}
			l := ecs.LoadBalancer{ContainerName: c.Name, ContainerPort: b.ContainerPort}
			if tg, ok := TargetOf(&ecs.Task{Containers: []ecs.Container{{Name: c.Name, NetworkBindings: []ecs.NetworkBinding{b}}}}, l); ok {
				out = append(out, tg)
			}
		}
	}
	return out
}

// ServiceTasks is a service with loadBalancers and its tasks.
type ServiceTasks struct {
	Service *ecs.Service
	Tasks   []*ecs.Task
}

// Plan works out what the target groups must register and deregister:
// services are the services with loadBalancers (of every cluster) with
// their tasks, all every task of every cluster, and registered what every
// target group holds now (by ARN; a group missing from it does not exist,
// and nothing is registered in it). A RUNNING task (desired RUNNING) is
// registered in each target group of its service; any other task —
// stopping, stopped, or of a service whose load balancers changed — is
// deregistered from every group holding one of its addresses, unless a
// task wanted there has that address now (a host port reused). Targets
// that are no task's (registered by hand) are left alone.
func Plan(services []ServiceTasks, all []*ecs.Task, registered map[string][]Target) map[string]Changes {
	want := map[string]map[Target]bool{}
	for _, st := range services {
		for _, l := range st.Service.LoadBalancers {
			if _, known := registered[l.TargetGroupArn]; !known {
				continue
			}
			if want[l.TargetGroupArn] == nil {
				want[l.TargetGroupArn] = map[Target]bool{}
			}
			for _, t := range st.Tasks {
				if tg, ok := TargetOf(t, l); ok && wanted(t) {
					want[l.TargetGroupArn][tg] = true
				}
			}
		}
	}
	taskAddrs := map[Target]bool{}
	for _, t := range all {
		for _, tg := range boundTargets(t) {
			taskAddrs[tg] = true
		}
	}
	out := map[string]Changes{}
	for tg, have := range registered {
		var ch Changes
		for _, t := range sortedTargets(want[tg]) {
			if !slices.Contains(have, t) {
				ch.Register = append(ch.Register, t)
			}
		}
		for _, t := range have {
			if taskAddrs[t] && !want[tg][t] && !slices.Contains(ch.Deregister, t) {
				ch.Deregister = append(ch.Deregister, t)
			}
		}
		if len(ch.Register)+len(ch.Deregister) > 0 {
			out[tg] = ch
		}
	}
	return out
}

func sortedTargets(m map[Target]bool) []Target {
	ts := slices.Collect(maps.Keys(m))
	slices.SortFunc(ts, func(a, b Target) int {
		if a.IP != b.IP {
			if a.IP < b.IP {
				return -1
			}
			return 1
		}
		return int(a.Port - b.Port)
	})
	return ts
}

// TargetHealth implements controller.TargetHealthSource from the data
// plane: a task is healthy when every target group of svc reports its
// target healthy.
func (r *Reconciler) TargetHealth(svc *ecs.Service, tasks []*ecs.Task) map[string]controller.TargetHealth {
	states := map[string]map[string]lb.HealthState{}
	for _, l := range svc.LoadBalancers {
		if _, ok := states[l.TargetGroupArn]; ok || l.TargetGroupArn == "" {
			continue
		}
		m := map[string]lb.HealthState{}
		for _, s := range r.cfg.DataPlane.TargetHealth(l.TargetGroupArn) {
			m[s.Target] = s.State
		}
		states[l.TargetGroupArn] = m
	}
	out := make(map[string]controller.TargetHealth, len(tasks))
	for _, t := range tasks {
		if t.LastStatus != "RUNNING" {
			continue
		}
		h := controller.TargetHealth{Healthy: len(svc.LoadBalancers) > 0}
		for _, l := range svc.LoadBalancers {
			tg, ok := TargetOf(t, l)
			st := states[l.TargetGroupArn][tg.Addr()]
			if !ok || st != lb.StateHealthy {
				h.Healthy = false
			}
			if ok && st == lb.StateUnhealthy && h.Unhealthy == "" {
				h.Unhealthy = l.TargetGroupArn
			}
		}
		out[t.TaskArn] = h
	}
	return out
}

// inUse returns the addresses some target group still holds: registered,
// or known to the data plane (routed to, or draining). A DEACTIVATING task
// none of whose addresses is in it has drained.
func (r *Reconciler) inUse(registered map[string][]Target) map[string]bool {
	out := map[string]bool{}
	for tg, have := range registered {
		for _, t := range have {
			out[t.Addr()] = true
		}
		for _, st := range r.cfg.DataPlane.TargetHealth(tg) {
			out[st.Target] = true
		}
	}
	return out
}

// Step reconciles every active cluster once.
func (r *Reconciler) Step(ctx context.Context) error {
	_, err := r.step(ctx)
	return err
}

// step is Step, also counting the tasks still draining. It reads every
// cluster first: a target group may serve services of several clusters,
// and a host port one cluster's stopped task held may be another's now.
func (r *Reconciler) step(ctx context.Context) (int, error) {
	clusters, err := r.cfg.ECS.ActiveClusters(ctx)
	if err != nil {
		return 0, fmt.Errorf("list clusters: %w", err)
	}
	registered, err := r.cfg.ELB.AllTargets(ctx)
	if err != nil {
		return 0, fmt.Errorf("read target groups: %w", err)
	}
	snaps := make([]*ecsapi.ClusterState, 0, len(clusters))
	var services []ServiceTasks
	var all []*ecs.Task
	for _, c := range clusters {
		snap, err := r.cfg.ECS.ReadServicesAndTasks(ctx, c)
		if err != nil {
			// Without every cluster's tasks, a deregistration could hit
			// a target another cluster's task holds: try again next step.
			return 0, fmt.Errorf("cluster %s: %w", c, err)
		}
		snaps = append(snaps, snap)
		services = append(services, loadBalanced(snap)...)
		all = append(all, snap.Tasks...)
	}
	var errs []error
	for tg, ch := range Plan(services, all, registered) {
		if len(ch.Deregister) > 0 {
			if err := r.cfg.ELB.DeregisterTargets(ctx, tg, ch.Deregister); err != nil {
				errs = append(errs, fmt.Errorf("deregister targets from %s: %w", tg, err))
				continue
			}
			r.log.Info("deregistered targets", "target_group", tg, "targets", ch.Deregister)
			registered[tg] = slices.DeleteFunc(slices.Clone(registered[tg]), func(t Target) bool { return slices.Contains(ch.Deregister, t) })
		}
		if len(ch.Register) > 0 {
			if err := r.cfg.ELB.RegisterTargets(ctx, tg, ch.Register); err != nil {
				errs = append(errs, fmt.Errorf("register targets in %s: %w", tg, err))
				continue
			}
			r.log.Info("registered targets", "target_group", tg, "targets", ch.Register)
			registered[tg] = append(registered[tg], ch.Register...)
		}
	}
	health := map[string]controller.TargetHealth{}
	for _, st := range services {
		maps.Copy(health, r.TargetHealth(st.Service, st.Tasks))
	}
	draining := 0
	now := r.cfg.Now()
	var inUse map[string]bool // computed for the first DEACTIVATING task
	for _, snap := range snaps {
		for _, t := range snap.Tasks {
			if t.LastStatus != "DEACTIVATING" {
				continue
			}
			if inUse == nil {
				inUse = r.inUse(registered)
			}
			timedOut := t.StoppingAt != nil && now.Sub(t.StoppingAt.Time) > r.cfg.DrainTimeout
			if !timedOut && slices.ContainsFunc(boundTargets(t), func(a Target) bool { return inUse[a.Addr()] }) {
				draining++
				continue
			}
			if _, err := r.cfg.ECS.ReleaseDrained(ctx, snap.Name, t.TaskArn); err != nil {
				errs = append(errs, err)
				continue
			}
			r.log.Info("task drained from its load balancers; stopping it", "task", t.TaskArn, "timed_out", timedOut)
		}
	}
	r.mu.Lock()
	changed := !maps.Equal(health, r.health)
	r.health = health
	r.mu.Unlock()
	if changed {
		r.cfg.Kick()
	}
	return draining, errors.Join(errs...)
}

// loadBalanced returns the services of snap with loadBalancers, with
// their tasks.
func loadBalanced(snap *ecsapi.ClusterState) []ServiceTasks {
	var out []ServiceTasks
	idx := map[string]int{}
	for _, svc := range snap.Services {
		if len(svc.LoadBalancers) > 0 {
			idx[svc.ServiceName] = len(out)
			out = append(out, ServiceTasks{Service: svc})
		}
	}
	for _, t := range snap.Tasks {
		if name, ok := ecsapi.ServiceOfTask(t); ok {
			if i, ok := idx[name]; ok {
				out[i].Tasks = append(out[i].Tasks, t)
			}
		}
	}
	return out
}

// Run steps after every change to tasks or services (debounced), every
// Config.Every while a task drains, and at least every 2 × Config.Every
// otherwise (health changes the store does not see), until ctx ends. A
// watch that ends is taken up again.
func (r *Reconciler) Run(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	if r.cfg.Store != nil {
		go r.watch(ctx, changed)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			// Let a burst of writes (a deploy's launches) settle.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.cfg.Every / 4):
			}
		case <-timer.C:
		}
		draining, err := r.step(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("reconcile targets", "err", err)
		}
		next := 2 * r.cfg.Every
		if draining > 0 {
			next = r.cfg.Every
		}
		timer.Reset(next)
	}
}

// watch signals changed on every change to tasks or services until ctx
// ends, watching again (from the current revision) when a watch ends.
func (r *Reconciler) watch(ctx context.Context, changed chan<- struct{}) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		rev, err := r.cfg.Store.Revision(wctx)
		var chans []<-chan store.Event
		for _, prefix := range []string{state.TasksPrefix, state.ServicesPrefix} {
			if err != nil {
				break
			}
			var ch <-chan store.Event
			ch, err = r.cfg.Store.Watch(wctx, prefix, rev)
			chans = append(chans, ch)
		}
		if err != nil {
			r.log.Warn("watch tasks and services; the timer still drives the reconciler", "err", err)
		} else {
			var wg sync.WaitGroup
			for _, ch := range chans {
				wg.Go(func() {
					defer cancel() // one ended: watch both again
					for range ch {
						select {
						case changed <- struct{}{}:
						default:
						}
					}
				})
			}
			wg.Wait() // a watch ended (fell behind, or ctx)
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Every):
		}
	}
}
