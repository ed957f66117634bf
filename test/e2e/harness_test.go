// Package e2e holds berth's end-to-end tests: they build the real berth
// binary once, start `berth server` processes on loopback with their own data
// directories, and drive them the way users do — through aws-sdk-go-v2
// clients that sign every request, raw SigV4-signed HTTP, and the aws CLIs.
//
// Every server a test starts is stopped by that test (t.Cleanup), and every
// wait polls with a deadline; nothing sleeps for a fixed time.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the server's responses")

// berthBin is the binary TestMain builds; set once before any test runs.
var berthBin string

// The credentials, region and account every test server runs with.
const (
	testAccessKeyID     = "AKIDBERTHE2ETEST0001"
	testSecretAccessKey = "e2eSecretKeyForBerthTestsOnly/00000000+0"
	testRegion          = "us-east-1"
	testAccount         = "000000000000"
	ecsTargetPrefix     = "AmazonEC2ContainerServiceV20141113"
	jsonContentType     = "application/x-amz-json-1.1"
)

// Time limits for process lifecycle steps. They bound waits; nothing sleeps
// for them.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create bin dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	berthBin = filepath.Join(dir, "berth")
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", berthBin, "github.com/berth-io/berth/cmd/berth")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/berth: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s in %v\n", berthBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// goTool finds the go command that is running this test.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// serverOptions configures one berth server process.
type serverOptions struct {
	// NoAuth runs the server with --insecure-no-auth.
	NoAuth bool
	// Args are extra command-line flags.
	Args []string
}

// serverProc is one running (or stopped) `berth server` process.
type serverProc struct {
	tb      testing.TB
	opts    serverOptions
	dataDir string
	out     *lockedBuffer // stdout and stderr of every run, in order

	// Set by start; valid while running.
	addr     string // host:port
	endpoint string // http://host:port
	ecs      *ecs.Client
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // the process's exit status, valid after exited closes
	banner   string        // what the process printed up to its start-up banner's end
	runCount int

	// noRequestID counts SDK responses that came without x-amzn-RequestId;
	// cleanup fails the test if any did.
	noRequestID atomic.Int64
}

// startServer starts a berth server on a fresh data directory and stops it
// when the test ends.
func startServer(tb testing.TB, opts serverOptions) *serverProc {
	tb.Helper()
	p := &serverProc{tb: tb, opts: opts, dataDir: tb.TempDir(), out: &lockedBuffer{}}
	tb.Cleanup(func() {
		p.stop()
		if n := p.noRequestID.Load(); n > 0 {
			tb.Errorf("%d responses to the SDK client had no x-amzn-RequestId header", n)
		}
		if tb.Failed() {
			tb.Logf("berth server output (data dir %s):\n%s", p.dataDir, p.out.String())
		}
	})
	p.start()
	return p
}

// creds returns the credentials the server accepts.
func (p *serverProc) creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretAccessKey, Source: "e2e"}
}

// start launches the process on p.dataDir and waits until it listens.
func (p *serverProc) start() {
	p.tb.Helper()
	if p.running() {
		p.tb.Fatalf("start: berth server already running at %s", p.addr)
	}
	p.runCount++
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", p.dataDir}, p.opts.Args...)
	if p.opts.NoAuth {
		args = append(args, "--insecure-no-auth")
	}
	cmd := exec.Command(berthBin, args...)
	cmd.Env = append(envWithout(os.Environ(), "BERTH_"),
		"BERTH_ACCESS_KEY_ID="+testAccessKeyID,
		"BERTH_SECRET_ACCESS_KEY="+testSecretAccessKey,
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.tb.Fatalf("start berth server: %v", err)
	}
	fmt.Fprintf(p.out, "=== run %d: %s %s\n", p.runCount, berthBin, strings.Join(args, " "))
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		p.tb.Fatalf("start berth server: %v", err)
	}

	addrc := make(chan string, 1)
	var banner strings.Builder
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, line)
			if !found {
				banner.WriteString(line + "\n")
				if a, ok := strings.CutPrefix(line, "berth server listening on http://"); ok {
					found = true
					addrc <- strings.TrimSpace(a)
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		<-readDone
		p.waitErr = cmd.Wait()
		close(exited)
	}()

	select {
	case addr := <-addrc:
		p.addr = addr
	case <-exited:
		p.tb.Fatalf("berth server exited before listening: %v\n%s", p.waitErr, p.out.String())
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-exited
		p.tb.Fatalf("berth server did not print its listening line within %v\n%s", startTimeout, p.out.String())
	}
	p.endpoint = "http://" + p.addr
	p.ecs = newECSClient(p.endpoint, p.creds(), &p.noRequestID)
	p.waitHealthy(startTimeout)
	// The banner continues after the listening line (credentials, or the
	// no-auth warning) and ends with a sample `aws ecs list-clusters`
	// command. The server wrote it before serving, but this process's reader
	// may still be copying it.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.out.String(), "aws ecs list-clusters") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.banner = p.out.String()
}

// waitHealthy polls ListClusters until the server answers (with anything
// but a transport error) or d passes.
func (p *serverProc) waitHealthy(d time.Duration) {
	p.tb.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{})
		cancel()
		var apiErr smithy.APIError
		if err == nil || errors.As(err, &apiErr) {
			return
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("berth server at %s not answering after %v: %v", p.endpoint, d, err)
		}
		select {
		case <-p.exited:
			p.tb.Fatalf("berth server exited: %v\n%s", p.waitErr, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *serverProc) running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a clean exit; a non-zero exit status
// fails the test (berth shuts down cleanly on SIGTERM).
func (p *serverProc) stop() {
	p.tb.Helper()
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			p.tb.Errorf("berth server exited uncleanly after SIGTERM: %v", p.waitErr)
		}
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.tb.Errorf("berth server did not exit within %v of SIGTERM; killed it", stopTimeout)
	}
}

// kill9 kills the process with SIGKILL, as a crash or power loss would, and
// waits for it to be gone.
func (p *serverProc) kill9() {
	p.tb.Helper()
	if !p.running() {
		p.tb.Fatalf("kill9: berth server is not running")
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// restart starts the server again on the same data directory (stopping it
// first if it still runs). The address changes; p.ecs is rebuilt.
func (p *serverProc) restart() {
	p.tb.Helper()
	p.stop()
	p.start()
}

// output returns everything the process has printed so far.
func (p *serverProc) output() string { return p.out.String() }

// newECSClient returns an aws-sdk-go-v2 ECS client for endpoint that signs
// with creds and never retries (a retry would hide a server error). If
// noRequestID is set, every HTTP response without an x-amzn-RequestId header
// increments it.
func newECSClient(endpoint string, creds aws.Credentials, noRequestID *atomic.Int64) *ecs.Client {
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.StaticCredentialsProvider{Value: creds},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  sdkHTTPClient(),
	}
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		if noRequestID != nil {
			o.APIOptions = append(o.APIOptions, checkRequestID(noRequestID))
		}
	})
}

// sdkHTTPClient is the SDK's default HTTP client with a work-around for a
// client-side race between smithy-go and net/http (aws-sdk-go-v2 issues
// #1825, #2737): smithy closes the request body as soon as response headers
// arrive; if net/http's write loop has not yet made its final "no bytes
// beyond Content-Length" check, that check calls the closed body's WriteTo,
// which returns io.EOF; net/http takes that as a write error and closes the
// connection under the response still being read, and the call fails with
// "deserialization failed ... use of closed network connection". A server
// that answers within microseconds on loopback (berth) makes the window
// easy to hit for responses over 4 KiB. Hiding WriteTo makes the check use
// Read, whose io.EOF is the normal end of the body.
func sdkHTTPClient() *http.Client {
	return &http.Client{Transport: hideWriterTo{awshttp.NewBuildableClient().GetTransport()}}
}

// hideWriterTo wraps a RoundTripper so request bodies expose only Read and
// Close (see sdkHTTPClient).
type hideWriterTo struct{ base http.RoundTripper }

func (h hideWriterTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r2 := r.Clone(r.Context())
		r2.Body = readCloserOnly{r.Body}
		r = r2
	}
	return h.base.RoundTrip(r)
}

type readCloserOnly struct{ io.ReadCloser }

// checkRequestID installs a deserialize-step middleware, next to the
// transport, that counts HTTP responses lacking x-amzn-RequestId.
func checkRequestID(missing *atomic.Int64) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("e2eCheckRequestID",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				var apiErr smithy.APIError
				answered := err == nil || errors.As(err, &apiErr) // not a dropped connection
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && answered && resp.Response != nil && resp.Header.Get("x-amzn-RequestId") == "" {
					missing.Add(1)
				}
				return out, md, err
			}), middleware.After)
	}
}

// requestIDOf returns the x-amzn-RequestId the SDK read from a response.
func requestIDOf(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// errRequestID returns the x-amzn-RequestId of a failed call's response.
func errRequestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// rawRequest is one hand-built API request for the raw HTTP helpers.
type rawRequest struct {
	Method  string // default POST
	Path    string // default /
	Target  string // full X-Amz-Target; empty with Op set means the ECS prefix
	Op      string // ECS operation name
	Body    []byte
	Headers map[string]string

	Unsigned bool
	Creds    *aws.Credentials // default: the server's credentials
	SignTime time.Time        // default: now
	Service  string           // signing service; default "ecs"
	Region   string           // signing region; default testRegion

	// Changes made after signing, to forge a request.
	TamperBody   []byte // sent instead of Body
	TamperTarget string // sent instead of the signed X-Amz-Target
}

// rawResponse is what came back.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawDo sends rr to the server, signing it with SigV4 unless rr.Unsigned.
func (p *serverProc) rawDo(tb testing.TB, rr rawRequest) rawResponse {
	tb.Helper()
	resp, err := p.rawTry(rr)
	if err != nil {
		tb.Fatalf("%s %s: %v", rr.Op, p.endpoint, err)
	}
	return resp
}

// rawTry is rawDo returning the transport error instead of failing.
func (p *serverProc) rawTry(rr rawRequest) (rawResponse, error) {
	method := rr.Method
	if method == "" {
		method = http.MethodPost
	}
	path := rr.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequest(method, p.endpoint+path, bytes.NewReader(rr.Body))
	if err != nil {
		return rawResponse{}, err
	}
	req.Header.Set("Content-Type", jsonContentType)
	target := rr.Target
	if target == "" && rr.Op != "" {
		target = ecsTargetPrefix + "." + rr.Op
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	for k, v := range rr.Headers {
		req.Header.Set(k, v)
	}
	if !rr.Unsigned {
		creds := p.creds()
		if rr.Creds != nil {
			creds = *rr.Creds
		}
		at := rr.SignTime
		if at.IsZero() {
			at = time.Now()
		}
		service, region := rr.Service, rr.Region
		if service == "" {
			service = "ecs"
		}
		if region == "" {
			region = testRegion
		}
		sum := sha256.Sum256(rr.Body)
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
			return rawResponse{}, fmt.Errorf("sign: %w", err)
		}
	}
	if rr.TamperBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(rr.TamperBody))
		req.ContentLength = int64(len(rr.TamperBody))
		req.GetBody = nil
	}
	if rr.TamperTarget != "" {
		req.Header.Set("X-Amz-Target", rr.TamperTarget)
	}
	resp, err := rawHTTPClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawResponse{}, err
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// rawHTTPClient is shared by the raw helpers; it never follows redirects.
var rawHTTPClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// envWithout returns env minus the variables whose names start with prefix.
func envWithout(env []string, prefixes ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// programs (moto_server) that cannot report the port they bound.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ctxT returns a context for one test step, cancelled when the test ends.
func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
