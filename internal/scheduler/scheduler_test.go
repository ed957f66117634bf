package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func arn(id string) string { return inst(id, "", 0, 0).ARN }

func drained(in Instance, reason string) Instance {
	in.Eligible, in.IneligibleReason = false, reason
	return in
}

func withPorts(in Instance, tcp, udp []uint16) Instance {
	in.TakenPorts, in.TakenUDPPorts = map[uint16]bool{}, map[uint16]bool{}
	for _, p := range tcp {
		in.TakenPorts[p] = true
	}
	for _, p := range udp {
		in.TakenUDPPorts[p] = true
	}
	return in
}

func withAttr(in Instance, name, value string) Instance {
	in.Facts.Attributes = cloneMap(in.Facts.Attributes)
	in.Facts.Attributes[name] = value
	return in
}

// TestPlace pins exact results. Most cases use a nil rnd, which takes the
// first of tied instances in slice order, so the strategies' effect reads
// directly off the placements.
func TestPlace(t *testing.T) {
	need := Need{CPU: 256, Memory: 512}
	big := func(id string) Instance { return inst(id, "", 4096, 8192) }
	tests := []struct {
		name      string
		instances []Instance
		req       Request
		want      Result
	}{
		{
			name:      "binpack memory fills the fullest instance first, until it does not fit",
			instances: []Instance{inst("a", "", 4096, 4096), inst("b", "", 4096, 2048), inst("c", "", 4096, 3072)},
			req:       Request{Count: 9, Need: Need{CPU: 1, Memory: 1024}, Strategies: []Strategy{binpackMem}},
			want:      Result{Placements: []int{1, 1, 2, 2, 2, 0, 0, 0, 0}},
		},
		{
			name:      "binpack cpu",
			instances: []Instance{inst("a", "", 1024, 8192), inst("b", "", 512, 8192)},
			req:       Request{Count: 4, Need: Need{CPU: 256, Memory: 1}, Strategies: []Strategy{binpackCPU}},
			want:      Result{Placements: []int{1, 1, 0, 0}},
		},
		{
			name: "spread on instanceId counts the group's existing tasks",
			instances: []Instance{withTasks(big("a"), "service:web", 2), big("b"),
				withTasks(withTasks(big("c"), "service:web", 1), "service:db", 5)},
			req:  Request{Count: 3, Need: need, Group: "service:web", Strategies: []Strategy{spreadInst}},
			want: Result{Placements: []int{1, 1, 2}},
		},
		{
			name: "spread over zones, then binpack memory within the zone",
			instances: []Instance{inst("a1", "us-east-1a", 4096, 1024), inst("a2", "us-east-1a", 4096, 4096),
				inst("b1", "us-east-1b", 4096, 2048), inst("b2", "us-east-1b", 4096, 8192)},
			req:  Request{Count: 6, Need: need, Group: "service:web", Strategies: []Strategy{spreadAZ, binpackMem}},
			want: Result{Placements: []int{0, 2, 0, 2, 2, 1}},
		},
		{
			name: "instances without the spread attribute form their own bucket",
			instances: []Instance{withAttr(big("a"), "rack", "r1"), withAttr(big("b"), "rack", "r1"), big("c"),
				withAttr(big("d"), "rack", "r2")},
			req: Request{Count: 4, Need: need, Group: "service:web",
				Strategies: []Strategy{{Type: StrategySpread, Field: "attribute:rack"}, spreadInst}},
			want: Result{Placements: []int{0, 2, 3, 1}},
		},
		{
			name:      "strategies after random are moot",
			instances: []Instance{inst("a", "", 4096, 8192), inst("b", "", 4096, 1024)},
			req:       Request{Count: 1, Need: need, Strategies: []Strategy{randomStrat, binpackMem}},
			want:      Result{Placements: []int{0}}, // nil rnd: the first
		},
		{
			name:      "distinctInstance: one task per instance, then failures",
			instances: []Instance{big("a"), big("b"), big("c")},
			req:       Request{Count: 5, Need: need, Group: "service:web", Constraints: []Constraint{distinct}},
			want: Result{Placements: []int{0, 1, 2}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonDistinctInstance, Detail: "got a task of this call already (distinctInstance)"},
				{ARN: arn("a"), Reason: ReasonDistinctInstance, Detail: "got a task of this call already (distinctInstance)"},
			}},
		},
		{
			name:      "distinctInstance skips instances already running the group",
			instances: []Instance{withTasks(big("a"), "service:web", 1), big("b")},
			req:       Request{Count: 2, Need: need, Group: "service:web", Constraints: []Constraint{distinct}},
			want: Result{Placements: []int{1}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonDistinctInstance, Detail: "already runs a task of service:web (distinctInstance)"},
			}},
		},
		{
			name:      "memberOf on an attribute",
			instances: []Instance{withAttr(big("a"), "ecs.instance-type", "t3.micro"), withAttr(big("b"), "ecs.instance-type", "m5.xlarge")},
			req:       Request{Count: 2, Need: need, Constraints: []Constraint{memberOf(t, "attribute:ecs.instance-type =~ m5.*")}},
			want:      Result{Placements: []int{1, 1}},
		},
		{
			name:      "memberOf task:group places beside another service",
			instances: []Instance{big("a"), withTasks(big("b"), "service:db", 1), big("c")},
			req:       Request{Count: 2, Need: need, Group: "service:web", Constraints: []Constraint{memberOf(t, "task:group == service:db")}},
			want:      Result{Placements: []int{1, 1}},
		},
		{
			name:      "memberOf task:group sees the tasks placed earlier in the call",
			instances: []Instance{big("a"), big("b")},
			req: Request{Count: 3, Need: need, Group: "service:web",
				Constraints: []Constraint{memberOf(t, "not(task:group == service:web)")}},
			want: Result{Placements: []int{0, 1}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonMemberOf, Detail: "does not satisfy memberOf(not(task:group == service:web))"},
			}},
		},
		{
			name:      "memberOf task:group of the request's own group",
			instances: []Instance{big("a"), withTasks(big("b"), "service:web", 1)},
			req: Request{Count: 2, Need: need, Group: "service:web", Strategies: []Strategy{spreadInst},
				Constraints: []Constraint{memberOf(t, "task:group == service:web")}},
			want: Result{Placements: []int{1, 1}},
		},
		{
			name:      "a static TCP port in use",
			instances: []Instance{withPorts(big("a"), []uint16{80}, nil), big("b")},
			req:       Request{Count: 2, Need: Need{CPU: 256, Memory: 512, Ports: []uint16{80}}},
			want: Result{Placements: []int{1}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonPorts, Detail: "host port 80/tcp is in use"},
			}},
		},
		{
			name:      "a static port taken by a task of the same call",
			instances: []Instance{big("a")},
			req:       Request{Count: 2, Need: Need{CPU: 256, Memory: 512, Ports: []uint16{80}}},
			want: Result{Placements: []int{0}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonPorts, Detail: "host port 80/tcp is taken by a task of this call"},
			}},
		},
		{
			name:      "TCP and UDP ports are apart",
			instances: []Instance{withPorts(big("a"), []uint16{53}, nil)},
			req:       Request{Count: 1, Need: Need{CPU: 256, Memory: 512, UDPPorts: []uint16{53}}},
			want:      Result{Placements: []int{0}},
		},
		{
			name:      "a static UDP port in use",
			instances: []Instance{withPorts(big("a"), []uint16{53}, []uint16{53})},
			req:       Request{Count: 1, Need: Need{CPU: 256, Memory: 512, Ports: []uint16{54}, UDPPorts: []uint16{53}}},
			want: Result{Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonPortsUDP, Detail: "host port 53/udp is in use"},
			}},
		},
		{
			name: "dynamic ports run out",
			instances: func() []Instance {
				in := big("a")
				in.TakenPorts = fullRange() // 2 ports left
				return []Instance{in}
			}(),
			req: Request{Count: 3, Need: Need{CPU: 256, Memory: 512, DynamicPorts: 1}},
			want: Result{Placements: []int{0, 0}, Failures: []Failure{
				{ARN: arn("a"), Reason: ReasonPorts, Detail: "needs 1 dynamic host port(s)/tcp, too few free in 49153-65535"},
			}},
		},
		{
			name:      "memory is what the caller passes: the reservation when there is no hard limit",
			instances: []Instance{inst("a", "", 4096, 300)},
			req:       Request{Count: 1, Need: Need{CPU: 256, Memory: 256}}, // memoryReservation 256, no memory
			want:      Result{Placements: []int{0}},
		},
		{
			name:      "ineligible instances get nothing, and say why",
			instances: []Instance{drained(big("a"), ReasonDraining), drained(big("b"), ReasonAgent)},
			req:       Request{Count: 1, Need: need},
			want:      Result{Failures: []Failure{{ARN: arn("a"), Reason: ReasonDraining, Detail: "the instance is DRAINING"}}},
		},
		{
			name:      "an ineligible instance without a reason reads as AGENT",
			instances: []Instance{drained(big("a"), "")},
			req:       Request{Count: 1, Need: need},
			want:      Result{Failures: []Failure{{ARN: arn("a"), Reason: ReasonAgent, Detail: "the instance's agent is disconnected"}}},
		},
		{
			name: "closest: short of memory beats short of CPU beats ineligible",
			instances: []Instance{drained(big("a"), ReasonDraining), inst("b", "", 100, 8192),
				inst("c", "", 4096, 500), inst("d", "", 200, 8192)},
			req: Request{Count: 1, Need: need},
			want: Result{Failures: []Failure{
				{ARN: arn("c"), Reason: ReasonMemory, Detail: "needs 512 MiB of memory, 500 remain"},
			}},
		},
		{
			name:      "closest among those short of CPU: the most CPU left",
			instances: []Instance{inst("a", "", 100, 8192), inst("b", "", 200, 8192), inst("c", "", 150, 8192)},
			req:       Request{Count: 1, Need: need},
			want: Result{Failures: []Failure{
				{ARN: arn("b"), Reason: ReasonCPU, Detail: "needs 256 CPU units, 200 remain"},
			}},
		},
		{
			name:      "closest: failing memberOf beats short of resources",
			instances: []Instance{inst("a", "", 4096, 100), withAttr(big("b"), "ecs.instance-type", "t3.micro")},
			req:       Request{Count: 1, Need: need, Constraints: []Constraint{memberOf(t, "attribute:ecs.instance-type == m5.large")}},
			want: Result{Failures: []Failure{
				{ARN: arn("b"), Reason: ReasonMemberOf, Detail: "does not satisfy memberOf(attribute:ecs.instance-type == m5.large)"},
			}},
		},
		{
			name:      "closest after the call's own placements used up the room",
			instances: []Instance{inst("a", "", 600, 8192), inst("b", "", 4096, 700)},
			req:       Request{Count: 4, Need: need, Strategies: []Strategy{binpackCPU}},
			want: Result{Placements: []int{0, 0, 1}, Failures: []Failure{
				{ARN: arn("b"), Reason: ReasonMemory, Detail: "needs 512 MiB of memory, 188 remain"},
			}},
		},
		{
			name: "no instances at all",
			req:  Request{Count: 2, Need: need},
			want: Result{Failures: []Failure{
				{Reason: ReasonMissing, Detail: "no container instances"},
				{Reason: ReasonMissing, Detail: "no container instances"},
			}},
		},
		{
			name:      "count 0",
			instances: []Instance{big("a")},
			req:       Request{Need: need},
			want:      Result{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Place(tt.req, tt.instances, nil)
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("Place: got %+v, want %+v (-want +got):\n%s", got, tt.want, diff)
			}
		})
	}
}

// placedPer counts the placements of res by the value of attr.
func placedPer(t *testing.T, res Result, instances []Instance, attr string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, i := range res.Placements {
		out[instances[i].Facts.Attributes[attr]]++
	}
	return out
}

// TestPlaceSpreadZones: spread over availability zones balances, whatever
// the seed, and fills the emptiest zone first.
func TestPlaceSpreadZones(t *testing.T) {
	az := "ecs.availability-zone"
	cluster := func() []Instance {
		var out []Instance
		for i, z := range []string{"us-east-1a", "us-east-1a", "us-east-1b", "us-east-1c", "us-east-1c", "us-east-1c"} {
			out = append(out, inst(fmt.Sprintf("i%d", i), z, 4096, 8192))
		}
		return out
	}
	tests := []struct {
		name      string
		instances []Instance
		count     int
		want      map[string]int
	}{
		{
			name:      "6 tasks over 3 zones: 2/2/2",
			instances: cluster(),
			count:     6,
			want:      map[string]int{"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2},
		},
		{
			name: "existing tasks: the emptiest zone first",
			instances: func() []Instance {
				c := cluster()
				c[0] = withTasks(c[0], "service:web", 2) // a: 2
				c[2] = withTasks(c[2], "service:web", 1) // b: 1
				return c
			}(),
			count: 3,
			want:  map[string]int{"us-east-1b": 1, "us-east-1c": 2},
		},
		{
			name: "existing tasks: one task goes to the empty zone",
			instances: func() []Instance {
				c := cluster()
				c[0] = withTasks(c[0], "service:web", 1)
				c[2] = withTasks(c[2], "service:web", 1)
				return c
			}(),
			count: 1,
			want:  map[string]int{"us-east-1c": 1},
		},
		{
			name: "a full zone is skipped, the others stay balanced",
			instances: func() []Instance {
				c := cluster()
				c[2].Memory = 0 // b is full
				return c
			}(),
			count: 6,
			want:  map[string]int{"us-east-1a": 3, "us-east-1c": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(50) {
				req := Request{Count: tt.count, Need: Need{CPU: 256, Memory: 512}, Group: "service:web",
					Strategies: []Strategy{spreadAZ, binpackMem}}
				res := Place(req, tt.instances, rand.New(rand.NewPCG(seed, 0)))
				if got := placedPer(t, res, tt.instances, az); !cmp.Equal(got, tt.want) {
					t.Fatalf("seed %d: got %v per zone, want %v", seed, got, tt.want)
				}
			}
		})
	}
}

// TestPlaceRandomDistribution: random placement is uniform over the
// instances that fit (chi-square, 9 degrees of freedom, p = 0.001), and
// the seed fixes it.
func TestPlaceRandomDistribution(t *testing.T) {
	var instances []Instance
	for i := range 10 {
		instances = append(instances, inst(fmt.Sprintf("r%d", i), "", 1<<20, 1<<20))
	}
	instances = append(instances, drained(inst("x", "", 1<<20, 1<<20), ReasonDraining), inst("small", "", 1, 1))
	const n = 20000
	tests := []struct {
		name string
		req  Request
	}{
		{"no strategy", Request{Count: n, Need: Need{CPU: 8, Memory: 8}}},
		{"random strategy", Request{Count: n, Need: Need{CPU: 8, Memory: 8}, Strategies: []Strategy{randomStrat}}},
		{"random after a tie", Request{Count: n, Need: Need{CPU: 8, Memory: 8}, Group: "service:web",
			Strategies: []Strategy{spreadAZ, randomStrat}}}, // one zone: every instance ties
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Place(tt.req, instances, rand.New(rand.NewPCG(7, 8)))
			if len(res.Placements) != n {
				t.Fatalf("got %d placements, want %d (failures %v)", len(res.Placements), n, res.Failures[:1])
			}
			counts := make([]int, len(instances))
			for _, i := range res.Placements {
				counts[i]++
			}
			if counts[10] != 0 || counts[11] != 0 {
				t.Fatalf("got %d tasks on the draining and %d on the small instance, want 0", counts[10], counts[11])
			}
			expected := float64(n) / 10
			chi2 := 0.0
			for _, c := range counts[:10] {
				d := float64(c) - expected
				chi2 += d * d / expected
			}
			if chi2 > 27.88 {
				t.Errorf("got chi-square %.1f for counts %v, want ≤ 27.88", chi2, counts[:10])
			}
			again := Place(tt.req, instances, rand.New(rand.NewPCG(7, 8)))
			if !cmp.Equal(res, again) {
				t.Errorf("got different placements for the same seed")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string // "" for valid
	}{
		{"empty", Request{}, ""},
		{"all kinds", Request{Count: 1, Strategies: []Strategy{spreadAZ, spreadInst, {Type: StrategySpread, Field: "host"},
			binpackMem, {Type: StrategyBinpack, Field: "CPU"}, randomStrat},
			Constraints: []Constraint{distinct, memberOf(t, "attribute:a exists")}}, ""},
		{"negative count", Request{Count: -1}, "count: must not be negative, got -1"},
		{"negative need", Request{Need: Need{CPU: -1}}, "need: must not be negative, got {CPU:-1 Memory:0 Ports:[] UDPPorts:[] DynamicPorts:0 DynamicUDPPorts:0}"},
		{"unknown strategy", Request{Strategies: []Strategy{{Type: "pack"}}}, `strategies[0]: type must be random, spread or binpack, got "pack"`},
		{"binpack field", Request{Strategies: []Strategy{{Type: StrategyBinpack, Field: "disk"}}}, `strategies[0]: binpack field must be cpu or memory, got "disk"`},
		{"spread field", Request{Strategies: []Strategy{{Type: StrategySpread, Field: "zone"}}}, `strategies[0]: spread field must be instanceId, host or attribute:NAME, got "zone"`},
		{"random field", Request{Strategies: []Strategy{{Type: StrategyRandom, Field: "x"}}}, `strategies[0]: random takes no field, got "x"`},
		{"memberOf without expression", Request{Constraints: []Constraint{{Type: ConstraintMemberOf}}}, "constraints[0]: memberOf needs an expression"},
		{"unknown constraint", Request{Constraints: []Constraint{{Type: "sameZone"}}}, `constraints[0]: type must be distinctInstance or memberOf, got "sameZone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate: got %q, want %q", got, tt.want)
			}
		})
	}
}
