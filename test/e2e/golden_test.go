package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGoldenWire pins the wire shape of the main responses: raw
// SigV4-signed HTTP calls whose JSON bodies, with volatile values (times,
// generated IDs) replaced by placeholders, must equal testdata/NAME.golden.json.
// Run with -update to rewrite the files after an intended change, and
// review the diff.
func TestGoldenWire(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})

	steps := []struct {
		name, op, body string
	}{
		{"CreateCluster", "CreateCluster", `{
			"clusterName": "golden",
			"tags": [{"key": "env", "value": "golden"}],
			"settings": [{"name": "containerInsights", "value": "enabled"}]
		}`},
		{"RegisterTaskDefinition", "RegisterTaskDefinition", goldenTaskDefinition},
		{"CreateService", "CreateService", `{
			"cluster": "golden",
			"serviceName": "web",
			"taskDefinition": "web",
			"desiredCount": 0,
			"deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50},
			"placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
			"placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
			"tags": [{"key": "env", "value": "golden"}]
		}`},
		{"RegisterContainerInstance", "RegisterContainerInstance", `{
			"cluster": "golden",
			"instanceIdentityDocument": "{\"instanceId\":\"i-0601de0000000000a\",\"instanceType\":\"t3.large\",\"availabilityZone\":\"us-east-1a\",\"region\":\"us-east-1\",\"accountId\":\"000000000000\",\"imageId\":\"ami-0601de000000000aa\"}",
			"totalResources": [
				{"name": "CPU", "type": "INTEGER", "integerValue": 2048},
				{"name": "MEMORY", "type": "INTEGER", "integerValue": 4096},
				{"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22"]},
				{"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []}
			],
			"versionInfo": {"agentVersion": "1.0.0", "agentHash": "golden", "dockerVersion": "DockerVersion: 20.10.24"}
		}`},
		{"RunTask", "RunTask", `{
			"cluster": "golden",
			"taskDefinition": "web:1",
			"count": 1,
			"startedBy": "golden",
			"group": "family:web"
		}`},
		{"DescribeServices", "DescribeServices", `{
			"cluster": "golden",
			"services": ["web", "ghost"],
			"include": ["TAGS"]
		}`},
		{"Error-ServiceNotFound", "UpdateService", `{"cluster": "golden", "service": "ghost", "desiredCount": 1}`},
	}
	for _, st := range steps {
		// Steps build on each other (the service needs the cluster), so
		// they run in order, not in parallel.
		t.Run(st.name, func(t *testing.T) {
			resp := srv.rawDo(t, rawRequest{Op: st.op, Body: []byte(st.body)})
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Errorf("no x-amzn-RequestId header")
			}
			got, err := normalizeWire(resp)
			if err != nil {
				t.Fatalf("normalize %s response (status %d): %v\n%s", st.op, resp.Status, err, resp.Body)
			}
			checkGolden(t, filepath.Join("testdata", st.name+".golden.json"), got)
		})
	}
}

// goldenTaskDefinition is a task definition with every commonly used
// container member set, as a user's JSON file would have it.
const goldenTaskDefinition = `{
	"family": "web",
	"networkMode": "bridge",
	"requiresCompatibilities": ["EC2"],
	"cpu": "256",
	"memory": "512",
	"taskRoleArn": "arn:aws:iam::000000000000:role/web-task",
	"executionRoleArn": "arn:aws:iam::000000000000:role/web-exec",
	"volumes": [{"name": "data", "host": {"sourcePath": "/var/lib/web"}}],
	"placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
	"tags": [{"key": "team", "value": "web"}],
	"containerDefinitions": [
		{
			"name": "web",
			"image": "registry.example.com/team/web:1.4.2",
			"cpu": 128,
			"memory": 256,
			"memoryReservation": 128,
			"essential": true,
			"portMappings": [
				{"containerPort": 8080, "hostPort": 0, "protocol": "tcp", "name": "http", "appProtocol": "http"}
			],
			"environment": [{"name": "LOG_LEVEL", "value": "debug"}],
			"command": ["serve", "--port", "8080"],
			"entryPoint": ["/usr/local/bin/web"],
			"workingDirectory": "/srv/web",
			"user": "1000:1000",
			"healthCheck": {
				"command": ["CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"],
				"interval": 10, "timeout": 3, "retries": 2, "startPeriod": 5
			},
			"logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}},
			"mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": false}],
			"ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
			"dockerLabels": {"com.example.team": "web"},
			"stopTimeout": 20,
			"dependsOn": [{"containerName": "sidecar", "condition": "START"}],
			"links": ["sidecar:side"],
			"secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/web/db"}],
			"linuxParameters": {"initProcessEnabled": true, "capabilities": {"add": ["NET_ADMIN"]}},
			"readonlyRootFilesystem": true
		},
		{"name": "sidecar", "image": "registry.example.com/team/sidecar:2", "memory": 64, "essential": false}
	]
}`

// goldenFile is the stored form of one response.
type goldenFile struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	ErrorType   string `json:"x-amzn-ErrorType,omitempty"`
	Body        any    `json:"body"`
}

var (
	hexIDRE    = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	uuidRE     = regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	ecsSvcIDRE = regexp.MustCompile(`ecs-svc/[0-9]+`)
)

// normalizeWire decodes a response and replaces volatile values:
// timestamps (members named *At, or timestamp) become "<time>", 32-hex IDs
// "<id>", UUIDs "<uuid>", deployment IDs "ecs-svc/<id>". The result is
// indented JSON with sorted keys.
func normalizeWire(r rawResponse) ([]byte, error) {
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return nil, err
	}
	g := goldenFile{Status: r.Status, ContentType: r.Header.Get("Content-Type"), ErrorType: r.Header.Get("x-amzn-ErrorType"), Body: normalizeValue("", body)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func normalizeValue(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeValue(k, e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalizeValue(key, e)
		}
		return v
	case float64:
		if isTimeMember(key) {
			return "<time>"
		}
		return v
	case string:
		if key == "message" {
			return "<message>" // wording is free; the type is pinned
		}
		s := uuidRE.ReplaceAllString(v, "<uuid>")
		s = hexIDRE.ReplaceAllString(s, "<id>")
		return ecsSvcIDRE.ReplaceAllString(s, "ecs-svc/<id>")
	}
	return v
}

func isTimeMember(key string) bool {
	return strings.HasSuffix(key, "At") || key == "timestamp" || key == "lastUpdated"
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test ./test/e2e -run TestGoldenWire -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s: response differs from the golden file (-want +got):\n%s\nrun with -update if the change is intended", path, diff)
	}
}
