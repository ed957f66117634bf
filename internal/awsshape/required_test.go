package awsshape

import (
	"fmt"
	"reflect"
	"testing"
)

type leaf struct {
	Key   string `wire:"key"`
	Value string `wire:"value"`
}

func (leaf) RequiredMembers() []string { return []string{"key"} }

type root struct {
	Name  string `wire:"name"`
	Items []leaf `wire:"items"`
	Skip  string
}

func (root) RequiredMembers() []string { return []string{"name"} }

func TestMissingRequired(t *testing.T) {
	n := Naming{
		Member: func(f reflect.StructField) (string, bool) {
			w := f.Tag.Get("wire")
			return w, w != ""
		},
		Element: func(path string, i int) string { return fmt.Sprintf("%s<%d>", path, i) },
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"top level", &root{}, "name"},
		{"nested in a list", &root{Name: "x", Items: []leaf{{Key: "a"}, {Value: "v"}}}, "items<1>.key"},
		{"all given", &root{Name: "x", Items: []leaf{{Key: "a"}}}, ""},
		{"nil", (*root)(nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := MissingRequired(tt.in, n)
			if got != tt.want || missing != (tt.want != "") {
				t.Fatalf("got %q (missing %v), want %q", got, missing, tt.want)
			}
		})
	}
}
