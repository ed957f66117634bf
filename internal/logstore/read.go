package logstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"
)

// Query selects the events GetEvents returns.
type Query struct {
	// StartTime and EndTime bound the events' timestamps (ms):
	// StartTime <= timestamp < EndTime, as in CloudWatch's GetLogEvents.
	// EndTime 0 means no upper bound.
	StartTime, EndTime int64
	// Limit is the most events to return; 0 (or more than MaxPageEvents)
	// means MaxPageEvents.
	Limit int
	// StartFromHead reads from the oldest event when Token is empty;
	// otherwise the page holds the newest events.
	StartFromHead bool
	// Token continues from a previous page's ForwardToken or BackwardToken;
	// its direction wins over StartFromHead.
	Token string
}

// Page is one page of a stream's events.
type Page struct {
	// Events are in ascending (timestamp, sequence) order in both directions.
	Events []Event
	// ForwardToken reads the events after this page; BackwardToken those
	// before it. When a read finds nothing, the token it was given comes
	// back unchanged: that is how a reader knows it reached the end.
	ForwardToken, BackwardToken string
	// LastSeq is the stream's latest sequence when the page was read; pass
	// it to Wait to block until the stream grows.
	LastSeq uint64
}

// Tokens are "f/" or "b/" and the 32 hex digits of an event key: a forward
// token reads the events after the key, a backward token those before it.

func forwardToken(k eventKey) string  { return "f/" + hex.EncodeToString(k[:]) }
func backwardToken(k eventKey) string { return "b/" + hex.EncodeToString(k[:]) }

func parseToken(tok, prefixes string) (dir byte, k eventKey, err error) {
	if len(tok) != 2+2*keyLen || tok[1] != '/' || !strings.ContainsRune(prefixes, rune(tok[0])) {
		return 0, k, ErrInvalidToken
	}
	b, err := hex.DecodeString(tok[2:])
	if err != nil {
		return 0, k, ErrInvalidToken
	}
	copy(k[:], b)
	return tok[0], k, nil
}

// GetEvents returns a page of one stream's events, CloudWatch GetLogEvents
// style: from the head or the tail of the time range, then forward or
// backward from a token. It fails with ErrGroupNotFound, ErrStreamNotFound
// or ErrInvalidToken.
func (s *Store) GetEvents(ctx context.Context, group, stream string, q Query) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit <= 0 || limit > MaxPageEvents {
		limit = MaxPageEvents
	}
	var dir byte
	var pos eventKey
	if q.Token != "" {
		var err error
		if dir, pos, err = parseToken(q.Token, "fb"); err != nil {
			return Page{}, fmt.Errorf("get log events of %s/%s: %w", group, stream, err)
		}
	}
	// The time range as keys: lo <= key < hi.
	lo := makeKey(q.StartTime, 0)
	hi := eventKey{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if q.EndTime != 0 {
		hi = makeKey(q.EndTime, 0)
	}

	var page Page
	err := s.view(func(tx *bbolt.Tx) error {
		_, sb, err := openStream(tx, group, stream)
		if err != nil {
			return fmt.Errorf("get log events of %s/%s: %w", group, stream, err)
		}
		st, err := readStream(sb)
		if err != nil {
			return err
		}
		page.LastSeq = st.LastSeq
		c := sb.Bucket(eventsBucket).Cursor()
		forward := dir == 'f' || (dir == 0 && q.StartFromHead)
		if forward {
			from := lo
			if next := pos.succ(); dir == 'f' && bytes.Compare(next[:], lo[:]) > 0 {
				from = next
			}
			page.Events, err = readForward(c, from, hi, limit)
			switch {
			case len(page.Events) > 0:
				first, last := page.Events[0], page.Events[len(page.Events)-1]
				page.ForwardToken = forwardToken(makeKey(last.Timestamp, last.Seq))
				page.BackwardToken = backwardToken(makeKey(first.Timestamp, first.Seq))
			case dir == 'f':
				page.ForwardToken = q.Token
				page.BackwardToken = backwardToken(from)
			default:
				page.ForwardToken = forwardToken(from.pred())
				page.BackwardToken = backwardToken(from)
			}
			return err
		}
		to := hi
		if dir == 'b' && bytes.Compare(pos[:], hi[:]) < 0 {
			to = pos
		}
		page.Events, err = readBackward(c, lo, to, limit)
		switch {
		case len(page.Events) > 0:
			first, last := page.Events[0], page.Events[len(page.Events)-1]
			page.ForwardToken = forwardToken(makeKey(last.Timestamp, last.Seq))
			page.BackwardToken = backwardToken(makeKey(first.Timestamp, first.Seq))
		case dir == 'b':
			page.BackwardToken = q.Token
			page.ForwardToken = forwardToken(to.pred())
		default:
			// Nothing in the range yet: reading forward starts at its
			// beginning, so a follower sees the first events to arrive.
			page.BackwardToken = backwardToken(lo)
			page.ForwardToken = forwardToken(lo.pred())
		}
		return err
	})
	if err != nil {
		return Page{}, err
	}
	if page.Events == nil {
		page.Events = []Event{}
	}
	return page, nil
}

// readForward returns up to limit events with from <= key < hi, ascending,
// within MaxPageBytes.
func readForward(c *bbolt.Cursor, from, hi eventKey, limit int) ([]Event, error) {
	var out []Event
	size := 0
	for k, v := c.Seek(from[:]); k != nil && bytes.Compare(k, hi[:]) < 0 && len(out) < limit; k, v = c.Next() {
		e, err := decodeEvent(k, v)
		if err != nil {
			return nil, err
		}
		size += len(e.Message) + EventOverhead
		if size > MaxPageBytes && len(out) > 0 {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// readBackward returns the last (up to limit) events with lo <= key < to,
// ascending, within MaxPageBytes.
func readBackward(c *bbolt.Cursor, lo, to eventKey, limit int) ([]Event, error) {
	var out []Event
	size := 0
	k, v := c.Seek(to[:])
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.Compare(k, lo[:]) >= 0 && len(out) < limit; k, v = c.Prev() {
		e, err := decodeEvent(k, v)
		if err != nil {
			return nil, err
		}
		size += len(e.Message) + EventOverhead
		if size > MaxPageBytes && len(out) > 0 {
			break
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	return out, nil
}
