package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/berth-io/berth/api/agent"
	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/runtime"
)

// Reasons the agent writes, word for word as ECS writes them where ECS has
// one.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonOOM             = "OutOfMemoryError: Container killed due to memory usage"
	reasonLost            = "CannotInspectContainerError: the container no longer exists in the runtime"
	prefixPull            = "CannotPullContainerError: "
	prefixCreate          = "CannotCreateContainerError: "
	prefixStart           = "CannotStartContainerError: "

	// reasonEssentialLost: after a restart, an essential container of a
	// task that had started is gone (removed while no agent ran).
	reasonEssentialLost = "Essential container in task exited: it no longer exists in the runtime (removed while the agent was not running)"
)

// stopCause is why a task stops: its stopCode and stoppedReason.
type stopCause struct{ code, reason string }

// desiredBox holds the latest desired state of one task for its runner: the
// task manager replaces it, the runner loads it along with a channel that
// closes on the next change. Only the latest value matters (the protocol
// is level-triggered), so updates never queue up.
type desiredBox struct {
	mu      sync.Mutex
	task    agent.AssignedTask
	forced  *stopCause // a stop the agent decided itself
	changed chan struct{}
}

func newDesiredBox(t agent.AssignedTask) *desiredBox {
	return &desiredBox{task: t, changed: make(chan struct{})}
}

// set replaces the desired state.
func (b *desiredBox) set(t agent.AssignedTask) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.task = t
	close(b.changed)
	b.changed = make(chan struct{})
}

// stop makes the task desired STOPPED whatever the server says later; code
// and reason apply if the task has no stop cause yet.
func (b *desiredBox) stop(code, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.forced == nil {
		b.forced = &stopCause{code: code, reason: reason}
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// load returns the desired state, a forced stop if any, and a channel
// closed on the next change.
func (b *desiredBox) load() (agent.AssignedTask, *stopCause, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.task, b.forced, b.changed
}

// runnerDeps is what every task runner shares.
type runnerDeps struct {
	rt       runtime.Runtime
	clock    Clock
	log      *slog.Logger
	cluster  string
	agentID  string
	publish  netip.Addr    // Config.PublishAddress; invalid: the runtime's default
	interval time.Duration // StatusInterval
	retryMin time.Duration
	retryMax time.Duration
	// report receives every change of the task's observed status.
	report func(agent.TaskStatus)
	// follow starts shipping a container's output (nil: not shipped).
	follow func(id, group, stream string)
}

// containerRun is the runner's record of one container of its task.
type containerRun struct {
	name      string
	def       ecs.ContainerDefinition // overrides applied
	spec      runtime.ContainerSpec
	specErr   error
	essential bool
	group     string
	stream    string

	id         string
	state      cstate
	pulled     bool
	digest     string
	exitCode   *int32
	reason     string
	health     runtime.Health
	ports      []runtime.PortBinding
	startedAt  time.Time
	finishedAt time.Time
	waiting    bool          // a Wait goroutine watches it
	following  bool          // its output is being shipped
	listed     runtime.State // state at start-up, for an adopted container
}

func (c *containerRun) hasHealth() bool { return c.spec.HealthCheck != nil }

// exitEvent is a Wait that returned.
type exitEvent struct {
	name, id string
	st       runtime.Status
	err      error
}

// taskTimes are the task timestamps the agent owns.
type taskTimes struct {
	pullStartedAt, pullStoppedAt, startedAt, stoppingAt, executionStoppedAt, stoppedAt *ecs.Time
}

// taskRunner owns one task: its goroutine (run) is the only one that acts
// on the task's containers or changes its status. The task manager feeds it
// desired state through a desiredBox; containers report exits through
// Wait goroutines; every change goes out through runnerDeps.report.
type taskRunner struct {
	runnerDeps
	arn    string
	taskID string
	family string
	box    *desiredBox

	// Everything below is owned by run's goroutine.
	ctx            context.Context // run's, for the Wait goroutines
	task           agent.AssignedTask
	desiredChanged <-chan struct{}
	cause          *stopCause // set once the task must stop
	status         string     // lastStatus reached
	floor          string     // lastStatus the server had: never report below it
	health         string
	times          taskTimes
	containers     []*containerRun
	byName         map[string]*containerRun
	exits          chan exitEvent
	pendingSince   time.Time
	sent           *agent.TaskStatus
}

// newTaskRunner prepares the runner of an assigned task. adopt are the
// task's containers found in the runtime when the agent started (nil for a
// new task): the runner takes them over instead of creating new ones.
func newTaskRunner(d runnerDeps, at agent.AssignedTask, adopt []runtime.Container) *taskRunner {
	t := at.Task
	r := &taskRunner{
		runnerDeps: d,
		arn:        t.TaskArn,
		taskID:     taskIDOf(t.TaskArn),
		family:     at.TaskDefinition.Family,
		box:        newDesiredBox(at),
		task:       at,
		status:     statusProvisioning,
		floor:      statusProvisioning,
		health:     ecs.HealthStatusUNKNOWN,
		byName:     map[string]*containerRun{},
	}
	r.log = d.log.With("task", r.taskID)
	if rank(t.LastStatus) > 0 && t.LastStatus != statusStopped {
		r.floor = t.LastStatus
	}
	for _, def := range at.TaskDefinition.ContainerDefinitions {
		def = withOverride(def, overrideFor(t.Overrides, def.Name))
		def.Image = pinnedImage(def.Image, taskContainerDigest(&t, def.Name))
		c := &containerRun{name: def.Name, def: def, essential: essential(def), health: runtime.HealthUnknown}
		c.spec, c.specErr = containerSpec(d.cluster, d.agentID, r.taskID, def, d.publish)
		c.group, c.stream = logNames(r.family, r.taskID, def)
		for _, ac := range adopt {
			if ac.Name == def.Name && c.id == "" {
				c.id, c.listed = ac.ID, ac.State
			}
		}
		r.containers = append(r.containers, c)
		r.byName[c.name] = c
	}
	r.exits = make(chan exitEvent, len(r.containers)+1)
	return r
}

// run drives the task until it is STOPPED (true) or ctx ends (false). When
// ctx ends the containers are left as they are, for the next agent to
// re-adopt.
func (r *taskRunner) run(ctx context.Context) bool {
	r.ctx = ctx
	r.sync()
	r.adopt(ctx)
	r.emit()
	bo := backoff{min: r.retryMin, max: r.retryMax}
	for {
		r.sync()
		act := nextAction(r.status, r.desiredStatus())
		if act == actDone {
			return true
		}
		next, err := r.step(ctx, act)
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			r.log.Warn("task step failed; retrying", "action", act.String(), "status", r.status, "err", err)
			r.emit()
			if sleep(ctx, r.clock, bo.next()) != nil {
				return false
			}
			continue
		}
		bo.reset()
		if next != r.status {
			r.log.Debug("task status", "from", r.status, "to", next)
		}
		r.status = laterStatus(r.status, next)
		r.emit()
	}
}

// step performs one action and returns the status it leads to.
func (r *taskRunner) step(ctx context.Context, act action) (string, error) {
	switch act {
	case actPull:
		return r.pull(ctx)
	case actStart:
		return r.start(ctx)
	case actActivate:
		return r.activate(ctx)
	case actMonitor:
		return r.monitor(ctx)
	case actDeactivate:
		return statusDeactivating, nil
	case actBeginStop:
		if r.times.stoppingAt == nil {
			r.times.stoppingAt = r.now()
		}
		return statusStopping, nil
	case actStop:
		return r.stop(ctx)
	case actDeprovision:
		return r.deprovision(ctx)
	}
	return r.status, nil
}

// sync loads the latest desired state.
func (r *taskRunner) sync() {
	t, forced, changed := r.box.load()
	r.task, r.desiredChanged = t, changed
	if r.cause != nil {
		return
	}
	switch {
	case forced != nil:
		r.cause = forced
	case t.Task.DesiredStatus == statusStopped:
		r.cause = &stopCause{code: t.Task.StopCode, reason: t.Task.StoppedReason}
	}
}

// desiredStatus is the effective desired status: STOPPED once anything
// (the server, a failure, an essential exit) decided the task stops.
func (r *taskRunner) desiredStatus() string {
	if r.cause != nil {
		return statusStopped
	}
	return statusRunning
}

// fail decides the task stops, unless it already is stopping for a reason.
func (r *taskRunner) fail(code, reason string) {
	if r.cause == nil {
		r.cause = &stopCause{code: code, reason: reason}
		r.log.Info("task stopping", "stop_code", code, "reason", reason)
	}
}

func (r *taskRunner) now() *ecs.Time {
	return ecs.NewTime(r.clock.Now().UTC().Truncate(time.Millisecond))
}

// adopt inspects the containers found at start-up. A task the server saw
// ACTIVATING or later had started every container: one that is gone now
// was lost while the agent was away, and is not run again (a job would
// run twice); an essential one stops the task.
func (r *taskRunner) adopt(ctx context.Context) {
	for _, c := range r.containers {
		if c.id == "" {
			continue
		}
		c.pulled = true
		st, err := r.rt.Inspect(ctx, c.id)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			c.id, c.state, c.pulled = "", cNone, false
		case err != nil:
			r.log.Warn("inspect adopted container", "container", c.name, "err", err)
			r.observe(c, runtime.Status{ID: c.id, State: c.listed, ExitCode: runtime.ExitCodeUnknown, Health: runtime.HealthUnknown})
		default:
			r.log.Info("re-adopted container", "container", c.name, "id", c.id, "state", st.State)
			r.observe(c, st)
		}
	}
	if startedEvery(r.floor) {
		for _, c := range r.containers {
			if c.id == "" && c.state == cNone {
				c.state, c.reason = cExited, reasonLost
				r.log.Warn("container of a started task is gone; not running it again", "container", c.name, "server_status", r.floor)
				if c.essential {
					r.fail(ecs.TaskStopCodeEssentialContainerExited, reasonEssentialLost)
				}
			}
		}
	}
	if rank(r.floor) >= rank(statusDeactivating) && r.cause == nil {
		r.cause = &stopCause{} // it was stopping when the agent went away
	}
}

// startedEvery reports whether a task the server last saw at status had
// created and started every one of its containers: the runner reports
// ACTIVATING only once they all have.
func startedEvery(status string) bool {
	return rank(status) >= rank(statusActivating)
}

// pull makes the images of containers not created yet present.
func (r *taskRunner) pull(ctx context.Context) (string, error) {
	var need []*containerRun
	for _, c := range r.containers {
		if c.id == "" && !c.pulled {
			need = append(need, c)
		}
	}
	if len(need) == 0 {
		return statusPending, nil
	}
	if r.times.pullStartedAt == nil {
		r.times.pullStartedAt = r.now()
		r.emit()
	}
	pctx, cancel := r.cancelOnStop(ctx)
	defer cancel()
	digests := map[string]string{}
	for _, c := range need {
		d, ok := digests[c.def.Image]
		if !ok {
			var err error
			d, err = r.rt.Pull(pctx, c.def.Image)
			if err != nil {
				if ctx.Err() != nil {
					return r.status, ctx.Err()
				}
				if pctx.Err() != nil {
					return r.status, nil // a stop came in: the table takes over
				}
				msg := err.Error()
				var pe *runtime.PullError
				if errors.As(err, &pe) {
					msg = pe.Message
				}
				c.reason = prefixPull + msg
				r.times.pullStoppedAt = r.now()
				r.fail(ecs.TaskStopCodeTaskFailedToStart, c.reason)
				return r.status, nil
			}
			digests[c.def.Image] = d
		}
		c.digest, c.pulled = d, true
	}
	r.times.pullStoppedAt = r.now()
	return statusPending, nil
}

// cancelOnStop returns a context cancelled as soon as the task is desired
// STOPPED, for work (pulls) a stop should interrupt.
func (r *taskRunner) cancelOnStop(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			t, forced, changed := r.box.load()
			if forced != nil || t.Task.DesiredStatus == statusStopped {
				cancel()
				return
			}
			select {
			case <-changed:
			case <-cctx.Done():
				return
			}
		}
	}()
	return cctx, cancel
}

// start creates the containers and starts those whose dependencies hold;
// it returns ACTIVATING once every container has started.
func (r *taskRunner) start(ctx context.Context) (string, error) {
	if r.pendingSince.IsZero() {
		r.pendingSince = r.clock.Now()
	}
	r.drainExits()
	for _, c := range r.containers {
		if r.cause != nil {
			return r.status, nil
		}
		if c.id == "" && c.state == cNone {
			if err := r.create(ctx, c); err != nil {
				return r.status, err
			}
		}
	}
	if r.cause != nil {
		return r.status, nil
	}
	plan := planStart(r.depViews(), r.clock.Now().Sub(r.pendingSince))
	if plan.Failed != "" {
		r.fail(ecs.TaskStopCodeTaskFailedToStart, plan.Failed)
		return r.status, nil
	}
	for _, name := range plan.Start {
		if err := r.startContainer(ctx, r.byName[name]); err != nil || r.cause != nil {
			return r.status, err
		}
	}
	switch {
	case len(plan.Start) > 0:
		return r.status, nil // plan again: what started may unblock others
	case plan.Ready:
		return statusActivating, nil
	}
	r.emit()
	return r.status, r.wait(ctx, plan.Poll)
}

func (r *taskRunner) depViews() []depView {
	out := make([]depView, len(r.containers))
	for i, c := range r.containers {
		out[i] = depView{Name: c.name, State: c.state, ExitCode: c.exitCode, Health: c.health,
			HasHealth: c.hasHealth(), DependsOn: c.def.DependsOn, StartTimeout: seconds(c.def.StartTimeout)}
	}
	return out
}

// create creates c; a container the runtime already has for this task and
// name (ErrNameInUse) is adopted instead. Failures stop the task; only a
// cancelled ctx is returned.
func (r *taskRunner) create(ctx context.Context, c *containerRun) error {
	if c.specErr != nil {
		c.reason = prefixCreate + c.specErr.Error()
		r.fail(ecs.TaskStopCodeTaskFailedToStart, c.reason)
		return nil
	}
	id, err := r.rt.Create(ctx, c.spec)
	if errors.Is(err, runtime.ErrNameInUse) {
		id, err = r.find(ctx, c.name)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.reason = prefixCreate + err.Error()
		r.fail(ecs.TaskStopCodeTaskFailedToStart, c.reason)
		return nil
	}
	c.id, c.state = id, cCreated
	if st, err := r.rt.Inspect(ctx, id); err == nil {
		r.observe(c, st)
	}
	return nil
}

// find returns the ID of the existing container of this task named name.
func (r *taskRunner) find(ctx context.Context, name string) (string, error) {
	cs, err := r.rt.List(ctx, map[string]string{
		runtime.LabelCluster: r.cluster, runtime.LabelTask: r.taskID, runtime.LabelContainer: name,
	})
	if err != nil {
		return "", fmt.Errorf("find existing container %s: %w", name, err)
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("container %s: the name is in use, but no container of the task has it", name)
	}
	r.log.Info("adopted existing container", "container", name, "id", cs[0].ID)
	return cs[0].ID, nil
}

// startContainer starts c; a failure stops the task.
func (r *taskRunner) startContainer(ctx context.Context, c *containerRun) error {
	if err := r.rt.Start(ctx, c.id); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.reason = prefixStart + err.Error()
		r.fail(ecs.TaskStopCodeTaskFailedToStart, c.reason)
		return nil
	}
	st, err := r.rt.Inspect(ctx, c.id)
	if err != nil || st.State == runtime.StateCreated {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st = runtime.Status{ID: c.id, State: runtime.StateRunning, StartedAt: r.clock.Now(), Health: runtime.HealthUnknown}
	}
	r.observe(c, st)
	return nil
}

// observe folds a runtime status into c. It never moves a container back.
func (r *taskRunner) observe(c *containerRun, st runtime.Status) {
	if st.ImageDigest != "" {
		c.digest = st.ImageDigest
	}
	switch st.State {
	case runtime.StateRunning:
		if c.state == cExited {
			return
		}
		c.state = cRunning
		c.ports = st.Ports
		c.startedAt = st.StartedAt
		if st.Health != "" {
			c.health = st.Health
		}
		r.watch(c)
	case runtime.StateExited:
		r.exited(c, st)
	case runtime.StateCreated:
		if c.state == cNone {
			c.state = cCreated
		}
	}
	r.updateHealth()
}

// exited records c's exit; an essential container's exit stops the task.
func (r *taskRunner) exited(c *containerRun, st runtime.Status) {
	if c.state == cExited {
		return
	}
	c.state = cExited
	c.finishedAt = st.FinishedAt
	if st.ExitCode != runtime.ExitCodeUnknown {
		code := int32(st.ExitCode)
		c.exitCode = &code
	}
	if st.OOMKilled && c.reason == "" {
		c.reason = reasonOOM
	}
	r.followLogs(c)
	r.log.Info("container exited", "container", c.name, "exit_code", st.ExitCode, "essential", c.essential)
	if c.essential && rank(r.status) < rank(statusDeactivating) {
		r.fail(ecs.TaskStopCodeEssentialContainerExited, reasonEssentialExited)
	}
}

// watch starts a goroutine that waits for c to exit, and ships its output.
func (r *taskRunner) watch(c *containerRun) {
	r.followLogs(c)
	if c.waiting || c.state != cRunning {
		return
	}
	c.waiting = true
	name, id := c.name, c.id
	go func() {
		st, err := r.rt.Wait(r.ctx, id)
		if r.ctx.Err() != nil {
			return
		}
		select {
		case r.exits <- exitEvent{name: name, id: id, st: st, err: err}:
		case <-r.ctx.Done():
		}
	}()
}

func (r *taskRunner) followLogs(c *containerRun) {
	if r.follow != nil && !c.following && c.id != "" {
		c.following = true
		r.follow(c.id, c.group, c.stream)
	}
}

// onExit applies a Wait result.
func (r *taskRunner) onExit(ev exitEvent) {
	c := r.byName[ev.name]
	if c == nil || c.id != ev.id {
		return
	}
	c.waiting = false
	switch {
	case errors.Is(ev.err, runtime.ErrNotFound):
		if c.state != cExited {
			c.reason = reasonLost
			r.exited(c, runtime.Status{State: runtime.StateExited, ExitCode: runtime.ExitCodeUnknown})
		}
	case ev.err != nil:
		r.log.Warn("wait for container", "container", c.name, "err", ev.err)
		if st, err := r.rt.Inspect(r.ctx, c.id); err == nil {
			r.observe(c, st)
		}
		if c.state == cRunning && !c.waiting {
			// Wait failed but the container runs: watch it again after a pause.
			c.waiting = true
			go func() {
				if sleep(r.ctx, r.clock, r.retryMax) != nil {
					return
				}
				st, err := r.rt.Wait(r.ctx, ev.id)
				if r.ctx.Err() != nil {
					return
				}
				select {
				case r.exits <- exitEvent{name: ev.name, id: ev.id, st: st, err: err}:
				case <-r.ctx.Done():
				}
			}()
		}
	default:
		r.observe(c, ev.st)
	}
	r.updateHealth()
}

// drainExits applies every Wait result already in.
func (r *taskRunner) drainExits() {
	for {
		select {
		case ev := <-r.exits:
			r.onExit(ev)
		default:
			return
		}
	}
}

// wait blocks until something may have changed: the desired state, a
// container exit, or (with poll) the next status interval, when it inspects
// the containers that have health checks.
func (r *taskRunner) wait(ctx context.Context, poll bool) error {
	var tick <-chan struct{}
	if poll {
		ch, stop := after(r.clock, r.interval)
		defer stop()
		tick = ch
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.desiredChanged:
	case ev := <-r.exits:
		r.onExit(ev)
	case <-tick:
		r.refresh(ctx)
	}
	return nil
}

// refresh inspects the running containers that have a health check.
func (r *taskRunner) refresh(ctx context.Context) {
	for _, c := range r.containers {
		if c.state != cRunning || !c.hasHealth() {
			continue
		}
		st, err := r.rt.Inspect(ctx, c.id)
		if err != nil {
			r.log.Debug("inspect container", "container", c.name, "err", err)
			continue
		}
		r.observe(c, st)
	}
}

// updateHealth recomputes the task's health status.
func (r *taskRunner) updateHealth() {
	hv := make([]healthView, len(r.containers))
	for i, c := range r.containers {
		hv[i] = healthView{Essential: c.essential, HasHealth: c.hasHealth(), Health: c.health}
	}
	r.health = taskHealth(hv)
}

// activate takes in what the started containers look like (ports, digests,
// health) and moves the task to RUNNING.
func (r *taskRunner) activate(ctx context.Context) (string, error) {
	r.drainExits()
	for _, c := range r.containers {
		if r.cause != nil {
			return r.status, nil
		}
		if c.state != cRunning {
			continue
		}
		st, err := r.rt.Inspect(ctx, c.id)
		if err != nil {
			if ctx.Err() != nil {
				return r.status, ctx.Err()
			}
			if errors.Is(err, runtime.ErrNotFound) {
				c.reason = reasonLost
				r.exited(c, runtime.Status{State: runtime.StateExited, ExitCode: runtime.ExitCodeUnknown})
				continue
			}
			return r.status, fmt.Errorf("inspect container %s: %w", c.name, err)
		}
		r.observe(c, st)
	}
	if r.cause != nil {
		return r.status, nil
	}
	if r.times.startedAt == nil {
		r.times.startedAt = r.now()
	}
	return statusRunning, nil
}

// monitor waits for the next change while the task runs.
func (r *taskRunner) monitor(ctx context.Context) (string, error) {
	r.drainExits()
	if r.cause != nil {
		return r.status, nil
	}
	poll := false
	for _, c := range r.containers {
		poll = poll || (c.state == cRunning && c.hasHealth())
	}
	return r.status, r.wait(ctx, poll)
}

// stop stops the running containers in reverse dependency order, each wave
// together, each with its stopTimeout (the runtime sends the stop signal it
// resolved, then SIGKILL). A container the runner has not seen running
// (Start failed, yet the engine may have started it) is inspected, and
// stopped if it runs.
func (r *taskRunner) stop(ctx context.Context) (string, error) {
	r.drainExits()
	names := make([]string, len(r.containers))
	deps := map[string][]string{}
	for i, c := range r.containers {
		names[i] = c.name
		for _, d := range c.def.DependsOn {
			deps[c.name] = append(deps[c.name], d.ContainerName)
		}
	}
	for _, wave := range stopWaves(names, deps) {
		type result struct {
			c   *containerRun
			st  runtime.Status
			err error
		}
		var targets []*containerRun
		for _, n := range wave {
			c := r.byName[n]
			if c.id == "" || c.state == cExited {
				continue
			}
			if c.state != cRunning {
				if err := r.recheck(ctx, c); err != nil {
					return r.status, err
				}
			}
			if c.state == cRunning {
				targets = append(targets, c)
			}
		}
		results := make([]result, len(targets))
		var wg sync.WaitGroup
		for i, c := range targets {
			id, timeout := c.id, seconds(c.def.StopTimeout)
			wg.Go(func() {
				err := r.rt.Stop(ctx, id, timeout)
				var st runtime.Status
				if err == nil {
					st, err = r.rt.Inspect(ctx, id)
				}
				results[i] = result{c: c, st: st, err: err}
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return r.status, ctx.Err()
		}
		var errs []error
		for _, res := range results {
			switch {
			case errors.Is(res.err, runtime.ErrNotFound):
				res.c.reason = reasonLost
				r.exited(res.c, runtime.Status{State: runtime.StateExited, ExitCode: runtime.ExitCodeUnknown})
			case res.err != nil:
				errs = append(errs, fmt.Errorf("stop container %s: %w", res.c.name, res.err))
			case res.st.State != runtime.StateExited:
				errs = append(errs, fmt.Errorf("stop container %s: still %s after Stop", res.c.name, res.st.State))
			default:
				r.observe(res.c, res.st)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return r.status, err
		}
		r.emit()
	}
	return statusDeprovisioning, nil
}

// recheck inspects a container the runner has not seen running, and folds
// what it finds into c.
func (r *taskRunner) recheck(ctx context.Context, c *containerRun) error {
	st, err := r.rt.Inspect(ctx, c.id)
	switch {
	case errors.Is(err, runtime.ErrNotFound):
		return nil // nothing to stop; deprovision reports it
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("inspect container %s: %w", c.name, err)
	}
	if st.State == runtime.StateRunning {
		r.log.Warn("container runs although the runner never saw it start; stopping it", "container", c.name, "id", c.id)
	}
	r.observe(c, st)
	return nil
}

// deprovision collects the final state of every container and stops the
// task.
func (r *taskRunner) deprovision(ctx context.Context) (string, error) {
	r.drainExits()
	for _, c := range r.containers {
		if c.id == "" || c.state == cExited {
			continue
		}
		st, err := r.rt.Inspect(ctx, c.id)
		if err == nil {
			r.observe(c, st)
		} else if ctx.Err() != nil {
			return r.status, ctx.Err()
		}
	}
	now := r.now()
	if r.times.executionStoppedAt == nil {
		r.times.executionStoppedAt = now
	}
	r.times.stoppedAt = now
	return statusStopped, nil
}

// snapshot is the task's observed status as the protocol reports it.
func (r *taskRunner) snapshot() agent.TaskStatus {
	ts := agent.TaskStatus{
		TaskArn:            r.arn,
		LastStatus:         laterStatus(r.floor, r.status),
		HealthStatus:       r.health,
		PullStartedAt:      r.times.pullStartedAt,
		PullStoppedAt:      r.times.pullStoppedAt,
		StartedAt:          r.times.startedAt,
		StoppingAt:         r.times.stoppingAt,
		ExecutionStoppedAt: r.times.executionStoppedAt,
		StoppedAt:          r.times.stoppedAt,
		Containers:         make([]agent.ContainerStatus, len(r.containers)),
	}
	if r.cause != nil {
		ts.StopCode, ts.StoppedReason = r.cause.code, r.cause.reason
	}
	for i, c := range r.containers {
		cs := agent.ContainerStatus{
			Name:         c.name,
			RuntimeID:    c.id,
			LastStatus:   containerPending,
			ExitCode:     c.exitCode,
			Reason:       c.reason,
			HealthStatus: string(c.health),
			Image:        c.def.Image,
			ImageDigest:  c.digest,
		}
		switch {
		case c.state == cExited || r.status == statusStopped:
			cs.LastStatus = containerStopped
		case c.state == cRunning:
			cs.LastStatus = containerRunning
		}
		for _, p := range c.ports {
			cs.NetworkBindings = append(cs.NetworkBindings, ecs.NetworkBinding{
				BindIP:        p.HostIP.String(),
				ContainerPort: new(int32(p.ContainerPort)),
				HostPort:      new(int32(p.HostPort)),
				Protocol:      string(p.Protocol),
			})
		}
		ts.Containers[i] = cs
	}
	return ts
}

// emit reports the task's status if it changed since the last report.
func (r *taskRunner) emit() {
	s := r.snapshot()
	if r.sent != nil && reflect.DeepEqual(*r.sent, s) {
		return
	}
	r.sent = &s
	if r.report != nil {
		r.report(s)
	}
}
