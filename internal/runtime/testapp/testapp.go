// Package testapp is the program the runtime contract suite (runtimetest)
// runs inside containers. cmd/testapp wraps it as a static binary for the
// Docker and process runtimes; the fake runtime's tests run Main in-process,
// so every runtime is checked against the same behaviour.
//
// Usage: testapp <subcommand> [args]
//
//	serve [-ignore-signals]  serve HTTP on :$PORT ("/" says hello,
//	                         "/health" answers 200, "/env/NAME" echoes
//	                         $NAME); on a signal print "signal: SIGxxx"
//	                         and exit 0, or with -ignore-signals print
//	                         "signal: SIGxxx (ignored)" and keep serving
//	health                   GET http://127.0.0.1:$PORT/health; exit 0 on 200
//	exit N                   print "exit N" and exit with code N
//	echo ARGS...             print the arguments, space separated
//	print-env NAME...        print NAME=value for each name
//	nofile                   print "nofile soft=S hard=H" (RLIMIT_NOFILE)
//	stderr ARGS...           print the arguments to stderr
//	cat                      copy stdin to stdout
//	tty                      print stdin's terminal ("/dev/pts/3"), or
//	                         "not a tty" and exit 1
//	size                     for every line of stdin, print the terminal's
//	                         size as "size ROWSxCOLS"
//	repl [-c LINE]           a tiny shell for exec tests: run each line of
//	                         stdin (or LINE) as subcommands separated by
//	                         ";" (`tty; exit 3`); `exit N` ends it with N
package testapp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// System is what Main needs from its environment, so that it runs the same
// as a process and inside a fake container.
type System struct {
	Getenv func(string) string
	Stdout io.Writer
	// Signals delivers the names of the signals the program receives
	// ("SIGTERM"); nil for a program that receives none.
	Signals <-chan string
	Listen  func(network, address string) (net.Listener, error)
	// Nofile reports the RLIMIT_NOFILE limits.
	Nofile func() (soft, hard uint64, err error)
	// Stdin and Stderr are the program's other streams; nil reads
	// nothing and discards.
	Stdin  io.Reader
	Stderr io.Writer
	// Terminal names stdin's terminal and its size; an error when stdin
	// is not one. Nil means never a terminal.
	Terminal func() (name string, rows, cols int, err error)
}

// Main runs the subcommand in args[0] and returns the exit code. A done ctx
// means the program was killed; Main then returns 137.
func Main(ctx context.Context, args []string, sys System) int {
	if len(args) == 0 {
		fmt.Fprintln(sys.Stdout, "usage: testapp serve|health|exit|echo|print-env|nofile|stderr|cat|tty|size|repl [args]")
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, sys)
	case "health":
		return health(ctx, sys)
	case "exit":
		if len(rest) != 1 {
			fmt.Fprintln(sys.Stdout, "usage: testapp exit N")
			return 2
		}
		n, err := strconv.Atoi(rest[0])
		if err != nil {
			fmt.Fprintf(sys.Stdout, "exit: %v\n", err)
			return 2
		}
		fmt.Fprintf(sys.Stdout, "exit %d\n", n)
		return n
	case "echo":
		fmt.Fprintln(sys.Stdout, strings.Join(rest, " "))
		return 0
	case "print-env":
		for _, name := range rest {
			fmt.Fprintf(sys.Stdout, "%s=%s\n", name, sys.Getenv(name))
		}
		return 0
	case "nofile":
		soft, hard, err := sys.Nofile()
		if err != nil {
			fmt.Fprintf(sys.Stdout, "nofile: %v\n", err)
			return 1
		}
		fmt.Fprintf(sys.Stdout, "nofile soft=%d hard=%d\n", soft, hard)
		return 0
	case "stderr":
		if sys.Stderr != nil {
			fmt.Fprintln(sys.Stderr, strings.Join(rest, " "))
		}
		return 0
	case "cat":
		if sys.Stdin != nil {
			if _, err := io.Copy(sys.Stdout, sys.Stdin); err != nil {
				fmt.Fprintf(sys.Stdout, "cat: %v\n", err)
				return 1
			}
		}
		return 0
	case "tty":
		name, _, _, err := terminal(sys)
		if err != nil {
			fmt.Fprintln(sys.Stdout, "not a tty")
			return 1
		}
		fmt.Fprintln(sys.Stdout, name)
		return 0
	case "size":
		return eachLine(sys, func(string) int {
			if _, rows, cols, err := terminal(sys); err != nil {
				fmt.Fprintln(sys.Stdout, "not a tty")
			} else {
				fmt.Fprintf(sys.Stdout, "size %dx%d\n", rows, cols)
			}
			return -1
		})
	case "repl":
		if len(rest) == 2 && rest[0] == "-c" {
			if code := runLine(ctx, rest[1], sys); code >= 0 {
				return code
			}
			return 0
		}
		return eachLine(sys, func(line string) int { return runLine(ctx, line, sys) })
	default:
		fmt.Fprintf(sys.Stdout, "testapp: unknown subcommand %q\n", cmd)
		return 2
	}
}

// runLine runs the ";"-separated subcommands of a repl line; it returns
// the code of an `exit`, else -1.
func runLine(ctx context.Context, line string, sys System) int {
	for part := range strings.SplitSeq(line, ";") {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		if words[0] == "exit" { // as a shell's: no output
			if n, err := strconv.Atoi(strings.Join(words[1:], "")); err == nil {
				return n
			}
			return 0
		}
		Main(ctx, words, sys)
	}
	return -1
}

func terminal(sys System) (string, int, int, error) {
	if sys.Terminal == nil {
		return "", 0, 0, errors.New("not a terminal")
	}
	return sys.Terminal()
}

// eachLine calls fn for every line of stdin until fn returns a code >= 0,
// which eachLine returns; at the end of stdin it returns 0.
func eachLine(sys System, fn func(line string) int) int {
	if sys.Stdin == nil {
		return 0
	}
	sc := bufio.NewScanner(sys.Stdin)
	for sc.Scan() {
		if code := fn(strings.TrimRight(sc.Text(), "\r")); code >= 0 {
			return code
		}
	}
	return 0
}

func port(sys System) string {
	if p := sys.Getenv("PORT"); p != "" {
		return p
	}
	return "8080"
}

func serve(ctx context.Context, args []string, sys System) int {
	ignore := len(args) == 1 && args[0] == "-ignore-signals"
	if len(args) > 0 && !ignore {
		fmt.Fprintln(sys.Stdout, "usage: testapp serve [-ignore-signals]")
		return 2
	}
	// $HOST is the address the process runtime wants bound; in a container
	// it is unset and the app listens on every interface of its namespace.
	ln, err := sys.Listen("tcp", sys.Getenv("HOST")+":"+port(sys))
	if err != nil {
		fmt.Fprintf(sys.Stdout, "serve: %v\n", err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from testapp")
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/env/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sys.Getenv(r.PathValue("name")))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(sys.Stdout, "listening on %s\n", ln.Addr())
	for {
		select {
		case <-ctx.Done():
			_ = srv.Close()
			return 137
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(sys.Stdout, "serve: %v\n", err)
			}
			return 1
		case sig := <-sys.Signals:
			if ignore {
				fmt.Fprintf(sys.Stdout, "signal: %s (ignored)\n", sig)
				continue
			}
			fmt.Fprintf(sys.Stdout, "signal: %s\n", sig)
			_ = srv.Close()
			return 0
		}
	}
}

func health(ctx context.Context, sys System) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port(sys)+"/health", nil)
	if err != nil {
		fmt.Fprintf(sys.Stdout, "health: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(sys.Stdout, "health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(sys.Stdout, "health: %s\n", resp.Status)
		return 1
	}
	fmt.Fprintln(sys.Stdout, "health: ok")
	return 0
}
