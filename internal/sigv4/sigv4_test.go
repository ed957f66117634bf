package sigv4

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/internal/awserr"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	testHost   = "berth.test:4566"
)

// t0 is the signing time of most tests.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newVerifier(now time.Time, services ...string) *Verifier {
	if len(services) == 0 {
		services = []string{"ecs", "elasticloadbalancing", "logs", "application-autoscaling"}
	}
	return &Verifier{
		Creds:    StaticCredentials{testKeyID: testSecret},
		Services: services,
		Now:      func() time.Time { return now },
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// req describes a request to sign.
type req struct {
	method  string
	target  string // path and query, e.g. "/a%20b?x=1"; "" is "/"
	header  [][2]string
	body    []byte
	service string // default "ecs"
	token   string
	secret  string // default testSecret
	payload string // payload hash given to the signer; default the body's
	when    time.Time
}

// build returns an unsigned *http.Request for base + q.target.
func (q req) build(t *testing.T, base string) *http.Request {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
	}
	r, err := http.NewRequest(method, base+q.target, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for _, h := range q.header {
		r.Header.Add(h[0], h[1])
	}
	return r
}

// sdkSign signs r the way aws-sdk-go-v2 does.
func (q req) sdkSign(t *testing.T, r *http.Request) {
	t.Helper()
	service, secret, payload, when := q.service, q.secret, q.payload, q.when
	if service == "" {
		service = "ecs"
	}
	if secret == "" {
		secret = testSecret
	}
	if payload == "" {
		payload = hexSHA256(q.body)
	}
	if when.IsZero() {
		when = t0
	}
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret, SessionToken: q.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payload, service, testRegion, when); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// signed returns q built against "http://berth.test:4566" and signed by the SDK.
func (q req) signed(t *testing.T) *http.Request {
	t.Helper()
	r := q.build(t, "http://"+testHost)
	q.sdkSign(t, r)
	return r
}

// result is what the recording server saw.
type result struct {
	id  Identity
	err error
}

// newServer serves v over HTTP, recording each verification and answering
// with a body minimal clients accept.
func newServer(t *testing.T, v *Verifier) (*httptest.Server, func() []result) {
	t.Helper()
	var mu sync.Mutex
	var got []result
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		id, err := v.Verify(r, body)
		mu.Lock()
		got = append(got, result{id, err})
		mu.Unlock()
		if err != nil {
			e := awserr.As(err)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(e.HTTPStatus())
			fmt.Fprintf(w, `{"__type":%q,"message":%q}`, e.Code, e.Message)
			return
		}
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasPrefix(target, "AmazonEC2ContainerServiceV20141113."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			io.WriteString(w, `{"clusterArns":[]}`)
		case strings.HasPrefix(target, "Logs_20140328."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			io.WriteString(w, `{"logGroups":[]}`)
		case strings.HasPrefix(target, "AnyScaleFrontendService."):
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			io.WriteString(w, `{"ScalableTargets":[]}`)
		case target == "" && bytes.Contains(body, []byte("Action=DescribeLoadBalancers")):
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`)
		default:
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []result {
		mu.Lock()
		defer mu.Unlock()
		return append([]result(nil), got...)
	}
}

// errInfo is the comparable part of an *awserr.Error.
type errInfo struct {
	Code    string
	Status  int
	Message string
}

func infoOf(t *testing.T, err error) *errInfo {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *awserr.Error", err, err)
	}
	return &errInfo{e.Code, e.HTTPStatus(), e.Message}
}

func bigBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

const ecsTarget = "AmazonEC2ContainerServiceV20141113.ListClusters"

func ecsHeaders(extra ...[2]string) [][2]string {
	return append([][2]string{
		{"Content-Type", "application/x-amz-json-1.1"},
		{"X-Amz-Target", ecsTarget},
	}, extra...)
}

// TestSDKSigned signs requests with aws-sdk-go-v2's signer and verifies
// them in process and after a real HTTP round trip through net/http.
func TestSDKSigned(t *testing.T) {
	tests := []struct {
		name string
		req  req
		want Identity
	}{
		{
			name: "ecs json post",
			req:  req{header: ecsHeaders(), body: []byte(`{"maxResults":10}`)},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "elbv2 query post",
			req: req{
				header:  [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
				body:    []byte("Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=my-lb"),
				service: "elasticloadbalancing",
			},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "elasticloadbalancing"},
		},
		{
			name: "get with query string",
			req: req{
				method:  http.MethodGet,
				target:  "/?Version=2015-12-01&Action=DescribeLoadBalancers&Names.member.1=my%20lb&Marker=a%2Fb%2Bc&empty=&Names.member.2=%C3%A9",
				service: "elasticloadbalancing",
			},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "elasticloadbalancing"},
		},
		{
			name: "repeated query keys",
			req:  req{method: http.MethodGet, target: "/?b=2&a=2&a=1&a=10&flag"},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "path with special characters",
			req: req{
				method: http.MethodPut,
				target: "/v1/clusters/my%20cluster/a%2Fb/%C3%A9/c:d@e!$'()*,;=+~-_.",
				body:   []byte(`{}`),
			},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "path with dot segments and empty segments",
			req:  req{method: http.MethodDelete, target: "/a/./b/../c//d/"},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "headers with extra whitespace and repeated values",
			req: req{
				header: ecsHeaders(
					[2]string{"X-Amz-Meta-Note", "  a   b    c  "},
					[2]string{"X-Amz-Meta-Note", "second   value"},
					[2]string{"X-Custom", "x  y"},
					[2]string{"User-Agent", "aws-sdk-go-v2/1.48.0 test"},
				),
				body: []byte(`{}`),
			},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "session token",
			req:  req{header: ecsHeaders(), body: []byte(`{}`), token: "FwoGZXIvYXdzEXAMPLE//token+with/slashes="},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs", SessionToken: "FwoGZXIvYXdzEXAMPLE//token+with/slashes="},
		},
		{
			name: "empty body get",
			req:  req{method: http.MethodGet, target: "/"},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "empty body post",
			req:  req{header: ecsHeaders(), body: []byte{}},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "big body",
			req:  req{header: ecsHeaders(), body: bigBody(t, 4<<20)},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "content sha256 header",
			req: req{
				header: ecsHeaders([2]string{"X-Amz-Content-Sha256", hexSHA256([]byte(`{"a":1}`))}),
				body:   []byte(`{"a":1}`),
			},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "head",
			req:  req{method: http.MethodHead, target: "/health"},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs"},
		},
		{
			name: "logs service",
			req:  req{header: [][2]string{{"X-Amz-Target", "Logs_20140328.DescribeLogGroups"}}, body: []byte(`{}`), service: "logs"},
			want: Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "logs"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t0)
			t.Run("direct", func(t *testing.T) {
				r := tc.req.signed(t)
				got, err := v.Verify(r, tc.req.body)
				if err != nil {
					t.Fatalf("Verify: %v\nAuthorization: %s", err, r.Header.Get("Authorization"))
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Identity (-want +got):\n%s", diff)
				}
			})
			t.Run("http", func(t *testing.T) {
				srv, results := newServer(t, v)
				r := tc.req.build(t, srv.URL)
				tc.req.sdkSign(t, r)
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				res := results()
				if len(res) != 1 {
					t.Fatalf("server saw %d requests, want 1", len(res))
				}
				if res[0].err != nil {
					t.Fatalf("Verify: %v", res[0].err)
				}
				if diff := cmp.Diff(tc.want, res[0].id); diff != "" {
					t.Errorf("Identity (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestAWSTestSuite checks vectors of the AWS SigV4 test suite, whose
// signatures were computed by AWS, not by this package or the SDK.
func TestAWSTestSuite(t *testing.T) {
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	tests := []struct {
		name   string
		method string
		target string
		sig    string
	}{
		{"get-vanilla", http.MethodGet, "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", http.MethodPost, "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-vanilla-query-order-key-case", http.MethodGet, "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = "example.amazonaws.com"
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tc.sig)
			v := newVerifier(now, "service")
			got, err := v.Verify(r, nil)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(Identity{AccessKeyID: "AKIDEXAMPLE", Region: "us-east-1", Service: "service"}, got); diff != "" {
				t.Errorf("Identity (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrors covers every rejection with its exact code, status and
// message.
func TestErrors(t *testing.T) {
	const mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	base := req{header: ecsHeaders(), body: []byte(`{"cluster":"default"}`)}
	setAuth := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	// replaceAuth rewrites part of the SDK's Authorization header.
	replaceAuth := func(old, new string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		}
	}
	tests := []struct {
		name     string
		req      req
		verifier func(*Verifier)
		mutate   func(*http.Request)
		body     []byte // body the server reads; nil means req.body
		want     errInfo
	}{
		{
			name:   "no authorization",
			req:    base,
			mutate: func(r *http.Request) { r.Header.Del("Authorization") },
			want:   errInfo{"MissingAuthenticationTokenException", 403, "Missing Authentication Token"},
		},
		{
			name:   "algorithm only",
			req:    base,
			mutate: setAuth("AWS4-HMAC-SHA256"),
			want: errInfo{"IncompleteSignatureException", 400, "Authorization header requires 'Credential' parameter. " +
				"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. " +
				"Authorization=AWS4-HMAC-SHA256"},
		},
		{
			name:   "missing credential",
			req:    base,
			mutate: setAuth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00"),
			want:   errInfo{"IncompleteSignatureException", 400, "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00"},
		},
		{
			name:   "missing signed headers",
			req:    base,
			mutate: setAuth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request, Signature=00"),
			want:   errInfo{"IncompleteSignatureException", 400, "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request, Signature=00"},
		},
		{
			name:   "missing signature",
			req:    base,
			mutate: setAuth("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request,SignedHeaders=host;x-amz-date"),
			want:   errInfo{"IncompleteSignatureException", 400, "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request,SignedHeaders=host;x-amz-date"},
		},
		{
			name: "missing date",
			req:  base,
			mutate: func(r *http.Request) {
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00")
			},
			want: errInfo{"IncompleteSignatureException", 400, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00"},
		},
		{
			name:   "malformed x-amz-date",
			req:    base,
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-05-01T12:00:00Z") },
			want:   errInfo{"IncompleteSignatureException", 400, "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		},
		{
			name:   "bearer token",
			req:    base,
			mutate: setAuth("Bearer abc"),
			want:   errInfo{"IncompleteSignatureException", 400, "Unsupported AWS 'algorithm': 'Bearer'; only 'AWS4-HMAC-SHA256' is supported. Authorization=Bearer abc"},
		},
		{
			name:   "sigv4a algorithm",
			req:    base,
			mutate: setAuth("AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20240501/ecs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=00"),
			want: errInfo{"IncompleteSignatureException", 400, "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'; only 'AWS4-HMAC-SHA256' is supported. " +
				"Authorization=AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20240501/ecs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=00"},
		},
		{
			name:   "scope with four parts",
			req:    base,
			mutate: replaceAuth("/ecs/aws4_request", "/aws4_request"),
			want:   errInfo{"IncompleteSignatureException", 400, "Credential should be of the form '<AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request', not 'AKIDEXAMPLE/20240501/us-east-1/aws4_request'."},
		},
		{
			name:   "scope with six parts",
			req:    base,
			mutate: replaceAuth("/aws4_request", "/aws4_request/x"),
			want:   errInfo{"IncompleteSignatureException", 400, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_request/x'."},
		},
		{
			name:   "wrong terminator",
			req:    base,
			mutate: replaceAuth("/aws4_request", "/aws5_request"),
			want:   errInfo{"IncompleteSignatureException", 400, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
		},
		{
			name:   "empty region",
			req:    base,
			mutate: replaceAuth("/us-east-1/", "//"),
			want:   errInfo{"IncompleteSignatureException", 400, "Credential should be scoped to a valid region."},
		},
		{
			name:   "empty access key",
			req:    base,
			mutate: replaceAuth("Credential="+testKeyID+"/", "Credential=/"),
			want:   errInfo{"IncompleteSignatureException", 400, "Credential should name an access key: '/20240501/us-east-1/ecs/aws4_request'."},
		},
		{
			name:   "host not signed",
			req:    base,
			mutate: replaceAuth("SignedHeaders=content-length;content-type;host;", "SignedHeaders=content-length;content-type;"),
			want:   errInfo{"IncompleteSignatureException", 400, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		},
		{
			name:   "x-amz-date not signed",
			req:    base,
			mutate: replaceAuth(";x-amz-date", ""),
			want:   errInfo{"IncompleteSignatureException", 400, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		},
		{
			name:   "session token not signed",
			req:    base,
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "tok") },
			want:   errInfo{"IncompleteSignatureException", 400, "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."},
		},
		{
			name:   "two authorization headers",
			req:    base,
			mutate: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			want:   errInfo{"IncompleteSignatureException", 400, "Only one Authorization header allowed."},
		},
		{
			name: "authorization header and presign query",
			req:  base,
			mutate: func(r *http.Request) {
				r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			},
			want: errInfo{"IncompleteSignatureException", 400, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified."},
		},
		{
			name: "wrong service",
			req:  req{header: ecsHeaders(), body: []byte(`{}`), service: "ec2"},
			want: errInfo{"InvalidSignatureException", 400, "Credential should be scoped to correct service: 'ecs'."},
			verifier: func(v *Verifier) {
				v.Services = []string{"ecs"}
			},
		},
		{
			name: "wrong service, several allowed",
			req:  req{header: ecsHeaders(), body: []byte(`{}`), service: "sts"},
			want: errInfo{"InvalidSignatureException", 400, "Credential should be scoped to correct service: 'ecs' or 'logs'."},
			verifier: func(v *Verifier) {
				v.Services = []string{"ecs", "logs"}
			},
		},
		{
			name:   "scope date differs from x-amz-date",
			req:    base,
			mutate: replaceAuth("/20240501/", "/20240502/"),
			want:   errInfo{"InvalidSignatureException", 400, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240502' != '20240501', from '20240501T120000Z'."},
		},
		{
			name:   "unknown access key",
			req:    base,
			mutate: replaceAuth("Credential="+testKeyID, "Credential=AKIDUNKNOWN"),
			want:   errInfo{"UnrecognizedClientException", 400, "The security token included in the request is invalid."},
		},
		{
			name:     "no credentials configured",
			req:      base,
			verifier: func(v *Verifier) { v.Creds = nil },
			want:     errInfo{"UnrecognizedClientException", 400, "The security token included in the request is invalid."},
		},
		{
			name: "wrong secret",
			req:  req{header: ecsHeaders(), body: []byte(`{}`), secret: "not-the-secret"},
			want: errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name: "tampered body",
			req:  base,
			body: []byte(`{"cluster":"prod"}`),
			want: errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name: "tampered signed header",
			req:  base,
			mutate: func(r *http.Request) {
				r.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster")
			},
			want: errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "tampered host",
			req:    base,
			mutate: func(r *http.Request) { r.Host = "evil.test" },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "tampered method",
			req:    base,
			mutate: func(r *http.Request) { r.Method = http.MethodPut },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "tampered query",
			req:    req{method: http.MethodGet, target: "/?Action=DescribeClusters"},
			mutate: func(r *http.Request) { r.URL.RawQuery = "Action=DeleteCluster" },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "tampered path",
			req:    req{method: http.MethodGet, target: "/a"},
			mutate: func(r *http.Request) { r.URL.Path = "/b" },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "signature not hex",
			req:    base,
			mutate: func(r *http.Request) { setSig(r, strings.Repeat("zz", 32)) },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "signature too short",
			req:    base,
			mutate: func(r *http.Request) { setSig(r, "abcd") },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name:   "signature of another request",
			req:    base,
			mutate: func(r *http.Request) { setSig(r, strings.Repeat("0", 64)) },
			want:   errInfo{"InvalidSignatureException", 400, mismatch},
		},
		{
			name: "content sha256 does not match body",
			req: req{
				header: ecsHeaders([2]string{"X-Amz-Content-Sha256", hexSHA256([]byte("other"))}),
				body:   []byte(`{}`), payload: hexSHA256([]byte("other")),
			},
			want: errInfo{"InvalidSignatureException", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
		},
		{
			name: "unsigned payload not allowed",
			req: req{
				header: ecsHeaders([2]string{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}),
				body:   []byte(`{}`), payload: "UNSIGNED-PAYLOAD",
			},
			want: errInfo{"InvalidSignatureException", 400, "UNSIGNED-PAYLOAD is not accepted: the request body must be signed."},
		},
		{
			name: "streaming payload",
			req: req{
				header: ecsHeaders([2]string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}),
				body:   []byte(`{}`), payload: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
			},
			want: errInfo{"InvalidSignatureException", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."},
		},
		{
			name: "presign missing parameters",
			req:  req{method: http.MethodGet},
			mutate: func(r *http.Request) {
				r.Header.Del("Authorization")
				r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240501T120000Z"
			},
			want: errInfo{"IncompleteSignatureException", 400, "AWS query-string parameters must include 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."},
		},
		{
			name: "presign bad expires",
			req:  req{method: http.MethodGet},
			mutate: func(r *http.Request) {
				r.Header.Del("Authorization")
				r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240501%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
			},
			want: errInfo{"IncompleteSignatureException", 400, "X-Amz-Expires must be an integer number of seconds from 1 to 604800 (a week), not '604801'."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t0)
			if tc.verifier != nil {
				tc.verifier(v)
			}
			r := tc.req.signed(t)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			body := tc.body
			if body == nil {
				body = tc.req.body
			}
			id, err := v.Verify(r, body)
			if err == nil {
				t.Fatalf("Verify succeeded with %+v, want %s", id, tc.want.Code)
			}
			if diff := cmp.Diff(&tc.want, infoOf(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func setSig(r *http.Request, sig string) {
	h := r.Header.Get("Authorization")
	i := strings.Index(h, "Signature=")
	r.Header.Set("Authorization", h[:i]+"Signature="+sig)
}

func TestUnsignedPayloadAllowed(t *testing.T) {
	q := req{
		header:  ecsHeaders([2]string{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}),
		body:    []byte(`{}`),
		payload: "UNSIGNED-PAYLOAD",
	}
	v := newVerifier(t0)
	v.AllowUnsignedPayload = true
	if _, err := v.Verify(q.signed(t), []byte(`{"changed":true}`)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestClockSkew: the request time may be up to MaxSkew either side of Now;
// exactly MaxSkew is accepted, anything beyond (even 1ns) is rejected.
func TestClockSkew(t *testing.T) {
	tests := []struct {
		name    string
		now     time.Time
		maxSkew time.Duration
		want    *errInfo
	}{
		{name: "same time", now: t0},
		{name: "now 15m later: boundary accepted", now: t0.Add(15 * time.Minute)},
		{name: "now 15m earlier: boundary accepted", now: t0.Add(-15 * time.Minute)},
		{
			name: "now 15m1ns later: expired", now: t0.Add(15*time.Minute + time.Nanosecond),
			want: &errInfo{"InvalidSignatureException", 400, "Signature expired: 20240501T120000Z is now earlier than 20240501T120000Z (20240501T121500Z - 15 min.)"},
		},
		{
			name: "now 1h later: expired", now: t0.Add(time.Hour),
			want: &errInfo{"InvalidSignatureException", 400, "Signature expired: 20240501T120000Z is now earlier than 20240501T124500Z (20240501T130000Z - 15 min.)"},
		},
		{
			name: "now 15m1s earlier: not yet current", now: t0.Add(-15*time.Minute - time.Second),
			want: &errInfo{"InvalidSignatureException", 400, "Signature not yet current: 20240501T120000Z is still later than 20240501T115959Z (20240501T114459Z + 15 min.)"},
		},
		{
			name: "custom skew 5m", now: t0.Add(6 * time.Minute), maxSkew: 5 * time.Minute,
			want: &errInfo{"InvalidSignatureException", 400, "Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z (20240501T120600Z - 5 min.)"},
		},
		{
			name: "custom skew 90s", now: t0.Add(-2 * time.Minute), maxSkew: 90 * time.Second,
			want: &errInfo{"InvalidSignatureException", 400, "Signature not yet current: 20240501T120000Z is still later than 20240501T115930Z (20240501T115800Z + 1m30s.)"},
		},
	}
	q := req{header: ecsHeaders(), body: []byte(`{}`)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(tc.now)
			v.MaxSkew = tc.maxSkew
			_, err := v.Verify(q.signed(t), q.body)
			if diff := cmp.Diff(tc.want, infoOf(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDateHeader: without X-Amz-Date the Date header is the request time,
// and it must be signed. The request is signed by a spec-text reference
// signer in this file, not by the package.
func TestDateHeader(t *testing.T) {
	tests := []struct {
		name   string
		date   string
		signed string
		want   *errInfo
	}{
		{name: "http date", date: "Wed, 01 May 2024 12:00:00 GMT", signed: "date;host"},
		{name: "numeric zone", date: "Wed, 01 May 2024 12:00:00 -0000", signed: "date;host"},
		{
			name: "date not signed", date: "Wed, 01 May 2024 12:00:00 GMT", signed: "host",
			want: &errInfo{"IncompleteSignatureException", 400, "'Date' must be a 'SignedHeader' in the AWS Authorization."},
		},
		{
			name: "bad date", date: "yesterday", signed: "date;host",
			want: &errInfo{"IncompleteSignatureException", 400, "Date must be an HTTP date. Got 'yesterday'."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/?a=b", nil)
			r.Host = testHost
			r.Header.Set("Date", tc.date)
			r.Header.Set("Authorization", referenceAuth(r, tc.signed, "20240501T120000Z", "ecs", nil))
			_, err := newVerifier(t0).Verify(r, nil)
			if diff := cmp.Diff(tc.want, infoOf(t, err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// referenceAuth signs r following the SigV4 spec text literally.
func referenceAuth(r *http.Request, signedHeaders, amzDate, service string, body []byte) string {
	var canon []string
	for _, h := range strings.Split(signedHeaders, ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		canon = append(canon, h+":"+strings.Join(strings.Fields(v), " ")+"\n")
	}
	creq := strings.Join([]string{
		r.Method, r.URL.EscapedPath(), r.URL.RawQuery, strings.Join(canon, ""), signedHeaders, hexSHA256(body),
	}, "\n")
	scope := amzDate[:8] + "/" + testRegion + "/" + service + "/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(creq))
	k := deriveKey(testSecret, amzDate[:8], testRegion, service)
	sig := hmacSHA256(k[:], sts)
	return "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + hex.EncodeToString(sig)
}

// TestDeriveKey checks the key chain against the example in the AWS docs
// ("Examples of how to derive a signing key for Signature Version 4").
func TestDeriveKey(t *testing.T) {
	k := deriveKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if got := hex.EncodeToString(k[:]); got != want {
		t.Errorf("deriveKey = %s, want %s", got, want)
	}
}

func TestPresigned(t *testing.T) {
	presign := func(t *testing.T, target string, expires int, token string) *http.Request {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, "http://"+testHost+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if expires > 0 {
			q := r.URL.Query()
			q.Set("X-Amz-Expires", fmt.Sprint(expires))
			r.URL.RawQuery = q.Encode()
		}
		creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: token}
		u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hexSHA256(nil), "ecs", testRegion, t0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range hdr {
			if k != "Host" {
				out.Header[k] = vs
			}
		}
		return out
	}
	tests := []struct {
		name    string
		target  string
		expires int
		token   string
		now     time.Time
		mutate  func(*http.Request)
		want    *errInfo
		wantTok string
	}{
		{name: "no expires", target: "/?Action=ListClusters", now: t0.Add(time.Minute)},
		{name: "with expires", target: "/path%20x?Action=ListClusters&b=a%2Fb", expires: 3600, now: t0.Add(59 * time.Minute)},
		{name: "session token", target: "/", token: "tok/en+=", now: t0, wantTok: "tok/en+="},
		{
			name: "expired", target: "/?Action=ListClusters", expires: 300, now: t0.Add(5*time.Minute + time.Second),
			want: &errInfo{"InvalidSignatureException", 400, "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z (20240501T120501Z - 300 sec.)"},
		},
		{
			name: "no expires, beyond skew", target: "/", now: t0.Add(16 * time.Minute),
			want: &errInfo{"InvalidSignatureException", 400, "Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z (20240501T121600Z - 15 min.)"},
		},
		{
			name: "not yet current", target: "/", expires: 3600, now: t0.Add(-16 * time.Minute),
			want: &errInfo{"InvalidSignatureException", 400, "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z (20240501T114400Z + 15 min.)"},
		},
		{
			name: "tampered query", target: "/?Action=ListClusters", now: t0,
			mutate: func(r *http.Request) {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "ListClusters", "DeleteCluster", 1)
			},
			want: &errInfo{"InvalidSignatureException", 400, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := presign(t, tc.target, tc.expires, tc.token)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			id, err := newVerifier(tc.now).Verify(r, nil)
			if diff := cmp.Diff(tc.want, infoOf(t, err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s\nURL: %s", diff, r.URL)
			}
			if err == nil {
				want := Identity{AccessKeyID: testKeyID, Region: testRegion, Service: "ecs", SessionToken: tc.wantTok}
				if diff := cmp.Diff(want, id); diff != "" {
					t.Errorf("Identity (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestKeyCacheBounded fills the derived-key cache past its bound.
func TestKeyCacheBounded(t *testing.T) {
	v := newVerifier(t0)
	for i := range maxCachedKeys + 100 {
		k := v.signingKey(testSecret, "20240501", fmt.Sprintf("region-%d", i), "ecs")
		if want := deriveKey(testSecret, "20240501", fmt.Sprintf("region-%d", i), "ecs"); k != want {
			t.Fatalf("signingKey %d differs from deriveKey", i)
		}
	}
	if n := len(v.keys.m); n > maxCachedKeys {
		t.Errorf("cache holds %d keys, bound is %d", n, maxCachedKeys)
	}
}

// TestConcurrent verifies from many goroutines (run with -race), with keys
// for several dates and regions churning the cache.
func TestConcurrent(t *testing.T) {
	v := newVerifier(t0)
	v.MaxSkew = 48 * time.Hour
	var reqs []*http.Request
	var bodies [][]byte
	for i := range 8 {
		q := req{header: ecsHeaders(), body: []byte(fmt.Sprintf(`{"n":%d}`, i)), when: t0.Add(time.Duration(i-4) * 6 * time.Hour)}
		reqs = append(reqs, q.signed(t))
		bodies = append(bodies, q.body)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				j := (g + i) % len(reqs)
				if _, err := v.Verify(reqs[j], bodies[j]); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCredentialsFunc(t *testing.T) {
	v := newVerifier(t0)
	v.Creds = CredentialsFunc(func(id string) (string, bool) { return testSecret, id == testKeyID })
	q := req{header: ecsHeaders(), body: []byte(`{}`)}
	if _, err := v.Verify(q.signed(t), q.body); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveDotSegments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/./b/../c", "/a/c"},
		{"/a//b/", "/a/b/"},
		{"/../a", "/a"},
		{"/a/..", "/"},
		{"//", "/"},
	}
	for _, tc := range tests {
		if got := removeDotSegments(tc.in); got != tc.want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQueryComponent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc-_.~", "abc-_.~"},
		{"a%20b", "a%20b"},
		{"a+b", "a%20b"},
		{"a%2fb", "a%2Fb"},
		{"a%41", "aA"},
		{"a/b", "a%2Fb"},
		{"%zz", "%25zz"},
		{"%", "%25"},
		{"é", "%C3%A9"},
	}
	for _, tc := range tests {
		if got := queryComponent(tc.in); got != tc.want {
			t.Errorf("queryComponent(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// seedRequest is FuzzVerify's valid starting point.
func seedRequest(t testing.TB) (authz, path, query string, body []byte, date string) {
	body = []byte(`{"cluster":"default"}`)
	r, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/p/a%20th?b=2&a=1", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", ecsTarget)
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256(body), "ecs", testRegion, t0); err != nil {
		t.Fatal(err)
	}
	return r.Header.Get("Authorization"), r.URL.EscapedPath(), r.URL.RawQuery, body, r.Header.Get("X-Amz-Date")
}

func FuzzVerify(f *testing.F) {
	authz, path, query, body, date := seedRequest(f)
	f.Add(authz, path, query, body)
	f.Add("", "/", "", []byte(nil))
	f.Add("AWS4-HMAC-SHA256", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256", []byte("x"))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=", "/./../", "a=%zz&&=", []byte{0})
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/ecs/aws4_request, SignedHeaders=;;host;;, Signature=zz", "//", "+&%", []byte{})
	f.Add("", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20240501%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", []byte{})
	v := newVerifier(t0)
	f.Fuzz(func(t *testing.T, a, p, q string, b []byte) {
		r := &http.Request{
			Method:        http.MethodPost,
			URL:           &url.URL{Path: p, RawQuery: q},
			RequestURI:    p + "?" + q,
			Host:          testHost,
			Header:        http.Header{"X-Amz-Date": {date}, "X-Amz-Target": {ecsTarget}, "Content-Length": {fmt.Sprint(len(b))}},
			ContentLength: int64(len(b)),
		}
		if a != "" {
			r.Header.Set("Authorization", a)
		}
		id, err := v.Verify(r, b)
		if err != nil {
			var e *awserr.Error
			if !errors.As(err, &e) || e.Code == "" || e.Message == "" {
				t.Fatalf("error %T %v is not a complete *awserr.Error", err, err)
			}
			if a == authz && p == path && q == query && bytes.Equal(b, body) {
				t.Fatalf("seed request rejected: %v", err)
			}
			return
		}
		if id.AccessKeyID != testKeyID {
			t.Fatalf("accepted with identity %+v", id)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"cluster":"default","maxResults":100,"desiredStatus":"RUNNING"}`)
	r, _ := http.NewRequest(http.MethodPost, "http://"+testHost+"/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListTasks")
	r.Header.Set("User-Agent", "aws-cli/2.9.19 Python/3.11.2 Linux/6.1 botocore/2.0.0")
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: strings.Repeat("t", 300)}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA256(body), "ecs", testRegion, t0); err != nil {
		b.Fatal(err)
	}
	v := newVerifier(t0)
	if _, err := v.Verify(r, body); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(r, body); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("uncached-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.keys.mu.Lock()
			clear(v.keys.m)
			v.keys.mu.Unlock()
			if _, err := v.Verify(r, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestRegionChecked(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		region string
		ok     bool
	}{{"us-east-1", true}, {"eu-west-1", false}} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:7700/", strings.NewReader("{}"))
		sum := sha256.Sum256([]byte("{}"))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}, r, hex.EncodeToString(sum[:]), "ecs", tc.region, now); err != nil {
			t.Fatal(err)
		}
		v := &Verifier{Creds: StaticCredentials{"AKID": "SECRET"}, Region: "us-east-1", Now: func() time.Time { return now }}
		_, err := v.Verify(r, []byte("{}"))
		var e *awserr.Error
		switch {
		case tc.ok && err != nil:
			t.Errorf("region %s: got %v, want accepted", tc.region, err)
		case !tc.ok && (!errors.As(err, &e) || e.Code != awserr.CodeInvalidSignature):
			t.Errorf("region %s: got %v, want InvalidSignatureException", tc.region, err)
		}
	}
}
