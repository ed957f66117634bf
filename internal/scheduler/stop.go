package scheduler

import "strings"

// stopKind is a compiled strategy for PickToStop; every key prefers the
// larger value.
type stopKind uint8

const (
	stopSpreadInstance stopKind = iota + 1 // tasks left on the instance
	stopSpreadAttr                         // tasks left in the attribute bucket
	stopBinpackCPU                         // CPU free once the task stops
	stopBinpackMemory                      // memory free once the task stops
)

type stopKey struct {
	kind   stopKind
	counts []int32 // per bucket for stopSpreadAttr
	bucket []int32 // bucket of each task for stopSpreadAttr
}

func pickToStop(tasks []TaskInfo, instances []Instance, strategies []Strategy, n int) []int {
	n = min(n, len(tasks))
	if n <= 0 {
		return nil
	}
	out := make([]int, 0, n)
	stopped := make([]bool, len(tasks))
	onInstance := func(t TaskInfo) bool { return t.Instance >= 0 && t.Instance < len(instances) }
	for i, t := range tasks {
		if len(out) == n {
			return out
		}
		if !onInstance(t) || !instances[t.Instance].Eligible {
			out = append(out, i)
			stopped[i] = true
		}
	}
	keys := compileStopKeys(tasks, instances, strategies, stopped)
	// Per instance: tasks left, and resources freed by the tasks chosen.
	var left []int32
	var freedCPU, freedMem []int32
	for _, k := range keys {
		switch k.kind {
		case stopSpreadInstance:
			if left == nil {
				left = make([]int32, len(instances))
				for i, t := range tasks {
					if !stopped[i] {
						left[t.Instance]++
					}
				}
			}
		case stopBinpackCPU, stopBinpackMemory:
			if freedCPU == nil {
				freedCPU = make([]int32, len(instances))
				freedMem = make([]int32, len(instances))
			}
		}
	}
	keyOf := func(k *stopKey, i int, t TaskInfo) int32 {
		switch k.kind {
		case stopSpreadInstance:
			return left[t.Instance]
		case stopSpreadAttr:
			return k.counts[k.bucket[i]]
		case stopBinpackCPU:
			return instances[t.Instance].CPU + freedCPU[t.Instance] + t.CPU
		case stopBinpackMemory:
			return instances[t.Instance].Memory + freedMem[t.Instance] + t.Memory
		}
		return 0
	}
	best := make([]int32, len(keys))
	cur := make([]int32, len(keys))
	for len(out) < n {
		chosen := -1
		for i, t := range tasks {
			if stopped[i] {
				continue
			}
			cmp := 1 // the first task left is the best so far
			if chosen >= 0 {
				cmp = 0
			}
			for j := range keys {
				v := keyOf(&keys[j], i, t)
				if cmp == 0 {
					if v < best[j] {
						cmp = -1
						break
					}
					if v > best[j] {
						cmp = 1
					}
				}
				cur[j] = v
			}
			if cmp > 0 {
				chosen = i
				copy(best, cur)
			}
		}
		t := tasks[chosen]
		stopped[chosen] = true
		out = append(out, chosen)
		for j := range keys {
			if k := &keys[j]; k.kind == stopSpreadAttr {
				k.counts[k.bucket[chosen]]--
			}
		}
		if left != nil {
			left[t.Instance]--
		}
		if freedCPU != nil {
			freedCPU[t.Instance] += t.CPU
			freedMem[t.Instance] += t.Memory
		}
	}
	return out
}

// compileStopKeys turns strategies into keys up to the first random, with
// the spread buckets counted over the tasks not yet stopped.
func compileStopKeys(tasks []TaskInfo, instances []Instance, strategies []Strategy, stopped []bool) []stopKey {
	var keys []stopKey
	for _, s := range strategies {
		switch s.Type {
		case StrategyRandom:
			return keys
		case StrategySpread:
			if isInstanceField(s.Field) {
				keys = append(keys, stopKey{kind: stopSpreadInstance})
				continue
			}
			name := spreadAttribute(s.Field)
			if name == "" {
				continue
			}
			var sp spread
			sp.reset(name)
			k := stopKey{kind: stopSpreadAttr, bucket: make([]int32, len(tasks))}
			for i, t := range tasks {
				if stopped[i] {
					continue
				}
				b := sp.bucket(&instances[t.Instance])
				k.bucket[i] = b
				sp.counts[b]++
			}
			k.counts = sp.counts
			keys = append(keys, k)
		case StrategyBinpack:
			switch {
			case strings.EqualFold(s.Field, FieldCPU):
				keys = append(keys, stopKey{kind: stopBinpackCPU})
			case strings.EqualFold(s.Field, FieldMemory):
				keys = append(keys, stopKey{kind: stopBinpackMemory})
			}
		}
	}
	return keys
}
