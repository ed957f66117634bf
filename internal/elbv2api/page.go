package elbv2api

import (
	"encoding/base64"
	"sort"
)

// Pagination: Marker is the opaque (base64) sort key of the last item
// returned; the next page starts after it, so markers survive writes in
// between. PageSize is 1-400 as in ELB.

const maxPageSize = 400

// page returns the items after marker, at most pageSize of them, and the
// marker for the next page ("" when none). Items must be sorted by key.
func page[T any](items []T, key func(T) string, marker string, pageSize *int32) ([]T, string, error) {
	n := int32(maxPageSize)
	if pageSize != nil {
		if *pageSize < 1 || *pageSize > maxPageSize {
			return nil, "", errValidation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and %d", *pageSize, maxPageSize)
		}
		n = *pageSize
	}
	start := 0
	if marker != "" {
		after, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || len(after) == 0 {
			return nil, "", errValidation("Marker: invalid pagination marker")
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
