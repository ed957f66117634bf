package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-io/berth/internal/cli/render"
)

// CLI is what every command needs: the API clients, the cluster, where to
// print, and the terminal it runs in. Build it with New.
type CLI struct {
	ECS     *ecs.Client
	Logs    *cloudwatchlogs.Client
	Cluster string
	// ClusterFromFlag: the cluster was given with --cluster.
	ClusterFromFlag bool

	Out, Err io.Writer
	In       io.Reader
	// Term says whether Out (and In, for questions) is a terminal.
	Term Term
	// JSON: -o json.
	JSON bool
	// Now and Tick are the clock (time.Now and a ticker outside tests);
	// Poll is the interval of every poll loop.
	Now  func() time.Time
	Poll time.Duration
	// Signals delivers interrupts (Ctrl-C) to the commands that handle
	// them (deploy, run); nil: none arrive.
	Signals <-chan os.Signal
}

// Term describes the terminal.
type Term struct {
	// OutTTY: stdout is a terminal (progress redraws in place).
	OutTTY bool
	// InTTY: stdin is a terminal (questions may be asked).
	InTTY bool
	// Color: colours allowed (a terminal, NO_COLOR unset).
	Color bool
}

// Style is the table style the terminal allows.
func (c *CLI) Style() render.Style { return render.Style{Color: c.Term.Color} }

// New builds the clients for t. Retries follow the SDK's standard
// retryer (throttling and 5xx).
func New(t Target) (*ecs.Client, *cloudwatchlogs.Client) {
	var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
	if t.AccessKeyID != "" {
		creds = credentials.NewStaticCredentialsProvider(t.AccessKeyID, string(t.SecretAccessKey), "")
	}
	cfg := aws.Config{Region: t.Region, Credentials: creds, HTTPClient: httpClient()}
	e := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(t.Endpoint) })
	l := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) { o.BaseEndpoint = aws.String(t.Endpoint) })
	return e, l
}

// httpClient is the SDK's default HTTP client with a work-around for a
// client-side race between smithy-go and net/http (aws-sdk-go-v2 issues
// #1825, #2737) that a server answering within microseconds (berth on
// loopback) makes easy to hit: smithy closes the request body when the
// response headers arrive, and net/http's final check of the body through
// WriterTo then fails the call with "use of closed network connection".
// Hiding WriteTo makes that check use Read.
func httpClient() *http.Client {
	return &http.Client{Transport: hideWriterTo{awshttp.NewBuildableClient().GetTransport()}}
}

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

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
