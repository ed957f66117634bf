package exec_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/exec"
)

type frame struct {
	Type    exec.FrameType
	Payload string
}

func readAll(t *testing.T, b []byte) ([]frame, error) {
	t.Helper()
	r := exec.NewReader(bytes.NewReader(b))
	var out []frame
	for {
		f, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, frame{f.Type, string(f.Payload)})
	}
}

func TestFramesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := exec.NewWriter(&buf)
	big := strings.Repeat("x", exec.MaxPayload+10)
	steps := []error{
		w.Data(exec.Stdin, []byte("ls\n")),
		w.Resize(24, 80),
		w.CloseStdin(),
		w.Data(exec.Stdout, []byte(big)),
		w.Data(exec.Stderr, nil), // nothing
		w.Exit(-1),
		w.Error("boom"),
	}
	if _, err := w.Stream(exec.Stderr).Write([]byte("oops")); err != nil {
		t.Fatal(err)
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	got, err := readAll(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []frame{
		{exec.Stdin, "ls\n"},
		{exec.Resize, "\x00\x18\x00\x50"},
		{exec.CloseStdin, ""},
		{exec.Stdout, big[:exec.MaxPayload]},
		{exec.Stdout, big[exec.MaxPayload:]},
		{exec.Exit, "\xff\xff\xff\xff"},
		{exec.Error, "boom"},
		{exec.Stderr, "oops"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	rows, cols, err := exec.Frame{Type: exec.Resize, Payload: []byte(got[1].Payload)}.Size()
	if rows != 24 || cols != 80 || err != nil {
		t.Errorf("Size() = %d, %d, %v; want 24, 80, nil", rows, cols, err)
	}
	code, err := exec.Frame{Type: exec.Exit, Payload: []byte(got[5].Payload)}.ExitCode()
	if code != -1 || err != nil {
		t.Errorf("ExitCode() = %d, %v; want -1, nil", code, err)
	}
}

func TestReaderRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"unknown type", "\x09\x00\x00\x00\x00", exec.ErrUnknownFrame},
		{"type zero", "\x00\x00\x00\x00\x00", exec.ErrUnknownFrame},
		{"too long", "\x02\x00\x01\x00\x01", exec.ErrFrameTooLong},
		{"short resize", "\x04\x00\x00\x00\x02ab", exec.ErrBadPayload},
		{"long exit", "\x06\x00\x00\x00\x05abcde", exec.ErrBadPayload},
		{"close-stdin with payload", "\x05\x00\x00\x00\x01a", exec.ErrBadPayload},
		{"cut header", "\x02\x00\x00", io.ErrUnexpectedEOF},
		{"cut payload", "\x02\x00\x00\x00\x05abc", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, []byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzReader: the decoder never panics, never returns a payload over
// MaxPayload, and what it accepts encodes back to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\x01\x00\x00\x00\x03ls\n\x04\x00\x00\x00\x04\x00\x18\x00\x50\x05\x00\x00\x00\x00"))
	f.Add([]byte("\x06\x00\x00\x00\x04\x00\x00\x00\x07\x07\x00\x00\x00\x02no"))
	f.Add([]byte("\x02\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := exec.NewReader(bytes.NewReader(b))
		var re bytes.Buffer
		w := exec.NewWriter(&re)
		consumed := 0
		for {
			fr, err := r.Next()
			if err != nil {
				break
			}
			if len(fr.Payload) > exec.MaxPayload {
				t.Fatalf("payload of %d bytes", len(fr.Payload))
			}
			consumed += 5 + len(fr.Payload)
			switch fr.Type {
			case exec.Resize:
				rows, cols, _ := fr.Size()
				_ = w.Resize(rows, cols)
			case exec.Exit:
				code, _ := fr.ExitCode()
				_ = w.Exit(code)
			case exec.CloseStdin:
				_ = w.CloseStdin()
			case exec.Error:
				_ = w.Error(string(fr.Payload))
			default:
				if len(fr.Payload) == 0 {
					re.Write([]byte{byte(fr.Type), 0, 0, 0, 0})
				}
				_ = w.Data(fr.Type, fr.Payload)
			}
		}
		if !bytes.Equal(re.Bytes(), b[:consumed]) {
			t.Fatalf("re-encoded %x, want %x", re.Bytes(), b[:consumed])
		}
	})
}
