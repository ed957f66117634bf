// Package paging pages through a sorted list the way the AWS APIs berth
// serves do: the token handed back is the opaque (base64) sort key of the
// last item returned, and the next page starts after it, so tokens survive
// writes in between.
//
// Each API names the token and the page size its own way (ELB: Marker and
// PageSize; ECS: nextToken and maxResults) and words its own validation
// errors, so those come in through Rules.
package paging

import (
	"encoding/base64"
	"sort"
)

// Rules are one API's page size limit and its errors for bad requests.
type Rules struct {
	// Max is the largest page size, and the size when none is given.
	Max int32
	// BadSize returns the API's error for a page size outside 1..Max.
	BadSize func(size, max int32) error
	// BadToken returns the API's error for a token that does not decode.
	BadToken func() error
}

// Page returns the items after token, at most size of them (Max when size
// is nil), and the token for the next page ("" when none). Items must be
// sorted ascending by key.
func Page[T any](items []T, key func(T) string, token string, size *int32, r Rules) ([]T, string, error) {
	n := r.Max
	if size != nil {
		if *size < 1 || *size > r.Max {
			return nil, "", r.BadSize(*size, r.Max)
		}
		n = *size
	}
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return nil, "", r.BadToken()
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
