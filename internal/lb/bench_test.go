package lb

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkProxy compares requests/s straight to a backend with requests/s
// through the LB, in the same run (compare the ratio, not the figure).
func BenchmarkProxy(b *testing.B) {
	srv := backend(b, "hello")
	l, clk := newTestLB(b)
	port := freePort(b)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	makeHealthy(l, clk)
	for _, bc := range []struct{ name, url string }{
		{"direct", srv.URL + "/"},
		{"lb", lbURL(port, "/")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 1024}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			b.SetParallelism(16)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(bc.url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}
