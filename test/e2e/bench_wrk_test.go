package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// BenchmarkAPIWrk measures the servers' read capacity with a load generator
// that costs almost nothing: wrk (C, from Debian) replays one SigV4-signed
// DescribeServices request (a signature stays valid for 15 minutes). The
// SDK-driven BenchmarkAPI spends as much CPU in the Go clients as in the
// server on these 2 cores; this one shows what the server itself sustains.
// Every request is still fully verified by the server.
func BenchmarkAPIWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (apt-get install wrk)")
	}
	var rows []wrkResult
	run := func(b *testing.B, backend, endpoint string, creds aws.Credentials) {
		c := newECSClient(endpoint, creds, nil)
		ctx := ctxT(b)
		if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.RegisterTaskDefinition(ctx, smallTaskDefinitionInput("bench-svc", 128, 128)); err != nil {
			b.Fatal(err)
		}
		if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("bench"), ServiceName: aws.String("web"), TaskDefinition: aws.String("bench-svc"), DesiredCount: aws.Int32(0)}); err != nil {
			b.Fatal(err)
		}
		script := signedWrkScript(b, endpoint, creds, "DescribeServices", `{"cluster":"bench","services":["web"]}`)
		for i := 0; i < b.N; i++ {
			out, err := exec.Command(wrk, "-t2", "-c16", "-d5s", "--latency", "-s", script, endpoint+"/").CombinedOutput()
			if err != nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			r := parseWrk(b, string(out))
			r.backend = backend
			rows = append(rows, r)
			b.ReportMetric(r.rps, "req/s")
			if r.non2xx > 0 {
				b.Errorf("%s: %d non-2xx responses (signature refused?)\n%s", backend, r.non2xx, out)
			}
		}
	}
	b.Run("berth", func(b *testing.B) {
		srv := startServer(b, serverOptions{})
		run(b, "berth", srv.endpoint, srv.creds())
	})
	b.Run("moto", func(b *testing.B) {
		endpoint, _ := startMoto(b)
		run(b, "moto", endpoint, aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"})
	})
	fmt.Printf("\nDescribeServices under wrk (-t2 -c16 -d5s, one pre-signed request replayed; same machine, same run)\n")
	fmt.Printf("%-8s %10s %9s %9s %9s\n", "server", "req/s", "p50", "p99", "non-2xx")
	var berth, moto float64
	for _, r := range rows {
		fmt.Printf("%-8s %10.0f %9s %9s %9d\n", r.backend, r.rps, r.p50, r.p99, r.non2xx)
		switch r.backend {
		case "berth":
			berth = r.rps
		case "moto":
			moto = r.rps
		}
	}
	if berth > 0 && moto > 0 {
		fmt.Printf("berth/moto: %.1fx   target: berth >= %d req/s (%s), >= %dx moto (%s)\n\n", berth/moto,
			targetDescribeRPS, metWord(berth >= targetDescribeRPS), targetMotoRatio, metWord(berth/moto >= targetMotoRatio))
	}
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// wrkResult holds what parseWrk reads from wrk's report.
type wrkResult struct {
	backend  string
	rps      float64
	p50, p99 string
	non2xx   int
	requests int
	seconds  float64
}

// signedWrkScript writes a wrk Lua script that sends one ECS request
// signed now with creds.
func signedWrkScript(tb testing.TB, endpoint string, creds aws.Credentials, op, body string) string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+op)
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecs", testRegion, time.Now()); err != nil {
		tb.Fatal(err)
	}
	var lua strings.Builder
	lua.WriteString("wrk.method = \"POST\"\n")
	fmt.Fprintf(&lua, "wrk.body = %q\n", body)
	for k, vs := range req.Header {
		fmt.Fprintf(&lua, "wrk.headers[%q] = %q\n", k, vs[0])
	}
	path := filepath.Join(tb.TempDir(), "signed.lua")
	if err := os.WriteFile(path, []byte(lua.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+(\S+)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSummary = regexp.MustCompile(`(\d+) requests in ([0-9.]+)s`)
)

func parseWrk(tb testing.TB, out string) wrkResult {
	tb.Helper()
	var r wrkResult
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		if p[1] == "50" {
			r.p50 = p[2]
		} else {
			r.p99 = p[2]
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := wrkSummary.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
		r.seconds, _ = strconv.ParseFloat(m[2], 64)
	}
	return r
}
