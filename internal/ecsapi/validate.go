package ecsapi

import (
	"strings"

	"github.com/berth-io/berth/api/ecs"
)

// validateTags applies ECS's tag rules: at most 50, keys 1-128 characters,
// values up to 256, no duplicate keys, and the aws: prefix reserved.
func validateTags(tags []ecs.Tag, member string) error {
	if len(tags) > 50 {
		return errInvalidParameter("%s: at most 50 tags, got %d", member, len(tags))
	}
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		switch {
		case len(t.Key) < 1 || len(t.Key) > 128:
			return errInvalidParameter("%s[%d].key: must be 1-128 characters", member, i)
		case len(t.Value) > 256:
			return errInvalidParameter("%s[%d].value: must be at most 256 characters", member, i)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errInvalidParameter("%s[%d].key: the aws: prefix is reserved", member, i)
		case seen[t.Key]:
			return errInvalidParameter("%s[%d].key: duplicate tag key %q", member, i, t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}
