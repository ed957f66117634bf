package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/berth-io/berth/internal/cli"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-io/berth/api/exec"
)

// execFailed is berth exec's exit code when the command could not be run
// at all (as ssh uses 255), so that it differs from the command's own.
const execFailed = 255

type execOptions struct {
	conn            clientOpts
	container       string
	forceTTY, noTTY bool
}

func newExecCmd() *cobra.Command {
	var o execOptions
	cmd := &cobra.Command{
		Use:   "exec TASK [-c CONTAINER] [--cluster CLUSTER] -- COMMAND [ARG...]",
		Short: "Run a command in a running task's container (ECS ExecuteCommand)",
		Long: `Run a command in a running task's container, interactively, like
aws ecs execute-command (but without SSM): berth calls ExecuteCommand and
attaches to the session's stream on the server.

TASK is a task ID or ARN. Flags go before the --; everything after it is
the command, which runs without a shell: use
sh -c '...' for pipes and variables. With a terminal on stdin, the command
gets one too (raw mode, window size followed); -t forces one, -T refuses
one. berth exits with the command's exit code, or 255 when the command
could not be run.

The endpoint, credentials and cluster come from the flags, else the
environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, BERTH_CLUSTER), else the profile berth up writes, as for every
client command (docs/cli.md).`,
		Example: `  berth exec 0123abcd -- sh -c 'echo hi; exit 7'
  berth exec arn:aws:ecs:us-east-1:000000000000:task/prod/0123abcd --cluster prod -c web -- /bin/sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch dash := cmd.ArgsLenAtDash(); {
			case dash == 0:
				return fmt.Errorf("exec: TASK goes before --")
			case dash > 1:
				return fmt.Errorf("exec: one TASK before --, got %q", args[:dash])
			}
			command := args[1:]
			code, err := runExec(cmd.Context(), o, args[0], command)
			if err != nil && cmd.Context().Err() != nil {
				// Ctrl-C without a terminal: the session was cut.
				return &exitError{code: 130, err: errors.New("exec: interrupted")}
			}
			if err != nil {
				return &exitError{code: execFailed, err: fmt.Errorf("exec: %w", err)}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "container to run in (needed when the task has more than one)")
	f.BoolVarP(&o.forceTTY, "tty", "t", false, "run the command on a terminal even when stdin is not one")
	f.BoolVarP(&o.noTTY, "no-tty", "T", false, "never run the command on a terminal")
	bindClient(cmd, &o.conn, false)
	return cmd
}

// newECSClient builds the ECS client `berth exec` uses, as every client
// command builds it, and returns the endpoint and cluster it talks to.
func newECSClient(o execOptions) (*ecs.Client, string, string, error) {
	t, err := cli.Resolve(o.conn.flags, os.Getenv, os.UserConfigDir)
	if err != nil {
		return nil, "", "", err
	}
	client, _ := cli.New(t)
	return client, t.Endpoint, t.Cluster, nil
}

// runExec runs the command and returns its exit code.
func runExec(ctx context.Context, o execOptions, task string, command []string) (int, error) {
	if o.forceTTY && o.noTTY {
		return 0, errors.New("-t and -T: pick one")
	}
	client, endpoint, cluster, err := newECSClient(o)
	if err != nil {
		return 0, err
	}
	in := &ecs.ExecuteCommandInput{Task: aws.String(task), Command: aws.String(exec.Quote(command)), Interactive: true}
	in.Cluster = aws.String(cluster)
	if o.container != "" {
		in.Container = aws.String(o.container)
	}
	out, err := client.ExecuteCommand(ctx, in)
	if err != nil {
		return 0, err
	}
	if out.Session == nil {
		return 0, errors.New("ExecuteCommand returned no session")
	}
	streamURL, err := resolveStreamURL(endpoint, aws.ToString(out.Session.StreamUrl))
	if err != nil {
		return 0, err
	}

	stdinFd := int(os.Stdin.Fd())
	stdinTerm := term.IsTerminal(stdinFd)
	tty := (stdinTerm || o.forceTTY) && !o.noTTY
	header := http.Header{}
	sizeFd := -1
	if tty {
		header.Set(exec.HeaderTTY, "1")
		for _, fd := range []int{stdinFd, int(os.Stdout.Fd())} {
			if w, h, err := term.GetSize(fd); err == nil {
				sizeFd = fd
				header.Set(exec.HeaderSize, exec.FormatSize(uint16(h), uint16(w)))
				break
			}
		}
	}
	conn, err := exec.Dial(ctx, streamURL, aws.ToString(out.Session.TokenValue), header, nil)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // Ctrl-C without a terminal
	defer stop()

	if tty && stdinTerm {
		old, err := term.MakeRaw(stdinFd)
		if err != nil {
			return 0, fmt.Errorf("terminal raw mode: %w", err)
		}
		defer func() { _ = term.Restore(stdinFd, old) }()
	}
	w := exec.NewWriter(conn)
	if sizeFd >= 0 {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if cols, rows, err := term.GetSize(sizeFd); err == nil {
					_ = w.Resize(uint16(rows), uint16(cols))
				}
			}
		}()
	}
	go func() {
		if _, err := io.Copy(w.Stream(exec.Stdin), os.Stdin); err == nil {
			_ = w.CloseStdin()
		}
	}()
	return readSession(exec.NewReader(conn), os.Stdout, os.Stderr)
}

// readSession copies the session's output until its Exit or Error frame.
func readSession(r *exec.Reader, stdout, stderr io.Writer) (int, error) {
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			return 0, errors.New("the session ended without the command's exit status")
		}
		if err != nil {
			return 0, fmt.Errorf("session stream: %w", err)
		}
		switch f.Type {
		case exec.Stdout:
			_, _ = stdout.Write(f.Payload)
		case exec.Stderr:
			_, _ = stderr.Write(f.Payload)
		case exec.Exit:
			return f.ExitCode()
		case exec.Error:
			return 0, errors.New(string(f.Payload))
		}
	}
}

// resolveStreamURL makes the session's stream URL absolute against the
// endpoint (berth answers with a path when it cannot know its own address).
func resolveStreamURL(endpoint, stream string) (string, error) {
	base, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	u, err := url.Parse(stream)
	if err != nil || !strings.HasPrefix(u.Scheme+"://", "http") && u.Scheme != "" {
		return "", fmt.Errorf("session stream URL %q: not an http(s) URL", stream)
	}
	return base.ResolveReference(u).String(), nil
}
