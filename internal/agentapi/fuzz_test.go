package agentapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-io/berth/api/agent"
)

// FuzzAgentAPI posts arbitrary bodies to every agent protocol endpoint with
// a valid join token: nothing may panic, and every answer is a 2xx or a
// 4xx with a JSON error (5xx would mean a malformed body reached the store).
func FuzzAgentAPI(f *testing.F) {
	fx := newFixture(f)
	paths := []string{agent.PathRegister, agent.PathPoll, agent.PathHeartbeat, agent.PathStatus, agent.PathLogs}
	for i := range paths {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"cluster":"c1","instanceId":"x","cpu":1024,"memory":512}`))
		f.Add(uint8(i), []byte(`{"cluster":"c1","instanceId":"x","tasks":[{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/c1/abc","lastStatus":"RUNNING"}]}`))
		f.Add(uint8(i), []byte(`{"cluster":"c1","instanceId":"x","streams":[{"group":"g","stream":"s","events":[{"timestamp":1,"message":"m"}]}]}`))
		f.Add(uint8(i), []byte(`[`))
	}
	f.Fuzz(func(t *testing.T, p uint8, body []byte) {
		req := httptest.NewRequest("POST", paths[int(p)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		fx.api.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q: HTTP %d %s", req.URL.Path, body, w.Code, w.Body)
		}
		if w.Code != http.StatusOK && !bytes.Contains(w.Body.Bytes(), []byte(`"code"`)) {
			t.Fatalf("%s %q: HTTP %d without a JSON error: %s", req.URL.Path, body, w.Code, w.Body)
		}
	})
}
