package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPickToStop(t *testing.T) {
	zoned := []Instance{
		inst("a1", "us-east-1a", 1024, 4000),                          // 0
		inst("a2", "us-east-1a", 1024, 4300),                          // 1
		inst("b1", "us-east-1b", 1024, 4000),                          // 2
		inst("c1", "us-east-1c", 1024, 4000),                          // 3
		drained(inst("d1", "us-east-1c", 1024, 4000), ReasonDraining), // 4
	}
	on := func(is ...int) []TaskInfo {
		var out []TaskInfo
		for _, i := range is {
			out = append(out, TaskInfo{Instance: i, CPU: 256, Memory: 512})
		}
		return out
	}
	tests := []struct {
		name       string
		tasks      []TaskInfo
		strategies []Strategy
		n          int
		want       []int
	}{
		{
			name:       "spread over zones stops in the zone with the most tasks",
			tasks:      on(1, 0, 0, 2, 3),
			strategies: []Strategy{spreadAZ},
			n:          2,
			want:       []int{0, 1},
		},
		{
			name:       "then over instances: the instance with the most tasks in that zone",
			tasks:      on(1, 0, 0, 2, 3),
			strategies: []Strategy{spreadAZ, spreadInst},
			n:          2,
			want:       []int{1, 0},
		},
		{
			name:       "spread rebalances before stopping anywhere else",
			tasks:      on(0, 1, 0, 1, 2, 3),
			strategies: ServiceDefaultStrategies(),
			n:          4,
			want:       []int{0, 1, 2, 3}, // a:4 b:1 c:1: three from a, a1 and a2 in turn; then all tie
		},
		{
			name:       "tasks on ineligible instances go first",
			tasks:      on(0, 4, 1),
			strategies: []Strategy{spreadAZ},
			n:          1,
			want:       []int{1},
		},
		{
			name:  "a task on an unknown instance counts as ineligible",
			tasks: append(on(0), TaskInfo{Instance: 9}),
			n:     1,
			want:  []int{1},
		},
		{
			name:       "binpack stops where the most memory will be free",
			tasks:      on(0, 0, 1),
			strategies: []Strategy{binpackMem},
			n:          3,
			want:       []int{2, 0, 1}, // a2: 4300+512; then a1: 4000+512, 4000+1024
		},
		{
			name: "binpack counts what earlier choices freed",
			tasks: []TaskInfo{{Instance: 0, Memory: 512}, {Instance: 0, Memory: 512}, {Instance: 1, Memory: 100},
				{Instance: 1, Memory: 100}},
			strategies: []Strategy{binpackMem},
			n:          3,
			want:       []int{0, 1, 2}, // a1 4512, then a1 5024 beats a2 4400
		},
		{
			name:       "spread then binpack",
			tasks:      on(0, 1, 1, 0, 2),
			strategies: []Strategy{spreadAZ, binpackMem},
			n:          2,
			want:       []int{1, 2}, // zone a; a2 has the most memory left
		},
		{
			name:       "random, and ties, go by list order",
			tasks:      on(3, 2, 1, 0),
			strategies: []Strategy{randomStrat, binpackMem},
			n:          2,
			want:       []int{0, 1},
		},
		{
			name:  "n beyond the tasks stops them all",
			tasks: on(0, 1),
			n:     5,
			want:  []int{0, 1},
		},
		{
			name:  "n 0",
			tasks: on(0, 1),
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PickToStop(tt.tasks, zoned, tt.strategies, tt.n)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PickToStop: got %v, want %v (-want +got):\n%s", got, tt.want, diff)
			}
		})
	}
}

// TestPickToStopProperties: PickToStop returns min(n, len) distinct tasks,
// and spreading by zone never leaves the zones further apart than
// max(1, before).
func TestPickToStopProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for it := range 1000 {
		var instances []Instance
		for i := range 1 + r.IntN(12) {
			instances = append(instances, inst(fmt.Sprintf("s%d", i), zones[r.IntN(len(zones))], int32(r.IntN(4096)), int32(r.IntN(8192))))
		}
		var tasks []TaskInfo
		for range r.IntN(40) {
			tasks = append(tasks, TaskInfo{Instance: r.IntN(len(instances)), CPU: int32(r.IntN(512)), Memory: int32(r.IntN(1024))})
		}
		n := r.IntN(len(tasks) + 3)
		strategies := []Strategy{spreadAZ}
		if r.IntN(2) == 0 {
			strategies = append(strategies, []Strategy{spreadInst, binpackMem, binpackCPU, randomStrat}[r.IntN(4)])
		}
		got := PickToStop(tasks, instances, strategies, n)
		if len(got) != min(n, len(tasks)) {
			t.Fatalf("iteration %d: got %d tasks, want %d", it, len(got), min(n, len(tasks)))
		}
		sorted := slices.Sorted(slices.Values(got))
		if len(slices.Compact(sorted)) != len(got) {
			t.Fatalf("iteration %d: got %v, want distinct tasks", it, got)
		}
		perZone := func(stopped []int) map[string]int {
			m := map[string]int{}
			for _, z := range zones {
				m[z] = 0
			}
			for i, tk := range tasks {
				if !slices.Contains(stopped, i) {
					m[instances[tk.Instance].Facts.Attributes["ecs.availability-zone"]]++
				}
			}
			return m
		}
		diff := func(m map[string]int) int {
			lo, hi := -1, 0
			for _, v := range m {
				if lo < 0 || v < lo {
					lo = v
				}
				hi = max(hi, v)
			}
			return hi - lo
		}
		before, after := perZone(nil), perZone(got)
		if diff(after) > max(1, diff(before)) {
			t.Errorf("iteration %d: zones %v after stopping %d from %v, want at most max(1, %d) apart", it, after, n, before, diff(before))
		}
	}
}
