package ecsapi

import (
	"encoding/base64"
	"sort"
)

// Pagination: nextToken is the opaque (base64) sort key of the last item
// returned; the next page starts after it. Tokens survive writes in
// between, as ECS's do.

const defaultMaxResults = 100

// page returns the items after token, at most max of them, and the token for
// the next page ("" when none). keys must be sorted ascending and parallel
// to the items' order.
func page[T any](items []T, key func(T) string, token string, maxResults *int32, limit int32) ([]T, string, error) {
	n := limit
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > limit {
			return nil, "", errInvalidParameter("maxResults: must be between 1 and %d", limit)
		}
		n = *maxResults
	}
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return nil, "", errInvalidParameter("nextToken: invalid pagination token")
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > string(after) })
	}
	end := start + int(n)
	if end >= len(items) {
		return items[start:], "", nil
	}
	out := items[start:end]
	return out, base64.RawURLEncoding.EncodeToString([]byte(key(out[len(out)-1]))), nil
}
