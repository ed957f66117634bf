package ecsapi

import "github.com/berth-io/berth/internal/paging"

// Pagination (see internal/paging): nextToken is the opaque sort key of
// the last item returned, and survives writes in between, as ECS's does.

const defaultMaxResults = 100

// page returns the items after token, at most maxResults of them (limit
// when nil, and never more), and the token for the next page ("" when
// none). Items must be sorted ascending by key.
func page[T any](items []T, key func(T) string, token string, maxResults *int32, limit int32) ([]T, string, error) {
	return paging.Page(items, key, token, maxResults, paging.Rules{
		Max: limit,
		BadSize: func(_, max int32) error {
			return errInvalidParameter("maxResults: must be between 1 and %d", max)
		},
		BadToken: func() error { return errInvalidParameter("nextToken: invalid pagination token") },
	})
}
