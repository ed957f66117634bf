package awsquery_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	sdktypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/awserr"
	"github.com/berth-io/berth/internal/awsquery"
)

var _ apiserver.QueryService = (*awsquery.Service)(nil)

var lbCreated = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)

const tgARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"

// fakeELB records the inputs it receives and answers from fixed data.
type fakeELB struct {
	mu       sync.Mutex
	create   *elbv2.CreateTargetGroupInput
	describe *elbv2.DescribeTargetGroupsInput
	register *elbv2.RegisterTargetsInput
}

func (f *fakeELB) service() *awsquery.Service {
	return &awsquery.Service{
		APIVersion: elbv2.APIVersion,
		Namespace:  elbv2.XMLNamespace,
		Ops: map[string]awsquery.Op{
			"CreateTargetGroup":    awsquery.Handle(f.createTargetGroup),
			"DescribeTargetGroups": awsquery.Handle(f.describeTargetGroups),
			"RegisterTargets":      awsquery.Handle(f.registerTargets),
			"DescribeLoadBalancers": awsquery.Handle(func(context.Context, *elbv2.DescribeLoadBalancersInput) (*elbv2.DescribeLoadBalancersOutput, error) {
				return &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbv2.LoadBalancer{{LoadBalancerName: "lb", CreatedTime: elbv2.NewTime(lbCreated)}}}, nil
			}),
		},
	}
}

func (f *fakeELB) createTargetGroup(_ context.Context, in *elbv2.CreateTargetGroupInput) (*elbv2.CreateTargetGroupOutput, error) {
	f.mu.Lock()
	f.create = in
	f.mu.Unlock()
	return &elbv2.CreateTargetGroupOutput{TargetGroups: []elbv2.TargetGroup{{
		TargetGroupArn:             tgARN,
		TargetGroupName:            in.Name,
		Protocol:                   in.Protocol,
		Port:                       in.Port,
		VpcId:                      in.VpcId,
		HealthCheckEnabled:         aws.Bool(true),
		HealthCheckIntervalSeconds: aws.Int32(30),
		Matcher:                    &elbv2.Matcher{HttpCode: "200-299"},
		LoadBalancerArns:           []string{},
		TargetType:                 elbv2.TargetTypeEnumIp,
	}}}, nil
}

func (f *fakeELB) describeTargetGroups(_ context.Context, in *elbv2.DescribeTargetGroupsInput) (*elbv2.DescribeTargetGroupsOutput, error) {
	f.mu.Lock()
	f.describe = in
	f.mu.Unlock()
	if len(in.Names) > 0 && in.Names[0] == "missing" {
		return nil, awserr.New(elbv2.ErrTargetGroupNotFound, "One or more target groups not found")
	}
	return &elbv2.DescribeTargetGroupsOutput{
		TargetGroups: []elbv2.TargetGroup{
			{TargetGroupArn: tgARN, TargetGroupName: "web", Port: aws.Int32(80)},
			{TargetGroupArn: tgARN + "2", TargetGroupName: "api <&>", Port: aws.Int32(8080)},
		},
		NextMarker: "page-2",
	}, nil
}

func (f *fakeELB) registerTargets(_ context.Context, in *elbv2.RegisterTargetsInput) (*elbv2.RegisterTargetsOutput, error) {
	f.mu.Lock()
	f.register = in
	f.mu.Unlock()
	return &elbv2.RegisterTargetsOutput{}, nil
}

func newClient(t *testing.T, svc *awsquery.Service) *sdk.Client {
	t.Helper()
	edge, err := apiserver.New(apiserver.Config{NoAuth: true, Query: []apiserver.QueryService{svc}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge)
	t.Cleanup(srv.Close)
	return sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
}

func TestSDKRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := &fakeELB{}
	c := newClient(t, f.service())

	t.Run("CreateTargetGroup", func(t *testing.T) {
		out, err := c.CreateTargetGroup(ctx, &sdk.CreateTargetGroupInput{
			Name:                       aws.String("web"),
			Protocol:                   sdktypes.ProtocolEnumHttp,
			Port:                       aws.Int32(80),
			VpcId:                      aws.String("vpc-1"),
			HealthCheckIntervalSeconds: aws.Int32(15),
			HealthCheckEnabled:         aws.Bool(false),
			Matcher:                    &sdktypes.Matcher{HttpCode: aws.String("200")},
			Tags:                       []sdktypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("env")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &elbv2.CreateTargetGroupInput{
			Name:                       "web",
			Protocol:                   "HTTP",
			Port:                       aws.Int32(80),
			VpcId:                      "vpc-1",
			HealthCheckIntervalSeconds: aws.Int32(15),
			HealthCheckEnabled:         aws.Bool(false),
			Matcher:                    &elbv2.Matcher{HttpCode: "200"},
			Tags:                       []elbv2.Tag{{Key: "team", Value: "a"}, {Key: "env"}},
		}
		if diff := cmp.Diff(want, f.create); diff != "" {
			t.Errorf("decoded input (-want +got):\n%s", diff)
		}
		if len(out.TargetGroups) != 1 {
			t.Fatalf("got %d target groups, want 1", len(out.TargetGroups))
		}
		tg := out.TargetGroups[0]
		if got := aws.ToString(tg.TargetGroupArn); got != tgARN {
			t.Errorf("TargetGroupArn = %q, want %q", got, tgARN)
		}
		if got := aws.ToInt32(tg.Port); got != 80 {
			t.Errorf("Port = %d, want 80", got)
		}
		if got := aws.ToString(tg.Matcher.HttpCode); got != "200-299" {
			t.Errorf("Matcher.HttpCode = %q, want 200-299", got)
		}
		if tg.HealthCheckEnabled == nil || !*tg.HealthCheckEnabled {
			t.Errorf("HealthCheckEnabled = %v, want true", tg.HealthCheckEnabled)
		}
		if tg.TargetType != sdktypes.TargetTypeEnumIp {
			t.Errorf("TargetType = %q, want ip", tg.TargetType)
		}
	})

	t.Run("DescribeTargetGroups", func(t *testing.T) {
		out, err := c.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{
			Names:    []string{"web", "api"},
			Marker:   aws.String("page-1"),
			PageSize: aws.Int32(2),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &elbv2.DescribeTargetGroupsInput{Names: []string{"web", "api"}, Marker: "page-1", PageSize: aws.Int32(2)}
		if diff := cmp.Diff(want, f.describe); diff != "" {
			t.Errorf("decoded input (-want +got):\n%s", diff)
		}
		var names []string
		for _, tg := range out.TargetGroups {
			names = append(names, aws.ToString(tg.TargetGroupName))
		}
		if diff := cmp.Diff([]string{"web", "api <&>"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		if got := aws.ToString(out.NextMarker); got != "page-2" {
			t.Errorf("NextMarker = %q, want page-2", got)
		}
	})

	t.Run("RegisterTargets", func(t *testing.T) {
		_, err := c.RegisterTargets(ctx, &sdk.RegisterTargetsInput{
			TargetGroupArn: aws.String(tgARN),
			Targets: []sdktypes.TargetDescription{
				{Id: aws.String("10.0.0.1"), Port: aws.Int32(8080)},
				{Id: aws.String("10.0.0.2"), Port: aws.Int32(8081), AvailabilityZone: aws.String("all")},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := &elbv2.RegisterTargetsInput{
			TargetGroupArn: tgARN,
			Targets: []elbv2.TargetDescription{
				{Id: "10.0.0.1", Port: aws.Int32(8080)},
				{Id: "10.0.0.2", Port: aws.Int32(8081), AvailabilityZone: "all"},
			},
		}
		if diff := cmp.Diff(want, f.register); diff != "" {
			t.Errorf("decoded input (-want +got):\n%s", diff)
		}
	})

	t.Run("TargetGroupNotFound", func(t *testing.T) {
		_, err := c.DescribeTargetGroups(ctx, &sdk.DescribeTargetGroupsInput{Names: []string{"missing"}})
		var nf *sdktypes.TargetGroupNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("got %v, want a TargetGroupNotFoundException", err)
		}
		if got := nf.ErrorCode(); got != "TargetGroupNotFound" {
			t.Errorf("code = %q, want TargetGroupNotFound", got)
		}
		if got := nf.ErrorMessage(); got != "One or more target groups not found" {
			t.Errorf("message = %q", got)
		}
	})

	t.Run("Timestamp", func(t *testing.T) {
		out, err := c.DescribeLoadBalancers(ctx, &sdk.DescribeLoadBalancersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.LoadBalancers) != 1 {
			t.Fatalf("got %d load balancers, want 1", len(out.LoadBalancers))
		}
		if got := aws.ToTime(out.LoadBalancers[0].CreatedTime); !got.Equal(lbCreated) {
			t.Errorf("CreatedTime = %v, want %v", got, lbCreated)
		}
	})

	t.Run("UnknownAction", func(t *testing.T) {
		_, err := c.DeleteLoadBalancer(ctx, &sdk.DeleteLoadBalancerInput{LoadBalancerArn: aws.String("arn")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != awsquery.CodeInvalidAction {
			t.Fatalf("got %v, want InvalidAction", err)
		}
	})
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		form     map[string][]string
		want     elbv2.CreateRuleInput
		wantCode string
	}{
		{
			name: "nested lists, structures and a map",
			form: map[string][]string{
				"Action":                                         {"CreateRule"},
				"ListenerArn":                                    {"l"},
				"Priority":                                       {"10"},
				"Conditions.member.1.Field":                      {"path-pattern"},
				"Conditions.member.1.Values.member.2":            {"/b"},
				"Conditions.member.1.Values.member.1":            {"/a"},
				"Actions.member.1.Type":                          {"authenticate-oidc"},
				"Actions.member.1.Order":                         {"1"},
				"Actions.member.1.AuthenticateOidcConfig.Issuer": {"iss"},
				"Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key":   {"k"},
				"Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.value": {"v"},
				"Tags": {""},
			},
			want: elbv2.CreateRuleInput{
				ListenerArn: "l",
				Priority:    aws.Int32(10),
				Conditions:  []elbv2.RuleCondition{{Field: "path-pattern", Values: []string{"/a", "/b"}}},
				Actions: []elbv2.Action{{
					Type:  "authenticate-oidc",
					Order: aws.Int32(1),
					AuthenticateOidcConfig: &elbv2.AuthenticateOidcActionConfig{
						Issuer:                           "iss",
						AuthenticationRequestExtraParams: map[string]string{"k": "v"},
					},
				}},
				Tags: []elbv2.Tag{},
			},
		},
		{name: "bad integer", form: map[string][]string{"Priority": {"ten"}}, wantCode: awsquery.CodeValidation},
		{name: "bad boolean", form: map[string][]string{"Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled": {"yes"}}, wantCode: awsquery.CodeValidation},
		{name: "bad index", form: map[string][]string{"Conditions.member.x.Field": {"f"}}, wantCode: awsquery.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got elbv2.CreateRuleInput
			err := awsquery.Decode(tt.form, &got)
			if tt.wantCode != "" {
				var e *awserr.Error
				if !errors.As(err, &e) || e.Code != tt.wantCode {
					t.Fatalf("got error %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckRequired(t *testing.T) {
	in := &elbv2.RegisterTargetsInput{TargetGroupArn: "a", Targets: []elbv2.TargetDescription{{Id: "x"}, {}}}
	err := awsquery.CheckRequired(in)
	var e *awserr.Error
	if !errors.As(err, &e) || e.Code != awsquery.CodeValidation {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	if want := "Targets.member.2.Id"; !strings.Contains(e.Message, want) {
		t.Errorf("message %q does not name %s", e.Message, want)
	}
}

// TestRequiredOverHTTP sends a raw form (the SDK would refuse it) and
// checks the ValidationError document and status.
func TestRequiredOverHTTP(t *testing.T) {
	f := &fakeELB{}
	edge, err := apiserver.New(apiserver.Config{NoAuth: true, Query: []apiserver.QueryService{f.service()}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge)
	defer srv.Close()
	form := url.Values{"Action": {"RegisterTargets"}, "Version": {elbv2.APIVersion}, "TargetGroupArn": {tgARN}, "Targets.member.1.Port": {"80"}}
	resp, err := http.PostForm(srv.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
	for _, want := range []string{"<Code>ValidationError</Code>", "Targets.member.1.Id", "<Type>Sender</Type>"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
	if f.register != nil {
		t.Errorf("handler ran despite a missing required member")
	}
}

func TestMarshalResult(t *testing.T) {
	out := &elbv2.DescribeLoadBalancersOutput{LoadBalancers: []elbv2.LoadBalancer{{
		LoadBalancerName: "lb",
		CreatedTime:      elbv2.NewTime(lbCreated),
	}}}
	b, err := awsquery.MarshalResult(elbv2.XMLNamespace, "DescribeLoadBalancers", out, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">` +
		`<DescribeLoadBalancersResult><LoadBalancers><member><CreatedTime>2024-05-06T07:08:09.123Z</CreatedTime>` +
		`<LoadBalancerName>lb</LoadBalancerName></member></LoadBalancers></DescribeLoadBalancersResult>` +
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("XML (-want +got):\n%s", diff)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	awsquery.WriteError(rec, elbv2.XMLNamespace, awserr.WithStatus(http.StatusNotFound, "X", "a <b>"), "r")
	if rec.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", rec.Code)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type>` +
		`<Code>X</Code><Message>a &lt;b&gt;</Message></Error><RequestId>r</RequestId></ErrorResponse>`
	if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
		t.Errorf("XML (-want +got):\n%s", diff)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("Conditions.member.1.Values.member.1", "/a")
	f.Add("Priority", "x")
	f.Add("Actions.member.1.AuthenticateOidcConfig.AuthenticationRequestExtraParams.entry.1.key", "k")
	f.Add("Tags", "")
	f.Add("Actions.member.99999999999999999999.Order", "1")
	f.Fuzz(func(t *testing.T, key, value string) {
		form := map[string][]string{key: {value}, key + ".member.1": {value}, "ListenerArn": {value}}
		var in elbv2.CreateRuleInput
		if err := awsquery.Decode(form, &in); err == nil {
			_ = awsquery.CheckRequired(&in)
			if _, err := awsquery.MarshalResult("ns", "A", &in, value); err != nil {
				t.Fatalf("MarshalResult: %v", err)
			}
		}
	})
}

// shapes laid out as apigen generates them for models that use flattened
// and renamed members (ELBv2 itself has none).
type flatShape struct {
	Items []string          `query:"Item,flat"`
	IDs   []string          `query:"Ids,member=item"`
	Attrs map[string]string `query:"Attrs,flat,key=Name,value=Val"`
	Count *int64            `query:"Count"`
	Ratio *float64          `query:"Ratio"`
	When  *elbv2.Time       `query:"When"`
}

func TestFlattenedAndRenamed(t *testing.T) {
	form := map[string][]string{
		"Item.1":       {"a"},
		"Item.2":       {"b"},
		"Ids.item.1":   {"x"},
		"Attrs.1.Name": {"k"},
		"Attrs.1.Val":  {"v"},
		"Count":        {"9000000000"},
		"Ratio":        {"0.5"},
		"When":         {"2024-05-06T07:08:09.123Z"},
	}
	var got flatShape
	if err := awsquery.Decode(form, &got); err != nil {
		t.Fatal(err)
	}
	want := flatShape{
		Items: []string{"a", "b"},
		IDs:   []string{"x"},
		Attrs: map[string]string{"k": "v"},
		Count: aws.Int64(9000000000),
		Ratio: aws.Float64(0.5),
		When:  elbv2.NewTime(lbCreated),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	b, err := awsquery.MarshalResult("ns", "Op", &got, "r")
	if err != nil {
		t.Fatal(err)
	}
	wantXML := `<Item>a</Item><Item>b</Item><Ids><item>x</item></Ids><Attrs><Name>k</Name><Val>v</Val></Attrs>` +
		`<Count>9000000000</Count><Ratio>0.5</Ratio><When>2024-05-06T07:08:09.123Z</When>`
	if !strings.Contains(string(b), "<OpResult>"+wantXML+"</OpResult>") {
		t.Errorf("XML %s lacks %s", b, wantXML)
	}
}
