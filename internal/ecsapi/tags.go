package ecsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Tagging by ARN. Tags live in each resource's own record, under its
// "tags" member:
//
//	cluster/NAME                    state.ClusterKey          ecs.Cluster.Tags
//	service/CLUSTER/NAME            state.ServiceKey          ecs.Service.Tags
//	task/CLUSTER/ID                 state.TaskKey             ecs.Task.Tags
//	container-instance/CLUSTER/ID   state.InstanceKey         ecs.ContainerInstance.Tags
//	task-definition/FAMILY:REV      state.TaskDefKey          state.TaskDefinition.Tags
//
// Records are changed at the JSON level (rawRecord), touching only the
// member being changed, so fields another component keeps in the same
// record survive a tag or attribute update even if this package does not
// model them.
//
// Errors: an ARN that is not an ECS resource ARN (or an old-format
// service/task/container-instance ARN without the cluster) is an
// InvalidParameterException; a missing or INACTIVE cluster is
// ClusterNotFoundException; any other missing resource is
// ResourceNotFoundException for TagResource and UntagResource and, because
// ListTagsForResource's model lists no ResourceNotFoundException, an
// InvalidParameterException there. More than 50 tags after a merge is a
// LimitExceededException (TagResource lists it; ECS's limit is per
// resource, and aws:-prefixed tags do not count).

func (s *Service) addTagOps(m map[string]awsjson.Op) {
	m["TagResource"] = awsjson.Handle(s.TagResource)
	m["UntagResource"] = awsjson.Handle(s.UntagResource)
	m["ListTagsForResource"] = awsjson.Handle(s.ListTagsForResource)
}

const maxTagsPerResource = 50

// TagResource adds tags to a resource, replacing the values of keys it
// already has.
func (s *Service) TagResource(ctx context.Context, in *ecs.TagResourceRequest) (*ecs.TagResourceResponse, error) {
	if err := validateTags(in.Tags, "tags"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.mutateTags(ctx, in.ResourceArn, ecs.ErrResourceNotFound, func(tags []ecs.Tag) ([]ecs.Tag, error) {
		out := slices.Clone(tags)
		for _, t := range in.Tags {
			if i := slices.IndexFunc(out, func(o ecs.Tag) bool { return o.Key == t.Key }); i >= 0 {
				out[i].Value = t.Value
			} else {
				out = append(out, t)
			}
		}
		if n := countUserTags(out); n > maxTagsPerResource {
			return nil, awsErr(ecs.ErrLimitExceeded, "tags: the resource would have %d tags; the limit is %d", n, maxTagsPerResource)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return &ecs.TagResourceResponse{}, nil
}

// UntagResource removes tags by key; keys the resource does not have are
// ignored.
func (s *Service) UntagResource(ctx context.Context, in *ecs.UntagResourceRequest) (*ecs.UntagResourceResponse, error) {
	for i, k := range in.TagKeys {
		switch {
		case len(k) < 1 || len(k) > 128:
			return nil, errInvalidParameter("tagKeys[%d]: must be 1-128 characters", i)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, errInvalidParameter("tagKeys[%d]: tags with the aws: prefix cannot be removed", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.mutateTags(ctx, in.ResourceArn, ecs.ErrResourceNotFound, func(tags []ecs.Tag) ([]ecs.Tag, error) {
		return slices.DeleteFunc(slices.Clone(tags), func(t ecs.Tag) bool { return slices.Contains(in.TagKeys, t.Key) }), nil
	})
	if err != nil {
		return nil, err
	}
	return &ecs.UntagResourceResponse{}, nil
}

// ListTagsForResource returns a resource's tags ([] when it has none).
func (s *Service) ListTagsForResource(ctx context.Context, in *ecs.ListTagsForResourceRequest) (*ecs.ListTagsForResourceResponse, error) {
	key, err := s.taggedResource(ctx, in.ResourceArn, ecs.ErrInvalidParameter)
	if err != nil {
		return nil, err
	}
	rec, err := s.getRaw(ctx, key)
	if err != nil {
		return nil, errServer(err)
	}
	tags := []ecs.Tag{}
	if err := rec.get("tags", &tags); err != nil {
		return nil, errServer(err)
	}
	if tags == nil {
		tags = []ecs.Tag{}
	}
	return &ecs.ListTagsForResourceResponse{Tags: tags}, nil
}

// countUserTags counts the tags that count against the per-resource limit.
func countUserTags(tags []ecs.Tag) int {
	n := 0
	for _, t := range tags {
		if !strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			n++
		}
	}
	return n
}

// mutateTags applies f to the tags of the resource arn names and stores the
// result with compare-and-swap, retrying when a controller changed the
// record in between. The caller holds s.mu.
func (s *Service) mutateTags(ctx context.Context, arn, notFoundCode string, f func([]ecs.Tag) ([]ecs.Tag, error)) error {
	key, err := s.taggedResource(ctx, arn, notFoundCode)
	if err != nil {
		return err
	}
	return s.retryConflicts(ctx, func() ([]store.Op, error) {
		rec, err := s.getRaw(ctx, key)
		if state.IsNotFound(err) {
			return nil, awsErr(notFoundCode, "resourceArn: %s was not found", arn)
		}
		if err != nil {
			return nil, errServer(err)
		}
		var tags []ecs.Tag
		if err := rec.get("tags", &tags); err != nil {
			return nil, errServer(err)
		}
		tags, err = f(tags)
		if err != nil {
			return nil, err
		}
		if err := rec.set("tags", tags); err != nil {
			return nil, errServer(err)
		}
		op, err := rec.putOp()
		if err != nil {
			return nil, errServer(err)
		}
		return []store.Op{op}, nil
	})
}

// maxConflictRetries bounds how often a tag or attribute update is retried
// when another writer (a controller, the agent server) changed the record
// between the read and the write.
const maxConflictRetries = 5

// retryConflicts runs build and commits its ops, rebuilding from a fresh
// read when the commit loses a compare-and-swap race.
func (s *Service) retryConflicts(ctx context.Context, build func() ([]store.Op, error)) error {
	for attempt := 0; ; attempt++ {
		ops, err := build()
		if err != nil {
			return err
		}
		if len(ops) == 0 {
			return nil
		}
		_, err = s.st.Txn(ctx, ops...)
		var ce *store.ConflictError
		if errors.As(err, &ce) && attempt < maxConflictRetries {
			continue
		}
		if err != nil {
			return errServer(conflictAsServer(err))
		}
		return nil
	}
}

// taggedResource resolves a taggable resource ARN to its store key, checking
// that the resource exists. notFoundCode is the exception for a missing
// resource other than a cluster.
func (s *Service) taggedResource(ctx context.Context, arn, notFoundCode string) (string, error) {
	a, ok := parseARN(arn)
	if !ok {
		return "", errInvalidParameter("resourceArn: %q is not an ECS resource ARN (arn:aws:ecs:REGION:ACCOUNT:TYPE/ID)", arn)
	}
	if a.Region != s.region || a.Account != s.account {
		return "", errInvalidParameter("resourceArn: %q is in region %q, account %q; this endpoint serves region %q, account %q", arn, a.Region, a.Account, s.region, s.account)
	}
	notFound := func() error { return awsErr(notFoundCode, "resourceArn: %s was not found", arn) }
	// exists reports whether key holds a record whose status is not one of dead.
	exists := func(key string, dead ...string) (bool, error) {
		rec, err := s.getRaw(ctx, key)
		if state.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, errServer(err)
		}
		var status string
		if err := rec.get("status", &status); err != nil {
			return false, errServer(err)
		}
		return !slices.Contains(dead, status), nil
	}
	switch a.Type {
	case "cluster":
		if len(a.Path) != 1 || !nameRE.MatchString(a.Path[0]) {
			return "", errInvalidParameter("resourceArn: %q is not a cluster ARN", arn)
		}
		key := state.ClusterKey(a.Path[0])
		ok, err := exists(key, clusterInactive)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errClusterNotFound()
		}
		return key, nil
	case "service", "task", "container-instance":
		if len(a.Path) != 2 {
			return "", errInvalidParameter("resourceArn: the long ARN format (%s/CLUSTER/ID) must be used for tagging operations", a.Type)
		}
		cluster, id := a.Path[0], a.Path[1]
		if !nameRE.MatchString(cluster) || id == "" || len(id) > 255 {
			return "", errInvalidParameter("resourceArn: %q is not a %s ARN", arn, a.Type)
		}
		ok, err := exists(state.ClusterKey(cluster), clusterInactive)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errClusterNotFound()
		}
		var key string
		var dead []string
		switch a.Type {
		case "service":
			key, dead = state.ServiceKey(cluster, id), []string{"INACTIVE"}
		case "task":
			key = state.TaskKey(cluster, id)
		default:
			key, dead = state.InstanceKey(cluster, id), []string{"INACTIVE"}
		}
		ok, err = exists(key, dead...)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", notFound()
		}
		return key, nil
	case "task-definition":
		family, rev, err := taskDefRef(arn, "resourceArn")
		if err != nil {
			return "", err
		}
		if rev == 0 {
			return "", errInvalidParameter("resourceArn: a task definition ARN must name a revision (task-definition/FAMILY:REVISION)")
		}
		key := state.TaskDefKey(family, rev)
		ok, err := exists(key)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", notFound()
		}
		return key, nil
	}
	return "", errInvalidParameter("resourceArn: berth cannot tag %s resources (clusters, services, tasks, container instances and task definitions only)", a.Type)
}

// rawRecord is a stored resource decoded only to its top-level members, so
// an update of one member leaves every other member as it was.
type rawRecord struct {
	key     string
	rev     int64
	members map[string]json.RawMessage
}

func (s *Service) getRaw(ctx context.Context, key string) (rawRecord, error) {
	kv, err := s.st.Get(ctx, key)
	if err != nil {
		return rawRecord{}, err
	}
	return rawFromKV(kv)
}

func rawFromKV(kv store.KV) (rawRecord, error) {
	r := rawRecord{key: kv.Key, rev: kv.ModRevision}
	if err := json.Unmarshal(kv.Value, &r.members); err != nil {
		return rawRecord{}, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	if r.members == nil {
		r.members = map[string]json.RawMessage{}
	}
	return r, nil
}

// get decodes member into v; an absent member leaves v unchanged.
func (r rawRecord) get(member string, v any) error {
	b, ok := r.members[member]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s.%s: %w", r.key, member, err)
	}
	return nil
}

// set replaces member with v; an empty slice removes it (the wire types
// omit empty lists).
func (r rawRecord) set(member string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s.%s: %w", r.key, member, err)
	}
	if string(b) == "[]" || string(b) == "null" {
		delete(r.members, member)
		return nil
	}
	r.members[member] = b
	return nil
}

// putOp writes the record back if nobody changed it since it was read.
func (r rawRecord) putOp() (store.Op, error) {
	return state.PutOp(r.key, r.members, r.rev)
}
