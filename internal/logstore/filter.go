package logstore

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	bbolt "go.etcd.io/bbolt"
)

// defaultFilterScanLimit bounds the events one Filter call examines, so a
// rare pattern over a large group returns a (possibly empty) page with a
// token instead of scanning everything at once, as CloudWatch does.
const defaultFilterScanLimit = 250_000

// FilterQuery selects the events Filter returns.
type FilterQuery struct {
	// StreamNames restricts the search to these streams (missing ones are
	// ignored); StreamPrefix to streams whose names start with it. Both
	// empty means every stream of the group.
	StreamNames  []string
	StreamPrefix string
	// StartTime and EndTime bound the timestamps (ms), both inclusive, as
	// in CloudWatch's FilterLogEvents. EndTime 0 means no upper bound.
	StartTime, EndTime int64
	// Pattern is a CloudWatch filter pattern, of which berth supports the
	// terms: space-separated terms must all appear (ERROR Exception), a
	// quoted phrase appears as is ("disk full"), -term must not appear,
	// and of ?terms at least one must (?ERROR ?WARN). Matching is
	// case-sensitive. JSON ({ $.x = ... }), space-delimited ([a, b]) and
	// regular expression (%...%) patterns fail with a *PatternError.
	// Empty matches everything.
	Pattern string
	// Limit is the most events to return; 0 (or more than MaxPageEvents)
	// means MaxPageEvents.
	Limit int
	// Token continues from a previous FilterPage.Token.
	Token string
}

// FilteredEvent is an event and the stream it belongs to.
type FilteredEvent struct {
	Stream string
	Event
}

// FilterPage is one page of Filter results.
type FilterPage struct {
	// Events are in (timestamp, sequence) order across all streams.
	Events []FilteredEvent
	// Token reads the next page; "" when there are no more events. A page
	// may be short, or empty, and still have a token.
	Token string
}

func filterToken(k eventKey) string { return "n/" + hex.EncodeToString(k[:]) }

// Filter returns the events of a group's streams that match q, merged in
// (timestamp, sequence) order. It fails with ErrGroupNotFound,
// ErrInvalidToken or a *PatternError.
func (s *Store) Filter(ctx context.Context, group string, q FilterQuery) (FilterPage, error) {
	if err := ctx.Err(); err != nil {
		return FilterPage{}, err
	}
	pat, err := parsePattern(q.Pattern)
	if err != nil {
		return FilterPage{}, err
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPageEvents {
		limit = MaxPageEvents
	}
	lo := makeKey(q.StartTime, 0)
	if q.Token != "" {
		_, pos, err := parseToken(q.Token, "n")
		if err != nil {
			return FilterPage{}, fmt.Errorf("filter log events of %s: %w", group, err)
		}
		if next := pos.succ(); bytes.Compare(next[:], lo[:]) > 0 {
			lo = next
		}
	}
	hi := eventKey{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if q.EndTime != 0 && q.EndTime != math.MaxInt64 {
		hi = makeKey(q.EndTime+1, 0)
	}

	var page FilterPage
	err = s.view(func(tx *bbolt.Tx) error {
		gb := openGroup(tx, group)
		if gb == nil {
			return fmt.Errorf("filter log events of %s: %w", group, ErrGroupNotFound)
		}
		streams := gb.Bucket(streamsBucket)
		h := &mergeHeap{}
		add := func(name []byte) {
			sb := streams.Bucket(name)
			if sb == nil {
				return
			}
			c := sb.Bucket(eventsBucket).Cursor()
			if k, v := c.Seek(lo[:]); k != nil && bytes.Compare(k, hi[:]) < 0 {
				h.items = append(h.items, mergeItem{key: keyFromBytes(k), val: v, cur: c, stream: string(name)})
			}
		}
		if len(q.StreamNames) > 0 {
			seen := map[string]bool{}
			for _, n := range q.StreamNames {
				if !seen[n] && n != "" {
					seen[n] = true
					add([]byte(n))
				}
			}
		} else {
			c := streams.Cursor()
			for k, v := c.Seek([]byte(q.StreamPrefix)); k != nil && strings.HasPrefix(string(k), q.StreamPrefix); k, v = c.Next() {
				if v == nil {
					add(k)
				}
			}
		}
		heap.Init(h)

		size, scanned := 0, 0
		var last eventKey
		for h.Len() > 0 {
			if len(page.Events) == limit || scanned == s.filterScanLimit {
				page.Token = filterToken(last)
				break
			}
			it := &h.items[0]
			ingestion, msg, err := decodeValue(it.val)
			if err != nil {
				return err
			}
			if pat.empty() || pat.match(msg) {
				sz := len(msg) + EventOverhead
				if size+sz > MaxPageBytes && len(page.Events) > 0 {
					page.Token = filterToken(last)
					break
				}
				size += sz
				page.Events = append(page.Events, FilteredEvent{
					Stream: it.stream,
					Event:  Event{Timestamp: it.key.ts(), IngestionTime: ingestion, Message: string(msg), Seq: it.key.seq()},
				})
			}
			last = it.key
			scanned++
			if k, v := it.cur.Next(); k != nil && bytes.Compare(k, hi[:]) < 0 {
				it.key, it.val = keyFromBytes(k), v
				heap.Fix(h, 0)
			} else {
				heap.Pop(h)
			}
		}
		return nil
	})
	if err != nil {
		return FilterPage{}, err
	}
	if page.Events == nil {
		page.Events = []FilteredEvent{}
	}
	return page, nil
}

// mergeItem is one stream's cursor, positioned at its next event.
type mergeItem struct {
	key    eventKey
	val    []byte
	cur    *bbolt.Cursor
	stream string
}

// mergeHeap orders stream cursors by their next event's key.
type mergeHeap struct{ items []mergeItem }

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	return bytes.Compare(h.items[i].key[:], h.items[j].key[:]) < 0
}
func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)    { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}
