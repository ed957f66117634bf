package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// errorBody is the AWS JSON error form.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// checkErrorResponse asserts resp is a JSON error: the wanted status (0
// means any 4xx), the wanted __type (empty means any), a message, the
// JSON content type and a request ID.
func checkErrorResponse(t *testing.T, resp rawResponse, wantStatus int, wantType string) {
	t.Helper()
	switch {
	case wantStatus != 0 && resp.Status != wantStatus:
		t.Errorf("status = %d, want %d; body %s", resp.Status, wantStatus, resp.Body)
	case wantStatus == 0 && (resp.Status < 400 || resp.Status > 499):
		t.Errorf("status = %d, want 4xx; body %s", resp.Status, resp.Body)
	}
	var e errorBody
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		t.Errorf("body is not a JSON error (%v): %q", err, resp.Body)
		return
	}
	// Clients accept "Namespace#Code" too; compare the code part.
	code := e.Type[strings.LastIndex(e.Type, "#")+1:]
	if wantType != "" && code != wantType {
		t.Errorf("__type = %q, want %s (message %q)", e.Type, wantType, e.Message)
	}
	if code == "" {
		t.Errorf("__type is empty; body %s", resp.Body)
	}
	if e.Message == "" {
		t.Errorf("%s: empty message", e.Type)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, jsonContentType) {
		t.Errorf("Content-Type = %q, want %s", ct, jsonContentType)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
}

// TestAuth checks SigV4 verification: what AWS refuses, berth refuses with
// the same exception.
func TestAuth(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	body := []byte(`{}`)
	wrongSecret := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: "wrongSecretwrongSecretwrongSecretwrongSe"}
	unknownKey := aws.Credentials{AccessKeyID: "AKIDUNKNOWNUNKNOWN00", SecretAccessKey: testSecretAccessKey}

	if !strings.Contains(srv.banner, "AWS_ACCESS_KEY_ID="+testAccessKeyID) {
		t.Errorf("start-up banner does not tell the user the access key to export:\n%s", srv.banner)
	}
	if strings.Contains(srv.banner, "WARNING") {
		t.Errorf("a server with auth printed a warning:\n%s", srv.banner)
	}

	// The status AWS sends for a signature refusal varies by front end (400
	// or 403); the exception type is what clients act on, so it is pinned
	// and the status only has to be a client error.
	cases := []struct {
		name       string
		rr         rawRequest
		wantStatus int
		wantType   string
	}{
		{"unsigned", rawRequest{Op: "ListClusters", Body: body, Unsigned: true}, http.StatusForbidden, "MissingAuthenticationTokenException"},
		{"wrong secret", rawRequest{Op: "ListClusters", Body: body, Creds: &wrongSecret}, 0, "InvalidSignatureException"},
		{"unknown access key", rawRequest{Op: "ListClusters", Body: body, Creds: &unknownKey}, 0, "UnrecognizedClientException"},
		{"signed 20 minutes ago", rawRequest{Op: "ListClusters", Body: body, SignTime: time.Now().Add(-20 * time.Minute)}, 0, "InvalidSignatureException"},
		{"signed 20 minutes ahead", rawRequest{Op: "ListClusters", Body: body, SignTime: time.Now().Add(20 * time.Minute)}, 0, "InvalidSignatureException"},
		{"scoped to s3", rawRequest{Op: "ListClusters", Body: body, Service: "s3"}, 0, "InvalidSignatureException"},
		{"scoped to another region", rawRequest{Op: "ListClusters", Body: body, Region: "eu-west-1"}, 0, "InvalidSignatureException"},
		{"body changed after signing", rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName":"a"}`), TamperBody: []byte(`{"clusterName":"b"}`)}, 0, "InvalidSignatureException"},
		{"target changed after signing", rawRequest{Op: "ListClusters", Body: body, TamperTarget: ecsTargetPrefix + ".DeleteCluster"}, 0, "InvalidSignatureException"},
		{"garbage Authorization header", rawRequest{Op: "ListClusters", Body: body, Unsigned: true, Headers: map[string]string{"Authorization": "AWS4-HMAC-SHA256 nonsense"}}, 0, "IncompleteSignatureException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrorResponse(t, srv.rawDo(t, tc.rr), tc.wantStatus, tc.wantType)
		})
	}

	t.Run("signed request passes", func(t *testing.T) {
		resp := srv.rawDo(t, rawRequest{Op: "ListClusters", Body: body})
		if resp.Status != http.StatusOK {
			t.Errorf("status = %d, want 200; body %s", resp.Status, resp.Body)
		}
	})

	t.Run("SDK with the wrong secret", func(t *testing.T) {
		bad := newECSClient(srv.endpoint, wrongSecret, nil)
		_, err := bad.ListClusters(ctxT(t), &ecs.ListClustersInput{})
		wantCode(t, err, "InvalidSignatureException")
	})

	t.Run("SDK with anonymous credentials", func(t *testing.T) {
		anon := ecs.NewFromConfig(aws.Config{Region: testRegion, Credentials: aws.AnonymousCredentials{}, Retryer: func() aws.Retryer { return aws.NopRetryer{} }, HTTPClient: sdkHTTPClient()},
			func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.endpoint) })
		_, err := anon.ListClusters(ctxT(t), &ecs.ListClustersInput{})
		wantCode(t, err, "MissingAuthenticationTokenException")
	})
}

// TestInsecureNoAuth checks --insecure-no-auth: unsigned requests pass and
// the server says loudly that they do.
func TestInsecureNoAuth(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{NoAuth: true})
	if !strings.Contains(srv.banner, "WARNING") || !strings.Contains(srv.banner, "--insecure-no-auth") {
		t.Errorf("no loud warning about --insecure-no-auth in the output:\n%s", srv.banner)
	}
	if strings.Contains(srv.banner, testSecretAccessKey) {
		t.Errorf("the no-auth banner prints a secret key")
	}
	resp := srv.rawDo(t, rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName":"open"}`), Unsigned: true})
	if resp.Status != http.StatusOK {
		t.Errorf("unsigned CreateCluster: status %d, want 200; body %s", resp.Status, resp.Body)
	}
	anon := ecs.NewFromConfig(aws.Config{Region: testRegion, Credentials: aws.AnonymousCredentials{}, Retryer: func() aws.Retryer { return aws.NopRetryer{} }, HTTPClient: sdkHTTPClient()},
		func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.endpoint) })
	out, err := anon.ListClusters(ctxT(t), &ecs.ListClustersInput{})
	ok(t, err)
	if len(out.ClusterArns) != 1 || out.ClusterArns[0] != clusterARN("open") {
		t.Errorf("ListClusters = %v, want [%s]", out.ClusterArns, clusterARN("open"))
	}
}

// TestMalformedRequests sends broken requests (all correctly signed) and
// expects a clear 4xx JSON error for each, with the server still healthy
// afterwards.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	big := bytes.Repeat([]byte(" "), 5<<20)
	copy(big, `{"clusterName":"big"}`)
	cases := []struct {
		name       string
		rr         rawRequest
		wantStatus int
		wantType   string
	}{
		{"invalid JSON", rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName":`)}, http.StatusBadRequest, "SerializationException"},
		{"wrong member type", rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName": 42}`)}, http.StatusBadRequest, "SerializationException"},
		{"wrong nested type", rawRequest{Op: "RegisterTaskDefinition", Body: []byte(`{"family":"f","containerDefinitions":[{"name":"a","image":"i","memory":"lots"}]}`)}, http.StatusBadRequest, "SerializationException"},
		{"trailing junk", rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName":"x"} junk`)}, http.StatusBadRequest, "SerializationException"},
		{"two objects", rawRequest{Op: "CreateCluster", Body: []byte(`{"clusterName":"x"}{"clusterName":"y"}`)}, http.StatusBadRequest, "SerializationException"},
		{"array body", rawRequest{Op: "CreateCluster", Body: []byte(`[]`)}, http.StatusBadRequest, "SerializationException"},
		{"5 MiB body", rawRequest{Op: "CreateCluster", Body: big}, http.StatusRequestEntityTooLarge, ""},
		{"unknown operation", rawRequest{Op: "Frobnicate", Body: []byte(`{}`)}, http.StatusBadRequest, "UnknownOperationException"},
		{"other service's target", rawRequest{Target: "DynamoDB_20120810.ListTables", Body: []byte(`{}`)}, 0, ""},
		{"no target", rawRequest{Body: []byte(`{}`)}, 0, ""},
		{"missing required member", rawRequest{Op: "DescribeTaskDefinition", Body: []byte(`{}`)}, http.StatusBadRequest, ""},
		{"GET /", rawRequest{Method: http.MethodGet, Op: "ListClusters"}, 0, ""},
		{"POST to another path", rawRequest{Path: "/v1/clusters", Op: "ListClusters", Body: []byte(`{}`)}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkErrorResponse(t, srv.rawDo(t, tc.rr), tc.wantStatus, tc.wantType)
		})
	}

	// Still healthy, and none of the bad requests created anything.
	out, err := srv.ecs.ListClusters(ctxT(t), &ecs.ListClustersInput{})
	ok(t, err)
	if len(out.ClusterArns) != 0 {
		t.Errorf("ListClusters after malformed requests = %v, want none", out.ClusterArns)
	}
	_, err = srv.ecs.CreateCluster(ctxT(t), &ecs.CreateClusterInput{ClusterName: aws.String("after")})
	ok(t, err)
}
