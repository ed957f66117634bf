package clusterstate

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// decode turns one store key/value into a change. It returns ok false for
// keys the cache does not index. A delete carries no value to decode.
func decode(kv *store.KV, del bool) (c change, ok bool, err error) {
	k, cluster, name := parseKey(kv.Key)
	if k == kindNone {
		return change{}, false, nil
	}
	c = change{kind: k, key: kv.Key, cluster: cluster, name: name, del: del, rev: kv.ModRevision}
	if del {
		return c, true, nil
	}
	var v any
	switch k {
	case kindCluster:
		c.cl = new(ecs.Cluster)
		v = c.cl
	case kindTaskDef:
		c.td = new(state.TaskDefinition)
		v = c.td
	case kindService:
		c.svc = new(ecs.Service)
		v = c.svc
	case kindTask:
		c.task = new(ecs.Task)
		v = c.task
	case kindInstance:
		c.inst = new(ecs.ContainerInstance)
		v = c.inst
	}
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return change{}, false, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	return c, true, nil
}

// decodeEvents decodes a batch of watch events, skipping keys the cache
// does not index.
func decodeEvents(events []store.Event, out []change) ([]change, error) {
	out = out[:0]
	for i := range events {
		e := &events[i]
		c, ok, err := decode(&e.KV, e.Type == store.EventDelete)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// buildIndex decodes a listing on every CPU and indexes it in key order.
// It touches nothing shared: the caller swaps the result in.
func buildIndex(kvs []store.KV) (*index, error) {
	changes := make([]change, len(kvs))
	keep := make([]bool, len(kvs))
	workers := min(runtime.GOMAXPROCS(0), max(len(kvs)/256, 1))
	chunk := (len(kvs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(kvs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				c, ok, err := decode(&kvs[i], false)
				if err != nil {
					errs[w] = err
					return
				}
				changes[i], keep[i] = c, ok
				kvs[i].Value = nil // decoded: let the bytes go
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	x := newIndex()
	// Size each cluster's task map once, rather than growing it.
	tasks := map[string]int{}
	for i := range changes {
		if keep[i] && changes[i].kind == kindTask {
			tasks[changes[i].cluster]++
		}
	}
	for cluster, n := range tasks {
		x.byName[cluster] = newClusterIndex(n)
	}
	for i := range changes {
		if keep[i] {
			x.apply(&changes[i])
		}
	}
	return x, nil
}
