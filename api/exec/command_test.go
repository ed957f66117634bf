package exec_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/exec"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ls   -l\t/tmp\n", []string{"ls", "-l", "/tmp"}},
		{`sh -c 'echo hi; exit 7'`, []string{"sh", "-c", "echo hi; exit 7"}},
		{`echo "a \"b\" \$HOME \x" c`, []string{"echo", `a "b" $HOME \x`, "c"}},
		{`a\ b c\\d`, []string{"a b", `c\d`}},
		{`'' ""`, []string{"", ""}},
		{"a\\\nb", []string{"ab"}},
		{`'it'\''s'`, []string{"it's"}},
		{`pre'mid'"post"`, []string{"premidpost"}},
	}
	for _, tt := range tests {
		got, err := exec.Split(tt.in)
		if err != nil {
			t.Errorf("Split(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Split(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestSplitRejects(t *testing.T) {
	for _, in := range []string{`'open`, `"open`, `trailing\`, `"a\"`} {
		if got, err := exec.Split(in); !errors.Is(err, exec.ErrBadQuoting) {
			t.Errorf("Split(%q) = %q, %v; want ErrBadQuoting", in, got, err)
		}
	}
}

func TestQuote(t *testing.T) {
	got := exec.Quote([]string{"sh", "-c", "echo hi; exit 7", "", "it's", "a=b/c.d"})
	want := `sh -c 'echo hi; exit 7' '' 'it'\''s' a=b/c.d`
	if got != want {
		t.Errorf("Quote = %s, want %s", got, want)
	}
}

// FuzzQuoteSplit: Split undoes Quote for any arguments, and never panics.
func FuzzQuoteSplit(f *testing.F) {
	f.Add("echo", "hi there", "it's \"x\" \\ $y")
	f.Add("", "\n", "'")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		got, err := exec.Split(exec.Quote(args))
		if err != nil {
			t.Fatalf("Split(Quote(%q)): %v", args, err)
		}
		if diff := cmp.Diff(args, got); diff != "" {
			t.Fatalf("Split(Quote(%q)) (-want +got):\n%s", args, diff)
		}
		_, _ = exec.Split(a + b + c)
	})
}
