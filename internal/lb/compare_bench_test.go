package lb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binaries used by BenchmarkCompareProxies (Debian paths).
const (
	wrkBin     = "/usr/bin/wrk"
	haproxyBin = "/usr/sbin/haproxy"
	nginxBin   = "/usr/sbin/nginx"
)

// Load used for every proxy: the same wrk run against each, one at a time.
const wrkSeconds = 5 // wrkLoad's -d

var (
	wrkLoad   = []string{"-t2", "-c64", "-d5s", "--latency"}
	wrkWarmup = []string{"-t2", "-c64", "-d1s"}
)

// wrkResult is what we keep of one wrk run.
type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	errs     string // socket errors / non-2xx lines, if any
}

// BenchmarkCompareProxies measures the same wrk load against a backend
// directly, through berth's LB, through HAProxy and through nginx, in one
// run, and checks the LB target from docs/targets.md: ≥70% of HAProxy's
// requests/s and p99 within 1.5× HAProxy's. It never fails on figures;
// proxies whose binary is absent are skipped (apt-get install -y haproxy
// nginx-light; wrk is apt-get install -y wrk).
func BenchmarkCompareProxies(b *testing.B) {
	if _, err := os.Stat(wrkBin); err != nil {
		b.Skipf("wrk not found at %s (apt-get install -y wrk): %v", wrkBin, err)
	}
	// The backend runs in a process of its own, as a task would: in the
	// benchmark's process it would share berth's Go scheduler and heap but
	// not HAProxy's or nginx's, which would load the comparison.
	target, backendPgid, err := startBackendProcess(b)
	if err != nil {
		b.Fatalf("start backend: %v", err)
	}

	type entry struct {
		name string
		res  *wrkResult
		cpu  time.Duration // CPU time per request of the proxy (the backend for direct)
		note string
	}
	var rows []entry
	cpuOf := map[string]time.Duration{}
	// measure runs the load against url; cpu reads the CPU time used so
	// far by whatever is measured. CPU per request is the figure least
	// disturbed by other load on the machine.
	measure := func(name, url string, cpu func() time.Duration) *wrkResult {
		b.Helper()
		if _, err := runWrk(b, url, wrkWarmup); err != nil {
			rows = append(rows, entry{name: name, note: "warm-up failed: " + err.Error()})
			return nil
		}
		before := cpu()
		r, err := runWrk(b, url, wrkLoad)
		if err != nil {
			rows = append(rows, entry{name: name, note: err.Error()})
			return nil
		}
		perReq := time.Duration(float64(cpu()-before) / (r.rps * wrkSeconds))
		rows = append(rows, entry{name: name, res: r, cpu: perReq, note: r.errs})
		cpuOf[name] = perReq
		return r
	}

	// (1) backend directly.
	measure("direct", "http://"+target+"/", func() time.Duration { return groupCPU(backendPgid) })

	// (2) berth's LB, on the wall clock with fast health checks.
	berthURL, err := startBerth(b, target)
	var berth *wrkResult
	if err != nil {
		rows = append(rows, entry{name: "berth", note: "not started: " + err.Error()})
	} else {
		berth = measure("berth", berthURL, selfCPU) // the backend is another process
	}

	// (3) HAProxy.
	var haproxy *wrkResult
	if _, err := os.Stat(haproxyBin); err != nil {
		b.Logf("skipping HAProxy: %s absent (apt-get install -y haproxy)", haproxyBin)
		rows = append(rows, entry{name: "haproxy", note: "skipped: binary absent (apt-get install -y haproxy)"})
	} else if url, pgid, err := startHAProxy(b, target); err != nil {
		rows = append(rows, entry{name: "haproxy", note: "not started: " + err.Error()})
	} else {
		haproxy = measure("haproxy", url, func() time.Duration { return groupCPU(pgid) })
	}

	// (4) nginx.
	if _, err := os.Stat(nginxBin); err != nil {
		b.Logf("skipping nginx: %s absent (apt-get install -y nginx-light)", nginxBin)
		rows = append(rows, entry{name: "nginx", note: "skipped: binary absent (apt-get install -y nginx-light)"})
	} else if url, pgid, err := startNginx(b, target); err != nil {
		rows = append(rows, entry{name: "nginx", note: "not started: " + err.Error()})
	} else {
		measure("nginx", url, func() time.Duration { return groupCPU(pgid) })
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "\nwrk %s, one Go backend, each proxy measured alone (1 s warm-up first)\n", strings.Join(wrkLoad, " "))
	fmt.Fprintf(&sb, "%-8s %12s %10s %10s %12s  %s\n", "proxy", "requests/s", "p50", "p99", "CPU/request", "notes")
	for _, r := range rows {
		if r.res == nil {
			fmt.Fprintf(&sb, "%-8s %12s %10s %10s %12s  %s\n", r.name, "-", "-", "-", "-", strings.Join(strings.Fields(r.note), " "))
			continue
		}
		fmt.Fprintf(&sb, "%-8s %12.0f %10s %10s %10.1fµs  %s\n", r.name, r.res.rps, fmtDur(r.res.p50), fmtDur(r.res.p99), float64(r.cpu.Nanoseconds())/1000, r.note)
	}
	if berth != nil {
		b.ReportMetric(berth.rps, "berth-req/s")
		b.ReportMetric(float64(berth.p50.Microseconds())/1000, "berth-p50-ms")
		b.ReportMetric(float64(berth.p99.Microseconds())/1000, "berth-p99-ms")
	}
	if berth != nil && haproxy != nil && haproxy.rps > 0 && haproxy.p99 > 0 {
		rpsRatio := berth.rps / haproxy.rps
		p99Ratio := float64(berth.p99) / float64(haproxy.p99)
		fmt.Fprintf(&sb, "berth/haproxy req/s: %.2f (target >= 0.70: %s)\n", rpsRatio, met(rpsRatio >= 0.70))
		fmt.Fprintf(&sb, "berth/haproxy p99:   %.2f (target <= 1.50: %s)\n", p99Ratio, met(p99Ratio <= 1.50))
		if cpuOf["haproxy"] > 0 {
			fmt.Fprintf(&sb, "berth/haproxy CPU per request: %.2f (not a target; the figure other load on the machine disturbs least)\n",
				float64(cpuOf["berth"])/float64(cpuOf["haproxy"]))
		}
		b.ReportMetric(rpsRatio, "berth/haproxy-req/s")
		b.ReportMetric(p99Ratio, "berth/haproxy-p99")
	} else {
		sb.WriteString("berth/haproxy ratios: not available (berth or HAProxy not measured)\n")
	}
	fmt.Print(sb.String())
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// groupCPU is the CPU time used by the live processes of process group
// pgid (nginx's master and workers), from /proc.
func groupCPU(pgid int) time.Duration {
	tick := 10 * time.Millisecond // USER_HZ 100 on Linux
	var total time.Duration
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		// After "pid (comm) ": state ppid pgrp session tty tpgid flags
		// minflt cminflt majflt cmajflt utime stime.
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		u, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		total += time.Duration(u+st) * tick
	}
	return total
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

// benchBackendEnv, when set, makes TestBenchBackendProcess serve as the
// benchmark's backend instead of skipping.
const benchBackendEnv = "BERTH_LB_BENCH_BACKEND"

// TestBenchBackendProcess is not a test: it is BenchmarkCompareProxies's
// backend, run in a child process. It prints its address, then answers
// "hello, world\n" until killed.
func TestBenchBackendProcess(t *testing.T) {
	if os.Getenv(benchBackendEnv) == "" {
		t.Skip("the benchmark's backend process; runs only under BenchmarkCompareProxies")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello, world\n")
	}))
}

// startBackendProcess runs TestBenchBackendProcess in a child process of
// this test binary and returns its address and process group. Stopped at
// cleanup.
func startBackendProcess(b *testing.B) (string, int, error) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchBackendProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchBackendEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, err
	}
	exited, err := startChild(b, cmd, filepath.Join(b.TempDir(), "backend.err"), stdout)
	if err != nil {
		return "", 0, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return "", 0, fmt.Errorf("read backend address: %w", err)
	}
	addr := strings.TrimSpace(line)
	if err := waitHTTP("http://"+addr+"/", exited); err != nil {
		return "", 0, err
	}
	return addr, cmd.Process.Pid, nil
}

// startBerth runs an LB forwarding a fresh listener to target, waits until
// the target is healthy and returns the listener's URL. Stopped at cleanup.
func startBerth(b *testing.B, target string) (string, error) {
	b.Helper()
	l := New(Options{})
	port := freePort(b)
	err := l.Apply(Config{
		Listeners: []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{
			Name:    "tg",
			Targets: []string{target},
			HealthCheck: HealthCheck{
				Interval:         250 * time.Millisecond,
				Timeout:          250 * time.Millisecond,
				HealthyThreshold: 2,
			},
		}},
	})
	if err != nil {
		l.Close()
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(ctx) // closes l when ctx is done
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		l.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := l.TargetHealth("tg")
		if len(st) == 1 && st[0].State == StateHealthy {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("target not healthy after 10 s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := lbURL(port, "/")
	if err := waitHTTP(url, nil); err != nil {
		return "", err
	}
	return url, nil
}

// startHAProxy runs HAProxy in the foreground with a config forwarding a
// free port to target, and returns its URL and process group. Stopped at cleanup.
func startHAProxy(b *testing.B, target string) (string, int, error) {
	b.Helper()
	dir := b.TempDir()
	port := freePort(b)
	cfg := fmt.Sprintf(`global
	nbthread 2
	maxconn 4096

defaults
	mode http
	option http-keep-alive
	http-reuse always
	timeout connect 5s
	timeout client 30s
	timeout server 30s

frontend fe
	bind 127.0.0.1:%d
	default_backend be

backend be
	http-reuse always
	server s1 %s
`, port, target)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", 0, err
	}
	cmd := exec.Command(haproxyBin, "-f", path, "-db")
	exited, err := startChild(b, cmd, filepath.Join(dir, "haproxy.out"), nil)
	if err != nil {
		return "", 0, err
	}
	url := lbURL(port, "/")
	if err := waitHTTP(url, exited); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "haproxy.out"))
		return "", 0, fmt.Errorf("%v; output: %s", err, bytes.TrimSpace(out))
	}
	return url, cmd.Process.Pid, nil
}

// startNginx runs nginx (master + 2 workers, not daemonized) from a temp
// prefix, proxying a free port to target, and returns its URL. Stopped at
// cleanup.
func startNginx(b *testing.B, target string) (string, int, error) {
	b.Helper()
	dir := b.TempDir()
	port := freePort(b)
	cfg := fmt.Sprintf(`worker_processes 2;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;

events {
	worker_connections 4096;
}

http {
	access_log off;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;

	upstream be {
		server %[3]s;
		keepalive 64;
	}

	server {
		listen 127.0.0.1:%[2]d;
		location / {
			proxy_pass http://be;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
`, dir, port, target)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", 0, err
	}
	cmd := exec.Command(nginxBin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	exited, err := startChild(b, cmd, filepath.Join(dir, "nginx.out"), nil)
	if err != nil {
		return "", 0, err
	}
	url := lbURL(port, "/")
	if err := waitHTTP(url, exited); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "nginx.out"))
		logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return "", 0, fmt.Errorf("%v; output: %s %s", err, bytes.TrimSpace(out), bytes.TrimSpace(logs))
	}
	return url, cmd.Process.Pid, nil
}

// startChild starts cmd in its own process group with output to outPath
// (stderr only if stdout is a pipe the caller reads), and registers a
// cleanup that stops it: SIGTERM to the group, then SIGKILL to the group
// after 5 s. The returned channel is closed when it exits.
func startChild(b *testing.B, cmd *exec.Cmd, outPath string, stdout io.Reader) (<-chan struct{}, error) {
	b.Helper()
	out, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	if stdout == nil {
		cmd.Stdout = out
	}
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(exited)
	}()
	pgid := cmd.Process.Pid
	b.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		// Workers left behind by a master that died first.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return exited, nil
}

// waitHTTP polls url until it answers 200, the process behind it exits
// (exited closed), or 10 s pass.
func waitHTTP(url string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("process exited before answering")
		default:
		}
		code, _, err := get(c, url)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %d", code)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not answering 200 after 10 s: %v", url, last)
}

// runWrk runs wrk with args against url and parses its output.
func runWrk(b *testing.B, url string, args []string) (*wrkResult, error) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrkBin, append(append([]string{}, args...), url)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v: %s", err, bytes.TrimSpace(out))
	}
	return parseWrk(out)
}

// parseWrk reads Requests/sec, the 50% and 99% latency lines, and any
// error lines from wrk's output.
func parseWrk(out []byte) (*wrkResult, error) {
	r := &wrkResult{}
	var errs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("parse %q: %v", line, err)
			}
			r.rps = v
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return nil, fmt.Errorf("parse %q: %v", line, err)
			}
			if f[0] == "50%" {
				r.p50 = d
			} else {
				r.p99 = d
			}
		case strings.HasPrefix(line, "Socket errors:"), strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			errs = append(errs, line)
		}
	}
	if r.rps == 0 {
		return nil, fmt.Errorf("no Requests/sec in wrk output: %s", bytes.TrimSpace(out))
	}
	r.errs = strings.Join(errs, "; ")
	return r, nil
}
