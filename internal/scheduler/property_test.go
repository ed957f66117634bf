package scheduler

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The property tests check Place against ref, a plain restatement of the
// semantics in README.md: every task looks at every instance, with an
// overlay of what the call placed so far. With a nil rnd both must agree
// exactly; with a seeded rnd every placement must be one ref ranks best.

// refInstance is an instance with the overlay of one call.
type refInstance struct {
	cpu, mem, own, placed int32
	tcp, udp              map[uint16]bool // static ports taken in this call
	// Ports taken before the call in the dynamic range, counted when the
	// request needs dynamic ports.
	tcpInRange, udpInRange int
}

type ref struct {
	req  Request
	inst []Instance
	ov   []refInstance
}

func newRef(req Request, instances []Instance) *ref {
	r := &ref{req: req, inst: instances, ov: make([]refInstance, len(instances))}
	for i, in := range instances {
		o := refInstance{cpu: in.CPU, mem: in.Memory, tcp: map[uint16]bool{}, udp: map[uint16]bool{}}
		if req.Need.DynamicPorts > 0 {
			o.tcpInRange = inRange(in.TakenPorts)
		}
		if req.Need.DynamicUDPPorts > 0 {
			o.udpInRange = inRange(in.TakenUDPPorts)
		}
		if req.Group != "" {
			o.own = int32(in.GroupCounts[req.Group])
		}
		r.ov[i] = o
	}
	return r
}

// inRange counts the taken ports in the dynamic range.
func inRange(taken map[uint16]bool) int {
	n := 0
	for p, ok := range taken {
		if ok && p >= DynamicPortFirst {
			n++
		}
	}
	return n
}

// refDynamicFree reports whether the dynamic range has want ports free
// besides static, with takenInRange taken before the call, mine taken and
// used dynamic ones by the call's tasks.
func refDynamicFree(takenInRange int, mine map[uint16]bool, used int, static []uint16, want int) bool {
	if want == 0 {
		return true
	}
	free := DynamicPortLast - DynamicPortFirst + 1 - used - takenInRange - inRange(mine)
	for _, p := range static {
		if p >= DynamicPortFirst {
			free--
		}
	}
	return free >= want
}

// stage returns how far instance i gets, and its slack for CPU and memory.
func (r *ref) stage(i int) (stage, int32) {
	in, o, need := &r.inst[i], &r.ov[i], r.req.Need
	switch {
	case !in.Eligible:
		return stageIneligible, 0
	case o.cpu < need.CPU:
		return stageCPU, o.cpu
	case o.mem < need.Memory:
		return stageMemory, o.mem
	}
	for _, p := range need.Ports {
		if in.TakenPorts[p] || o.tcp[p] {
			return stagePorts, 0
		}
	}
	if !refDynamicFree(o.tcpInRange, o.tcp, int(o.placed)*need.DynamicPorts, need.Ports, need.DynamicPorts) {
		return stagePorts, 0
	}
	for _, p := range need.UDPPorts {
		if in.TakenUDPPorts[p] || o.udp[p] {
			return stagePortsUDP, 0
		}
	}
	if !refDynamicFree(o.udpInRange, o.udp, int(o.placed)*need.DynamicUDPPorts, need.UDPPorts, need.DynamicUDPPorts) {
		return stagePortsUDP, 0
	}
	facts := in.Facts
	if o.placed > 0 && r.req.Group != "" && !slices.Contains(facts.Groups, r.req.Group) {
		facts.Groups = append(slices.Clone(facts.Groups), r.req.Group)
	}
	for _, c := range r.req.Constraints {
		if c.Type == ConstraintMemberOf && c.Expr != nil && !c.Expr.Eval(&facts) {
			return stageMemberOf, 0
		}
	}
	for _, c := range r.req.Constraints {
		if c.Type == ConstraintDistinctInstance && o.own > 0 {
			return stageDistinct, 0
		}
	}
	return stageFits, 0
}

// keys returns instance i's strategy keys, smaller better.
func (r *ref) keys(i int) []int32 {
	var out []int32
	for _, s := range r.req.Strategies {
		switch {
		case s.Type == StrategyRandom:
			return out
		case s.Type == StrategySpread && isInstanceField(s.Field):
			out = append(out, r.ov[i].own)
		case s.Type == StrategySpread:
			name := spreadAttribute(s.Field)
			v, ok := r.inst[i].Facts.Attributes[name]
			var n int32
			for j := range r.inst {
				w, okj := r.inst[j].Facts.Attributes[name]
				if ok == okj && v == w {
					n += r.ov[j].own
				}
			}
			out = append(out, n)
		case s.Type == StrategyBinpack && s.Field == FieldCPU:
			out = append(out, r.ov[i].cpu)
		case s.Type == StrategyBinpack && s.Field == FieldMemory:
			out = append(out, r.ov[i].mem)
		}
	}
	return out
}

// best returns the instances with the best keys among those that fit.
func (r *ref) best() []int {
	var best []int
	var bestKeys []int32
	for i := range r.inst {
		if st, _ := r.stage(i); st != stageFits {
			continue
		}
		k := r.keys(i)
		switch c := slices.Compare(k, bestKeys); {
		case best == nil || c < 0:
			best, bestKeys = []int{i}, k
		case c == 0:
			best = append(best, i)
		}
	}
	return best
}

// closest returns the failure ref gives when nothing fits.
func (r *ref) closest() Failure {
	bi, bs, bslack := -1, stage(0), int32(0)
	for i := range r.inst {
		st, slack := r.stage(i)
		if bi < 0 || st > bs || (st == bs && slack > bslack) {
			bi, bs, bslack = i, st, slack
		}
	}
	reasons := map[stage]string{stageCPU: ReasonCPU, stageMemory: ReasonMemory, stagePorts: ReasonPorts,
		stagePortsUDP: ReasonPortsUDP, stageMemberOf: ReasonMemberOf, stageDistinct: ReasonDistinctInstance}
	reason := reasons[bs]
	if bs == stageIneligible {
		reason = r.inst[bi].IneligibleReason
		if reason == "" {
			reason = ReasonAgent
		}
	}
	return Failure{ARN: r.inst[bi].ARN, Reason: reason}
}

func (r *ref) reserve(i int) {
	o, need := &r.ov[i], r.req.Need
	o.cpu -= need.CPU
	o.mem -= need.Memory
	o.own++
	o.placed++
	for _, p := range need.Ports {
		o.tcp[p] = true
	}
	for _, p := range need.UDPPorts {
		o.udp[p] = true
	}
}

// refPlace is Place by ref with first-in-order tie-breaking.
func refPlace(req Request, instances []Instance) Result {
	var res Result
	if len(instances) == 0 {
		for range req.Count {
			res.Failures = append(res.Failures, Failure{Reason: ReasonMissing})
		}
		return res
	}
	r := newRef(req, instances)
	for range req.Count {
		best := r.best()
		if len(best) == 0 {
			res.Failures = append(res.Failures, r.closest())
			continue
		}
		r.reserve(best[0])
		res.Placements = append(res.Placements, best[0])
	}
	return res
}

// fullRange is a port set that takes every dynamic TCP port but 2.
func fullRange() map[uint16]bool {
	m := map[uint16]bool{}
	for p := DynamicPortFirst + 2; p <= DynamicPortLast; p++ {
		m[uint16(p)] = true
	}
	return m
}

// propCluster is a small random cluster for the property tests: few
// instances, tight resources, a few groups, ports in use, racks that some
// instances lack.
func propCluster(r *rand.Rand, full map[uint16]bool) []Instance {
	n := r.IntN(25)
	out := make([]Instance, n)
	for i := range out {
		in := inst(fmt.Sprintf("p%02d", i), zones[r.IntN(len(zones))], int32(r.IntN(9)*256), int32(r.IntN(9)*512))
		if r.IntN(4) > 0 {
			in.Facts.Attributes["rack"] = fmt.Sprintf("r%d", r.IntN(4))
		}
		in.Facts.Attributes["ecs.instance-type"] = instanceTypes[r.IntN(len(instanceTypes))]
		in.Facts.Attributes["hostname"] = fmt.Sprintf("h%02d", i) // one bucket each
		if r.IntN(8) == 0 {
			in.Eligible = false
			in.IneligibleReason = []string{ReasonDraining, ReasonAgent, ""}[r.IntN(3)]
		}
		for range r.IntN(3) {
			in = withTasks(in, fmt.Sprintf("service:g%d", r.IntN(3)), 1+r.IntN(2))
		}
		in.TakenPorts, in.TakenUDPPorts = map[uint16]bool{}, map[uint16]bool{}
		for range r.IntN(3) {
			in.TakenPorts[uint16(80+r.IntN(3))] = true
		}
		for range r.IntN(3) {
			in.TakenUDPPorts[uint16(80+r.IntN(3))] = true
		}
		if r.IntN(10) == 0 {
			in.TakenPorts = full
		}
		if r.IntN(10) == 0 {
			in.TakenUDPPorts = full
		}
		out[i] = in
	}
	return out
}

var propExprs = []string{
	"attribute:ecs.instance-type =~ m5.*",
	"attribute:rack exists",
	"attribute:rack in [r0, r1]",
	"attribute:ecs.availability-zone != us-east-1c",
	"task:group == service:g1",
	"not(task:group == service:g0)",
	"task:group == service:g0 or attribute:rack == r2",
}

var propStrategies = []Strategy{
	spreadAZ, spreadInst, binpackCPU, binpackMem, randomStrat,
	{Type: StrategySpread, Field: "attribute:rack"},
	{Type: StrategySpread, Field: FieldHost},
	{Type: StrategySpread, Field: "attribute:hostname"},
}

// propRequest is a random request against propCluster.
func propRequest(t testing.TB, r *rand.Rand) Request {
	req := Request{
		Count: r.IntN(16),
		Need:  Need{CPU: int32(r.IntN(5) * 128), Memory: int32(r.IntN(5) * 256)},
		Group: fmt.Sprintf("service:g%d", r.IntN(4)),
	}
	if r.IntN(4) == 0 {
		req.Need.Ports = []uint16{uint16(80 + r.IntN(3))}
	}
	if r.IntN(5) == 0 {
		req.Need.UDPPorts = []uint16{uint16(80 + r.IntN(3))}
	}
	if r.IntN(5) == 0 {
		req.Need.DynamicPorts = 1 + r.IntN(2)
	}
	if r.IntN(8) == 0 {
		req.Need.DynamicUDPPorts = 1 + r.IntN(2)
	}
	if r.IntN(20) == 0 {
		req.Need.Ports = append(req.Need.Ports, DynamicPortFirst) // a static port in the dynamic range
	}
	if r.IntN(10) == 0 {
		req.Group = ""
	}
	for range r.IntN(4) {
		req.Strategies = append(req.Strategies, propStrategies[r.IntN(len(propStrategies))])
	}
	if r.IntN(3) == 0 {
		req.Constraints = append(req.Constraints, distinct)
	}
	for range r.IntN(3) {
		req.Constraints = append(req.Constraints, memberOf(t, propExprs[r.IntN(len(propExprs))]))
	}
	return req
}

// cloneInstances deep-copies instances, to check Place leaves them alone;
// shared, the fullRange set, is kept as is (and checked on its own).
func cloneInstances(in []Instance, shared map[uint16]bool) []Instance {
	clonePorts := func(m map[uint16]bool) map[uint16]bool {
		if isSame(m, shared) {
			return m
		}
		return maps.Clone(m)
	}
	out := slices.Clone(in)
	for i := range out {
		out[i].GroupCounts = cloneMap(in[i].GroupCounts)
		out[i].TakenPorts = clonePorts(in[i].TakenPorts)
		out[i].TakenUDPPorts = clonePorts(in[i].TakenUDPPorts)
		out[i].Facts.Attributes = cloneMap(in[i].Facts.Attributes)
		out[i].Facts.Groups = slices.Clone(in[i].Facts.Groups)
	}
	return out
}

// isSame reports whether a and b are the same map.
func isSame(a, b map[uint16]bool) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var (
	ignoreDetail = cmpopts.IgnoreFields(Failure{}, "Detail")
	equateEmpty  = cmpopts.EquateEmpty()
	// portsEqual compares port sets fast, and the shared fullRange set by
	// identity.
	portsEqual = cmp.Comparer(func(a, b map[uint16]bool) bool { return isSame(a, b) || maps.Equal(a, b) })
)

const propIterations = 3000

// TestPlaceMatchesReference: with a nil rnd, Place and ref agree on every
// placement and failure (Detail aside).
func TestPlaceMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	full := fullRange()
	for it := range propIterations {
		instances := propCluster(r, full)
		req := propRequest(t, r)
		got := Place(req, instances, nil)
		want := refPlace(req, instances)
		if diff := cmp.Diff(want, got, ignoreDetail, equateEmpty); diff != "" {
			t.Fatalf("iteration %d: Place(%+v) differs from the reference (-want +got):\n%s", it, req, diff)
		}
	}
}

// TestPlaceProperties runs seeded calls and checks, step by step against
// ref: each placement is among ref's best (so it fits, honours every
// constraint and overcommits nothing), failures are ref's, there are
// Count decisions, the input is untouched, and the same seed gives the
// same result, with Place and with a reused Placer.
func TestPlaceProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	full := fullRange()
	var p Placer
	for it := range propIterations {
		instances := propCluster(r, full)
		req := propRequest(t, r)
		before := cloneInstances(instances, full)
		seed := r.Uint64()
		got := Place(req, instances, rand.New(rand.NewPCG(seed, 1)))

		if n := len(got.Placements) + len(got.Failures); n != req.Count {
			t.Fatalf("iteration %d: got %d placements+failures, want Count %d", it, n, req.Count)
		}
		rf := newRef(req, instances)
		for k, i := range got.Placements {
			best := rf.best()
			if !slices.Contains(best, i) {
				st, _ := rf.stage(i)
				t.Fatalf("iteration %d: task %d went to instance %d (stage %d, keys %v), want one of %v (keys %v); request %+v",
					it, k, i, st, rf.keys(i), best, keysOf(rf, best), req)
			}
			rf.reserve(i)
		}
		for k, f := range got.Failures {
			if len(instances) == 0 {
				break
			}
			if best := rf.best(); len(best) > 0 {
				t.Fatalf("iteration %d: failure %d (%+v) while instances %v fit", it, k, f, best)
			}
			if diff := cmp.Diff(rf.closest(), f, ignoreDetail); diff != "" {
				t.Fatalf("iteration %d: failure %d (-want +got):\n%s", it, k, diff)
			}
			if f.Detail == "" {
				t.Errorf("iteration %d: failure %+v has no detail", it, f)
			}
		}
		if diff := cmp.Diff(before, instances, portsEqual); diff != "" {
			t.Fatalf("iteration %d: Place changed its input (-before +after):\n%s", it, diff)
		}
		again := p.Place(req, instances, rand.New(rand.NewPCG(seed, 1)))
		if diff := cmp.Diff(got, again, equateEmpty); diff != "" {
			t.Fatalf("iteration %d: same seed, different result (-first +second):\n%s", it, diff)
		}
	}
	if !maps.Equal(full, fullRange()) {
		t.Errorf("Place changed the shared full port set")
	}
}

func keysOf(r *ref, is []int) [][]int32 {
	var out [][]int32
	for _, i := range is {
		out = append(out, r.keys(i))
	}
	return out
}

// TestPlaceNoOvercommit checks the invariant directly on big random
// clusters: the tasks placed on an instance fit in what it had, static
// ports are used once, distinctInstance holds.
func TestPlaceNoOvercommit(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for it := range 200 {
		instances := genCluster(r, clusterSpec{instances: 1 + r.IntN(300), tasksPerInstance: 3, groups: 5, ineligible: 0.1, ports: true})
		req := Request{
			Count:      1 + r.IntN(200),
			Need:       Need{CPU: int32(128 * (1 + r.IntN(8))), Memory: int32(256 * (1 + r.IntN(16)))},
			Group:      "service:s1",
			Strategies: []Strategy{propStrategies[r.IntN(len(propStrategies))], binpackMem},
		}
		if r.IntN(2) == 0 {
			req.Need.Ports = []uint16{8000 + uint16(r.IntN(12))}
		}
		withDistinct := r.IntN(3) == 0
		if withDistinct {
			req.Constraints = []Constraint{distinct}
		}
		got := Place(req, instances, rand.New(rand.NewPCG(uint64(it), 0)))
		perInstance := map[int]int32{}
		for _, i := range got.Placements {
			perInstance[i]++
		}
		for i, n := range perInstance {
			in := instances[i]
			switch {
			case !in.Eligible:
				t.Errorf("iteration %d: %d tasks on ineligible instance %d", it, n, i)
			case n*req.Need.CPU > in.CPU:
				t.Errorf("iteration %d: instance %d: %d tasks need %d CPU, got %d", it, i, n, n*req.Need.CPU, in.CPU)
			case n*req.Need.Memory > in.Memory:
				t.Errorf("iteration %d: instance %d: %d tasks need %d MiB, got %d", it, i, n, n*req.Need.Memory, in.Memory)
			case len(req.Need.Ports) > 0 && (n > 1 || in.TakenPorts[req.Need.Ports[0]]):
				t.Errorf("iteration %d: instance %d: %d tasks on port %d (taken before: %v)", it, i, n, req.Need.Ports[0], in.TakenPorts[req.Need.Ports[0]])
			case withDistinct && (n > 1 || in.GroupCounts[req.Group] > 0):
				t.Errorf("iteration %d: instance %d: %d tasks with distinctInstance (%d before)", it, i, n, in.GroupCounts[req.Group])
			}
		}
	}
}

// TestPlaceSpreadBalance: spreading over zones and racks with room for
// everything, the buckets' counts end at most 1 apart (from empty), and
// never further apart than they started.
func TestPlaceSpreadBalance(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for it := range 500 {
		var instances []Instance
		field := []string{"ecs.availability-zone", "rack"}[r.IntN(2)]
		buckets := 1 + r.IntN(6)
		for i := range 1 + r.IntN(40) {
			in := inst(fmt.Sprintf("b%02d", i), "", 1<<20, 1<<20)
			in.Facts.Attributes[field] = fmt.Sprintf("v%d", i%buckets)
			instances = append(instances, in)
		}
		existing := r.IntN(2) == 0
		if existing {
			for i := range instances {
				if r.IntN(3) == 0 {
					instances[i] = withTasks(instances[i], "service:web", r.IntN(4))
				}
			}
		}
		count := r.IntN(60)
		req := Request{Count: count, Need: Need{CPU: 1, Memory: 1}, Group: "service:web",
			Strategies: []Strategy{{Type: StrategySpread, Field: "attribute:" + field}, binpackMem}}
		got := Place(req, instances, rand.New(rand.NewPCG(uint64(it), 7)))
		before, after := map[string]int{}, map[string]int{}
		for _, in := range instances {
			v := in.Facts.Attributes[field]
			before[v] += in.GroupCounts["service:web"]
			after[v] += in.GroupCounts["service:web"]
		}
		for _, i := range got.Placements {
			after[instances[i].Facts.Attributes[field]]++
		}
		spreadOf := func(m map[string]int) int {
			lo, hi := -1, 0
			for _, n := range m {
				if lo < 0 || n < lo {
					lo = n
				}
				hi = max(hi, n)
			}
			return hi - lo
		}
		if d := spreadOf(after); d > max(1, spreadOf(before)) {
			t.Errorf("iteration %d: placed %d over %d buckets: counts %v (before %v), difference %d, want ≤ max(1, %d)",
				it, count, buckets, after, before, d, spreadOf(before))
		}
	}
}
