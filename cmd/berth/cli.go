package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/internal/cli"
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
		newPSCmd(), newInstancesCmd(),
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
