package elbv2api

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/lb"
	"github.com/berth-io/berth/internal/store"
	"github.com/berth-io/berth/internal/store/bolt"
)

var bg = context.Background()

// fakeHealth is a settable Health.
type fakeHealth struct {
	mu     sync.Mutex
	states map[string][]lb.TargetState
}

func (f *fakeHealth) TargetHealth(tg string) []lb.TargetState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.states[tg]
}

func (f *fakeHealth) set(tg string, ts ...lb.TargetState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states == nil {
		f.states = map[string][]lb.TargetState{}
	}
	f.states[tg] = ts
}

var _ Health = (*fakeHealth)(nil)

type env struct {
	svc    *Service
	st     store.Store
	health *fakeHealth
	c      *sdk.Client
}

// newEnv returns the API over a fresh bolt store, served by apiserver on an
// httptest server, and an SDK client for it.
func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	h := &fakeHealth{}
	clk := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	svc := New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012", Health: h, Now: func() time.Time { return clk }, Debounce: 5 * time.Millisecond})
	edge, err := apiserver.New(apiserver.Config{NoAuth: true, Query: []apiserver.QueryService{svc.Query()}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge)
	t.Cleanup(srv.Close)
	c := sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
	return &env{svc: svc, st: st, health: h, c: c}
}

// wantAPIErr fails unless err is an API error with the code.
func wantAPIErr(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// wantCode fails unless err is an *awserr.Error with the code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s (%s), want %s", e.Code, e.Message, code)
	}
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t testing.TB) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

func (e *env) createLB(t *testing.T, name string) sdktypes.LoadBalancer {
	t.Helper()
	out, err := e.c.CreateLoadBalancer(bg, &sdk.CreateLoadBalancerInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	return out.LoadBalancers[0]
}

func (e *env) createTG(t *testing.T, name string, port int32) sdktypes.TargetGroup {
	t.Helper()
	out, err := e.c.CreateTargetGroup(bg, &sdk.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: sdktypes.ProtocolEnumHttp, Port: aws.Int32(port), TargetType: sdktypes.TargetTypeEnumIp,
	})
	if err != nil {
		t.Fatalf("CreateTargetGroup: %v", err)
	}
	return out.TargetGroups[0]
}

func forwardTo(tgARN *string) []sdktypes.Action {
	return []sdktypes.Action{{Type: sdktypes.ActionTypeEnumForward, TargetGroupArn: tgARN}}
}

func (e *env) createListener(t *testing.T, lbARN *string, port int32, actions []sdktypes.Action) sdktypes.Listener {
	t.Helper()
	out, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{
		LoadBalancerArn: lbARN, Port: aws.Int32(port), Protocol: sdktypes.ProtocolEnumHttp, DefaultActions: actions,
	})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	return out.Listeners[0]
}

// fakeDP records the configs applied to it; err, when set, fails Apply.
type fakeDP struct {
	mu       sync.Mutex
	applied  []lb.Config
	err      error
	attempts int
}

func (f *fakeDP) Apply(cfg lb.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.err != nil {
		return f.err
	}
	f.applied = append(f.applied, cfg)
	return nil
}

func (f *fakeDP) last() (lb.Config, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.applied) == 0 {
		return lb.Config{}, 0
	}
	return f.applied[len(f.applied)-1], len(f.applied)
}

var _ DataPlane = (*fakeDP)(nil)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// otherARN is arn with its last hex digit changed: well formed, and
// naming nothing (unlike appending a fixed digit, it never names arn
// itself).
func otherARN(arn string) string {
	last := arn[len(arn)-1]
	next := byte('0')
	if last == '0' {
		next = '1'
	}
	return arn[:len(arn)-1] + string(next)
}
