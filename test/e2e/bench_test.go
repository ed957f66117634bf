package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// Benchmark shape: benchClients concurrent signed SDK clients share each
// batch of requests. One benchmark iteration is one batch, so
// -benchtime=1x measures exactly one batch and the default benchtime
// measures as many batches as fit.
const (
	benchClients    = 8
	benchReadBatch  = 2000 // DescribeServices per iteration
	benchWriteBatch = 500  // RegisterTaskDefinition per iteration
)

// Targets from docs (printed beside the figures; never enforced).
const (
	targetDescribeRPS = 5000
	targetWriteP99    = 50 * time.Millisecond
	targetMotoRatio   = 10
)

// benchResult is one measured batch series.
type benchResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	// CPU time spent per request by the server process and by this (load
	// generating) process; both share the machine's cores. 0 if unknown.
	serverCPU, clientCPU time.Duration
}

func (r benchResult) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// BenchmarkAPI measures berth and moto_server side by side on the same
// machine in the same run: DescribeServices (read) and
// RegisterTaskDefinition (write, fsynced on berth).
func BenchmarkAPI(b *testing.B) {
	results := map[string]map[string]benchResult{} // backend -> op -> result
	var mu sync.Mutex
	record := func(backend, op string, r benchResult) {
		mu.Lock()
		defer mu.Unlock()
		if results[backend] == nil {
			results[backend] = map[string]benchResult{}
		}
		results[backend][op] = r
	}

	b.Run("berth", func(b *testing.B) {
		srv := startServer(b, serverOptions{})
		benchBackend(b, "berth", srv.endpoint, srv.creds(), srv.cmd.Process.Pid, record)
	})
	b.Run("moto", func(b *testing.B) {
		endpoint, pid := startMoto(b)
		benchBackend(b, "moto", endpoint, aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, pid, record)
	})
	printBenchTable(results)
}

// benchBackend seeds a cluster, task definition and service, then runs the
// per-operation sub-benchmarks.
func benchBackend(b *testing.B, backend, endpoint string, creds aws.Credentials, pid int, record func(backend, op string, r benchResult)) {
	clients := make([]*ecs.Client, benchClients)
	for i := range clients {
		clients[i] = newECSClient(endpoint, creds, nil)
	}
	ctx := ctxT(b)
	c := clients[0]
	seedErr := func() error {
		if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
			return err
		}
		if _, err := c.RegisterTaskDefinition(ctx, smallTaskDefinitionInput("bench-svc", 128, 128)); err != nil {
			return err
		}
		_, err := c.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String("bench"), ServiceName: aws.String("web"), TaskDefinition: aws.String("bench-svc"), DesiredCount: aws.Int32(0),
		})
		return err
	}()

	b.Run("DescribeServices", func(b *testing.B) {
		if seedErr != nil {
			b.Fatalf("seed cluster, task definition and service: %v", seedErr)
		}
		in := &ecs.DescribeServicesInput{Cluster: aws.String("bench"), Services: []string{"web"}}
		r := measure(b, clients, pid, benchReadBatch, func(ctx context.Context, c *ecs.Client, _ int) error {
			out, err := c.DescribeServices(ctx, in)
			if err == nil && len(out.Services) != 1 {
				err = fmt.Errorf("DescribeServices: %d services, failures %+v", len(out.Services), out.Failures)
			}
			return err
		})
		record(backend, "DescribeServices", r)
	})
	b.Run("RegisterTaskDefinition", func(b *testing.B) {
		in := smallTaskDefinitionInput("bench-write", 128, 128)
		r := measure(b, clients, pid, benchWriteBatch, func(ctx context.Context, c *ecs.Client, _ int) error {
			_, err := c.RegisterTaskDefinition(ctx, in)
			return err
		})
		record(backend, "RegisterTaskDefinition", r)
	})
}

// measure runs b.N batches of batch calls spread over the clients and
// reports requests/s, latency percentiles and the CPU time the server
// (process pid) and the clients used per request. It stops at the first
// error.
func measure(b *testing.B, clients []*ecs.Client, pid, batch int, call func(context.Context, *ecs.Client, int) error) benchResult {
	total := b.N * batch
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx := ctxT(b)

	srvCPU0, srvOK := processCPU(pid)
	cliCPU0 := selfCPU()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				t0 := time.Now()
				err := call(ctx, c, i)
				lat[i] = time.Since(t0)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(total)) // stop everyone
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	srvCPU1, srvOK1 := processCPU(pid)
	cliCPU := selfCPU() - cliCPU0
	if firstErr != nil {
		b.Fatalf("request failed: %v", firstErr)
	}

	slices.Sort(lat)
	r := benchResult{requests: total, elapsed: elapsed, p50: percentile(lat, 50), p99: percentile(lat, 99), clientCPU: cliCPU / time.Duration(total)}
	if srvOK && srvOK1 {
		r.serverCPU = (srvCPU1 - srvCPU0) / time.Duration(total)
		b.ReportMetric(float64(r.serverCPU)/float64(time.Microsecond), "srv-cpu-us/req")
	}
	b.ReportMetric(float64(r.clientCPU)/float64(time.Microsecond), "cli-cpu-us/req")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(total), "ns/op")
	b.ReportMetric(r.rps(), "req/s")
	b.ReportMetric(ms(r.p50), "p50-ms")
	b.ReportMetric(ms(r.p99), "p99-ms")
	return r
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printBenchTable prints berth and moto side by side with the targets.
func printBenchTable(results map[string]map[string]benchResult) {
	fmt.Printf("\nAPI benchmark: %d concurrent signed aws-sdk-go-v2 clients; %d reads / %d writes per iteration; same machine, same run\n",
		benchClients, benchReadBatch, benchWriteBatch)
	fmt.Printf("%-24s %-6s %12s %9s %9s %14s %14s\n", "operation", "server", "req/s", "p50 ms", "p99 ms", "srv CPU us/req", "cli CPU us/req")
	for _, op := range []string{"DescribeServices", "RegisterTaskDefinition"} {
		for _, backend := range []string{"berth", "moto"} {
			r, found := results[backend][op]
			if !found {
				fmt.Printf("%-24s %-6s %12s %9s %9s\n", op, backend, "-", "-", "-")
				continue
			}
			fmt.Printf("%-24s %-6s %12.0f %9.2f %9.2f %14.0f %14.0f\n", op, backend, r.rps(), ms(r.p50), ms(r.p99),
				float64(r.serverCPU)/float64(time.Microsecond), float64(r.clientCPU)/float64(time.Microsecond))
		}
		be, okB := results["berth"][op]
		mo, okM := results["moto"][op]
		if okB && okM {
			fmt.Printf("%-24s %-6s %11.1fx %8.1fx %8.1fx   (req/s: berth/moto; latency: moto/berth)\n", op, "ratio",
				be.rps()/mo.rps(), float64(mo.p50)/float64(be.p50), float64(mo.p99)/float64(be.p99))
		}
	}
	fmt.Printf("(the load generator runs on the same %d cores: at ~5,000 req/s its CPU share caps what the server can show)\n", runtime.NumCPU())
	fmt.Println("targets:")
	verdict := func(met bool, have bool) string {
		switch {
		case !have:
			return "not measured"
		case met:
			return "met"
		}
		return "NOT met"
	}
	line := func(target, verdict string) { fmt.Printf("  %-50s %s\n", target, verdict) }
	ds, haveDS := results["berth"]["DescribeServices"]
	line(fmt.Sprintf("berth DescribeServices >= %d req/s", targetDescribeRPS), verdict(haveDS && ds.rps() >= targetDescribeRPS, haveDS))
	w, haveW := results["berth"]["RegisterTaskDefinition"]
	line(fmt.Sprintf("berth write (RegisterTaskDefinition) p99 <= %v", targetWriteP99), verdict(haveW && w.p99 <= targetWriteP99, haveW))
	for _, op := range []string{"DescribeServices", "RegisterTaskDefinition"} {
		be, okB := results["berth"][op]
		mo, okM := results["moto"][op]
		line(fmt.Sprintf("%s >= %dx moto_server req/s", op, targetMotoRatio), verdict(okB && okM && be.rps() >= targetMotoRatio*mo.rps(), okB && okM))
	}
	fmt.Println()
}

// processCPU returns the user+system CPU time process pid has used, from
// /proc (Linux); ok is false elsewhere.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the ")" that ends the command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (USER_HZ, 100).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const tick = 10 * time.Millisecond
	return time.Duration(ut+st) * tick, true
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startMoto starts moto_server on a free loopback port and returns its
// endpoint and pid; the benchmark is skipped if moto_server is not installed.
func startMoto(b *testing.B) (string, int) {
	b.Helper()
	path, err := exec.LookPath("moto_server")
	if err != nil {
		if home, herr := os.UserHomeDir(); herr == nil && fileExists(home+"/.pyenv/shims/moto_server") {
			path, err = home+"/.pyenv/shims/moto_server", nil
		}
	}
	if err != nil {
		b.Skip("moto_server not installed (pip install 'moto[server]'); skipping the moto half of the comparison")
	}
	port := freePort(b)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start moto_server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	endpoint := "http://" + addr
	c := newECSClient(endpoint, aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
		cancel()
		if err == nil {
			return endpoint, cmd.Process.Pid
		}
		select {
		case <-exited:
			b.Fatalf("moto_server exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("moto_server not answering on %s after 30s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
