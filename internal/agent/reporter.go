package agent

import (
	"cmp"
	"slices"
	"strings"
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
//
// Pending statuses are sent oldest first: a task waits in line from the
// moment its status changed after the server's last acknowledgement, and
// goes to the back of the line once sent. So with more than maxReportTasks
// tasks changing all the time, every one still gets its turn.
type reporter struct {
	mu      sync.Mutex
	entries map[string]*reportEntry // by task ARN
	dropped map[string]bool         // tasks the server does not know: never report
	seq     uint64                  // last place in line handed out
	wake    chan struct{}           // signalled when something is to send
}

type reportEntry struct {
	status  agent.TaskStatus
	version uint64 // bumped on every update
	acked   uint64 // the version the server acknowledged
	since   uint64 // place in line while pending
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
	if e.version == e.acked {
		p.queueLocked(e) // it was not pending: it joins the line
	}
	e.status = ts
	e.version++
	p.signalLocked()
}

// queueLocked puts e at the back of the line.
func (p *reporter) queueLocked(e *reportEntry) {
	p.seq++
	e.since = p.seq
}

func (p *reporter) signalLocked() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// pending returns the statuses not acknowledged yet (at most
// maxReportTasks, those waiting longest first) and their versions.
func (p *reporter) pending() ([]agent.TaskStatus, map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var arns []string
	for arn, e := range p.entries {
		if e.version != e.acked {
			arns = append(arns, arn)
		}
	}
	slices.SortFunc(arns, func(a, b string) int {
		return cmp.Or(cmp.Compare(p.entries[a].since, p.entries[b].since), strings.Compare(a, b))
	})
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
// are dropped: their later updates are ignored until forget.
func (p *reporter) acked(versions map[string]uint64, unknown []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for arn, v := range versions {
		e, ok := p.entries[arn]
		if !ok || v < e.acked {
			continue
		}
		e.acked = v
		switch {
		case e.version == v && e.status.LastStatus == statusStopped:
			delete(p.entries, arn)
		case e.version != v:
			p.queueLocked(e) // changed while in flight: it had its turn
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
	arns := make([]string, 0, len(p.entries))
	for arn, e := range p.entries {
		if e.version == e.acked {
			arns = append(arns, arn)
		}
		e.acked = 0
	}
	slices.Sort(arns)
	for _, arn := range arns {
		p.queueLocked(p.entries[arn]) // behind those already waiting
	}
	if len(p.entries) > 0 {
		p.signalLocked()
	}
}

// holds reports whether the reporter still has a status of the task with
// ID taskID that the server has not acknowledged as final: its containers
// must be kept until it has.
func (p *reporter) holds(taskID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for arn := range p.entries {
		if taskIDOf(arn) == taskID {
			return true
		}
	}
	return false
}

// forget clears the dropped mark of a task no runner will report any more
// (it finished, or has none).
func (p *reporter) forget(arn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dropped, arn)
}
