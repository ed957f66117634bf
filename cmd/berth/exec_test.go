package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-io/berth/api/exec"
)

func TestResolveStreamURL(t *testing.T) {
	tests := []struct {
		endpoint, stream, want string
	}{
		{"http://127.0.0.1:7700", "/exec/v1/sessions/abc", "http://127.0.0.1:7700/exec/v1/sessions/abc"},
		{"https://berth.example/", "http://10.0.0.5:7700/exec/v1/sessions/abc", "http://10.0.0.5:7700/exec/v1/sessions/abc"},
	}
	for _, tt := range tests {
		got, err := resolveStreamURL(tt.endpoint, tt.stream)
		if err != nil || got != tt.want {
			t.Errorf("resolveStreamURL(%q, %q) = %q, %v; want %q", tt.endpoint, tt.stream, got, err, tt.want)
		}
	}
	if _, err := resolveStreamURL("http://h", "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/x"); err == nil {
		t.Errorf("an SSM stream URL: want an error")
	}
}

func TestReadSession(t *testing.T) {
	frames := func(write func(w *exec.Writer)) *exec.Reader {
		var b bytes.Buffer
		write(exec.NewWriter(&b))
		return exec.NewReader(&b)
	}
	var stdout, stderr bytes.Buffer
	code, err := readSession(frames(func(w *exec.Writer) {
		_ = w.Data(exec.Stdout, []byte("hi\n"))
		_ = w.Data(exec.Stderr, []byte("oops\n"))
		_ = w.Exit(7)
	}), &stdout, &stderr)
	if code != 7 || err != nil || stdout.String() != "hi\n" || stderr.String() != "oops\n" {
		t.Errorf("readSession = %d, %v, stdout %q, stderr %q; want 7, nil, hi, oops", code, err, stdout.String(), stderr.String())
	}
	_, err = readSession(frames(func(w *exec.Writer) { _ = w.Error("container app is not running") }), &stdout, &stderr)
	if err == nil || err.Error() != "container app is not running" {
		t.Errorf("readSession of an error frame: err = %v, want its message", err)
	}
	_, err = readSession(frames(func(w *exec.Writer) {}), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "without the command's exit status") {
		t.Errorf("readSession of a stream that just ends: err = %v, want one saying no exit status came", err)
	}
}
