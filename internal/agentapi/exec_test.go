package agentapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/agent"
)

// fakeBroker answers Pending with its sessions and records attaches.
type fakeBroker struct {
	sessions []agent.ExecSession
	attached chan string
}

func (b *fakeBroker) Pending(_ context.Context, cluster, instanceID string, wait time.Duration) ([]agent.ExecSession, error) {
	if cluster != "c1" || instanceID != "i-1" || wait != 7*time.Second {
		return nil, nil
	}
	return b.sessions, nil
}

func (b *fakeBroker) ServeAgent(w http.ResponseWriter, r *http.Request, id string) {
	b.attached <- id
	w.WriteHeader(http.StatusTeapot)
}

func TestExecEndpoints(t *testing.T) {
	f := newFixture(t)
	b := &fakeBroker{sessions: []agent.ExecSession{{SessionID: "s1", TaskArn: "arn:t", Container: "app", Command: []string{"ls"}}}, attached: make(chan string, 1)}
	f.api.cfg.Exec = b

	var out agent.ExecPollResponse
	if code := f.call(t, agent.PathExec, token, agent.ExecPollRequest{Cluster: "c1", InstanceID: "i-1", WaitSeconds: 7}, &out); code != 200 {
		t.Fatalf("exec poll: HTTP %d, want 200", code)
	}
	if diff := cmp.Diff(b.sessions, out.Sessions); diff != "" {
		t.Errorf("exec poll sessions (-want +got):\n%s", diff)
	}
	if code := f.call(t, agent.PathExec, "wrong-token-0123456789", agent.ExecPollRequest{Cluster: "c1", InstanceID: "i-1"}, nil); code != http.StatusUnauthorized {
		t.Errorf("exec poll with a wrong token: HTTP %d, want 401", code)
	}

	attach := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+agent.PathExec+"/s1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := attach("wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("attach with a wrong token: HTTP %d, want 401", code)
	}
	if code := attach(token); code != http.StatusTeapot {
		t.Errorf("attach: HTTP %d, want the broker's answer (418)", code)
	}
	if id := <-b.attached; id != "s1" {
		t.Errorf("the broker was asked for session %q, want s1", id)
	}
}
