package logsapi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/apiserver"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/logstore"
)

// TestAWSCLI drives the API through the protocol edge with the real aws
// CLI: the commands users run against CloudWatch must work against berth.
// It skips when the aws CLI is not installed.
func TestAWSCLI(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed; skipping the CLI compatibility test")
	}
	if testing.Short() {
		t.Skip("skipping the aws CLI test in -short mode")
	}
	st, err := logstore.Open(filepath.Join(t.TempDir(), "logs.db"), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := New(Config{Store: st, Region: "us-east-1", AccountID: "123456789012"})
	edge, err := apiserver.New(apiserver.Config{NoAuth: true, JSON: []*awsjson.Service{{TargetPrefix: logs.TargetPrefix, Ops: svc.Ops()}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(edge)
	defer srv.Close()

	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(awsPath, append([]string{"--endpoint-url", srv.URL, "--output", "json", "logs"}, args...)...)
		cmd.Env = []string{
			"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true",
			"HOME=" + t.TempDir(),
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("aws logs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	mustRun("create-log-group", "--log-group-name", "/ecs/cli")
	mustRun("create-log-stream", "--log-group-name", "/ecs/cli", "--log-stream-name", "web/app/1")
	now := time.Now().UnixMilli()
	mustRun("put-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name", "web/app/1", "--log-events",
		fmt.Sprintf("timestamp=%d,message=hello", now-2000), fmt.Sprintf("timestamp=%d,message=world ERROR", now-1000))

	var got logs.GetLogEventsResponse
	out := mustRun("get-log-events", "--log-group-name", "/ecs/cli", "--log-stream-name", "web/app/1", "--start-from-head")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("get-log-events output: %v\n%s", err, out)
	}
	if len(got.Events) != 2 || got.Events[0].Message != "hello" || got.NextForwardToken == "" {
		t.Fatalf("get-log-events: got %s", out)
	}

	out = mustRun("filter-log-events", "--log-group-name", "/ecs/cli", "--filter-pattern", "ERROR")
	if !strings.Contains(out, `"world ERROR"`) || strings.Contains(out, `"hello"`) {
		t.Fatalf("filter-log-events: got %s", out)
	}
	if version, _ := exec.Command(awsPath, "--version").CombinedOutput(); strings.HasPrefix(string(version), "aws-cli/2") {
		out = mustRun("tail", "/ecs/cli", "--since", "1h", "--format", "short")
		if !strings.Contains(out, "hello") || !strings.Contains(out, "world ERROR") {
			t.Fatalf("tail: got %q", out)
		}
	} else {
		t.Logf("%s has no `aws logs tail` (aws CLI v2 has); not testing it", strings.TrimSpace(string(version)))
	}
	out = mustRun("describe-log-streams", "--log-group-name", "/ecs/cli", "--order-by", "LastEventTime", "--descending")
	if !strings.Contains(out, `"logStreamName": "web/app/1"`) {
		t.Fatalf("describe-log-streams: got %s", out)
	}
	mustRun("put-retention-policy", "--log-group-name", "/ecs/cli", "--retention-in-days", "30")
	out = mustRun("describe-log-groups", "--log-group-name-prefix", "/ecs/")
	if !strings.Contains(out, `"retentionInDays": 30`) || !strings.Contains(out, "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/cli:*") {
		t.Fatalf("describe-log-groups: got %s", out)
	}

	out, err = run("create-log-stream", "--log-group-name", "/nope", "--log-stream-name", "x")
	if err == nil || !strings.Contains(out, "(ResourceNotFoundException)") || !strings.Contains(out, "The specified log group does not exist.") {
		t.Fatalf("create-log-stream in a missing group: got %v\n%s", err, out)
	}
	mustRun("delete-log-group", "--log-group-name", "/ecs/cli")
}
