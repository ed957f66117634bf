package sigv4

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"
)

// botocoreScript signs the request described on stdin with botocore's own
// SigV4Auth (or SigV4QueryAuth for a presigned URL) at a fixed time and
// sends it with botocore's urllib3 session, so the server sees the request
// exactly as botocore puts it on the wire.
const botocoreScript = `
import base64, datetime, json, sys
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

spec = json.load(sys.stdin)
ts = datetime.datetime.strptime(spec["time"], "%Y%m%dT%H%M%SZ")
if hasattr(botocore.auth, "get_current_datetime"):
    botocore.auth.get_current_datetime = lambda *a, **k: ts
else:  # older botocore: datetime.datetime.utcnow()
    class _Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return ts
    botocore.auth.datetime.datetime = _Frozen
creds = Credentials(spec["key"], spec["secret"], spec["token"] or None)
req = AWSRequest(method=spec["method"], url=spec["url"], headers=spec["headers"],
                 data=base64.b64decode(spec["body"]), params=spec["params"])
if spec["presign"]:
    botocore.auth.SigV4QueryAuth(creds, spec["service"], spec["region"], expires=spec["presign"]).add_auth(req)
else:
    botocore.auth.SigV4Auth(creds, spec["service"], spec["region"]).add_auth(req)
prepared = req.prepare()
resp = URLLib3Session().send(prepared)
json.dump({"status": resp.status_code, "body": resp.content.decode("utf-8", "replace"),
           "url": prepared.url, "authorization": prepared.headers.get("Authorization", "")}, sys.stdout)
`

type botoSpec struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"` // path and query; the server URL is prepended
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"` // base64
	Params  map[string]string `json:"params"`
	Service string            `json:"service"`
	Region  string            `json:"region"`
	Key     string            `json:"key"`
	Secret  string            `json:"secret"`
	Token   string            `json:"token"`
	Time    string            `json:"time"`
	Presign int               `json:"presign"` // X-Amz-Expires; 0 signs the header
}

// TestBotocore has real botocore sign and send requests to a verifying
// server.
func TestBotocore(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH: botocore interoperability not tested")
	}
	if out, err := exec.Command("python3", "-c", "import botocore").CombinedOutput(); err != nil {
		t.Skipf("python3 cannot import botocore (%v: %s): botocore interoperability not tested; pip install botocore", err, strings.TrimSpace(string(out)))
	}
	big := base64.StdEncoding.EncodeToString(bigBody(t, 1<<20))
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		spec botoSpec
	}{
		{"ecs json", botoSpec{Method: "POST", URL: "/", Service: "ecs",
			Headers: map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": ecsTarget},
			Body:    b64(`{"maxResults": 10}`)}},
		{"elbv2 query", botoSpec{Method: "POST", URL: "/", Service: "elasticloadbalancing",
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
			Body:    b64("Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=my-lb")}},
		{"get with params", botoSpec{Method: "GET", URL: "/", Service: "elasticloadbalancing",
			Params: map[string]string{"Action": "DescribeLoadBalancers", "Names.member.1": "my lb/é", "Marker": "a+b=c", "Empty": ""}}},
		{"query in url", botoSpec{Method: "GET", URL: "/?b=2&a=x%2Fy&a=1", Service: "ecs"}},
		{"query in url not canonically encoded", botoSpec{Method: "GET", URL: "/?a=x/y&c=d:e@f", Service: "ecs"}},
		{"path with specials and dot segments", botoSpec{Method: "GET", URL: "/a/./b/../c%20d/~e/f%2Fg//h", Service: "ecs"}},
		{"header whitespace and tab", botoSpec{Method: "POST", URL: "/", Service: "ecs",
			Headers: map[string]string{"X-Amz-Target": ecsTarget, "X-Custom": "a \t  b   c  "}, Body: b64("{}")}},
		{"session token", botoSpec{Method: "POST", URL: "/", Service: "ecs", Token: "IQoJb3JpZ2luX2VjEXAMPLE/+=",
			Headers: map[string]string{"X-Amz-Target": ecsTarget}, Body: b64("{}")}},
		{"empty body", botoSpec{Method: "POST", URL: "/", Service: "ecs", Headers: map[string]string{"X-Amz-Target": ecsTarget}}},
		{"big body", botoSpec{Method: "POST", URL: "/", Service: "logs",
			Headers: map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents"}, Body: big}},
		{"date header instead of x-amz-date", botoSpec{Method: "POST", URL: "/", Service: "ecs",
			Headers: map[string]string{"Date": "replaced by botocore", "X-Amz-Target": ecsTarget}, Body: b64("{}")}},
		{"presigned url", botoSpec{Method: "GET", URL: "/?Action=ListClusters", Service: "ecs", Presign: 300}},
		{"presigned url with token", botoSpec{Method: "GET", URL: "/", Service: "ecs", Presign: 60, Token: "tok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t0.Add(30 * time.Second))
			srv, results := newServer(t, v)
			spec := tc.spec
			spec.URL = srv.URL + spec.URL
			spec.Region, spec.Key, spec.Secret, spec.Time = testRegion, testKeyID, testSecret, t0.Format(amzDateLayout)
			if spec.Headers == nil {
				spec.Headers = map[string]string{}
			}
			if spec.Params == nil {
				spec.Params = map[string]string{}
			}
			in, _ := json.Marshal(spec)
			cmd := exec.Command("python3", "-c", botocoreScript)
			cmd.Stdin = strings.NewReader(string(in))
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("botocore: %v\n%s", err, stderr)
			}
			var sent struct {
				Status        int
				Body          string
				URL           string
				Authorization string
			}
			if err := json.Unmarshal(out, &sent); err != nil {
				t.Fatalf("botocore output %q: %v", out, err)
			}
			res := results()
			if len(res) != 1 {
				t.Fatalf("server saw %d requests, want 1 (botocore got %d %s)", len(res), sent.Status, sent.Body)
			}
			if res[0].err != nil {
				t.Fatalf("Verify: %v\nURL: %s\nAuthorization: %s", res[0].err, sent.URL, sent.Authorization)
			}
			want := Identity{AccessKeyID: testKeyID, Region: testRegion, Service: spec.Service, SessionToken: spec.Token}
			if diff := cmp.Diff(want, res[0].id); diff != "" {
				t.Errorf("Identity (-want +got):\n%s", diff)
			}
			if sent.Status != 200 {
				t.Errorf("botocore got HTTP %d: %s", sent.Status, sent.Body)
			}
		})
	}
}

// TestAWSCLI runs the installed aws CLIs (v1 from PATH, v2 at
// /usr/bin/aws) against a verifying server, with real time.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: aws CLI interoperability not tested")
	}
	clis := map[string]string{} // resolved path -> invoked path
	for _, c := range []string{"aws", "/usr/bin/aws", "/usr/local/bin/aws"} {
		p, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if _, dup := clis[p]; !dup {
			clis[p] = c
		}
	}
	if len(clis) == 0 {
		t.Skip("no aws CLI installed: aws CLI interoperability not tested")
	}
	commands := []struct {
		name    string
		args    []string
		service string
		token   string
	}{
		{"ecs list-clusters", []string{"ecs", "list-clusters"}, "ecs", ""},
		{"ecs list-clusters with session token", []string{"ecs", "list-clusters"}, "ecs", "FQoGZXIvYXdzEXAMPLE/token+="},
		{"elbv2 describe-load-balancers", []string{"elbv2", "describe-load-balancers", "--names", "my lb"}, "elasticloadbalancing", ""},
		{"logs describe-log-groups", []string{"logs", "describe-log-groups", "--log-group-name-prefix", "/ecs/x y"}, "logs", ""},
		{"application-autoscaling describe-scalable-targets", []string{"application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs"}, "application-autoscaling", ""},
	}
	for _, cli := range clis {
		version, err := exec.Command(cli, "--version").CombinedOutput()
		if err != nil {
			t.Logf("skipping %s: --version: %v %s", cli, err, version)
			continue
		}
		name := strings.Fields(string(version))[0]
		t.Run(name, func(t *testing.T) {
			for _, c := range commands {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					v := newVerifier(time.Time{})
					v.Now = nil // real clock: the CLI signs with it
					srv, results := newServer(t, v)
					dir := t.TempDir()
					env := []string{
						"AWS_ACCESS_KEY_ID=" + testKeyID,
						"AWS_SECRET_ACCESS_KEY=" + testSecret,
						"AWS_DEFAULT_REGION=" + testRegion,
						"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
						"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
						"AWS_EC2_METADATA_DISABLED=true",
						"AWS_MAX_ATTEMPTS=1",
						"AWS_PAGER=",
					}
					if c.token != "" {
						env = append(env, "AWS_SESSION_TOKEN="+c.token)
					}
					for _, e := range os.Environ() {
						if !strings.HasPrefix(e, "AWS_") {
							env = append(env, e)
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					args := append([]string{"--endpoint-url", srv.URL, "--output", "json"}, c.args...)
					cmd := exec.CommandContext(ctx, cli, args...)
					cmd.Env = env
					out, err := cmd.CombinedOutput()
					res := results()
					if len(res) == 0 {
						t.Fatalf("server saw no request; %s: %v\n%s", cli, err, out)
					}
					for _, r := range res {
						if r.err != nil {
							t.Fatalf("Verify: %v", r.err)
						}
						want := Identity{AccessKeyID: testKeyID, Region: testRegion, Service: c.service, SessionToken: c.token}
						if diff := cmp.Diff(want, r.id); diff != "" {
							t.Errorf("Identity (-want +got):\n%s", diff)
						}
					}
					if err != nil {
						t.Errorf("%s %s: %v\n%s", cli, strings.Join(args, " "), err, out)
					}
				})
			}
		})
	}
}

// TestSDKClients runs aws-sdk-go-v2 service clients (whole middleware
// stack, real transport) against a verifying server.
func TestSDKClients(t *testing.T) {
	for _, token := range []string{"", "session-token/+="} {
		name := "no token"
		if token != "" {
			name = "session token"
		}
		t.Run(name, func(t *testing.T) {
			v := newVerifier(time.Time{})
			v.Now = nil
			srv, results := newServer(t, v)
			cfg := aws.Config{
				Region:      testRegion,
				Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, token),
				HTTPClient:  srv.Client(),
			}
			ctx := context.Background()
			ecsClient := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
			if _, err := ecsClient.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(10)}); err != nil {
				t.Errorf("ecs ListClusters: %v", err)
			}
			elbClient := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
			if _, err := elbClient.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"a b", "c/d"}}); err != nil {
				t.Errorf("elbv2 DescribeLoadBalancers: %v", err)
			}
			res := results()
			if len(res) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(res))
			}
			for i, service := range []string{"ecs", "elasticloadbalancing"} {
				if res[i].err != nil {
					t.Errorf("Verify %s: %v", service, res[i].err)
					continue
				}
				want := Identity{AccessKeyID: testKeyID, Region: testRegion, Service: service, SessionToken: token}
				if diff := cmp.Diff(want, res[i].id); diff != "" {
					t.Errorf("Identity (-want +got):\n%s", diff)
				}
			}
		})
	}
}
