package elbv2api

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/google/go-cmp/cmp"
)

func TestCreateListener(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 80)
	port := freePort(t)
	ln := e.createListener(t, l.LoadBalancerArn, port, forwardTo(tg.TargetGroupArn))
	if _, ok := parseARN(aws.ToString(ln.ListenerArn), "listener"); !ok {
		t.Errorf("ListenerArn %q does not parse", aws.ToString(ln.ListenerArn))
	}
	a := ln.DefaultActions[0]
	if aws.ToString(a.TargetGroupArn) != aws.ToString(tg.TargetGroupArn) || len(a.ForwardConfig.TargetGroups) != 1 || aws.ToInt32(a.ForwardConfig.TargetGroups[0].Weight) != 1 {
		t.Errorf("default action not normalized as ELB's: %+v", a)
	}

	t.Run("Idempotent", func(t *testing.T) {
		again := e.createListener(t, l.LoadBalancerArn, port, forwardTo(tg.TargetGroupArn))
		if aws.ToString(again.ListenerArn) != aws.ToString(ln.ListenerArn) {
			t.Errorf("second create made a new listener")
		}
	})
	t.Run("SamePortOtherActions", func(t *testing.T) {
		_, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(port), DefaultActions: fixed("404")})
		wantAPIErr(t, err, "DuplicateListener")
	})
	t.Run("PortOfAnotherLoadBalancer", func(t *testing.T) {
		other := e.createLB(t, "other")
		_, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{LoadBalancerArn: other.LoadBalancerArn, Port: aws.Int32(port), DefaultActions: fixed("404")})
		wantAPIErr(t, err, "DuplicateListener")
	})
	t.Run("PortNotBindable", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		bp := int32(busy.Addr().(*net.TCPAddr).Port)
		_, err = e.c.CreateListener(bg, &sdk.CreateListenerInput{LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(bp), DefaultActions: fixed("404")})
		wantAPIErr(t, err, "InvalidConfigurationRequest")
	})
	t.Run("TargetGroupOfAnotherLoadBalancer", func(t *testing.T) {
		other := e.createLB(t, "other2")
		_, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{LoadBalancerArn: other.LoadBalancerArn, Port: aws.Int32(freePort(t)), DefaultActions: forwardTo(tg.TargetGroupArn)})
		wantAPIErr(t, err, "TargetGroupAssociationLimit")
	})
	for _, tc := range []struct {
		name string
		in   sdk.CreateListenerInput
		code string
	}{
		{"NoPort", sdk.CreateListenerInput{DefaultActions: fixed("200")}, "ValidationError"},
		{"TCP", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "TCP", DefaultActions: fixed("200")}, "UnsupportedProtocol"},
		{"CertOnHTTP", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "HTTP", Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(SelfSignedCertificate)}}, DefaultActions: fixed("200")}, "ValidationError"},
		{"HTTPSNoCert", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "HTTPS", DefaultActions: fixed("200")}, "ValidationError"},
		{"ACMCert", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "HTTPS", Certificates: []sdktypes.Certificate{{CertificateArn: aws.String("arn:aws:acm:us-east-1:1:certificate/x")}}, DefaultActions: fixed("200")}, "CertificateNotFound"},
		{"MissingFile", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "HTTPS", Certificates: []sdktypes.Certificate{{CertificateArn: aws.String("file:///nonexistent.pem")}}, DefaultActions: fixed("200")}, "CertificateNotFound"},
		{"BadPolicy", sdk.CreateListenerInput{Port: aws.Int32(1), Protocol: "HTTPS", SslPolicy: aws.String("Mine"), Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(SelfSignedCertificate)}}, DefaultActions: fixed("200")}, "SSLPolicyNotFound"},
		{"Redirect", sdk.CreateListenerInput{Port: aws.Int32(1), DefaultActions: []sdktypes.Action{{Type: "redirect", RedirectConfig: &sdktypes.RedirectActionConfig{StatusCode: "HTTP_301"}}}}, "InvalidLoadBalancerAction"},
		{"TwoActions", sdk.CreateListenerInput{Port: aws.Int32(1), DefaultActions: append(fixed("200"), fixed("201")...)}, "InvalidLoadBalancerAction"},
		{"BadStatus", sdk.CreateListenerInput{Port: aws.Int32(1), DefaultActions: fixed("302")}, "ValidationError"},
		{"MissingTG", sdk.CreateListenerInput{Port: aws.Int32(1), DefaultActions: forwardTo(aws.String(e.svc.tgARN("x", "00000000000000ff")))}, "TargetGroupNotFound"},
		{"Stickiness", sdk.CreateListenerInput{Port: aws.Int32(1), DefaultActions: []sdktypes.Action{{Type: "forward", ForwardConfig: &sdktypes.ForwardActionConfig{
			TargetGroups:                []sdktypes.TargetGroupTuple{{TargetGroupArn: tg.TargetGroupArn}},
			TargetGroupStickinessConfig: &sdktypes.TargetGroupStickinessConfig{Enabled: aws.Bool(true)},
		}}}}, "InvalidConfigurationRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.LoadBalancerArn = l.LoadBalancerArn
			_, err := e.c.CreateListener(bg, &tc.in)
			wantAPIErr(t, err, tc.code)
		})
	}
	t.Run("NoLoadBalancer", func(t *testing.T) {
		_, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{LoadBalancerArn: aws.String(e.svc.lbARN("x", "00000000000000ff")), Port: aws.Int32(1), DefaultActions: fixed("200")})
		wantAPIErr(t, err, "LoadBalancerNotFound")
	})
}

func fixed(code string) []sdktypes.Action {
	return []sdktypes.Action{{Type: sdktypes.ActionTypeEnumFixedResponse, FixedResponseConfig: &sdktypes.FixedResponseActionConfig{StatusCode: aws.String(code)}}}
}

func TestHTTPSListenerCertificates(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	lbID, _ := parseLBARN(aws.ToString(l.LoadBalancerArn))

	t.Run("SelfSigned", func(t *testing.T) {
		out, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{
			LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(freePort(t)), Protocol: sdktypes.ProtocolEnumHttps,
			Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(SelfSignedCertificate)}}, DefaultActions: fixed("200"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Listeners[0].SslPolicy); got != defaultSSLPolicy {
			t.Errorf("SslPolicy = %q, want %s", got, defaultSSLPolicy)
		}
		w, err := e.svc.read(bg)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := w.certs[lbID]
		if !ok {
			t.Fatal("no self-signed certificate stored")
		}
		// A second HTTPS listener reuses it.
		if _, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{
			LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(freePort(t)), Protocol: sdktypes.ProtocolEnumHttps,
			Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(SelfSignedCertificate)}}, DefaultActions: fixed("200"),
		}); err != nil {
			t.Fatal(err)
		}
		w2, _ := e.svc.read(bg)
		if w2.certs[lbID].rev != c.rev {
			t.Errorf("the self-signed certificate was regenerated")
		}
		snap, problems, err := e.svc.snapshot(bg)
		if err != nil || len(problems) != 0 {
			t.Fatalf("snapshot: %v %v", err, problems)
		}
		certs := snap.Certificates[aws.ToString(out.Listeners[0].ListenerArn)]
		if len(certs) != 1 || certs[0].Leaf == nil {
			t.Fatalf("resolved certificates: %+v", certs)
		}
		if err := certs[0].Leaf.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("self-signed certificate: %v", err)
		}
		if err := certs[0].Leaf.VerifyHostname("localhost"); err != nil {
			t.Errorf("self-signed certificate: %v", err)
		}
	})
	t.Run("File", func(t *testing.T) {
		c, err := newSelfSigned("example.test", e.svc.now())
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		both := filepath.Join(dir, "both.pem")
		certOnly := filepath.Join(dir, "cert.pem")
		keyOnly := filepath.Join(dir, "key.pem")
		for path, data := range map[string][]byte{both: append(append([]byte{}, c.CertPEM...), c.KeyPEM...), certOnly: c.CertPEM, keyOnly: c.KeyPEM} {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, arn := range []string{"file://" + both, "file://" + certOnly + "?key=" + keyOnly} {
			out, err := e.c.CreateListener(bg, &sdk.CreateListenerInput{
				LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(freePort(t)), Protocol: sdktypes.ProtocolEnumHttps,
				Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(arn)}}, DefaultActions: fixed("200"),
			})
			if err != nil {
				t.Fatalf("%s: %v", arn, err)
			}
			if got := aws.ToString(out.Listeners[0].Certificates[0].CertificateArn); got != arn {
				t.Errorf("CertificateArn = %q, want %q", got, arn)
			}
		}
		// A certificate without its key is refused.
		_, err = e.c.CreateListener(bg, &sdk.CreateListenerInput{
			LoadBalancerArn: l.LoadBalancerArn, Port: aws.Int32(freePort(t)), Protocol: sdktypes.ProtocolEnumHttps,
			Certificates: []sdktypes.Certificate{{CertificateArn: aws.String("file://" + certOnly)}}, DefaultActions: fixed("200"),
		})
		wantAPIErr(t, err, "CertificateNotFound")
		if _, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDescribeModifyDeleteListeners(t *testing.T) {
	e := newEnv(t)
	l := e.createLB(t, "web")
	tg := e.createTG(t, "tg", 80)
	p1, p2 := freePort(t), freePort(t)
	ln1 := e.createListener(t, l.LoadBalancerArn, p1, forwardTo(tg.TargetGroupArn))
	ln2 := e.createListener(t, l.LoadBalancerArn, p2, fixed("404"))

	t.Run("ByLoadBalancer", func(t *testing.T) {
		out, err := e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{LoadBalancerArn: l.LoadBalancerArn})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Listeners) != 2 {
			t.Errorf("got %d listeners, want 2", len(out.Listeners))
		}
	})
	t.Run("ByARN", func(t *testing.T) {
		out, err := e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{ListenerArns: []string{aws.ToString(ln2.ListenerArn)}})
		if err != nil || len(out.Listeners) != 1 || aws.ToInt32(out.Listeners[0].Port) != p2 {
			t.Fatalf("got %v %+v", err, out)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		_, err := e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{})
		wantAPIErr(t, err, "ValidationError")
		_, err = e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{ListenerArns: []string{aws.ToString(ln2.ListenerArn)[:len(aws.ToString(ln2.ListenerArn))-1] + "x"}})
		wantAPIErr(t, err, "ValidationError")
		_, err = e.c.DescribeListeners(bg, &sdk.DescribeListenersInput{ListenerArns: []string{listenerARN(aws.ToString(l.LoadBalancerArn), "00000000000000ff")}})
		wantAPIErr(t, err, "ListenerNotFound")
	})
	t.Run("Modify", func(t *testing.T) {
		p3 := freePort(t)
		out, err := e.c.ModifyListener(bg, &sdk.ModifyListenerInput{ListenerArn: ln2.ListenerArn, Port: aws.Int32(p3), DefaultActions: forwardTo(tg.TargetGroupArn)})
		if err != nil {
			t.Fatal(err)
		}
		got := out.Listeners[0]
		if aws.ToInt32(got.Port) != p3 || aws.ToString(got.DefaultActions[0].TargetGroupArn) != aws.ToString(tg.TargetGroupArn) {
			t.Errorf("after modify: %+v", got)
		}
		_, err = e.c.ModifyListener(bg, &sdk.ModifyListenerInput{ListenerArn: ln2.ListenerArn, Port: aws.Int32(p1)})
		wantAPIErr(t, err, "DuplicateListener")
		out, err = e.c.ModifyListener(bg, &sdk.ModifyListenerInput{ListenerArn: ln2.ListenerArn, Protocol: "HTTPS",
			Certificates: []sdktypes.Certificate{{CertificateArn: aws.String(SelfSignedCertificate)}}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Listeners[0].Protocol != "HTTPS" || aws.ToString(out.Listeners[0].SslPolicy) != defaultSSLPolicy {
			t.Errorf("to HTTPS: %+v", out.Listeners[0])
		}
		out, err = e.c.ModifyListener(bg, &sdk.ModifyListenerInput{ListenerArn: ln2.ListenerArn, Protocol: "HTTP"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Listeners[0].Certificates) != 0 || out.Listeners[0].SslPolicy != nil {
			t.Errorf("back to HTTP kept TLS settings: %+v", out.Listeners[0])
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if _, err := e.c.CreateRule(bg, &sdk.CreateRuleInput{ListenerArn: ln1.ListenerArn, Priority: aws.Int32(5), Actions: fixed("200"),
			Conditions: []sdktypes.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a.test"}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.DeleteListener(bg, &sdk.DeleteListenerInput{ListenerArn: ln1.ListenerArn}); err != nil {
			t.Fatal(err)
		}
		w, _ := e.svc.read(bg)
		var ports []int32
		for _, r := range w.listeners {
			ports = append(ports, *r.v.Port)
		}
		if len(w.rules) != 0 || len(ports) != 1 {
			t.Errorf("after delete: listeners on %v, %d rules; want one listener, no rules", ports, len(w.rules))
		}
		_, err := e.c.DeleteListener(bg, &sdk.DeleteListenerInput{ListenerArn: ln1.ListenerArn})
		wantAPIErr(t, err, "ListenerNotFound")
		if diff := cmp.Diff(1, len(ports)); diff != "" {
			t.Error(diff)
		}
	})
}
