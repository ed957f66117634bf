package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The placement target is ≥10,000 placements/s at 5,000 instances on a
// 2-core machine (kube-scheduler's floor at 5,000 nodes is 810 pods/s,
// Nomad's C1M about 3,750/s). Each benchmark places batches of tasks
// (RunTask's maximum count, 10, unless named otherwise) into one generated
// cluster of 30 tasks per instance on average (150,000 at 5,000
// instances), and reports placements/s and µs/placement. The cluster does
// not change between iterations: Place is pure, and every call sees the
// same state, as a controller does between two commits.

// benchCluster is the benchmarks' cluster: 30 tasks an instance over 500
// services, 2% of the instances draining or disconnected, host ports in
// use.
func benchCluster(n int) []Instance {
	return genCluster(rand.New(rand.NewPCG(1, 2)), clusterSpec{
		instances: n, tasksPerInstance: 30, groups: 500, ineligible: 0.02, ports: true,
	})
}

func BenchmarkPlace(b *testing.B) {
	cases := []struct {
		name string
		req  func(b *testing.B) Request
	}{
		{"spreadAZ+binpackMemory+memberOf", func(b *testing.B) Request {
			return Request{Count: 10, Need: Need{CPU: 256, Memory: 512}, Group: "service:s7",
				Strategies:  []Strategy{spreadAZ, binpackMem},
				Constraints: []Constraint{memberOf(b, "attribute:ecs.instance-type =~ m5.*")}}
		}},
		{"serviceDefault+distinct+taskGroup", func(b *testing.B) Request {
			return Request{Count: 10, Need: Need{CPU: 256, Memory: 512, Ports: []uint16{8080}}, Group: "service:s7",
				Strategies: ServiceDefaultStrategies(),
				Constraints: []Constraint{distinct,
					memberOf(b, "not(task:group == service:s8) and attribute:ecs.os-type == linux")}}
		}},
		{"random", func(b *testing.B) Request {
			return Request{Count: 10, Need: Need{CPU: 256, Memory: 512}, Group: "family:batch"}
		}},
		{"spreadAZ+binpackMemory+memberOf/batch100", func(b *testing.B) Request {
			return Request{Count: 100, Need: Need{CPU: 64, Memory: 128, DynamicPorts: 1}, Group: "service:s7",
				Strategies:  []Strategy{spreadAZ, binpackMem},
				Constraints: []Constraint{memberOf(b, "attribute:ecs.instance-type =~ m5.*")}}
		}},
		{"noFit", func(b *testing.B) Request {
			// Nothing has this much memory: every call explains.
			return Request{Count: 10, Need: Need{CPU: 256, Memory: 1 << 20}, Group: "service:s7",
				Strategies:  []Strategy{spreadAZ, binpackMem},
				Constraints: []Constraint{memberOf(b, "attribute:ecs.instance-type =~ m5.*")}}
		}},
	}
	for _, n := range []int{1000, 5000} {
		instances := benchCluster(n)
		for _, tc := range cases {
			for _, reuse := range []bool{false, true} {
				api := "Place"
				if reuse {
					api = "Placer"
				}
				b.Run(fmt.Sprintf("instances=%d/%s/%s", n, tc.name, api), func(b *testing.B) {
					req := tc.req(b)
					rnd := rand.New(rand.NewPCG(3, 4))
					var p Placer
					// One call before timing: the figure is the steady
					// state, not the first touch of the cluster's memory.
					p.Place(req, instances, rnd)
					placed := 0
					b.ReportAllocs()
					for b.Loop() {
						var res Result
						if reuse {
							res = p.Place(req, instances, rnd)
						} else {
							res = Place(req, instances, rnd)
						}
						placed += len(res.Placements) + len(res.Failures)
					}
					reportPlacements(b, placed)
				})
			}
		}
	}
}

// reportPlacements reports placements/s and µs/placement for placed tasks
// (placed or failed: both are decisions).
func reportPlacements(b *testing.B, placed int) {
	b.Helper()
	sec := b.Elapsed().Seconds()
	if placed == 0 || sec == 0 {
		return
	}
	b.ReportMetric(float64(placed)/sec, "placements/s")
	b.ReportMetric(sec*1e6/float64(placed), "µs/placement")
}

// BenchmarkPickToStop measures choosing 10 of a 1,500-task service's tasks
// to stop, spread by zone then instance, at 5,000 instances.
func BenchmarkPickToStop(b *testing.B) {
	instances := benchCluster(5000)
	r := rand.New(rand.NewPCG(5, 6))
	tasks := make([]TaskInfo, 1500)
	for i := range tasks {
		tasks[i] = TaskInfo{Instance: r.IntN(len(instances)), CPU: 256, Memory: 512}
	}
	strategies := ServiceDefaultStrategies()
	b.ReportAllocs()
	for b.Loop() {
		PickToStop(tasks, instances, strategies, 10)
	}
}
