package agent

import (
	"slices"
	"sync"

	"github.com/berth-io/berth/api/agent"
)

// maxReportTasks bounds the tasks of one status report.
const maxReportTasks = 100

// reporter keeps the latest observed status of every task until the server
// has acknowledged it: runners update it, the agent's report loop sends
// what changed. Only the latest status of a task is ever sent (the server
// takes complete status, so intermediate ones need not reach it); a STOPPED
// status, once acknowledged, is dropped.
type reporter struct {
	mu      sync.Mutex
	entries map[string]*reportEntry // by task ARN
	dropped map[string]bool         // tasks the server does not know: never report
	wake    chan struct{}           // signalled when something is to send
}

type reportEntry struct {
	status  agent.TaskStatus
	version uint64 // bumped on every update
	acked   uint64 // the version the server acknowledged
}

func newReporter() *reporter {
	return &reporter{entries: map[string]*reportEntry{}, dropped: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// update records a task's latest status.
func (p *reporter) update(ts agent.TaskStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropped[ts.TaskArn] {
		return
	}
	e, ok := p.entries[ts.TaskArn]
	if !ok {
		e = &reportEntry{}
		p.entries[ts.TaskArn] = e
	}
	e.status = ts
	e.version++
	p.signalLocked()
}

func (p *reporter) signalLocked() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pending returns the statuses not acknowledged yet (at most
// maxReportTasks, oldest ARN first for determinism) and their versions.
func (p *reporter) pending() ([]agent.TaskStatus, map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var arns []string
	for arn, e := range p.entries {
		if e.version != e.acked {
			arns = append(arns, arn)
		}
	}
	slices.Sort(arns)
	if len(arns) > maxReportTasks {
		arns = arns[:maxReportTasks]
		p.signalLocked() // more to send after this batch
	}
	out := make([]agent.TaskStatus, len(arns))
	versions := make(map[string]uint64, len(arns))
	for i, arn := range arns {
		out[i] = p.entries[arn].status
		versions[arn] = p.entries[arn].version
	}
	return out, versions
}

// acked records that the server took in the given versions. Unknown tasks
// are dropped for good.
func (p *reporter) acked(versions map[string]uint64, unknown []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for arn, v := range versions {
		e, ok := p.entries[arn]
		if !ok || v < e.acked {
			continue
		}
		e.acked = v
		if e.version == v && e.status.LastStatus == statusStopped {
			delete(p.entries, arn)
		}
	}
	for _, arn := range unknown {
		p.dropped[arn] = true
		delete(p.entries, arn)
	}
}

// resendAll marks every status as not acknowledged: after a reconnect the
// server gets the full set again.
func (p *reporter) resendAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.entries {
		e.acked = 0
	}
	if len(p.entries) > 0 {
		p.signalLocked()
	}
}

// forget drops a task that finished and was acknowledged, or that the
// agent no longer knows; dropped marks are cleared too.
func (p *reporter) forget(arn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dropped, arn)
}
