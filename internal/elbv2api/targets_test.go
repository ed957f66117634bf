package elbv2api

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/lb"
)

type healthRow struct {
	ID, State, Reason string
	Port              int32
}

func (e *env) health_(t *testing.T, tgARN *string, targets ...sdktypes.TargetDescription) []healthRow {
	t.Helper()
	out, err := e.c.DescribeTargetHealth(bg, &sdk.DescribeTargetHealthInput{TargetGroupArn: tgARN, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	var rows []healthRow
	for _, d := range out.TargetHealthDescriptions {
		rows = append(rows, healthRow{aws.ToString(d.Target.Id), string(d.TargetHealth.State), string(d.TargetHealth.Reason), aws.ToInt32(d.Target.Port)})
	}
	return rows
}

func TestRegisterAndHealth(t *testing.T) {
	e := newEnv(t)
	tg := e.createTG(t, "web", 8080)
	arn := aws.ToString(tg.TargetGroupArn)
	reg := func(targets ...sdktypes.TargetDescription) error {
		_, err := e.c.RegisterTargets(bg, &sdk.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targets})
		return err
	}
	if err := reg(sdktypes.TargetDescription{Id: aws.String("10.0.0.1")}, sdktypes.TargetDescription{Id: aws.String("10.0.0.2"), Port: aws.Int32(9000)}); err != nil {
		t.Fatal(err)
	}
	if err := reg(sdktypes.TargetDescription{Id: aws.String("10.0.0.1"), Port: aws.Int32(8080)}); err != nil {
		t.Fatalf("registering again: %v", err)
	}

	t.Run("UnusedGroup", func(t *testing.T) {
		want := []healthRow{{"10.0.0.1", "unused", "Target.NotInUse", 8080}, {"10.0.0.2", "unused", "Target.NotInUse", 9000}}
		if diff := cmp.Diff(want, e.health_(t, tg.TargetGroupArn)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	l := e.createLB(t, "web")
	e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(tg.TargetGroupArn))
	t.Run("NotYetInDataPlane", func(t *testing.T) {
		want := []healthRow{{"10.0.0.1", "initial", "Elb.RegistrationInProgress", 8080}, {"10.0.0.2", "initial", "Elb.RegistrationInProgress", 9000}}
		if diff := cmp.Diff(want, e.health_(t, tg.TargetGroupArn)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("FromDataPlane", func(t *testing.T) {
		e.health.set(arn,
			lb.TargetState{Target: "10.0.0.1:8080", State: lb.StateHealthy},
			lb.TargetState{Target: "10.0.0.2:9000", State: lb.StateUnhealthy, Reason: lb.ReasonResponseCodeMismatch},
		)
		want := []healthRow{{"10.0.0.1", "healthy", "", 8080}, {"10.0.0.2", "unhealthy", "Target.ResponseCodeMismatch", 9000}}
		if diff := cmp.Diff(want, e.health_(t, tg.TargetGroupArn)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("Draining", func(t *testing.T) {
		if _, err := e.c.DeregisterTargets(bg, &sdk.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []sdktypes.TargetDescription{{Id: aws.String("10.0.0.2"), Port: aws.Int32(9000)}}}); err != nil {
			t.Fatal(err)
		}
		e.health.set(arn,
			lb.TargetState{Target: "10.0.0.1:8080", State: lb.StateHealthy},
			lb.TargetState{Target: "10.0.0.2:9000", State: lb.StateDraining, Reason: lb.ReasonDeregistrationInProgress},
		)
		want := []healthRow{{"10.0.0.1", "healthy", "", 8080}, {"10.0.0.2", "draining", "Target.DeregistrationInProgress", 9000}}
		if diff := cmp.Diff(want, e.health_(t, tg.TargetGroupArn)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("NamedTargets", func(t *testing.T) {
		want := []healthRow{{"10.0.0.1", "healthy", "", 8080}, {"10.0.0.9", "unused", "Target.NotRegistered", 8080}}
		got := e.health_(t, tg.TargetGroupArn, sdktypes.TargetDescription{Id: aws.String("10.0.0.1")}, sdktypes.TargetDescription{Id: aws.String("10.0.0.9")})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		wantAPIErr(t, reg(sdktypes.TargetDescription{Id: aws.String("i-0123456789abcdef0")}), "InvalidTarget")
		wantAPIErr(t, reg(sdktypes.TargetDescription{Id: aws.String("::1")}), "InvalidTarget")
		_, err := e.c.RegisterTargets(bg, &sdk.RegisterTargetsInput{TargetGroupArn: aws.String(e.svc.tgARN("x", "00000000000000ff")), Targets: []sdktypes.TargetDescription{{Id: aws.String("10.0.0.1")}}})
		wantAPIErr(t, err, "TargetGroupNotFound")
		_, err = e.c.DescribeTargetHealth(bg, &sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(e.svc.tgARN("x", "00000000000000ff"))})
		wantAPIErr(t, err, "TargetGroupNotFound")
		_, err = e.c.DeregisterTargets(bg, &sdk.DeregisterTargetsInput{TargetGroupArn: aws.String("nope"), Targets: []sdktypes.TargetDescription{{Id: aws.String("10.0.0.1")}}})
		wantAPIErr(t, err, "ValidationError")
	})
	t.Run("TooManyTargets", func(t *testing.T) {
		tg2 := e.createTG(t, "big", 80)
		var ts []Target
		for i := 0; i <= maxTargets; i++ {
			ts = append(ts, Target{ID: "10.1.0.1", Port: int32(1000 + i)})
		}
		err := e.svc.RegisterTargets(bg, aws.ToString(tg2.TargetGroupArn), ts)
		wantCode(t, err, "TooManyTargets")
	})
}

func TestInternalTargetMethods(t *testing.T) {
	e := newEnv(t)
	tg := e.createTG(t, "web", 8080)
	arn := aws.ToString(tg.TargetGroupArn)
	ts := []Target{{ID: "10.0.0.1", Port: 32768, AZ: "us-east-1a"}, {ID: "10.0.0.2"}}
	for range 2 { // idempotent
		if err := e.svc.RegisterTargets(bg, arn, ts); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := e.svc.read(bg)
	r, _ := w.tgByARN(arn)
	if len(r.v.Targets) != 2 || r.v.Targets[1].Port != 8080 || r.v.Targets[0].AvailabilityZone != "us-east-1a" {
		t.Errorf("targets: %+v", r.v.Targets)
	}
	for range 2 {
		if err := e.svc.DeregisterTargets(bg, arn, ts[:1]); err != nil {
			t.Fatal(err)
		}
	}
	w, _ = e.svc.read(bg)
	r, _ = w.tgByARN(arn)
	if len(r.v.Targets) != 1 || r.v.Targets[0].ID != "10.0.0.2" {
		t.Errorf("after deregister: %+v", r.v.Targets)
	}
	missing := e.svc.tgARN("x", "00000000000000ff")
	if err := e.svc.RegisterTargets(bg, missing, ts); !errors.Is(err, ErrTargetGroupNotFound) {
		t.Errorf("RegisterTargets on a missing group: %v, want ErrTargetGroupNotFound", err)
	}

	info, err := e.svc.TargetGroupInfo(bg, arn)
	if err != nil {
		t.Fatal(err)
	}
	want := TargetGroupInfo{
		Exists: true, ARN: arn, Name: "web", Protocol: "HTTP", Port: 8080, DeregistrationDelay: 5 * time.Second,
		HealthCheck: defaultHC,
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("TargetGroupInfo (-want +got):\n%s", diff)
	}
	l := e.createLB(t, "web")
	e.createListener(t, l.LoadBalancerArn, freePort(t), forwardTo(tg.TargetGroupArn))
	info, _ = e.svc.TargetGroupInfo(bg, arn)
	if diff := cmp.Diff([]string{aws.ToString(l.LoadBalancerArn)}, info.LoadBalancerArns); diff != "" {
		t.Errorf("LoadBalancerArns (-want +got):\n%s", diff)
	}
	for _, a := range []string{missing, "not-an-arn"} {
		info, err := e.svc.TargetGroupInfo(bg, a)
		if err != nil || info.Exists {
			t.Errorf("TargetGroupInfo(%q) = %+v, %v; want not existing, no error", a, info, err)
		}
	}
}

// TestRegisterTargetsTwoWriters: two Services over one store (two writers
// the mutex does not serialize) lose no registration.
func TestRegisterTargetsTwoWriters(t *testing.T) {
	e := newEnv(t)
	arn := aws.ToString(e.createTG(t, "web", 80).TargetGroupArn)
	other := New(Config{Store: e.st, Region: "us-east-1", AccountID: "123456789012"})
	errs := make(chan error, 20)
	for i := range 10 {
		for _, s := range []*Service{e.svc, other} {
			go func() { errs <- s.RegisterTargets(bg, arn, []Target{{ID: "10.0.0.1", Port: int32(1000 + i)}}) }()
		}
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	w, _ := e.svc.read(bg)
	r, _ := w.tgByARN(arn)
	if len(r.v.Targets) != 10 {
		t.Errorf("got %d targets, want 10", len(r.v.Targets))
	}
}
