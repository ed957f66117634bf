package logstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seedFilter writes three streams whose events interleave in time.
func seedFilter(t *testing.T, s *Store) {
	t.Helper()
	mustAppend(t, s, "g", "web/1", events(10, "GET /a 200", 40, "GET /b 500 ERROR", 70, "GET /c 200"))
	mustAppend(t, s, "g", "web/2", events(20, "POST /a 201", 50, "disk full ERROR", 80, "GET /d 404 WARN"))
	mustAppend(t, s, "g", "db/1", events(30, "checkpoint", 60, "ERROR Retrying", 60, "same ms"))
}

func TestFilterMergesStreams(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	seedFilter(t, s)
	for _, tc := range []struct {
		name string
		q    FilterQuery
		want []string
	}{
		{"everything in time order", FilterQuery{}, []string{
			"web/1:GET /a 200", "web/2:POST /a 201", "db/1:checkpoint", "web/1:GET /b 500 ERROR",
			"web/2:disk full ERROR", "db/1:ERROR Retrying", "db/1:same ms", "web/1:GET /c 200", "web/2:GET /d 404 WARN"}},
		{"term", FilterQuery{Pattern: "ERROR"}, []string{"web/1:GET /b 500 ERROR", "web/2:disk full ERROR", "db/1:ERROR Retrying"}},
		{"all terms", FilterQuery{Pattern: "GET 200"}, []string{"web/1:GET /a 200", "web/1:GET /c 200"}},
		{"quoted phrase", FilterQuery{Pattern: `"disk full"`}, []string{"web/2:disk full ERROR"}},
		{"phrase needs adjacency", FilterQuery{Pattern: `"full disk"`}, []string{}},
		{"exclusion", FilterQuery{Pattern: "ERROR -Retrying"}, []string{"web/1:GET /b 500 ERROR", "web/2:disk full ERROR"}},
		{"any of", FilterQuery{Pattern: "?500 ?404"}, []string{"web/1:GET /b 500 ERROR", "web/2:GET /d 404 WARN"}},
		{"case-sensitive", FilterQuery{Pattern: "error"}, []string{}},
		{"prefix", FilterQuery{StreamPrefix: "web/", Pattern: "ERROR"}, []string{"web/1:GET /b 500 ERROR", "web/2:disk full ERROR"}},
		{"names, missing and repeated ones ignored", FilterQuery{StreamNames: []string{"db/1", "nope", "db/1"}}, []string{
			"db/1:checkpoint", "db/1:ERROR Retrying", "db/1:same ms"}},
		{"time range inclusive at both ends", FilterQuery{StartTime: 40, EndTime: 60}, []string{
			"web/1:GET /b 500 ERROR", "web/2:disk full ERROR", "db/1:ERROR Retrying", "db/1:same ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Filter(bg, "g", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, filteredMessages(p.Events)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if p.Token != "" {
				t.Fatalf("got token %q, want none (everything fit)", p.Token)
			}
		})
	}
}

// filterAll pages through Filter, returning every event and the page count.
func filterAll(t *testing.T, s *Store, q FilterQuery) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for {
		p, err := s.Filter(bg, "g", q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, filteredMessages(p.Events)...)
		if p.Token == "" {
			return got, pages
		}
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		q.Token = p.Token
	}
}

func TestFilterPaging(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	seedFilter(t, s)
	all, _ := filterAll(t, s, FilterQuery{})
	got, pages := filterAll(t, s, FilterQuery{Limit: 2})
	if diff := cmp.Diff(all, got); diff != "" {
		t.Fatalf("paged (-want +got):\n%s", diff)
	}
	if pages != 5 {
		t.Errorf("got %d pages of 2 for 9 events, want 5", pages)
	}

	// A small scan budget gives short or empty pages, but still everything.
	s.filterScanLimit = 2
	got, pages = filterAll(t, s, FilterQuery{Pattern: "WARN"})
	if diff := cmp.Diff([]string{"web/2:GET /d 404 WARN"}, got); diff != "" {
		t.Fatalf("scan-limited (-want +got):\n%s", diff)
	}
	if pages < 4 {
		t.Errorf("got %d pages with a scan budget of 2, want at least 4", pages)
	}
}

func TestFilterManyStreams(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	const streams, per = 50, 20
	for i := range streams {
		evs := make([]Event, per)
		for j := range evs {
			evs[j] = Event{Timestamp: int64(j*streams + i), Message: fmt.Sprintf("%d", j*streams+i)}
		}
		mustAppend(t, s, "g", fmt.Sprintf("s%02d", i), evs)
	}
	got, _ := filterAll(t, s, FilterQuery{Limit: 77})
	if len(got) != streams*per {
		t.Fatalf("got %d events, want %d", len(got), streams*per)
	}
	for i, m := range got {
		if want := fmt.Sprintf("s%02d:%d", i%streams, i); m != want {
			t.Fatalf("event %d: got %s, want %s", i, m, want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	s, _, _ := newTestStore(t, Options{})
	seedFilter(t, s)
	if _, err := s.Filter(bg, "nope", FilterQuery{}); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("missing group: got %v, want ErrGroupNotFound", err)
	}
	for _, tok := range []string{"f/00000000000000000000000000000000", "n/xyz", "n"} {
		if _, err := s.Filter(bg, "g", FilterQuery{Token: tok}); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("token %q: got %v, want ErrInvalidToken", tok, err)
		}
	}
	var pe *PatternError
	if _, err := s.Filter(bg, "g", FilterQuery{Pattern: `{ $.level = "x" }`}); !errors.As(err, &pe) {
		t.Errorf("JSON pattern: got %v, want *PatternError", err)
	}
}

func TestParsePattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"", []string{"", "anything"}, nil},
		{"   ", []string{"anything"}, nil},
		{"ERROR", []string{"an ERROR here", "ERROR"}, []string{"error", "ERR OR"}},
		{"ERROR  Exception", []string{"ERROR: Exception", "Exception ERROR"}, []string{"ERROR only"}},
		{`"a b"`, []string{"xa by"}, []string{"a  b", "b a"}},
		{`"a b" c`, []string{"c a b"}, []string{"a b"}},
		{"ERROR -Retrying", []string{"ERROR x"}, []string{"ERROR Retrying"}},
		{`-"not this"`, []string{"this not"}, []string{"not this"}},
		{"?a ?b", []string{"a", "b"}, []string{"c"}},
		{"x ?a ?b", []string{"x a"}, []string{"x", "a b"}},
		{"-", []string{"a-b"}, []string{"ab"}},
		{"?", []string{"?"}, []string{"x"}},
		{`""`, []string{"anything"}, nil},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := parsePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.match {
				if !p.match([]byte(m)) {
					t.Errorf("%q does not match %q, want a match", tc.pattern, m)
				}
			}
			for _, m := range tc.nomatch {
				if p.match([]byte(m)) {
					t.Errorf("%q matches %q, want none", tc.pattern, m)
				}
			}
		})
	}
	for _, bad := range []string{`{ $.x = 1 }`, `[ip, user]`, `%ERR.*%`, `"unterminated`} {
		var pe *PatternError
		if _, err := parsePattern(bad); !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want *PatternError", bad, err)
		}
	}
}
