package ecsapi

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Attributes: name/value pairs on container instances, kept in the
// "attributes" member of the instance records (state.InstanceKey), beside
// the ones the agent reports when it registers. The scheduler matches
// placement constraints against them.
//
// Choices where ECS says little:
//   - Names starting with "ecs." or "com.amazonaws.ecs." belong to ECS and
//     the agent (ecs.os-type, ecs.capability.*): PutAttributes and
//     DeleteAttributes refuse them, and they do not count against the limit
//     of 10 custom attributes per instance.
//   - A targetId ARN names its cluster. When the request gives no cluster,
//     that cluster is used (ECS would assume "default"); when it gives one
//     that differs, the target is not found.
//   - Deleting an attribute the instance does not have succeeds.
//   - PutAttributes and DeleteAttributes apply all their changes in one
//     transaction: all or nothing.

func (s *Service) addAttributeOps(m map[string]awsjson.Op) {
	m["PutAttributes"] = awsjson.Handle(s.PutAttributes)
	m["DeleteAttributes"] = awsjson.Handle(s.DeleteAttributes)
	m["ListAttributes"] = awsjson.Handle(s.ListAttributes)
}

// Attribute limits ECS documents.
const (
	maxAttributesPerCall     = 10
	maxCustomAttrsPerTarget  = 10
	attributeTargetInstance  = ecs.TargetTypeContainerInstance
	reservedAttrPrefixECS    = "ecs."
	reservedAttrPrefixAmazon = "com.amazonaws.ecs."
)

var (
	// attrNameRE: 1-128 letters, numbers, hyphens, underscores, forward
	// slashes, back slashes or periods.
	attrNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-/\\.]{1,128}$`)
	// attrValueRE: 1-128 letters, numbers, hyphens, underscores, periods, at
	// signs, forward slashes, back slashes, colons or spaces, not starting or
	// ending with a space.
	attrValueRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.@/\\:]([a-zA-Z0-9_\-.@/\\: ]{0,126}[a-zA-Z0-9_\-.@/\\:])?$`)
)

// isReservedAttr reports whether name belongs to ECS rather than the user.
func isReservedAttr(name string) bool {
	return strings.HasPrefix(name, reservedAttrPrefixECS) || strings.HasPrefix(name, reservedAttrPrefixAmazon)
}

// validateAttribute checks one attribute of a Put/DeleteAttributes request.
// checkValue is false for DeleteAttributes, which ignores values.
func validateAttribute(a ecs.Attribute, i int, checkValue bool) error {
	p := fmt.Sprintf("attributes[%d]", i)
	if !attrNameRE.MatchString(a.Name) {
		return errInvalidParameter("%s.name: 1-128 letters, numbers, hyphens, underscores, forward slashes, back slashes or periods", p)
	}
	if isReservedAttr(a.Name) {
		return errInvalidParameter("%s.name: %q: the %s and %s prefixes are reserved for attributes ECS sets", p, a.Name, reservedAttrPrefixECS, reservedAttrPrefixAmazon)
	}
	if checkValue && a.Value != "" && !attrValueRE.MatchString(a.Value) {
		return errInvalidParameter("%s.value: 1-128 letters, numbers, hyphens, underscores, periods, at signs, forward slashes, back slashes, colons or spaces, not starting or ending with a space", p)
	}
	if a.TargetType != "" && a.TargetType != attributeTargetInstance {
		return errInvalidParameter("%s.targetType: %q is not container-instance", p, a.TargetType)
	}
	if a.TargetId == "" {
		return errInvalidParameter("%s.targetId: required", p)
	}
	if a.TargetType == "" && !strings.HasPrefix(a.TargetId, "arn:") {
		return errInvalidParameter("%s.targetType: required when targetId is not an ARN", p)
	}
	return nil
}

// attrChange is one attribute of a request resolved to its instance record.
type attrChange struct {
	key  string
	attr ecs.Attribute
}

// resolveAttrTargets validates the attributes of a Put/DeleteAttributes
// request and resolves each to the store key of its container instance.
// Clusters must exist; whether the instances do is checked when they are
// read.
func (s *Service) resolveAttrTargets(ctx context.Context, clusterRef string, attrs []ecs.Attribute, checkValue bool) ([]attrChange, error) {
	if len(attrs) == 0 {
		return nil, errInvalidParameter("attributes: at least one attribute is required")
	}
	if len(attrs) > maxAttributesPerCall {
		return nil, errInvalidParameter("attributes: at most %d attributes per call, got %d", maxAttributesPerCall, len(attrs))
	}
	reqCluster, err := clusterName(clusterRef, "cluster")
	if err != nil {
		return nil, err
	}
	checked := map[string]bool{}
	out := make([]attrChange, 0, len(attrs))
	for i, a := range attrs {
		if err := validateAttribute(a, i, checkValue); err != nil {
			return nil, err
		}
		member := fmt.Sprintf("attributes[%d].targetId", i)
		arnCluster, id, err := idRef(a.TargetId, attributeTargetInstance, member)
		if err != nil {
			return nil, err
		}
		cluster := reqCluster
		switch {
		case arnCluster == "":
		case clusterRef == "":
			cluster = arnCluster
		case arnCluster != reqCluster:
			return nil, awsErr(ecs.ErrTargetNotFound, "%s: %s is not in cluster %s", member, a.TargetId, reqCluster)
		}
		if !checked[cluster] {
			if _, _, err := s.activeCluster(ctx, cluster, "cluster"); err != nil {
				return nil, err
			}
			checked[cluster] = true
		}
		out = append(out, attrChange{key: state.InstanceKey(cluster, id), attr: a})
	}
	return out, nil
}

// applyAttrChanges reads each instance record the changes touch, applies f
// to its attributes, and commits every record in one transaction (retried
// when a controller or the agent server wrote an instance in between). The
// caller holds s.mu.
func (s *Service) applyAttrChanges(ctx context.Context, changes []attrChange, f func(attrs []ecs.Attribute, c []attrChange) ([]ecs.Attribute, error)) error {
	var keys []string
	byKey := map[string][]attrChange{}
	for _, c := range changes {
		if _, ok := byKey[c.key]; !ok {
			keys = append(keys, c.key)
		}
		byKey[c.key] = append(byKey[c.key], c)
	}
	return s.retryConflicts(ctx, func() ([]store.Op, error) {
		ops := make([]store.Op, 0, len(keys))
		for _, key := range keys {
			cs := byKey[key]
			rec, err := s.getRaw(ctx, key)
			var status string
			if err == nil {
				err = rec.get("status", &status)
			}
			if state.IsNotFound(err) || status == "INACTIVE" {
				return nil, awsErr(ecs.ErrTargetNotFound, "targetId: container instance %s was not found", cs[0].attr.TargetId)
			}
			if err != nil {
				return nil, errServer(err)
			}
			var attrs []ecs.Attribute
			if err := rec.get("attributes", &attrs); err != nil {
				return nil, errServer(err)
			}
			attrs, err = f(attrs, cs)
			if err != nil {
				return nil, err
			}
			if err := rec.set("attributes", attrs); err != nil {
				return nil, errServer(err)
			}
			op, err := rec.putOp()
			if err != nil {
				return nil, errServer(err)
			}
			ops = append(ops, op)
		}
		return ops, nil
	})
}

// PutAttributes creates or updates attributes on container instances.
func (s *Service) PutAttributes(ctx context.Context, in *ecs.PutAttributesRequest) (*ecs.PutAttributesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := s.resolveAttrTargets(ctx, in.Cluster, in.Attributes, true)
	if err != nil {
		return nil, err
	}
	err = s.applyAttrChanges(ctx, changes, func(attrs []ecs.Attribute, cs []attrChange) ([]ecs.Attribute, error) {
		out := slices.Clone(attrs)
		for _, c := range cs {
			a := ecs.Attribute{Name: c.attr.Name, Value: c.attr.Value}
			if i := slices.IndexFunc(out, func(o ecs.Attribute) bool { return o.Name == a.Name }); i >= 0 {
				out[i] = a
			} else {
				out = append(out, a)
			}
		}
		n := 0
		for _, a := range out {
			if !isReservedAttr(a.Name) {
				n++
			}
		}
		if n > maxCustomAttrsPerTarget {
			return nil, awsErr(ecs.ErrAttributeLimitExceeded, "attributes: container instance %s would have %d custom attributes; the limit is %d", cs[0].attr.TargetId, n, maxCustomAttrsPerTarget)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return &ecs.PutAttributesResponse{Attributes: in.Attributes}, nil
}

// DeleteAttributes removes attributes (by name) from container instances.
func (s *Service) DeleteAttributes(ctx context.Context, in *ecs.DeleteAttributesRequest) (*ecs.DeleteAttributesResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := s.resolveAttrTargets(ctx, in.Cluster, in.Attributes, false)
	if err != nil {
		return nil, err
	}
	err = s.applyAttrChanges(ctx, changes, func(attrs []ecs.Attribute, cs []attrChange) ([]ecs.Attribute, error) {
		return slices.DeleteFunc(slices.Clone(attrs), func(a ecs.Attribute) bool {
			return slices.ContainsFunc(cs, func(c attrChange) bool { return c.attr.Name == a.Name })
		}), nil
	})
	if err != nil {
		return nil, err
	}
	return &ecs.DeleteAttributesResponse{Attributes: in.Attributes}, nil
}

// ListAttributes lists the attributes of a cluster's container instances,
// the ones ECS sets included, optionally only those with a given name (and
// value), ordered by instance then attribute name.
func (s *Service) ListAttributes(ctx context.Context, in *ecs.ListAttributesRequest) (*ecs.ListAttributesResponse, error) {
	if !ecs.ValidTargetType(in.TargetType) {
		return nil, errInvalidParameter("targetType: %q is not container-instance", in.TargetType)
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, errInvalidParameter("attributeValue: attributeName is required to filter by value")
	}
	cluster, _, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	prefix := state.InstancesOf(cluster)
	kvs, _, err := s.st.List(ctx, prefix)
	if err != nil {
		return nil, errServer(err)
	}
	type item struct {
		sortKey string
		attr    ecs.Attribute
	}
	var items []item
	for _, kv := range kvs {
		id := strings.TrimPrefix(kv.Key, prefix)
		rec, err := rawFromKV(kv)
		if err != nil {
			return nil, errServer(err)
		}
		var status string
		var attrs []ecs.Attribute
		if err := rec.get("status", &status); err != nil {
			return nil, errServer(err)
		}
		if err := rec.get("attributes", &attrs); err != nil {
			return nil, errServer(err)
		}
		if status == "INACTIVE" {
			continue
		}
		arn := s.instanceARN(cluster, id)
		for _, a := range attrs {
			if in.AttributeName != "" && a.Name != in.AttributeName {
				continue
			}
			if in.AttributeValue != "" && a.Value != in.AttributeValue {
				continue
			}
			items = append(items, item{
				sortKey: id + "\x00" + a.Name,
				attr:    ecs.Attribute{Name: a.Name, Value: a.Value, TargetType: attributeTargetInstance, TargetId: arn},
			})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].sortKey < items[j].sortKey })
	pg, next, err := page(items, func(it item) string { return it.sortKey }, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListAttributesResponse{Attributes: make([]ecs.Attribute, 0, len(pg)), NextToken: next}
	for _, it := range pg {
		out.Attributes = append(out.Attributes, it.attr)
	}
	return out, nil
}
