package lb

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// This file is the HTTP/1.x wire format the proxy needs: reading a message
// head, parsing request and response heads without allocating per header,
// and chunked framing. It holds no connection state.

// maxHeadBytes bounds a request's request line and headers (431 beyond).
const maxHeadBytes = 64 << 10

// maxChunkLine bounds a chunk-size line, extensions included.
const maxChunkLine = 4 << 10

// statusError is a request the proxy answers itself with code, then closes
// the connection.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return strconv.Itoa(e.code) + " " + e.msg }

func badRequest(msg string) error { return &statusError{http.StatusBadRequest, msg} }

var errHeadTooLarge = &statusError{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"}

// errMalformed is an upstream response or chunked body that does not parse.
var errMalformed = errors.New("malformed HTTP message")

// header is one field; name and value alias the message head.
type header struct{ name, value []byte }

// readHead appends one message head (start line through the empty line)
// from br to buf[:0] and returns it. Empty lines before the start line are
// skipped. It returns io.EOF if br ends before any byte, errHeadTooLarge
// past limit bytes.
func readHead(br *bufio.Reader, buf []byte, limit int) ([]byte, error) {
	buf = buf[:0]
	lineStart := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(buf)+len(line) > limit {
			return buf, errHeadTooLarge
		}
		buf = append(buf, line...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if len(buf) == 0 && err == io.EOF {
				return buf, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		full := buf[lineStart:]
		if len(full) == 1 || (len(full) == 2 && full[0] == '\r') {
			if lineStart == 0 {
				buf = buf[:0] // a stray empty line before the start line
				continue
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// nextLine splits the first line off b, without its CRLF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// request is a parsed request head. Slices alias the head buffer.
type request struct {
	method, target []byte
	minor          int // HTTP/1.minor
	headers        []header
	host           []byte
	hosts          int
	contentLength  int64 // -1 when absent
	chunked        bool
	close          bool // the client asked to close after this exchange
	expect         bool // Expect: 100-continue
	upgrade        []byte
	connection     [][]byte // Connection tokens other than close/keep-alive
	xff            []byte
}

func (r *request) reset() {
	*r = request{headers: r.headers[:0], connection: r.connection[:0], contentLength: -1}
}

// hasBody reports whether a body follows the head.
func (r *request) hasBody() bool { return r.chunked || r.contentLength > 0 }

// parseRequest parses a head read by readHead into r. Errors are
// *statusError naming the answer the client gets.
func parseRequest(head []byte, r *request) error {
	r.reset()
	line, rest := nextLine(head)
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	r.method = line[:sp1]
	if !isToken(r.method) {
		return badRequest("malformed method")
	}
	line = line[sp1+1:]
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	r.target, line = line[:sp2], line[sp2+1:]
	for _, c := range r.target {
		if c <= ' ' || c == 0x7f {
			return badRequest("malformed request target")
		}
	}
	switch string(line) {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
	default:
		if len(line) == 8 && bytes.HasPrefix(line, []byte("HTTP/")) && line[6] == '.' && isDigit(line[5]) && isDigit(line[7]) {
			return &statusError{http.StatusHTTPVersionNotSupported, "HTTP version not supported"}
		}
		return badRequest("malformed HTTP version")
	}
	keepAlive := false
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		h, err := parseHeader(line)
		if err != nil {
			return badRequest(err.Error())
		}
		v := h.value
		switch {
		case fieldIs(h.name, "host"):
			r.host = v
			r.hosts++
		case fieldIs(h.name, "content-length"):
			n, ok := parseContentLength(v)
			if !ok || (r.contentLength >= 0 && r.contentLength != n) {
				return badRequest("bad Content-Length")
			}
			r.contentLength = n
			continue
		case fieldIs(h.name, "transfer-encoding"):
			if !onlyChunked(v, r.chunked) {
				return &statusError{http.StatusNotImplemented, "unsupported transfer encoding"}
			}
			r.chunked = true
			continue
		case fieldIs(h.name, "connection"):
			r.connection = connectionTokens(v, &r.close, &keepAlive, r.connection)
			continue
		case fieldIs(h.name, "expect"):
			if !bytes.EqualFold(v, []byte("100-continue")) {
				return &statusError{http.StatusExpectationFailed, "unsupported expectation"}
			}
			r.expect = r.minor == 1
			continue
		case fieldIs(h.name, "upgrade"):
			r.upgrade = v
			continue
		case fieldIs(h.name, "x-forwarded-for"):
			if len(r.xff) == 0 {
				r.xff = v
			} else { // rare: several fields, joined
				r.xff = append(append(append([]byte(nil), r.xff...), ", "...), v...)
			}
			continue
		}
		r.headers = append(r.headers, h)
	}
	if r.chunked && r.contentLength >= 0 {
		return badRequest("both Transfer-Encoding and Content-Length")
	}
	if r.chunked && r.minor == 0 {
		return badRequest("chunked HTTP/1.0 request")
	}
	if r.hosts > 1 || (r.hosts == 0 && r.minor == 1) {
		return badRequest("missing or repeated Host")
	}
	if r.minor == 0 && !keepAlive {
		r.close = true
	}
	if !hasToken(r.connection, "upgrade") {
		r.upgrade = nil
	}
	return nil
}

// response is a parsed response head. Slices alias the head buffer.
type response struct {
	status        int
	reason        []byte
	minor         int
	headers       []header
	contentLength int64 // -1 when absent
	chunked       bool
	close         bool
	connection    [][]byte
}

// connectionTokens reads a Connection header's value: "close" sets
// *closeConn, "keep-alive" sets *keepAlive, and every other token (the
// name of one more hop-by-hop field) is appended to extra, which it
// returns.
func connectionTokens(v []byte, closeConn, keepAlive *bool, extra [][]byte) [][]byte {
	for tok := range tokens(v) {
		switch {
		case bytes.EqualFold(tok, []byte("close")):
			*closeConn = true
		case bytes.EqualFold(tok, []byte("keep-alive")):
			*keepAlive = true
		default:
			extra = append(extra, tok)
		}
	}
	return extra
}

// onlyChunked reports whether a Transfer-Encoding value is "chunked"
// alone, and the first such header (already: one was seen): other codings
// would need re-framing, which the proxy does not do.
func onlyChunked(v []byte, already bool) bool {
	return !already && bytes.EqualFold(v, []byte("chunked"))
}

// parseResponse parses an upstream response head into r.
func parseResponse(head []byte, r *response) error {
	*r = response{headers: r.headers[:0], connection: r.connection[:0], contentLength: -1}
	line, rest := nextLine(head)
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) || (len(line) > 12 && line[12] != ' ') {
		return errMalformed
	}
	r.minor = int(line[7] - '0')
	r.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if r.status < 100 {
		return errMalformed
	}
	if len(line) > 13 {
		r.reason = line[13:]
	}
	keepAlive := false
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		h, err := parseHeader(line)
		if err != nil {
			return errMalformed
		}
		v := h.value
		switch {
		case fieldIs(h.name, "content-length"):
			n, ok := parseContentLength(v)
			if !ok || (r.contentLength >= 0 && r.contentLength != n) {
				return errMalformed
			}
			r.contentLength = n
			continue
		case fieldIs(h.name, "transfer-encoding"):
			if !onlyChunked(v, r.chunked) {
				return errMalformed
			}
			r.chunked = true
			continue
		case fieldIs(h.name, "connection"):
			r.connection = connectionTokens(v, &r.close, &keepAlive, r.connection)
			continue
		}
		r.headers = append(r.headers, h)
	}
	if r.minor == 0 && !keepAlive {
		r.close = true
	}
	if r.chunked {
		r.contentLength = -1 // chunked framing wins (RFC 9112 6.3)
	}
	return nil
}

// parseHeader splits "Name: value" and validates both; the value has its
// surrounding whitespace trimmed.
func parseHeader(line []byte) (header, error) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			return header{}, errors.New("obsolete line folding")
		}
		return header{}, errors.New("malformed header line")
	}
	name := line[:colon]
	if !isToken(name) {
		return header{}, errors.New("malformed header name")
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return header{}, errors.New("malformed header value")
		}
	}
	return header{name, v}, nil
}

// parseContentLength parses a Content-Length value; a list of equal values
// ("5, 5") counts as one.
func parseContentLength(v []byte) (int64, bool) {
	n := int64(-1)
	for tok := range tokens(v) {
		if len(tok) == 0 || len(tok) > 18 {
			return 0, false
		}
		var m int64
		for _, c := range tok {
			if !isDigit(c) {
				return 0, false
			}
			m = m*10 + int64(c-'0')
		}
		if n >= 0 && m != n {
			return 0, false
		}
		n = m
	}
	return n, n >= 0
}

// tokens yields the comma-separated elements of a list-valued field,
// trimmed, skipping empty ones.
func tokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var tok []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				tok, v = v, nil
			}
			tok = bytes.Trim(tok, " \t")
			if len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

func hasToken(toks [][]byte, s string) bool {
	for _, t := range toks {
		if bytes.EqualFold(t, []byte(s)) {
			return true
		}
	}
	return false
}

// fieldIs compares a field name with a lower-case name, ignoring case.
func fieldIs(name []byte, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hopByHop reports whether a field applies to one connection only and so
// is never forwarded (framing fields are re-written by the proxy).
func hopByHop(name []byte, connection [][]byte) bool {
	switch len(name) {
	case 2:
		if fieldIs(name, "te") {
			return true
		}
	case 7:
		if fieldIs(name, "upgrade") || fieldIs(name, "trailer") {
			return true
		}
	case 10:
		if fieldIs(name, "keep-alive") || fieldIs(name, "connection") {
			return true
		}
	case 16:
		if fieldIs(name, "proxy-connection") {
			return true
		}
	case 17:
		if fieldIs(name, "transfer-encoding") {
			return true
		}
	case 18:
		if fieldIs(name, "proxy-authenticate") {
			return true
		}
	case 19:
		if fieldIs(name, "proxy-authorization") {
			return true
		}
	}
	for _, t := range connection {
		if bytes.EqualFold(name, t) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// readChunkSize reads a chunk-size line (extensions ignored).
func readChunkSize(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF || err == bufio.ErrBufferFull {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if len(line) > maxChunkLine {
		return 0, errMalformed
	}
	line = bytes.TrimRight(line, "\r\n")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, errMalformed
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, errMalformed
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

// readCRLF consumes the line end after a chunk's data.
func readCRLF(br *bufio.Reader) error {
	c, err := br.ReadByte()
	if err == nil && c == '\r' {
		c, err = br.ReadByte()
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if c != '\n' {
		return errMalformed
	}
	return nil
}

// appendStatusLine appends "HTTP/1.1 code reason\r\n".
func appendStatusLine(b []byte, code int, reason []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if len(reason) == 0 {
		return append(append(b, http.StatusText(code)...), "\r\n"...)
	}
	return append(append(b, reason...), "\r\n"...)
}
