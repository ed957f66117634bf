package lb

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		wantCode int // 0: parses
		check    func(t *testing.T, r *request)
	}{
		{name: "simple", head: "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", check: func(t *testing.T, r *request) {
			if string(r.method) != "GET" || string(r.target) != "/a?b=c" || r.minor != 1 || string(r.host) != "x" || r.close || r.hasBody() {
				t.Errorf("got %+v", r)
			}
			if len(r.headers) != 2 || string(r.headers[1].name) != "Accept" || string(r.headers[1].value) != "*/*" {
				t.Errorf("headers %q", r.headers)
			}
		}},
		{name: "bare LF and OWS", head: "GET / HTTP/1.1\nHost:   x \t\nX:\n\n", check: func(t *testing.T, r *request) {
			if string(r.host) != "x" || len(r.headers) != 2 || len(r.headers[1].value) != 0 {
				t.Errorf("got host %q headers %q", r.host, r.headers)
			}
		}},
		{name: "content length list", head: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n", check: func(t *testing.T, r *request) {
			if r.contentLength != 5 {
				t.Errorf("contentLength %d, want 5", r.contentLength)
			}
		}},
		{name: "chunked", head: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", check: func(t *testing.T, r *request) {
			if !r.chunked || r.contentLength != -1 {
				t.Errorf("chunked %v contentLength %d", r.chunked, r.contentLength)
			}
		}},
		{name: "http/1.0 closes by default", head: "GET / HTTP/1.0\r\n\r\n", check: func(t *testing.T, r *request) {
			if !r.close || r.minor != 0 {
				t.Errorf("close %v minor %d, want close on 1.0", r.close, r.minor)
			}
		}},
		{name: "http/1.0 keep-alive", head: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", check: func(t *testing.T, r *request) {
			if r.close {
				t.Error("close, want keep-alive")
			}
		}},
		{name: "connection tokens", head: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n\r\n", check: func(t *testing.T, r *request) {
			if !r.close || !hopByHop([]byte("x-secret"), r.connection) {
				t.Errorf("close %v connection %q", r.close, r.connection)
			}
		}},
		{name: "upgrade needs connection upgrade", head: "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", check: func(t *testing.T, r *request) {
			if r.upgrade != nil {
				t.Errorf("upgrade %q without Connection: upgrade", r.upgrade)
			}
		}},
		{name: "expect", head: "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n", check: func(t *testing.T, r *request) {
			if !r.expect {
				t.Error("expect not set")
			}
		}},
		{name: "x-forwarded-for joined", head: "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n", check: func(t *testing.T, r *request) {
			if string(r.xff) != "1.1.1.1, 2.2.2.2" {
				t.Errorf("xff %q", r.xff)
			}
		}},
		{name: "no host", head: "GET / HTTP/1.1\r\n\r\n", wantCode: 400},
		{name: "two hosts", head: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", wantCode: 400},
		{name: "space before colon", head: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", wantCode: 400},
		{name: "obs-fold", head: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", wantCode: 400},
		{name: "CR in value", head: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", wantCode: 400},
		{name: "NUL in value", head: "GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n", wantCode: 400},
		{name: "bad method", head: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", wantCode: 400},
		{name: "no version", head: "GET /\r\nHost: a\r\n\r\n", wantCode: 400},
		{name: "http/2 line", head: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", wantCode: 505},
		{name: "conflicting lengths", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantCode: 400},
		{name: "negative length", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", wantCode: 400},
		{name: "length and chunked", head: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", wantCode: 400},
		{name: "gzip coding", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantCode: 501},
		{name: "chunked twice", head: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", wantCode: 501},
		{name: "unknown expectation", head: "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", wantCode: 417},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, err := readHead(bufio.NewReader(strings.NewReader(tt.head)), nil, maxHeadBytes)
			if err != nil {
				t.Fatalf("readHead: %v", err)
			}
			var r request
			err = parseRequest(head, &r)
			var se *statusError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("parseRequest: %v, want success", err)
			case tt.wantCode != 0 && (!errors.As(err, &se) || se.code != tt.wantCode):
				t.Fatalf("parseRequest: %v, want status %d", err, tt.wantCode)
			case tt.check != nil:
				tt.check(t, &r)
			}
		})
	}
}

func TestReadHead(t *testing.T) {
	// Leading empty lines are skipped; a long line spans bufio buffers.
	long := strings.Repeat("a", 10000)
	in := "\r\n\r\nGET / HTTP/1.1\r\nX: " + long + "\r\n\r\nnext"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	head, err := readHead(br, nil, maxHeadBytes)
	if err != nil || !strings.HasPrefix(string(head), "GET / HTTP/1.1\r\nX: "+long) {
		t.Fatalf("readHead = %.40q, %v", head, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "next" {
		t.Errorf("left %q after the head, want next", rest)
	}
	if _, err := readHead(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", maxHeadBytes)+"\r\n\r\n")), nil, maxHeadBytes); err != errHeadTooLarge {
		t.Errorf("oversized head: %v, want errHeadTooLarge", err)
	}
	if _, err := readHead(bufio.NewReader(strings.NewReader("")), nil, maxHeadBytes); err != io.EOF {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
	if _, err := readHead(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\n")), nil, maxHeadBytes); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated head: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		head    string
		wantErr bool
		want    response
	}{
		{head: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", want: response{status: 200, minor: 1, contentLength: 3}},
		{head: "HTTP/1.1 204\r\n\r\n", want: response{status: 204, minor: 1, contentLength: -1}},
		{head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", want: response{status: 200, minor: 1, contentLength: -1, chunked: true}},
		{head: "HTTP/1.0 200 OK\r\n\r\n", want: response{status: 200, minor: 0, contentLength: -1, close: true}},
		{head: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", want: response{status: 200, minor: 0, contentLength: 0}},
		{head: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", want: response{status: 200, minor: 1, contentLength: -1, close: true}},
		{head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantErr: true},
		{head: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{head: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: true},
		{head: "ICY 200 OK\r\n\r\n", wantErr: true},
	}
	for _, tt := range tests {
		var got response
		err := parseResponse([]byte(tt.head), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v, want error %v", tt.head, err, tt.wantErr)
			continue
		}
		if err == nil && (got.status != tt.want.status || got.minor != tt.want.minor || got.contentLength != tt.want.contentLength ||
			got.chunked != tt.want.chunked || got.close != tt.want.close) {
			t.Errorf("%q: got %+v, want %+v", tt.head, got, tt.want)
		}
	}
}

func TestCopyChunked(t *testing.T) {
	in := "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\nnext"
	tests := []struct {
		rechunk bool
		want    string
	}{
		{true, "5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\n"},
		{false, "hello, world"},
	}
	for _, tt := range tests {
		src := bufio.NewReaderSize(strings.NewReader(in), 16)
		var out bytes.Buffer
		dst := bufio.NewWriter(&out)
		rerr, werr := copyChunked(dst, src, tt.rechunk)
		dst.Flush()
		if rerr != nil || werr != nil || out.String() != tt.want {
			t.Errorf("rechunk %v: %q, %v, %v; want %q", tt.rechunk, out.String(), rerr, werr, tt.want)
		}
		if rest, _ := io.ReadAll(src); string(rest) != "next" {
			t.Errorf("rechunk %v: left %q, want next", tt.rechunk, rest)
		}
	}
	for _, bad := range []string{"5\r\nhel", "z\r\n", "5\r\nhelloXX", "0\r\nX-Sum 1\r\n\r\n", "fffffffffffffffff\r\n"} {
		var out bytes.Buffer
		if rerr, _ := copyChunked(bufio.NewWriter(&out), bufio.NewReader(strings.NewReader(bad)), true); rerr == nil {
			t.Errorf("copyChunked(%q) succeeded, want an error", bad)
		}
	}
}

func TestSplitRequestTarget(t *testing.T) {
	tests := []struct {
		target, path, authority, origin string
		ok                              bool
	}{
		{"/a/b?c", "/a/b", "", "/a/b?c", true},
		{"*", "*", "", "*", true},
		{"http://Example.com/x?y", "/x", "Example.com", "/x?y", true},
		{"https://h:8443", "/", "h:8443", "/", true},
		{"http://h?q", "/", "h", "/?q", true},
		{"http://", "", "", "", false},
		{"example.com/x", "", "", "", false},
	}
	for _, tt := range tests {
		path, auth, ok := splitRequestTarget([]byte(tt.target))
		if ok != tt.ok || string(path) != tt.path || string(auth) != tt.authority {
			t.Errorf("splitRequestTarget(%q) = %q, %q, %v; want %q, %q, %v", tt.target, path, auth, ok, tt.path, tt.authority, tt.ok)
			continue
		}
		if ok {
			if got := originForm([]byte(tt.target), auth); string(got) != tt.origin {
				t.Errorf("originForm(%q) = %q, want %q", tt.target, got, tt.origin)
			}
		}
	}
}

// FuzzParseRequest feeds arbitrary bytes to the request reader and parser:
// they must not panic, and what they accept must be safe to forward.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET http://h/x HTTP/1.0\r\nConnection: keep-alive, x\r\nX: 1\r\n\r\n",
		"\r\nGET / HTTP/1.1\nHost: x\nExpect: 100-continue\nUpgrade: ws\nConnection: upgrade\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		head, err := readHead(br, nil, 4<<10)
		if err != nil {
			return
		}
		var r request
		if err := parseRequest(head, &r); err != nil {
			var se *statusError
			if !errors.As(err, &se) || se.code < 400 || se.code > 505 {
				t.Fatalf("error %v is not a 4xx/5xx statusError", err)
			}
			return
		}
		if !isToken(r.method) || len(r.target) == 0 || (r.minor != 0 && r.minor != 1) {
			t.Fatalf("accepted request line %q %q 1.%d", r.method, r.target, r.minor)
		}
		if r.chunked && r.contentLength >= 0 || r.contentLength < -1 {
			t.Fatalf("ambiguous framing: chunked %v, length %d", r.chunked, r.contentLength)
		}
		if r.minor == 1 && r.hosts != 1 {
			t.Fatalf("HTTP/1.1 request with %d Host fields accepted", r.hosts)
		}
		for _, h := range append(r.headers, header{[]byte("X-Forwarded-For"), r.xff}, header{[]byte("Upgrade"), r.upgrade}) {
			if bytes.ContainsAny(h.name, "\r\n: ") || bytes.ContainsAny(h.value, "\r\n\x00") {
				t.Fatalf("unsafe field %q: %q", h.name, h.value)
			}
			if fieldIs(h.name, "content-length") || fieldIs(h.name, "transfer-encoding") {
				t.Fatalf("framing field %q left among the forwarded ones", h.name)
			}
		}
		if _, auth, ok := splitRequestTarget(r.target); ok {
			if o := originForm(r.target, auth); len(o) == 0 || (o[0] != '/' && string(o) != "*") {
				t.Fatalf("origin form of %q is %q", r.target, o)
			}
		}
	})
}
