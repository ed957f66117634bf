package awsjson

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, code, mention string
	}{
		{"syntax", `{"family": }`, awserr.CodeSerialization, "malformed JSON"},
		{"wrong type names member", `{"family": 12}`, awserr.CodeSerialization, "family"},
		{"nested wrong type names path", `{"containerDefinitions":[{"memory":"lots"}]}`, awserr.CodeSerialization, "containerDefinitions.memory"},
		{"trailing data", `{"family":"a"} {"x":1}`, awserr.CodeSerialization, "trailing"},
		{"not an object", `[1,2]`, awserr.CodeSerialization, "expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in ecs.RegisterTaskDefinitionRequest
			err := Decode([]byte(tt.body), &in)
			var e *awserr.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *awserr.Error", err)
			}
			if e.Code != tt.code || !strings.Contains(e.Message, tt.mention) {
				t.Fatalf("got %s %q, want %s mentioning %q", e.Code, e.Message, tt.code, tt.mention)
			}
		})
	}
}

func TestDecodeEmptyBodyAndUnknownMembers(t *testing.T) {
	var in ecs.ListClustersRequest
	if err := Decode(nil, &in); err != nil {
		t.Fatalf("empty body: %v", err)
	}
	if err := Decode([]byte(`{"maxResults": 5, "someFutureMember": true}`), &in); err != nil {
		t.Fatalf("unknown member: %v", err)
	}
	if in.MaxResults == nil || *in.MaxResults != 5 {
		t.Fatalf("got maxResults %v, want 5", in.MaxResults)
	}
}

func TestCheckRequired(t *testing.T) {
	tests := []struct {
		name string
		in   any
		path string // "" means no error
	}{
		{"top level", &ecs.RegisterTaskDefinitionRequest{}, "containerDefinitions"},
		{"ok", &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "a"}}}, ""},
		{"nested in list", &ecs.CreateServiceRequest{ServiceName: "s", Tags: []ecs.Tag{{Value: "v"}}}, ""},
		{"nested struct", &ecs.CreateServiceRequest{ServiceName: "s", DeploymentConfiguration: &ecs.DeploymentConfiguration{DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{}}}, ""},
		{"placement constraint", &ecs.CreateServiceRequest{ServiceName: "s", LoadBalancers: []ecs.LoadBalancer{{}}}, ""},
		{"key value", &ecs.UntagResourceRequest{ResourceArn: "arn"}, "tagKeys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequired(tt.in)
			if tt.path == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *awserr.Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Message, tt.path+":") {
				t.Fatalf("got %v, want an error naming %s", err, tt.path)
			}
		})
	}
}

func TestServeWritesAWSErrors(t *testing.T) {
	svc := &Service{TargetPrefix: "P", Ops: map[string]Op{
		"Boom": Handle(func(ctx context.Context, in *ecs.ListClustersRequest) (*ecs.ListClustersResponse, error) {
			return nil, errors.New("disk on fire")
		}),
		"Ok": Handle(func(ctx context.Context, in *ecs.ListClustersRequest) (*ecs.ListClustersResponse, error) {
			return &ecs.ListClustersResponse{ClusterArns: []string{}}, nil
		}),
	}}
	tests := []struct {
		op, body string
		status   int
		typ      string
	}{
		{"Nope", `{}`, 400, awserr.CodeUnknownOperation},
		{"Boom", `{}`, 500, awserr.CodeServer},
		{"Ok", `{"maxResults": "x"}`, 400, awserr.CodeSerialization},
		{"Ok", `{}`, 200, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		svc.Serve(context.Background(), w, tt.op, []byte(tt.body))
		if w.Code != tt.status {
			t.Errorf("%s: got status %d, want %d", tt.op, w.Code, tt.status)
		}
		if got := w.Header().Get("Content-Type"); got != ContentType {
			t.Errorf("%s: got content type %q", tt.op, got)
		}
		if tt.typ == "" {
			continue
		}
		var body struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: error body %q: %v", tt.op, w.Body, err)
		}
		if body.Type != tt.typ || body.Message == "" {
			t.Errorf("%s: got %+v, want __type %s with a message", tt.op, body, tt.typ)
		}
		if strings.Contains(body.Message, "disk on fire") {
			t.Errorf("%s: internal error text leaked: %q", tt.op, body.Message)
		}
	}
	_ = http.StatusOK
}

// FuzzDecode feeds arbitrary bodies to the decoder and the required-member
// check for the largest input shapes: neither may panic, and every failure
// is an *awserr.Error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"family":"web","containerDefinitions":[{"name":"a","image":"b","memory":128,"portMappings":[{"containerPort":80}]}]}`))
	f.Add([]byte(`{"serviceName":"s","desiredCount":2,"deploymentConfiguration":{"maximumPercent":200}}`))
	f.Add([]byte(`{"createdAt": 1.5e9}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"containerDefinitions":[{"healthCheck":{"command":["CMD"]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{new(ecs.RegisterTaskDefinitionRequest), new(ecs.CreateServiceRequest), new(ecs.RunTaskRequest), new(ecs.Task)} {
			err := Decode(body, v)
			if err == nil {
				err = CheckRequired(v)
			}
			var e *awserr.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error %v is not an *awserr.Error", err)
			}
		}
	})
}
