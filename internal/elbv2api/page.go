package elbv2api

import "github.com/berth-io/berth/internal/paging"

// Pagination (see internal/paging): Marker is the opaque sort key of the
// last item returned. PageSize is 1-400 as in ELB.

const maxPageSize = 400

// page returns the items after marker, at most pageSize of them, and the
// marker for the next page ("" when none). Items must be sorted by key.
func page[T any](items []T, key func(T) string, marker string, pageSize *int32) ([]T, string, error) {
	return paging.Page(items, key, marker, pageSize, paging.Rules{
		Max: maxPageSize,
		BadSize: func(size, max int32) error {
			return errValidation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and %d", size, max)
		},
		BadToken: func() error { return errValidation("Marker: invalid pagination marker") },
	})
}
