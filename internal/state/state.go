// Package state is the typed layer over the store: the key layout of every
// ECS resource berth keeps, and JSON get/put helpers that carry the store
// revision for compare-and-swap. The API, the controllers and the agent
// server all read and write resources through it, so the layout lives in
// one place.
//
// Key layout (all under "ecs/"):
//
//	ecs/clusters/<cluster>                      ecs.Cluster
//	ecs/families/<family>                       Family (revision counter)
//	ecs/taskdefs/<family>/<revision %010d>      TaskDefinition
//	ecs/services/<cluster>/<service>            ecs.Service
//	ecs/tasks/<cluster>/<task id>               ecs.Task
//	ecs/instances/<cluster>/<instance id>       ecs.ContainerInstance
//
// Cluster, service and family names are restricted by validation to
// [A-Za-z0-9_-], so they never contain the separator.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/store"
)

// Key prefixes.
const (
	ClustersPrefix  = "ecs/clusters/"
	FamiliesPrefix  = "ecs/families/"
	TaskDefsPrefix  = "ecs/taskdefs/"
	ServicesPrefix  = "ecs/services/"
	TasksPrefix     = "ecs/tasks/"
	InstancesPrefix = "ecs/instances/"
)

// ClusterKey is the key of a cluster.
func ClusterKey(name string) string { return ClustersPrefix + name }

// FamilyKey is the key of a task definition family's counter.
func FamilyKey(family string) string { return FamiliesPrefix + family }

// TaskDefKey is the key of one task definition revision.
func TaskDefKey(family string, rev int32) string {
	return fmt.Sprintf("%s%s/%010d", TaskDefsPrefix, family, rev)
}

// TaskDefFamilyPrefix lists every revision of a family.
func TaskDefFamilyPrefix(family string) string { return TaskDefsPrefix + family + "/" }

// ServiceKey is the key of a service.
func ServiceKey(cluster, name string) string { return ServicesPrefix + cluster + "/" + name }

// ServicesOf lists the services of a cluster.
func ServicesOf(cluster string) string { return ServicesPrefix + cluster + "/" }

// TaskKey is the key of a task.
func TaskKey(cluster, id string) string { return TasksPrefix + cluster + "/" + id }

// TasksOf lists the tasks of a cluster.
func TasksOf(cluster string) string { return TasksPrefix + cluster + "/" }

// InstanceKey is the key of a container instance.
func InstanceKey(cluster, id string) string { return InstancesPrefix + cluster + "/" + id }

// InstancesOf lists the container instances of a cluster.
func InstancesOf(cluster string) string { return InstancesPrefix + cluster + "/" }

// Family is the per-family record that numbers revisions: revisions are never
// reused, even after DeleteTaskDefinitions.
type Family struct {
	Name         string `json:"name"`
	LastRevision int32  `json:"lastRevision"`
}

// TaskDefinition is a stored task definition revision with its tags (the
// wire TaskDefinition shape has no tags member; ECS returns them beside it).
type TaskDefinition struct {
	ecs.TaskDefinition
	Tags []ecs.Tag `json:"tags,omitzero"`
}

// Record is a decoded value with the revision it was read at.
type Record[T any] struct {
	Value    *T
	Revision int64
}

// Get reads and decodes key. It returns store.ErrNotFound when absent.
func Get[T any](ctx context.Context, st store.Store, key string) (Record[T], error) {
	kv, err := st.Get(ctx, key)
	if err != nil {
		return Record[T]{}, err
	}
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return Record[T]{}, fmt.Errorf("decode %s: %w", key, err)
	}
	return Record[T]{Value: v, Revision: kv.ModRevision}, nil
}

// List reads and decodes every key under prefix, in key order.
func List[T any](ctx context.Context, st store.Store, prefix string) ([]Record[T], error) {
	kvs, _, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Record[T], 0, len(kvs))
	for _, kv := range kvs {
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, Record[T]{Value: v, Revision: kv.ModRevision})
	}
	return out, nil
}

// PutOp encodes v as a conditional put of key: rev is store.Any, store.Absent
// or the revision read (compare-and-swap).
func PutOp(key string, v any, rev int64) (store.Op, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return store.Op{}, fmt.Errorf("encode %s: %w", key, err)
	}
	return store.Op{Kind: store.OpPut, Key: key, Value: b, Want: rev}, nil
}

// IsNotFound reports whether err is store.ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
