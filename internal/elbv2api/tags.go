package elbv2api

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

var tagRE = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

// validateTags applies ELB's tag rules: keys 1-128 characters, values up
// to 256, the model's character set, no duplicate keys, aws: reserved.
func validateTags(tags []elbv2.Tag, member string) error {
	if len(tags) > maxTags {
		return apiErr(elbv2.ErrTooManyTags, "%s: at most %d tags", member, maxTags)
	}
	seen := map[string]bool{}
	for i, t := range tags {
		m := fmt.Sprintf("%s.member.%d", member, i+1)
		switch {
		case len(t.Key) < 1 || len(t.Key) > 128 || !tagRE.MatchString(t.Key):
			return errValidation("%s.Key: must be 1-128 letters, digits, spaces and _.:/=+-@", m)
		case len(t.Value) > 256 || !tagRE.MatchString(t.Value):
			return errValidation("%s.Value: must be at most 256 letters, digits, spaces and _.:/=+-@", m)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errValidation("%s.Key: the aws: prefix is reserved", m)
		case seen[t.Key]:
			return apiErr(elbv2.ErrDuplicateTagKeys, "%s.Key: duplicate tag key '%s'", m, t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// tagged is a resource's tags and how to write them back (write also
// updates the world's record, so a later lookup sees the change).
type tagged struct {
	tags  []elbv2.Tag
	write func(tags []elbv2.Tag) (store.Op, error)
}

// findTagged resolves a load balancer, target group, listener or rule ARN.
func findTagged(w *world, arn, member string) (tagged, error) {
	switch resourceType(arn) {
	case "loadbalancer":
		if _, err := parseLBARN(arn); err != nil {
			return tagged{}, err
		}
		return lookupTagged(w.lb, arn, func(v *state.ELBLoadBalancer) *[]elbv2.Tag { return &v.Tags })
	case "targetgroup":
		if _, err := parseTGARN(arn); err != nil {
			return tagged{}, err
		}
		return lookupTagged(w.tg, arn, func(v *state.ELBTargetGroup) *[]elbv2.Tag { return &v.Tags })
	case "listener":
		if _, err := parseListenerARN(arn); err != nil {
			return tagged{}, err
		}
		return lookupTagged(w.listener, arn, func(v *state.ELBListener) *[]elbv2.Tag { return &v.Tags })
	case "listener-rule":
		r, l, err := findRule(w, arn)
		if err != nil {
			return tagged{}, err
		}
		if l != nil {
			return taggedOf(*l, func(v *state.ELBListener) *[]elbv2.Tag { return &v.DefaultRuleTags }), nil
		}
		return taggedOf(*r, func(v *state.ELBRule) *[]elbv2.Tag { return &v.Tags }), nil
	}
	return tagged{}, errValidation("%s: '%s' is not a valid load balancer, target group, listener or rule ARN", member, clip(arn))
}

// lookupTagged is taggedOf the record lookup finds for arn.
func lookupTagged[T any](lookup func(string) (rec[T], error), arn string, tags func(*T) *[]elbv2.Tag) (tagged, error) {
	r, err := lookup(arn)
	if err != nil {
		return tagged{}, err
	}
	return taggedOf(r, tags), nil
}

// taggedOf is the tags of record r, held in the field tags points to.
func taggedOf[T any](r rec[T], tags func(*T) *[]elbv2.Tag) tagged {
	next := *r.v
	return tagged{*tags(r.v), func(t []elbv2.Tag) (store.Op, error) {
		*tags(&next) = t
		*r.v = next
		return state.PutOp(r.key, &next, r.rev)
	}}
}

// AddTags adds or overwrites tags on resources.
func (s *Service) AddTags(ctx context.Context, in *elbv2.AddTagsInput) (*elbv2.AddTagsOutput, error) {
	if err := validateTags(in.Tags, "Tags"); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, errValidation("Tags: at least one tag must be given")
	}
	return &elbv2.AddTagsOutput{}, s.changeTags(ctx, in.ResourceArns, func(cur []elbv2.Tag) ([]elbv2.Tag, error) {
		out := slices.Clone(cur)
		for _, t := range in.Tags {
			if i := slices.IndexFunc(out, func(x elbv2.Tag) bool { return x.Key == t.Key }); i >= 0 {
				out[i].Value = t.Value
			} else {
				out = append(out, t)
			}
		}
		if len(out) > maxTags {
			return nil, apiErr(elbv2.ErrTooManyTags, "A resource can have at most %d tags", maxTags)
		}
		return out, nil
	})
}

// RemoveTags removes tags by key; keys not present are ignored.
func (s *Service) RemoveTags(ctx context.Context, in *elbv2.RemoveTagsInput) (*elbv2.RemoveTagsOutput, error) {
	if len(in.TagKeys) == 0 {
		return nil, errValidation("TagKeys: at least one key must be given")
	}
	return &elbv2.RemoveTagsOutput{}, s.changeTags(ctx, in.ResourceArns, func(cur []elbv2.Tag) ([]elbv2.Tag, error) {
		return slices.DeleteFunc(slices.Clone(cur), func(t elbv2.Tag) bool { return slices.Contains(in.TagKeys, t.Key) }), nil
	})
}

func (s *Service) changeTags(ctx context.Context, arns []string, change func([]elbv2.Tag) ([]elbv2.Tag, error)) error {
	if len(arns) == 0 {
		return errValidation("ResourceArns: at least one ARN must be given")
	}
	if len(arns) > 20 {
		return errValidation("ResourceArns: at most 20 ARNs")
	}
	_, err := update(ctx, s, func(w *world) (struct{}, []store.Op, error) {
		// A listener and its default rule share a record: later changes
		// see earlier ones (write updates w), and the last op per key wins.
		var ops []store.Op
		at := map[string]int{}
		for i, a := range dedupe(arns) {
			t, err := findTagged(w, a, fmt.Sprintf("ResourceArns.member.%d", i+1))
			if err != nil {
				return struct{}{}, nil, err
			}
			tags, err := change(t.tags)
			if err != nil {
				return struct{}{}, nil, err
			}
			op, err := t.write(tags)
			if err != nil {
				return struct{}{}, nil, errServer(err)
			}
			if i, ok := at[op.Key]; ok {
				ops[i] = op
				continue
			}
			at[op.Key] = len(ops)
			ops = append(ops, op)
		}
		return struct{}{}, ops, nil
	})
	return err
}

// DescribeTags returns the tags of up to 20 resources.
func (s *Service) DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput) (*elbv2.DescribeTagsOutput, error) {
	if len(in.ResourceArns) > 20 {
		return nil, errValidation("ResourceArns: at most 20 ARNs")
	}
	w, err := s.read(ctx)
	if err != nil {
		return nil, errServer(err)
	}
	out := &elbv2.DescribeTagsOutput{TagDescriptions: []elbv2.TagDescription{}}
	for i, a := range in.ResourceArns {
		t, err := findTagged(w, a, fmt.Sprintf("ResourceArns.member.%d", i+1))
		if err != nil {
			return nil, err
		}
		tags := t.tags
		if tags == nil {
			tags = []elbv2.Tag{}
		}
		out.TagDescriptions = append(out.TagDescriptions, elbv2.TagDescription{ResourceArn: a, Tags: tags})
	}
	return out, nil
}
