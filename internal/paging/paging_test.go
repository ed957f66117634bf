package paging

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	errSize  = errors.New("bad size")
	errToken = errors.New("bad token")
)

func rules(max int32) Rules {
	return Rules{
		Max:      max,
		BadSize:  func(int32, int32) error { return errSize },
		BadToken: func() error { return errToken },
	}
}

func id(s string) string { return s }

func ptr(n int32) *int32 { return &n }

// TestPageWalk pages through a list and gets every item once, in order.
func TestPageWalk(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	for _, size := range []int32{1, 2, 4, 5, 6} {
		var got []string
		token := ""
		for range len(items) + 1 {
			pg, next, err := Page(items, id, token, ptr(size), rules(10))
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			got = append(got, pg...)
			if next == "" {
				break
			}
			token = next
		}
		if diff := cmp.Diff(items, got); diff != "" {
			t.Errorf("size %d: items (-want +got):\n%s", size, diff)
		}
	}
}

func TestPage(t *testing.T) {
	items := []string{"a", "b", "c"}
	tests := []struct {
		name     string
		token    string
		size     *int32
		max      int32
		want     []string
		wantNext bool
		wantErr  error
	}{
		{name: "default size is max", max: 2, want: []string{"a", "b"}, wantNext: true},
		{name: "all fit", max: 3, want: []string{"a", "b", "c"}},
		{name: "size zero", size: ptr(0), max: 3, wantErr: errSize},
		{name: "size over max", size: ptr(4), max: 3, wantErr: errSize},
		{name: "token not base64", token: "!!", max: 3, wantErr: errToken},
		{name: "token after the last", token: "eg", max: 3, want: []string{}},
		{name: "token between items", token: "YWE", max: 3, want: []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := Page(items, id, tt.token, tt.size, rules(tt.max))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if (next != "") != tt.wantNext {
				t.Errorf("got next %q, want one: %v", next, tt.wantNext)
			}
		})
	}
}
