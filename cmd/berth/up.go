package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/agent"
	"github.com/berth-io/berth/internal/demo/dockerimage"
	"github.com/berth-io/berth/internal/demo/stack"
	"github.com/berth-io/berth/internal/profile"
	"github.com/berth-io/berth/internal/server"
)

// upOptions are berth up's own flags, beside the server's.
type upOptions struct {
	runtimeName string
	noDemo      bool
	demoPort    int32
	demoTimeout time.Duration
	keepTasks   bool
}

func newUpCmd() *cobra.Command {
	var cfg server.Config
	var verbose bool
	var opts upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a local berth with a demo service: control plane, agent and load balancer in one process",
		Long: `Start a local berth: the control plane (ECS, CloudWatch Logs and, with the
load balancer, ELBv2 APIs) and an agent that registers this machine as a
container instance of the "default" cluster, in one process, with all state
under --data-dir. Tasks run with Docker when an engine answers, else as
host processes (--runtime forces one).

Unless --no-demo is given, berth up then sets up a demo through the public
APIs, as any client would: the task definition berth-demo (the demo web
app built into berth: a local berth-demo:<hash> image with Docker, the berth
executable itself with the process runtime), a load balancer berth-demo with
a listener on 127.0.0.1:--demo-port, and a service berth-demo of 2 tasks
behind it. Once the demo answers through the load balancer it prints its
URL, the credentials to export, and commands to try, and writes the berth
CLI's profile ($BERTH_PROFILE, else <user config dir>/berth/profile.json).

Running it again on the same data dir resumes the same cluster,
credentials, join token, load balancer and service (nothing is created
twice; the service moves to a new task definition when the berth binary
changed).

Ctrl-C (or SIGTERM) stops berth cleanly. By default it first stops the
tasks this machine runs (containers removed, processes ended): the next
berth up starts the services' tasks afresh. With --keep-tasks they keep
running and the next berth up re-adopts them without a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = newLogger(verbose)
			return runUp(cmd.Context(), cmd.OutOrStdout(), cfg, opts)
		},
	}
	cfg.DataDir = defaultStateDir()
	serverFlags(cmd, &cfg, &verbose)
	f := cmd.Flags()
	f.StringVar(&opts.runtimeName, "runtime", "", "container runtime for this machine's agent: docker or process (default: docker when an engine answers, else process)")
	f.BoolVar(&opts.noDemo, "no-demo", false, "do not set up the demo service and its load balancer")
	f.Int32Var(&opts.demoPort, "demo-port", 8080, "port of the demo's load balancer listener, on 127.0.0.1")
	f.DurationVar(&opts.demoTimeout, "demo-timeout", 3*time.Minute, "how long to wait for the demo to answer before saying what is wrong")
	f.BoolVar(&opts.keepTasks, "keep-tasks", false, "on exit, leave tasks running for the next berth up to re-adopt (default: stop them)")
	return cmd
}

// runUp runs berth up until ctx ends; see the command's help.
func runUp(ctx context.Context, out io.Writer, cfg server.Config, opts upOptions) error {
	log := cfg.Logger
	if opts.demoPort <= 0 || opts.demoPort > 65535 {
		return fmt.Errorf("--demo-port: %d is not a port", opts.demoPort)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	token, err := server.LoadOrCreateJoinToken(cfg.DataDir, os.Getenv)
	if err != nil {
		return err
	}
	var creds server.Credentials
	if !cfg.InsecureNoAuth {
		if creds, _, err = server.LoadOrCreateCredentials(cfg.DataDir, os.Getenv); err != nil {
			return err
		}
	}

	// The server and the agent run under contexts of their own: on Ctrl-C
	// the agent stops first, then (without --keep-tasks) the tasks, then
	// the server.
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	ready := make(chan string, 1)
	cfg.Ready = func(addr string) { ready <- addr }
	cfg.Out = io.Discard // berth up prints its own banner
	srvErr := make(chan error, 1)
	go func() { srvErr <- server.Run(srvCtx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-srvErr:
		return err
	}
	endpoint := "http://" + addr

	acfg := agent.DefaultConfig()
	acfg.Server = endpoint
	acfg.JoinToken = agent.Secret(token)
	acfg.DataDir = filepath.Join(cfg.DataDir, "agent")
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAgent()
	a, rtName, closeRT, err := newHostAgent(agentCtx, acfg, opts.runtimeName, log)
	if err != nil {
		stopServer()
		return errors.Join(err, <-srvErr)
	}
	defer closeRT()
	agentErr := make(chan error, 1)
	go func() { agentErr <- a.Run(agentCtx) }()
	fmt.Fprintf(out, "berth is up: control plane at %s, tasks run with %s, state in %s\n", endpoint, rtName, cfg.DataDir)

	awsCfg := aws.Config{Region: cfg.Region, Credentials: aws.AnonymousCredentials{}}
	if !cfg.InsecureNoAuth {
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
	}
	ecsc := ecs.NewFromConfig(awsCfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	elbc := elb.NewFromConfig(awsCfg, func(o *elb.Options) { o.BaseEndpoint = aws.String(endpoint) })

	demoCtx, stopDemo := context.WithCancel(ctx)
	defer stopDemo()
	demoDone := make(chan struct{})
	go func() {
		defer close(demoDone)
		var demoURL string
		if !opts.noDemo {
			u, err := startDemo(demoCtx, out, ecsc, elbc, acfg.Cluster, rtName, opts)
			if demoCtx.Err() != nil {
				return // berth is stopping
			}
			if err != nil {
				fmt.Fprintf(out, "\nThe demo is not answering: %v\n", err)
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				if d := stack.Diagnose(dctx, ecsc, acfg.Cluster); d != "" {
					fmt.Fprintf(out, "%s\n", indent(d, "  "))
				}
				cancel()
				fmt.Fprintf(out, "berth keeps running. --demo-port moves the demo's listener; --no-demo skips the demo.\n")
			}
			demoURL = u
		}
		profilePath, err := profile.Path(os.Getenv, os.UserConfigDir)
		if err == nil {
			err = profile.Save(profilePath, profile.Profile{
				Endpoint: endpoint, Region: cfg.Region, AccessKeyID: creds.AccessKeyID,
				SecretAccessKey: creds.SecretAccessKey, Cluster: acfg.Cluster,
			})
		}
		if err != nil {
			profilePath = ""
			fmt.Fprintf(out, "Could not write the berth CLI's profile: %v\n", err)
		}
		printUpBanner(out, upBanner{
			endpoint: endpoint, region: cfg.Region, creds: creds, noAuth: cfg.InsecureNoAuth,
			demoURL: demoURL, profile: profilePath, keepTasks: opts.keepTasks, token: token,
			runtime: rtName, demoTask: demoTask(demoCtx, ecsc, acfg.Cluster),
		})
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-srvErr:
		srvErr <- runErr // read again below
	case runErr = <-agentErr:
		agentErr <- runErr
		if runErr != nil {
			runErr = fmt.Errorf("agent: %w", runErr)
		}
	}
	// A second Ctrl-C quits at once, leaving whatever is still running.
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	fmt.Fprintln(out, "\nberth is stopping... (Ctrl-C again quits at once)")
	stopDemo()
	stopAgent()
	if err := <-agentErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("agent: %w", err)
	}
	<-demoDone
	if !opts.keepTasks {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		n, err := stopHostTasks(stopCtx, ecsc, a)
		cancel()
		switch {
		case err != nil:
			fmt.Fprintf(out, "Stopping the tasks: %v\n", err)
		case n > 0:
			fmt.Fprintf(out, "Stopped %d task(s) (berth up --keep-tasks leaves them running).\n", n)
		}
	} else {
		fmt.Fprintln(out, "Tasks keep running (--keep-tasks); the next berth up re-adopts them.")
	}
	stopServer()
	if err := <-srvErr; err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		fmt.Fprintln(out, "berth stopped.")
	}
	return runErr
}

// startDemo makes the demo's image (or finds the executable), sets up the
// demo through the APIs and waits until it answers; it returns the URL it
// answers at.
func startDemo(ctx context.Context, out io.Writer, ecsc *ecs.Client, elbc *elb.Client, cluster, rtName string, opts upOptions) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the berth executable: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("find the berth executable: %w", err)
	}
	spec := stack.Spec{Cluster: cluster, Port: opts.demoPort}
	switch rtName {
	case agent.RuntimeDocker:
		tag, err := demoImage(ctx, out, exe)
		if err != nil {
			return "", err
		}
		spec.Image = tag
		spec.HealthCheck = []string{"CMD", dockerimage.ExePath, "demo-app", "check"}
	default:
		spec.Image = "process://" + exe
		spec.Command = []string{"demo-app"}
		spec.HealthCheck = []string{"CMD", exe, "demo-app", "check"}
	}
	res, err := stack.Ensure(ctx, ecsc, elbc, spec)
	if err != nil {
		return "", err
	}
	what := "running"
	switch {
	case res.CreatedService:
		what = "created"
	case res.UpdatedService:
		what = "updated to " + res.TaskDefinitionArn[strings.LastIndexByte(res.TaskDefinitionArn, '/')+1:]
	}
	fmt.Fprintf(out, "Demo service %s (%s) in cluster %q: %s; waiting for it to answer...\n", stack.Name, spec.Image, cluster, what)
	waitCtx, cancel := context.WithTimeout(ctx, opts.demoTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	url := stack.ListenerURL(opts.demoPort)
	if _, err := stack.WaitAnswer(waitCtx, hc, url, 250*time.Millisecond); err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	return url, nil
}

// demoImage builds the demo's Docker image from the berth executable,
// unless an image with its tag exists.
func demoImage(ctx context.Context, out io.Writer, exe string) (string, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	start := time.Now()
	tag, built, err := dockerimage.Ensure(ctx, cli, exe, dockerimage.SearchDirs(goruntime.GOARCH))
	if err != nil {
		return "", err
	}
	if built {
		fmt.Fprintf(out, "Built the demo image %s from %s in %v.\n", tag, exe, time.Since(start).Round(100*time.Millisecond))
	}
	return tag, nil
}

// stopHostTasks stops, through the API, the tasks the server has on this
// machine's instance (so they are STOPPED as user-initiated, not found
// gone at the next start), then removes their containers. The agent must
// have stopped: the services' replacements wait for the next berth up.
func stopHostTasks(ctx context.Context, c *ecs.Client, a *agent.Agent) (int, error) {
	var errs []error
	stopped := 0
	if arn := a.InstanceArn(); arn != "" {
		cluster := agent.DefaultCluster
		p := ecs.NewListTasksPaginator(c, &ecs.ListTasksInput{Cluster: aws.String(cluster), ContainerInstance: aws.String(arn), DesiredStatus: ecstypes.DesiredStatusRunning})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				errs = append(errs, fmt.Errorf("list tasks: %w", err))
				break
			}
			for _, t := range page.TaskArns {
				if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(t), Reason: aws.String("Stopped by berth up on exit (--keep-tasks=false)")}); err != nil {
					errs = append(errs, fmt.Errorf("stop task %s: %w", stack.TaskID(t), err))
					continue
				}
				stopped++
			}
		}
	}
	if _, err := a.RemoveContainers(ctx); err != nil {
		errs = append(errs, err)
	}
	return stopped, errors.Join(errs...)
}

// demoTask returns the ID of a task of the demo service, "" if there is
// none, for the banner's examples.
func demoTask(ctx context.Context, c *ecs.Client, cluster string) string {
	out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), ServiceName: aws.String(stack.Name), DesiredStatus: ecstypes.DesiredStatusRunning})
	if err != nil || len(out.TaskArns) == 0 {
		return ""
	}
	return stack.TaskID(out.TaskArns[0])
}

// upBanner is what berth up prints once it is ready.
type upBanner struct {
	endpoint, region, demoURL, profile, token string
	runtime, demoTask                         string
	creds                                     server.Credentials
	noAuth, keepTasks                         bool
}

func printUpBanner(w io.Writer, b upBanner) {
	var s strings.Builder
	s.WriteString("\n")
	if b.demoURL != "" {
		fmt.Fprintf(&s, "The demo answers at %s\n\n", b.demoURL)
	}
	if b.noAuth {
		fmt.Fprintf(&s, "WARNING: --insecure-no-auth: API requests are NOT authenticated; anyone who can reach %s controls this cluster.\n\n", b.endpoint)
		fmt.Fprintf(&s, "  export AWS_DEFAULT_REGION=%s\n  export AWS_ENDPOINT_URL=%s\n\n", b.region, b.endpoint)
	} else {
		s.WriteString("To use the API with the aws CLI or an AWS SDK:\n\n")
		fmt.Fprintf(&s, "  export AWS_ACCESS_KEY_ID=%s\n", b.creds.AccessKeyID)
		fmt.Fprintf(&s, "  export AWS_SECRET_ACCESS_KEY=%s\n", b.creds.SecretAccessKey)
		fmt.Fprintf(&s, "  export AWS_DEFAULT_REGION=%s\n", b.region)
		fmt.Fprintf(&s, "  export AWS_ENDPOINT_URL=%s\n\n", b.endpoint)
	}
	if b.profile != "" {
		fmt.Fprintf(&s, "The berth CLI reads them from %s.\n\n", b.profile)
	}
	s.WriteString("Try:\n\n")
	if b.demoURL != "" {
		fmt.Fprintf(&s, "  curl %s    # again and again: the two tasks answer in turn\n", b.demoURL)
	}
	s.WriteString("  berth ps\n")
	s.WriteString("  aws ecs list-services --cluster default\n")
	task := "<task>"
	if b.demoTask != "" {
		task = b.demoTask
	}
	if b.demoURL != "" {
		s.WriteString("  berth logs berth-demo -f\n")
		s.WriteString("  berth scale berth-demo 3 --wait\n")
		if b.runtime == agent.RuntimeDocker {
			fmt.Fprintf(&s, "  berth exec %s -- /berth demo-app check    # the demo's image has no shell\n", task)
		} else {
			fmt.Fprintf(&s, "  berth exec %s -- sh\n", task)
		}
	} else {
		s.WriteString("  berth exec <task> -- sh\n")
	}
	s.WriteString("  berth deploy -f examples/web/task-definition.json -f examples/web/service.json    # with your image in it\n\n")
	fmt.Fprintf(&s, "Other hosts join with: berth agent --server %s --join-token %s\n", b.endpoint, b.token)
	if b.keepTasks {
		s.WriteString("Ctrl-C stops berth; tasks keep running (--keep-tasks) for the next berth up.\n")
	} else {
		s.WriteString("Ctrl-C stops berth and the tasks on this machine (--keep-tasks leaves them running).\n")
	}
	io.WriteString(w, s.String())
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
