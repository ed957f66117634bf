// Package exec is the wire format of `berth exec` sessions, shared by the
// CLI (one end), the agent (the other end) and the server (which only
// splices the two). It never imports server packages.
//
// A session is a pair of HTTP/1.1 connections upgraded to the berth-exec
// protocol (see Dial) and spliced byte for byte by the server. Over it both
// ends exchange frames:
//
//	+--------+----------------------+------------------+
//	| type 1 | length 4 (big-endian)| payload (length) |
//	+--------+----------------------+------------------+
//
// client → agent: Stdin, Resize (rows, cols: 2+2 bytes), CloseStdin.
// agent → client: Stdout, Stderr, Exit (code: 4 bytes, signed), Error
// (a UTF-8 message; the session failed before or instead of an exit).
// The agent sends exactly one Exit or Error, last; a payload is at most
// MaxPayload bytes (writers split larger writes).
package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// FrameType is the first byte of a frame.
type FrameType byte

// Frame types.
const (
	// Stdin carries input for the command (client → agent).
	Stdin FrameType = 1
	// Stdout and Stderr carry the command's output (agent → client);
	// with a terminal everything is Stdout.
	Stdout FrameType = 2
	Stderr FrameType = 3
	// Resize sets the terminal size: rows then cols, uint16 each
	// (client → agent).
	Resize FrameType = 4
	// CloseStdin ends the command's input (client → agent).
	CloseStdin FrameType = 5
	// Exit ends the session with the command's exit code, an int32
	// (agent → client).
	Exit FrameType = 6
	// Error ends the session without an exit code: the message says why
	// (agent or server → client).
	Error FrameType = 7
)

func (t FrameType) String() string {
	switch t {
	case Stdin:
		return "stdin"
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	case Resize:
		return "resize"
	case CloseStdin:
		return "close-stdin"
	case Exit:
		return "exit"
	case Error:
		return "error"
	}
	return fmt.Sprintf("frame-type-%d", byte(t))
}

// MaxPayload bounds a frame's payload.
const MaxPayload = 64 << 10

// headerLen is the type byte plus the 4-byte length.
const headerLen = 5

// Sentinel errors of the decoder.
var (
	ErrUnknownFrame = errors.New("exec: unknown frame type")
	ErrFrameTooLong = errors.New("exec: frame payload too long")
	ErrBadPayload   = errors.New("exec: malformed frame payload")
)

// Frame is one decoded frame.
type Frame struct {
	Type    FrameType
	Payload []byte
}

// Size decodes a Resize frame's payload.
func (f Frame) Size() (rows, cols uint16, err error) {
	if f.Type != Resize || len(f.Payload) != 4 {
		return 0, 0, fmt.Errorf("%w: %s frame of %d bytes is not a resize", ErrBadPayload, f.Type, len(f.Payload))
	}
	return binary.BigEndian.Uint16(f.Payload), binary.BigEndian.Uint16(f.Payload[2:]), nil
}

// ExitCode decodes an Exit frame's payload.
func (f Frame) ExitCode() (int, error) {
	if f.Type != Exit || len(f.Payload) != 4 {
		return 0, fmt.Errorf("%w: %s frame of %d bytes is not an exit", ErrBadPayload, f.Type, len(f.Payload))
	}
	return int(int32(binary.BigEndian.Uint32(f.Payload))), nil
}

// Reader decodes frames from a stream.
type Reader struct {
	r   io.Reader
	hdr [headerLen]byte
	buf []byte
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Next reads the next frame. Its payload is valid until the next call.
// A stream that ends between frames returns io.EOF; one that ends inside
// a frame io.ErrUnexpectedEOF.
func (r *Reader) Next() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, err
	}
	t := FrameType(r.hdr[0])
	n := binary.BigEndian.Uint32(r.hdr[1:])
	if t < Stdin || t > Error {
		return Frame{}, fmt.Errorf("%w %d", ErrUnknownFrame, byte(t))
	}
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrFrameTooLong, n, MaxPayload)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	p := r.buf[:n]
	if _, err := io.ReadFull(r.r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	f := Frame{Type: t, Payload: p}
	switch t {
	case Resize:
		if _, _, err := f.Size(); err != nil {
			return Frame{}, err
		}
	case Exit:
		if _, err := f.ExitCode(); err != nil {
			return Frame{}, err
		}
	case CloseStdin:
		if n != 0 {
			return Frame{}, fmt.Errorf("%w: close-stdin frame with %d bytes", ErrBadPayload, n)
		}
	}
	return f, nil
}

// Writer encodes frames onto a stream. It is safe for concurrent use; each
// frame is written whole, with one Write call.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer onto w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// frame writes one frame (len(p) <= MaxPayload).
func (w *Writer) frame(t FrameType, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf[:0], byte(t), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(w.buf[1:], uint32(len(p)))
	w.buf = append(w.buf, p...)
	_, err := w.w.Write(w.buf)
	return err
}

// Data writes p as frames of type t (Stdin, Stdout or Stderr), split into
// MaxPayload pieces. An empty p writes nothing.
func (w *Writer) Data(t FrameType, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), MaxPayload)
		if err := w.frame(t, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Resize writes a Resize frame.
func (w *Writer) Resize(rows, cols uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[:], rows)
	binary.BigEndian.PutUint16(p[2:], cols)
	return w.frame(Resize, p[:])
}

// CloseStdin writes a CloseStdin frame.
func (w *Writer) CloseStdin() error { return w.frame(CloseStdin, nil) }

// Exit writes an Exit frame.
func (w *Writer) Exit(code int) error {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(int32(code)))
	return w.frame(Exit, p[:])
}

// Error writes an Error frame (the message is cut to MaxPayload bytes).
func (w *Writer) Error(msg string) error {
	if len(msg) > MaxPayload {
		msg = msg[:MaxPayload]
	}
	return w.frame(Error, []byte(msg))
}

// Stream returns an io.Writer that writes Data frames of type t.
func (w *Writer) Stream(t FrameType) io.Writer { return streamWriter{w, t} }

type streamWriter struct {
	w *Writer
	t FrameType
}

func (s streamWriter) Write(p []byte) (int, error) {
	if err := s.w.Data(s.t, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
