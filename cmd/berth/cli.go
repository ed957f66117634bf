package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/cli"
	"github.com/berth-io/berth/internal/cli/spec"
)

// The operator CLI: commands that drive a berth server through its public
// APIs (internal/cli does the work; docs/cli.md documents them).

// clientOpts are the flags every client command takes.
type clientOpts struct {
	flags  cli.Flags
	output string
}

// bindClient adds the connection and output flags to cmd.
func bindClient(cmd *cobra.Command, o *clientOpts, json bool) {
	f := cmd.Flags()
	f.StringVar(&o.flags.Endpoint, "endpoint", "", "URL of the berth API (default $AWS_ENDPOINT_URL, the profile's, or "+cli.DefaultEndpoint+")")
	f.StringVar(&o.flags.Region, "region", "", "region to sign for (default $AWS_REGION, $AWS_DEFAULT_REGION, the profile's, or "+cli.DefaultRegion+")")
	f.StringVar(&o.flags.Cluster, "cluster", "", "cluster (default $BERTH_CLUSTER, the profile's, or "+cli.DefaultCluster+")")
	f.StringVar(&o.flags.ProfileFile, "profile-file", "", "profile file written by berth up (default $BERTH_PROFILE or <config dir>/berth/profile.json)")
	if json {
		f.StringVarP(&o.output, "output", "o", "table", "output format: table or json")
	}
}

// client builds the CLI for one command run.
func (o *clientOpts) client(cmd *cobra.Command) (*cli.CLI, error) {
	if o.output != "" && o.output != "table" && o.output != "json" {
		return nil, fmt.Errorf("--output: %q is not table or json", o.output)
	}
	t, err := cli.Resolve(o.flags, os.Getenv, os.UserConfigDir)
	if err != nil {
		return nil, err
	}
	ecsc, logsc := cli.New(t)
	outTTY := cli.IsTerminal(os.Stdout)
	return &cli.CLI{
		ECS: ecsc, Logs: logsc, Cluster: t.Cluster, ClusterFromFlag: t.ClusterFromFlag,
		Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr(), In: os.Stdin,
		Term: cli.Term{OutTTY: outTTY, InTTY: cli.IsTerminal(os.Stdin), Color: outTTY && os.Getenv("NO_COLOR") == ""},
		JSON: o.output == "json",
		Now:  time.Now, Poll: 500 * time.Millisecond,
	}, nil
}

// clientCommands are the operator CLI's commands.
func clientCommands() []*cobra.Command {
	return []*cobra.Command{
		newPSCmd(), newInstancesCmd(), newDeployCmd(), newRunCmd(), newLogsCmd(),
		newEventsCmd(), newScaleCmd(), newRollbackCmd(), newDrainCmd(),
	}
}

func newPSCmd() *cobra.Command {
	var o clientOpts
	var all bool
	cmd := &cobra.Command{
		Use:   "ps [SERVICE]",
		Short: "List services and their tasks (or one service's)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			service := ""
			if len(args) == 1 {
				service = args[0]
			}
			return c.PS(cmd.Context(), service, all)
		},
	}
	bindClient(cmd, &o, true)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include STOPPED tasks (kept for an hour)")
	return cmd
}

func newInstancesCmd() *cobra.Command {
	var o clientOpts
	cmd := &cobra.Command{
		Use:   "instances",
		Short: "List the cluster's container instances: status, agent, tasks, free CPU and memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.Instances(cmd.Context())
		},
	}
	bindClient(cmd, &o, true)
	return cmd
}

// interruptible is for the commands that handle Ctrl-C themselves
// (deploy, run): a context the interrupt does not cancel, and the
// interrupts delivered to c.Signals.
func interruptible(cmd *cobra.Command, c *cli.CLI) (context.Context, func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	c.Signals = ch
	return context.WithoutCancel(cmd.Context()), func() { signal.Stop(ch) }
}

// readSpec reads and merges the -f files ("-": stdin).
func readSpec(files []string) (spec.Spec, error) {
	if len(files) == 0 {
		return spec.Spec{}, fmt.Errorf("-f: required (a task definition or service file)")
	}
	var specs []spec.Spec
	for _, f := range files {
		var b []byte
		var err error
		if f == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			return spec.Spec{}, fmt.Errorf("-f: %w", err)
		}
		s, err := spec.Parse(f, b)
		if err != nil {
			return spec.Spec{}, fmt.Errorf("-f %w", err)
		}
		specs = append(specs, s)
	}
	return spec.Merge(specs...)
}

// bindWait adds the flags of the commands that follow a rollout.
func bindWait(cmd *cobra.Command, w *cli.WaitOptions) {
	f := cmd.Flags()
	f.DurationVar(&w.Timeout, "timeout", 15*time.Minute, "give up waiting after this long (exit 3); the rollout goes on")
	f.BoolVar(&w.NoWait, "no-wait", false, "return once the service is updated, without following the rollout")
	f.BoolVar(&w.RollbackOnInterrupt, "rollback-on-interrupt", false, "on Ctrl-C, roll back to the previous task definition without asking")
}

func newDeployCmd() *cobra.Command {
	var o clientOpts
	var files []string
	var opts cli.DeployOptions
	var desired int32
	cmd := &cobra.Command{
		Use:   "deploy -f FILE [-f FILE] [--service NAME]",
		Short: "Register a task definition and roll a service to it, showing the rollout live",
		Long: `Register the task definition of the file(s), create the service or update it
to that revision, and follow the new deployment until it completes (exit 0),
fails (exit 1) or is rolled back by the circuit breaker (exit 2).

A file is a service spec ({"taskDefinition": {...}, "service": {...}}), a task
definition (as register-task-definition takes it or describe-task-definition
prints it; --service names the service), or a create-service input; JSON or
YAML, ECS's field names. See docs/cli.md.

Ctrl-C offers to roll back to the previous task definition (on a terminal),
or with --rollback-on-interrupt does it; otherwise the rollout goes on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := readSpec(files)
			if err != nil {
				return err
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("desired-count") {
				opts.DesiredCount = &desired
			}
			ctx, stop := interruptible(cmd, c)
			defer stop()
			return c.Deploy(ctx, s, opts)
		},
	}
	bindClient(cmd, &o, true)
	f := cmd.Flags()
	f.StringArrayVarP(&files, "file", "f", nil, "task definition or service file, JSON or YAML (\"-\": stdin; repeatable: a task definition and a service)")
	f.StringVar(&opts.Service, "service", "", "service to deploy to (default: the file's serviceName)")
	f.Int32Var(&desired, "desired-count", 0, "desired count (default: the file's; 1 for a new service)")
	f.BoolVar(&opts.ForceNewDeployment, "force-new-deployment", false, "start a new deployment even if nothing changed")
	bindWait(cmd, &opts.Wait)
	return cmd
}

func newRunCmd() *cobra.Command {
	var o clientOpts
	var files []string
	var taskDef string
	var opts cli.RunOptions
	cmd := &cobra.Command{
		Use:   "run (-f FILE | --task-definition FAMILY[:REV]) [--wait]",
		Short: "Run a one-off task; with --wait stream its logs and exit with its exit code",
		Long: `Run one task of a task definition: the file's (registered first) or
--task-definition's. Prints the task ID.

With --wait, stream the task's container logs as they come, wait until it
stops, and exit with its essential container's exit code (1, with the reason,
if it never ran). Ctrl-C stops the task and exits 130.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s spec.Spec
			switch {
			case taskDef != "" && len(files) > 0:
				return fmt.Errorf("--task-definition: not with -f")
			case taskDef != "":
				s.TaskDefinitionRef = taskDef
			default:
				var err error
				if s, err = readSpec(files); err != nil {
					return err
				}
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd, c)
			defer stop()
			return c.Run(ctx, s, opts)
		},
	}
	bindClient(cmd, &o, true)
	f := cmd.Flags()
	f.StringArrayVarP(&files, "file", "f", nil, "task definition file, JSON or YAML (\"-\": stdin)")
	f.StringVar(&taskDef, "task-definition", "", "run a registered task definition: family, family:revision or ARN")
	f.BoolVarP(&opts.Wait, "wait", "w", false, "stream the logs, wait for the task to stop and exit with its exit code")
	f.DurationVar(&opts.Timeout, "timeout", 0, "with --wait, give up after this long (exit 3; the task keeps running)")
	return cmd
}

func newLogsCmd() *cobra.Command {
	var o clientOpts
	var opts cli.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs SERVICE|TASK",
		Short: "Print a service's or a task's container logs",
		Long: `Print the container logs of a service's tasks (running and recently stopped,
each line prefixed with its task ID) or of one task (ID or ARN). -f keeps
printing new lines, of new tasks too, until Ctrl-C.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.TailLogs(cmd.Context(), args[0], opts)
		},
	}
	bindClient(cmd, &o, true)
	f := cmd.Flags()
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines")
	f.DurationVar(&opts.Since, "since", 0, "only lines newer than this (e.g. 10m; default: everything kept)")
	f.StringVarP(&opts.Container, "container", "c", "", "only this container's lines")
	return cmd
}

func newEventsCmd() *cobra.Command {
	var o clientOpts
	var follow bool
	cmd := &cobra.Command{
		Use:   "events SERVICE",
		Short: "Print a service's events, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.Events(cmd.Context(), args[0], follow)
		},
	}
	bindClient(cmd, &o, true)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	return cmd
}

func newScaleCmd() *cobra.Command {
	var o clientOpts
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "scale SERVICE N",
		Short: "Set a service's desired count",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("N: %q is not a count", args[1])
			}
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.Scale(cmd.Context(), args[0], int32(n), wait, timeout)
		},
	}
	bindClient(cmd, &o, true)
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until N tasks run")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Minute, "with --wait, give up after this long (exit 3)")
	return cmd
}

func newRollbackCmd() *cobra.Command {
	var o clientOpts
	var w cli.WaitOptions
	cmd := &cobra.Command{
		Use:   "rollback SERVICE",
		Short: "Roll a service back to its previous task definition and follow the rollout",
		Long: `Update the service to its previous task definition and follow that
deployment. The previous one is the task definition of the newest ACTIVE
deployment still in flight, if any; else the newest ACTIVE revision of the
same family older than the PRIMARY deployment's.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.Rollback(cmd.Context(), args[0], w)
		},
	}
	bindClient(cmd, &o, true)
	cmd.Flags().DurationVar(&w.Timeout, "timeout", 15*time.Minute, "give up waiting after this long (exit 3)")
	cmd.Flags().BoolVar(&w.NoWait, "no-wait", false, "return once the service is updated")
	return cmd
}

func newDrainCmd() *cobra.Command {
	var o clientOpts
	var undo bool
	cmd := &cobra.Command{
		Use:   "drain INSTANCE",
		Short: "Set a container instance DRAINING (its service tasks move elsewhere); --undo: ACTIVE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client(cmd)
			if err != nil {
				return err
			}
			return c.Drain(cmd.Context(), args[0], undo)
		},
	}
	bindClient(cmd, &o, true)
	cmd.Flags().BoolVar(&undo, "undo", false, "set the instance ACTIVE again")
	return cmd
}
