package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/berth-io/berth/internal/clusterquery"
)

// One call of Place works in three steps (README.md has the long form):
//
//  1. scan: one pass over the instances builds the candidates, those that
//     fit one task (eligible, CPU, memory, static ports, not excluded by
//     distinctInstance), with an overlay of their remaining resources,
//     and sums the group's tasks per spread bucket over all instances.
//     buildGroups then groups the candidates by their bucket of the first
//     strategy when it spreads over an attribute.
//  2. pick, once per task: a pass over the live candidates of the groups
//     with the fewest tasks keeps those with the best keys for the other
//     strategies; rnd draws among them. memberOf and the dynamic port
//     range are checked lazily, on the candidate drawn (the memberOf
//     answer is cached per candidate); if every tie fails them, a second
//     pass checks each candidate it keeps. reserve then updates the
//     overlay and the bucket counts.
//  3. explain, on the first task that fits nowhere: a pass over all
//     instances finds the one that came closest.

// stage is how far an instance got through the filters; a later stage
// came closer. The order is the one failures are explained in.
type stage uint8

const (
	stageIneligible stage = iota // not ACTIVE or agent disconnected
	stageCPU                     // not enough CPU
	stageMemory                  // not enough memory
	stagePorts                   // a TCP host port taken, or no dynamic one free
	stagePortsUDP                // the same for UDP
	stageMemberOf                // a memberOf expression does not hold
	stageDistinct                // distinctInstance: already has a task of the group
	stageFits                    // passes everything
)

// keyKind is a compiled strategy; every key prefers the smaller value.
type keyKind uint8

const (
	keySpreadInstance keyKind = iota + 1 // tasks of the group on the instance
	keySpreadAttr                        // tasks of the group in the attribute bucket
	keyBinpackCPU                        // remaining CPU
	keyBinpackMemory                     // remaining memory
)

type key struct {
	kind   keyKind
	spread int // index in call.spreads, for keySpreadAttr
}

// compileKeys appends to keys the strategies' keys, in order, up to the
// first random (which leaves the rest to the random tie-break). Unknown
// strategies are skipped; Request.Validate reports them. It appends to
// attrs the attribute names spread on, one per distinct name, indexed by
// key.spread.
func compileKeys(keys []key, attrs []string, strategies []Strategy) ([]key, []string) {
	for _, s := range strategies {
		switch s.Type {
		case StrategyRandom:
			return keys, attrs
		case StrategySpread:
			if isInstanceField(s.Field) {
				keys = append(keys, key{kind: keySpreadInstance})
				continue
			}
			name := spreadAttribute(s.Field)
			if name == "" {
				continue
			}
			i := slices.Index(attrs, name)
			if i < 0 {
				i = len(attrs)
				attrs = append(attrs, name)
			}
			keys = append(keys, key{kind: keySpreadAttr, spread: i})
		case StrategyBinpack:
			switch {
			case strings.EqualFold(s.Field, FieldCPU):
				keys = append(keys, key{kind: keyBinpackCPU})
			case strings.EqualFold(s.Field, FieldMemory):
				keys = append(keys, key{kind: keyBinpackMemory})
			}
		}
	}
	return keys, attrs
}

// spread holds the buckets of one spread attribute: bucket 0 is the
// instances without the attribute, the others one per value.
type spread struct {
	name   string
	values interner
	counts []int32 // tasks of the group per bucket, this call's included
}

// reset empties s for attribute name, keeping its buffers.
func (s *spread) reset(name string) {
	s.name = name
	s.counts = append(s.counts[:0], 0)
	s.values.reset()
}

// bucket returns the bucket of in, growing counts for a new value.
func (s *spread) bucket(in *Instance) int32 {
	v, ok := in.Facts.Attributes[s.name]
	if !ok {
		return 0
	}
	b := s.values.id(v)
	if int(b) >= len(s.counts) {
		s.counts = append(s.counts, 0)
	}
	return b
}

// interner numbers strings from 1 in order of first sight: a linear search
// while there are few (availability zones, instance types), a map beyond.
type interner struct {
	small []string
	big   map[string]int32
	inMap bool // the values are in big
}

const internSmall = 16

// reset forgets the values, keeping the buffers.
func (t *interner) reset() {
	clear(t.small)
	t.small = t.small[:0]
	clear(t.big)
	t.inMap = false
}

func (t *interner) id(v string) int32 {
	if t.inMap {
		if b, ok := t.big[v]; ok {
			return b
		}
		b := int32(len(t.big) + 1)
		t.big[v] = b
		return b
	}
	for i, s := range t.small {
		if s == v {
			return int32(i + 1)
		}
	}
	t.small = append(t.small, v)
	if len(t.small) > internSmall {
		if t.big == nil {
			t.big = make(map[string]int32, 2*internSmall)
		}
		t.inMap = true
		for i, s := range t.small {
			t.big[s] = int32(i + 1)
		}
	}
	return int32(len(t.small))
}

// cand is a candidate instance with the call's overlay on it.
type cand struct {
	idx      int32 // in the instances given to Place
	cpu, mem int32 // remaining, after this call's placements
	own      int32 // tasks of the group on it, this call's included
	placed   int32 // tasks placed on it in this call
	memberOf int8  // cached memberOf answer: 0 unknown, 1 holds, -1 fails
	dead     bool  // can take no (further) task of this call
}

// call is the state of one Place call.
type call struct {
	inst     []Instance
	need     Need
	group    string
	keys     []key
	spreads  []spread
	distinct bool
	memberOf []clusterquery.Expr
	// groupSensitive: a memberOf expression reads task:group, so an
	// instance's answer may change once it gets a task of the group.
	groupSensitive bool
	countOwn       bool     // spread or distinctInstance needs GroupCounts
	attrs          []string // the attributes spread on
	tcpInRange     int32    // static TCP ports of need in the dynamic range
	udpInRange     int32    // the same for UDP

	cands []cand
	bkt   []int32 // bucket of cands[i] for spread s at i*len(spreads)+s
	// The candidates grouped by their bucket of the first key when that
	// spreads over an attribute (spreads[first]), else in one group
	// (first is -1): group g is order[start[g]:start[g+1]], in instance
	// order; live counts its candidates not dead.
	first       int
	order       []int32
	start, live []int32

	best   []int32 // keys of the current best, scratch for pick
	cur    []int32 // keys of the candidate at hand, scratch for pick
	ties   []int32 // candidates with the best keys, scratch for pick
	levels []int32 // groups with the best first key, scratch for pick
}

// place is Place with c's buffers.
func place(req Request, instances []Instance, rnd *rand.Rand, c *call) Result {
	if req.Count <= 0 {
		return Result{}
	}
	if len(instances) == 0 {
		f := Failure{Reason: ReasonMissing, Detail: "no container instances"}
		return Result{Failures: slices.Repeat([]Failure{f}, req.Count)}
	}
	c.reset(&req, instances)
	defer c.release()
	c.scan()
	c.buildGroups()
	var res Result
	for t := 0; t < req.Count; t++ {
		ci := c.pick(rnd)
		if ci < 0 {
			// Nothing changes from here on: every remaining task fails
			// the same way.
			res.Failures = slices.Repeat([]Failure{c.explain()}, req.Count-t)
			break
		}
		c.reserve(ci)
		if res.Placements == nil {
			res.Placements = make([]int, 0, req.Count)
		}
		res.Placements = append(res.Placements, int(c.cands[ci].idx))
	}
	return res
}

// reset prepares c for a call, keeping its buffers.
func (c *call) reset(req *Request, instances []Instance) {
	*c = call{
		inst: instances, need: req.Need, group: req.Group,
		keys: c.keys[:0], spreads: c.spreads[:0], memberOf: c.memberOf[:0],
		cands: c.cands[:0], bkt: c.bkt[:0], order: c.order[:0],
		start: c.start[:0], live: c.live[:0],
		best: c.best[:0], cur: c.cur[:0], ties: c.ties[:0], levels: c.levels[:0],
		attrs: c.attrs[:0],
	}
	c.keys, c.attrs = compileKeys(c.keys, c.attrs, req.Strategies)
	for _, a := range c.attrs {
		c.spreads = slices.Grow(c.spreads, 1)[:len(c.spreads)+1]
		c.spreads[len(c.spreads)-1].reset(a)
	}
	for _, k := range c.keys {
		if k.kind == keySpreadInstance || k.kind == keySpreadAttr {
			c.countOwn = true
		}
	}
	for _, con := range req.Constraints {
		switch con.Type {
		case ConstraintDistinctInstance:
			c.distinct, c.countOwn = true, true
		case ConstraintMemberOf:
			if con.Expr != nil {
				c.memberOf = append(c.memberOf, con.Expr)
				c.groupSensitive = c.groupSensitive || readsTaskGroup(con.Expr)
			}
		}
	}
	c.tcpInRange = inDynamicRange(req.Need.Ports)
	c.udpInRange = inDynamicRange(req.Need.UDPPorts)
	c.best = slices.Grow(c.best, len(c.keys))[:len(c.keys)]
	c.cur = slices.Grow(c.cur, len(c.keys))[:len(c.keys)]
}

// release drops what c refers to of the call's arguments, so a Placer
// does not keep them alive.
func (c *call) release() {
	c.inst = nil
	clear(c.memberOf)
	clear(c.attrs)
	for i := range c.spreads {
		c.spreads[i].reset("")
	}
}

// readsTaskGroup reports whether e looks at task:group.
func readsTaskGroup(e clusterquery.Expr) bool {
	switch e := e.(type) {
	case *clusterquery.And:
		return readsTaskGroup(e.L) || readsTaskGroup(e.R)
	case *clusterquery.Or:
		return readsTaskGroup(e.L) || readsTaskGroup(e.R)
	case *clusterquery.Not:
		return readsTaskGroup(e.X)
	case *clusterquery.Cond:
		return e.Field.Kind == clusterquery.FieldTaskGroup
	}
	return true // unknown: assume it does
}

func inDynamicRange(ports []uint16) int32 {
	var n int32
	for _, p := range ports {
		if p >= DynamicPortFirst {
			n++
		}
	}
	return n
}

// ownCount returns the tasks of the group on in before this call.
func (c *call) ownCount(in *Instance) int32 {
	if !c.countOwn || c.group == "" || len(in.GroupCounts) == 0 {
		return 0
	}
	return int32(in.GroupCounts[c.group])
}

// scan builds the candidates and the spread counts.
func (c *call) scan() {
	need := c.need
	ns := len(c.spreads)
	c.cands = slices.Grow(c.cands, len(c.inst))
	c.bkt = slices.Grow(c.bkt, ns*len(c.inst))
	for i := range c.inst {
		in := &c.inst[i]
		own := c.ownCount(in)
		fits := in.Eligible && in.CPU >= need.CPU && in.Memory >= need.Memory &&
			!(c.distinct && own > 0) &&
			portsFree(in.TakenPorts, need.Ports) && portsFree(in.TakenUDPPorts, need.UDPPorts)
		if !fits && own == 0 {
			continue
		}
		for s := range c.spreads {
			b := c.spreads[s].bucket(in)
			c.spreads[s].counts[b] += own
			if fits {
				c.bkt = append(c.bkt, b)
			}
		}
		if fits {
			c.cands = append(c.cands, cand{idx: int32(i), cpu: in.CPU, mem: in.Memory, own: own})
		}
	}
}

// portsFree reports whether none of ports is taken.
func portsFree(taken map[uint16]bool, ports []uint16) bool {
	for _, p := range ports {
		if taken[p] {
			return false
		}
	}
	return true
}

// dynamicFree reports whether the dynamic range has want ports free, given
// the taken ones and used more taken in this call.
func dynamicFree(taken map[uint16]bool, used, want int32) bool {
	const size = DynamicPortLast - DynamicPortFirst + 1
	if want == 0 || int64(len(taken))+int64(used)+int64(want) <= size {
		return true // the common case, without counting
	}
	var n int64
	for p, ok := range taken {
		if ok && p >= DynamicPortFirst {
			n++
		}
	}
	return n+int64(used)+int64(want) <= size
}

// dynamicFits reports whether cd's instance has the dynamic ports a task
// needs, TCP and UDP.
func (c *call) dynamicFits(cd *cand) (tcp, udp bool) {
	in := &c.inst[cd.idx]
	tcp, udp = true, true
	if n := int32(c.need.DynamicPorts); n > 0 {
		tcp = dynamicFree(in.TakenPorts, cd.placed*(n+c.tcpInRange), n+c.tcpInRange)
	}
	if n := int32(c.need.DynamicUDPPorts); n > 0 {
		udp = dynamicFree(in.TakenUDPPorts, cd.placed*(n+c.udpInRange), n+c.udpInRange)
	}
	return tcp, udp
}

// holds reports whether every memberOf expression holds on cd's instance,
// computing the answer once (again after the instance's first task of the
// call, when an expression reads task:group).
func (c *call) holds(cd *cand) bool {
	if cd.memberOf == 0 {
		cd.memberOf = -1
		if c.evalMemberOf(&c.inst[cd.idx], cd.placed) < 0 {
			cd.memberOf = 1
		}
	}
	return cd.memberOf > 0
}

// evalMemberOf returns the index of the first memberOf expression that
// fails on in, which has placed tasks of this call, or -1.
func (c *call) evalMemberOf(in *Instance, placed int32) int {
	subj := &in.Facts
	if placed > 0 && c.groupSensitive && c.group != "" && !slices.Contains(subj.Groups, c.group) {
		f := *subj
		f.Groups = append(slices.Clip(f.Groups), c.group)
		subj = &f
	}
	for i, e := range c.memberOf {
		if !e.Eval(subj) {
			return i
		}
	}
	return -1
}

// viable runs the lazy checks on a candidate the keys would choose.
func (c *call) viable(cd *cand) bool {
	if len(c.memberOf) > 0 && !c.holds(cd) {
		return false
	}
	if c.need.DynamicPorts > 0 || c.need.DynamicUDPPorts > 0 {
		tcp, udp := c.dynamicFits(cd)
		return tcp && udp
	}
	return true
}

// keyOf returns candidate ci's value for key k.
func (c *call) keyOf(k key, ci int, cd *cand) int32 {
	switch k.kind {
	case keySpreadInstance:
		return cd.own
	case keySpreadAttr:
		return c.spreads[k.spread].counts[c.bkt[ci*len(c.spreads)+k.spread]]
	case keyBinpackCPU:
		return cd.cpu
	case keyBinpackMemory:
		return cd.mem
	}
	return 0
}

// pick returns the candidate for the next task, or -1.
func (c *call) pick(rnd *rand.Rand) int {
	if len(c.keys) == 0 && rnd != nil {
		if ci := c.pickAny(rnd); ci >= 0 {
			return ci
		}
	}
	from := 0 // keys[0] is the same for all candidates of a group
	if c.first >= 0 {
		from = 1
	}
	for {
		groups := c.bestGroups()
		if len(groups) == 0 {
			return -1
		}
		// Most often the first tie drawn passes the lazy checks; if none
		// does, collect again checking each candidate, which finds the
		// best viable keys or kills every candidate of these groups.
		c.collect(groups, from, false)
		if ci := c.draw(rnd); ci >= 0 {
			return ci
		}
		c.collect(groups, from, true)
		if len(c.ties) > 0 {
			return c.draw(rnd)
		}
	}
}

// pickAny serves the random strategy: it draws candidates uniformly until
// one is live and viable, giving up (-1) after a few dead ones, when pick
// takes the long way.
func (c *call) pickAny(rnd *rand.Rand) int {
	if len(c.cands) == 0 {
		return -1
	}
	for range 64 {
		ci := rnd.IntN(len(c.cands))
		cd := &c.cands[ci]
		if cd.dead {
			continue
		}
		if !c.viable(cd) {
			c.kill(ci)
			continue
		}
		return ci
	}
	return -1
}

// bestGroups returns the groups with live candidates whose first key is the
// smallest, or nil.
func (c *call) bestGroups() []int32 {
	lv := c.levels[:0]
	if c.first < 0 {
		if c.live[0] > 0 {
			lv = append(lv, 0)
		}
		c.levels = lv
		return lv
	}
	counts := c.spreads[c.first].counts
	var low int32
	for g, n := range c.live {
		if n == 0 {
			continue
		}
		v := counts[g]
		if len(lv) == 0 || v < low {
			low, lv = v, lv[:0]
		}
		if v == low {
			lv = append(lv, int32(g))
		}
	}
	c.levels = lv
	return lv
}

// collect sets c.ties to the live candidates of groups with the best keys
// from keys[from] on. With check, only viable candidates count (the others
// are killed); without, the lazy checks are left to draw.
func (c *call) collect(groups []int32, from int, check bool) {
	best, cur := c.best, c.cur
	ties := c.ties[:0]
	for _, g := range groups {
		for _, ci := range c.order[c.start[g]:c.start[g+1]] {
			cd := &c.cands[ci]
			if cd.dead {
				continue
			}
			cmp := -1 // the first live candidate is the best so far
			if len(ties) > 0 {
				cmp = 0
			}
			for j := from; j < len(c.keys); j++ {
				v := c.keyOf(c.keys[j], int(ci), cd)
				if cmp == 0 {
					if v > best[j] {
						cmp = 1
						break
					}
					if v < best[j] {
						cmp = -1
					}
				}
				cur[j] = v
			}
			if cmp > 0 {
				continue
			}
			if check && !c.viable(cd) {
				c.kill(int(ci))
				continue
			}
			if cmp < 0 {
				copy(best[from:], cur[from:])
				ties = ties[:0]
			}
			ties = append(ties, ci)
		}
	}
	c.ties = ties
}

// draw picks among c.ties: uniformly with rnd, else the first in instance
// order, rejecting and killing those that fail the lazy checks (the first
// viable one drawn is uniform among the viable ties). It returns -1 when
// none is viable.
func (c *call) draw(rnd *rand.Rand) int {
	ties := c.ties
	for len(ties) > 0 {
		k := 0
		switch {
		case len(ties) == 1:
		case rnd != nil:
			k = rnd.IntN(len(ties))
		default:
			for j, ci := range ties {
				if c.cands[ci].idx < c.cands[ties[k]].idx {
					k = j
				}
			}
		}
		ci := int(ties[k])
		if c.viable(&c.cands[ci]) {
			return ci
		}
		c.kill(ci)
		ties[k] = ties[len(ties)-1]
		ties = ties[:len(ties)-1]
	}
	return -1
}

// kill marks candidate ci as taking no further task of this call.
func (c *call) kill(ci int) {
	cd := &c.cands[ci]
	if cd.dead {
		return
	}
	cd.dead = true
	c.live[c.groupOf(ci)]--
}

// groupOf returns candidate ci's group.
func (c *call) groupOf(ci int) int32 {
	if c.first < 0 {
		return 0
	}
	return c.bkt[ci*len(c.spreads)+c.first]
}

// buildGroups groups the candidates by their bucket of the first key when
// it spreads over an attribute, so pick only looks at the buckets with the
// fewest tasks; otherwise all candidates form one group.
func (c *call) buildGroups() {
	nc := len(c.cands)
	c.first = -1
	if len(c.keys) > 0 && c.keys[0].kind == keySpreadAttr {
		c.first = c.keys[0].spread
	}
	ng := 1
	if c.first >= 0 {
		ng = len(c.spreads[c.first].counts)
	}
	c.start = append(c.start[:0], make([]int32, ng+1)...)
	c.live = append(c.live[:0], make([]int32, ng)...)
	for ci := range nc {
		c.start[c.groupOf(ci)+1]++
	}
	for g := range ng {
		c.live[g] = c.start[g+1]
		c.start[g+1] += c.start[g]
	}
	c.order = slices.Grow(c.order[:0], nc)[:nc]
	if ng == 1 {
		for ci := range nc {
			c.order[ci] = int32(ci)
		}
		return
	}
	pos := c.ties[:0] // free until the first pick
	pos = append(pos, c.start[:ng]...)
	for ci := range nc {
		g := c.groupOf(ci)
		c.order[pos[g]] = int32(ci)
		pos[g]++
	}
	c.ties = pos[:0]
}

// reserve places one task on candidate ci.
func (c *call) reserve(ci int) {
	cd := &c.cands[ci]
	need := c.need
	cd.cpu -= need.CPU
	cd.mem -= need.Memory
	cd.own++
	cd.placed++
	for s := range c.spreads {
		c.spreads[s].counts[c.bkt[ci*len(c.spreads)+s]]++
	}
	if c.groupSensitive && cd.placed == 1 {
		cd.memberOf = 0 // it now runs a task of the group: ask again
	}
	if c.distinct || len(need.Ports) > 0 || len(need.UDPPorts) > 0 ||
		cd.cpu < need.CPU || cd.mem < need.Memory {
		c.kill(ci)
	}
}

// explain returns the failure for a task that fits nowhere: about the
// instance that got furthest through the filters; among those stopped at
// CPU or memory, the one with the most of it left; then the first.
func (c *call) explain() Failure {
	bestI, bestStage, bestSlack := -1, stage(0), int32(0)
	var bestCand *cand
	next := 0 // candidates are in instance order
	for i := range c.inst {
		var cd *cand
		if next < len(c.cands) && int(c.cands[next].idx) == i {
			cd = &c.cands[next]
			next++
		}
		st, slack := c.stageOf(i, cd)
		if bestI < 0 || st > bestStage || (st == bestStage && slack > bestSlack) {
			bestI, bestStage, bestSlack, bestCand = i, st, slack, cd
		}
	}
	in := &c.inst[bestI]
	return Failure{ARN: in.ARN, Reason: c.reason(in, bestStage), Detail: c.detail(bestI, bestCand, bestStage)}
}

// view is an instance as this call left it.
type view struct {
	cpu, mem, own, placed int32
}

func (c *call) viewOf(i int, cd *cand) view {
	if cd != nil {
		return view{cpu: cd.cpu, mem: cd.mem, own: cd.own, placed: cd.placed}
	}
	in := &c.inst[i]
	return view{cpu: in.CPU, mem: in.Memory, own: c.ownCount(in)}
}

// stageOf returns how far instance i gets through the filters for one more
// task, and for stageCPU and stageMemory how much it has left.
func (c *call) stageOf(i int, cd *cand) (stage, int32) {
	in := &c.inst[i]
	v := c.viewOf(i, cd)
	need := c.need
	switch {
	case !in.Eligible:
		return stageIneligible, 0
	case v.cpu < need.CPU:
		return stageCPU, v.cpu
	case v.mem < need.Memory:
		return stageMemory, v.mem
	}
	if cd == nil {
		cd = &cand{idx: int32(i)} // as the scan saw it
	}
	tcp, udp := c.dynamicFits(cd)
	switch {
	case !tcp || !portsFree(in.TakenPorts, need.Ports) || (v.placed > 0 && len(need.Ports) > 0):
		return stagePorts, 0
	case !udp || !portsFree(in.TakenUDPPorts, need.UDPPorts) || (v.placed > 0 && len(need.UDPPorts) > 0):
		return stagePortsUDP, 0
	}
	if len(c.memberOf) > 0 && !c.holds(cd) {
		return stageMemberOf, 0
	}
	if c.distinct && v.own > 0 {
		return stageDistinct, 0
	}
	return stageFits, 0
}

func (c *call) reason(in *Instance, st stage) string {
	switch st {
	case stageIneligible:
		if in.IneligibleReason == "" {
			return ReasonAgent
		}
		return in.IneligibleReason
	case stageCPU:
		return ReasonCPU
	case stageMemory:
		return ReasonMemory
	case stagePorts:
		return ReasonPorts
	case stagePortsUDP:
		return ReasonPortsUDP
	case stageMemberOf:
		return ReasonMemberOf
	case stageDistinct:
		return ReasonDistinctInstance
	}
	return "" // unreachable: explain runs when nothing fits
}

// detail says in words why instance i stops at st.
func (c *call) detail(i int, cd *cand, st stage) string {
	in := &c.inst[i]
	v := c.viewOf(i, cd)
	need := c.need
	switch st {
	case stageIneligible:
		switch in.IneligibleReason {
		case ReasonDraining:
			return "the instance is DRAINING"
		case "", ReasonAgent:
			return "the instance's agent is disconnected"
		}
		return "the instance is " + in.IneligibleReason
	case stageCPU:
		return fmt.Sprintf("needs %d CPU units, %d remain", need.CPU, v.cpu)
	case stageMemory:
		return fmt.Sprintf("needs %d MiB of memory, %d remain", need.Memory, v.mem)
	case stagePorts:
		return portsDetail(in.TakenPorts, need.Ports, need.DynamicPorts, v.placed, "tcp")
	case stagePortsUDP:
		return portsDetail(in.TakenUDPPorts, need.UDPPorts, need.DynamicUDPPorts, v.placed, "udp")
	case stageMemberOf:
		if n := c.evalMemberOf(in, v.placed); n >= 0 {
			return "does not satisfy memberOf(" + c.memberOf[n].String() + ")"
		}
	case stageDistinct:
		if v.placed > 0 {
			return "got a task of this call already (distinctInstance)"
		}
		return fmt.Sprintf("already runs a task of %s (distinctInstance)", c.group)
	}
	return ""
}

func portsDetail(taken map[uint16]bool, ports []uint16, dynamic int, placed int32, proto string) string {
	for _, p := range ports {
		if taken[p] {
			return fmt.Sprintf("host port %d/%s is in use", p, proto)
		}
	}
	if placed > 0 && len(ports) > 0 {
		return fmt.Sprintf("host port %d/%s is taken by a task of this call", ports[0], proto)
	}
	return fmt.Sprintf("needs %d dynamic host port(s)/%s, too few free in %d-%d", dynamic, proto, DynamicPortFirst, DynamicPortLast)
}
