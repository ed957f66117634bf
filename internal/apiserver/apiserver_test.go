package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsjson"
)

type denyAll struct{}

func (denyAll) Authenticate(*http.Request, []byte) error {
	return awserr.WithStatus(403, awserr.CodeMissingAuthenticationToken, "Missing Authentication Token")
}

func newTestEdge(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.JSON = []*awsjson.Service{{TargetPrefix: ecs.TargetPrefix, Ops: map[string]awsjson.Op{
		"ListClusters": awsjson.Handle(func(ctx context.Context, in *ecs.ListClustersRequest) (*ecs.ListClustersResponse, error) {
			return &ecs.ListClustersResponse{ClusterArns: []string{"arn:aws:ecs:us-east-1:000000000000:cluster/default"}}, nil
		}),
	}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRefusesNoAuthByAccident(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New with no Auth and NoAuth=false: got nil error, want one")
	}
}

func TestEdge(t *testing.T) {
	open := newTestEdge(t, Config{NoAuth: true, MaxBodyBytes: 1024})
	closed := newTestEdge(t, Config{Auth: denyAll{}})
	tests := []struct {
		name   string
		srv    *Server
		method string
		target string
		body   string
		status int
		typ    string
	}{
		{"ok", open, "POST", ecs.TargetPrefix + ".ListClusters", `{}`, 200, ""},
		{"auth refused", closed, "POST", ecs.TargetPrefix + ".ListClusters", `{}`, 403, awserr.CodeMissingAuthenticationToken},
		{"unknown op", open, "POST", ecs.TargetPrefix + ".Explode", `{}`, 400, awserr.CodeUnknownOperation},
		{"unknown service", open, "POST", "Nope_2020.ListClusters", `{}`, 400, awserr.CodeUnknownOperation},
		{"no target", open, "POST", "", `{}`, 400, awserr.CodeUnknownOperation},
		{"GET", open, "GET", "", ``, 405, awserr.CodeUnknownOperation},
		{"too large", open, "POST", ecs.TargetPrefix + ".ListClusters", `{"x":"` + strings.Repeat("a", 2000) + `"}`, 413, awserr.CodeRequestEntityTooLarge},
		{"bad json", open, "POST", ecs.TargetPrefix + ".ListClusters", `{`, 400, awserr.CodeSerialization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			r.Header.Set("Content-Type", awsjson.ContentType)
			w := httptest.NewRecorder()
			tt.srv.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("got status %d (%s), want %d", w.Code, w.Body, tt.status)
			}
			if w.Header().Get("x-amzn-RequestId") == "" {
				t.Error("no x-amzn-RequestId header")
			}
			if tt.typ == "" {
				return
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body %q: %v", w.Body, err)
			}
			if e.Type != tt.typ || e.Message == "" {
				t.Fatalf("got %+v, want __type %s and a message", e, tt.typ)
			}
		})
	}
}
