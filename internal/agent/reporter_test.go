package agent

import (
	"fmt"
	"testing"

	"github.com/berth-io/berth/api/agent"
)

// With more pending tasks than fit in one report, and all of them changing
// all the time, every task still gets its turn: the ones waiting longest go
// first.
func TestReporterServesOldestFirst(t *testing.T) {
	p := newReporter()
	const n = maxReportTasks + maxReportTasks/2
	updateAll := func(round int) {
		for i := range n {
			p.update(agent.TaskStatus{TaskArn: fmt.Sprintf("task-%03d", i), LastStatus: statusRunning, HealthStatus: fmt.Sprint(round)})
		}
	}
	sent := map[string]int{}
	for round := range 4 {
		updateAll(round)
		batch, versions := p.pending()
		if len(batch) != maxReportTasks {
			t.Fatalf("round %d: got %d statuses, want a full report of %d", round, len(batch), maxReportTasks)
		}
		for _, ts := range batch {
			sent[ts.TaskArn]++
		}
		p.acked(versions, nil)
	}
	for i := range n {
		arn := fmt.Sprintf("task-%03d", i)
		if sent[arn] < 2 {
			t.Errorf("%s: sent %d times in 4 reports, want at least 2: tasks starve", arn, sent[arn])
		}
	}
}

// A status that changed while its report was in flight goes to the back of
// the line.
func TestReporterChangedInFlightWaitsItsTurn(t *testing.T) {
	p := newReporter()
	for i := range maxReportTasks + 1 {
		p.update(agent.TaskStatus{TaskArn: fmt.Sprintf("task-%03d", i), LastStatus: statusPending})
	}
	batch, versions := p.pending()
	p.update(agent.TaskStatus{TaskArn: batch[0].TaskArn, LastStatus: statusRunning}) // while in flight
	p.acked(versions, nil)
	batch, _ = p.pending()
	if len(batch) != 2 || batch[0].TaskArn != fmt.Sprintf("task-%03d", maxReportTasks) || batch[1].TaskArn != "task-000" {
		t.Errorf("got %v, want the task never sent first, then the one that changed in flight", arns(batch))
	}
}

func arns(batch []agent.TaskStatus) []string {
	out := make([]string, len(batch))
	for i, ts := range batch {
		out[i] = ts.TaskArn
	}
	return out
}

func TestReporterHolds(t *testing.T) {
	p := newReporter()
	p.update(agent.TaskStatus{TaskArn: taskArn("a"), LastStatus: statusStopped})
	if !p.holds("a") {
		t.Error("holds: got false for an unacknowledged STOPPED status, want true")
	}
	_, versions := p.pending()
	p.acked(versions, nil)
	if p.holds("a") {
		t.Error("holds: got true once the server took the STOPPED status, want false")
	}
}
