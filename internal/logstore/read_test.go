package logstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// appendN appends events "e0".."e<n-1>" with timestamps 1000, 1010, ...
func appendN(t *testing.T, s *Store, group, stream string, n int) {
	t.Helper()
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{Timestamp: int64(1000 + 10*i), Message: fmt.Sprintf("e%d", i)}
	}
	mustAppend(t, s, group, stream, evs)
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("e%d", i))
	}
	return out
}

func TestGetEventsForwardPagingEndsWithTheSameToken(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	appendN(t, s, "g", "s", 25)

	var got []string
	q := Query{StartFromHead: true, Limit: 10}
	var sizes []int
	for range 10 {
		p, err := s.GetEvents(bg, "g", "s", q)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(p.Events))
		got = append(got, messages(p.Events)...)
		if p.ForwardToken == q.Token {
			break
		}
		q.Token = p.ForwardToken
	}
	if diff := cmp.Diff([]int{10, 10, 5, 0}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(names(0, 25), got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}

	// The end token picks up events appended later.
	appendN(t, s, "g", "s2", 0) // another stream does not matter
	mustAppend(t, s, "g", "s", events(5000, "late"))
	p, err := s.GetEvents(bg, "g", "s", q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"late"}, messages(p.Events)); diff != "" {
		t.Fatalf("after append (-want +got):\n%s", diff)
	}
}

func TestGetEventsTailThenBackward(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	appendN(t, s, "g", "s", 25)

	p, err := s.GetEvents(bg, "g", "s", Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names(15, 25), messages(p.Events)); diff != "" {
		t.Fatalf("tail (-want +got):\n%s", diff)
	}
	fwd := p.ForwardToken

	var pages [][]string
	tok := p.BackwardToken
	for range 10 {
		p, err := s.GetEvents(bg, "g", "s", Query{Limit: 10, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, messages(p.Events))
		if p.BackwardToken == tok {
			break
		}
		tok = p.BackwardToken
	}
	want := [][]string{names(5, 15), names(0, 5), {}}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Fatalf("backward pages (-want +got):\n%s", diff)
	}

	// From the head's empty backward page, forward reads from the start again.
	p, err = s.GetEvents(bg, "g", "s", Query{Limit: 3, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 0 {
		t.Fatalf("backward past the head: got %q, want none", messages(p.Events))
	}
	p, err = s.GetEvents(bg, "g", "s", Query{Limit: 3, Token: p.ForwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names(0, 3), messages(p.Events)); diff != "" {
		t.Fatalf("forward from the head (-want +got):\n%s", diff)
	}

	// The tail's forward token sees only new events.
	p, err = s.GetEvents(bg, "g", "s", Query{Token: fwd})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 0 || p.ForwardToken != fwd {
		t.Fatalf("forward from the tail: got %q, token %q; want none, same token", messages(p.Events), p.ForwardToken)
	}
	mustAppend(t, s, "g", "s", events(99999, "new"))
	p, err = s.GetEvents(bg, "g", "s", Query{Token: fwd})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new"}, messages(p.Events)); diff != "" {
		t.Fatalf("forward from the tail after append (-want +got):\n%s", diff)
	}
}

func TestGetEventsEmptyStreamFollows(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	if err := s.CreateGroup(bg, Group{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateStream(bg, "g", "s"); err != nil {
		t.Fatal(err)
	}
	for _, head := range []bool{true, false} {
		p, err := s.GetEvents(bg, "g", "s", Query{StartFromHead: head})
		if err != nil {
			t.Fatal(err)
		}
		if p.Events == nil || len(p.Events) != 0 || p.ForwardToken == "" || p.BackwardToken == "" || p.LastSeq != 0 {
			t.Fatalf("head=%v: got %+v, want no events, two tokens, LastSeq 0", head, p)
		}
		again, err := s.GetEvents(bg, "g", "s", Query{Token: p.ForwardToken})
		if err != nil {
			t.Fatal(err)
		}
		if again.ForwardToken != p.ForwardToken {
			t.Fatalf("head=%v: empty forward read changed the token %q to %q", head, p.ForwardToken, again.ForwardToken)
		}
	}
	p, _ := s.GetEvents(bg, "g", "s", Query{})
	mustAppend(t, s, "g", "s", events(5, "first"))
	p, err := s.GetEvents(bg, "g", "s", Query{Token: p.ForwardToken})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first"}, messages(p.Events)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestGetEventsTimeRange(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	appendN(t, s, "g", "s", 10) // timestamps 1000..1090
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"start inclusive, end exclusive, head", Query{StartTime: 1020, EndTime: 1050, StartFromHead: true}, names(2, 5)},
		{"start inclusive, end exclusive, tail", Query{StartTime: 1020, EndTime: 1050}, names(2, 5)},
		{"start only", Query{StartTime: 1085, StartFromHead: true}, names(9, 10)},
		{"end only, tail, limit", Query{EndTime: 1030, Limit: 2}, names(1, 3)},
		{"empty range", Query{StartTime: 2000, StartFromHead: true}, []string{}},
		{"end before start", Query{StartTime: 1050, EndTime: 1020}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.GetEvents(bg, "g", "s", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, messages(p.Events)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	// Paging keeps the range.
	q := Query{StartTime: 1020, EndTime: 1070, StartFromHead: true, Limit: 2}
	var got []string
	for range 10 {
		p, err := s.GetEvents(bg, "g", "s", q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, messages(p.Events)...)
		if p.ForwardToken == q.Token {
			break
		}
		q.Token = p.ForwardToken
	}
	if diff := cmp.Diff(names(2, 7), got); diff != "" {
		t.Fatalf("paged range (-want +got):\n%s", diff)
	}
}

func TestGetEventsPageBytes(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = 'x'
	}
	var evs []Event
	for i := range 8 {
		evs = append(evs, Event{Timestamp: int64(i), Message: string(big[:200<<10])})
	}
	mustAppend(t, s, "g", "s", evs)
	p, err := s.GetEvents(bg, "g", "s", Query{StartFromHead: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 5 {
		t.Fatalf("got %d events of 200 KiB in a page, want 5 (1 MiB cap)", len(p.Events))
	}
}

func TestGetEventsErrors(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	appendN(t, s, "g", "s", 1)
	for _, tc := range []struct {
		name          string
		group, stream string
		q             Query
		want          error
	}{
		{"no group", "nope", "s", Query{}, ErrGroupNotFound},
		{"no stream", "g", "nope", Query{}, ErrStreamNotFound},
		{"garbage token", "g", "s", Query{Token: "garbage"}, ErrInvalidToken},
		{"wrong direction letter", "g", "s", Query{Token: "x/00000000000000000000000000000000"}, ErrInvalidToken},
		{"filter token", "g", "s", Query{Token: "n/00000000000000000000000000000000"}, ErrInvalidToken},
		{"not hex", "g", "s", Query{Token: "f/zz000000000000000000000000000000"}, ErrInvalidToken},
		{"short", "g", "s", Query{Token: "f/00"}, ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.GetEvents(bg, tc.group, tc.stream, tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
