package lb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyTo starts an LB on the manual clock forwarding a fresh port to
// backend addr (health-checked over TCP, so raw backends need not speak
// HTTP to the checker) and returns the port.
func proxyTo(t *testing.T, addrs ...string) int {
	t.Helper()
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners:    []Listener{forward(port, "tg")},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: addrs, HealthCheck: HealthCheck{Protocol: ProtocolTCP}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	return port
}

// dialLB opens a raw client connection to the listener on port.
func dialLB(t *testing.T, port int) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readResponse reads one response to a request with method and its body.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// wantClosed checks that the LB closed the connection.
func wantClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err == nil {
		t.Errorf("connection still open: read %q, want EOF", b)
	}
}

// echo is a backend that answers the request's method, path, selected
// headers and body, so tests can see what the LB forwarded.
func echo(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked": // answer in pieces, so the response is chunked
			for _, part := range bytes.SplitAfter(body, []byte(",")) {
				w.Write(part)
				w.(http.Flusher).Flush()
			}
			return
		case "/204":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/304":
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("X-Remote", r.RemoteAddr)
		fmt.Fprintf(w, "%s %s host=%s xff=%s proto=%s port=%s secret=%q te=%q len=%d body=%s",
			r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Forwarded-Port"), r.Header.Get("X-Secret"), r.TransferEncoding, len(body), body)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestProxyMalformedRequests(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	tests := []struct {
		name, raw string
		want      int
	}{
		{"garbage", "HELLO\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"bad header", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400},
		{"smuggling attempt", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bad escape with rules", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200}, // (no rules: path not decoded)
		{"oversized head", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n", 431},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, br := dialLB(t, port)
			if _, err := io.WriteString(c, tt.raw); err != nil {
				t.Fatal(err)
			}
			resp, _ := readResponse(t, br, "GET")
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want >= 400 && tt.want != 405 {
				wantClosed(t, br)
			}
		})
	}
}

func TestProxyForwardedHeaders(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	c, br := dialLB(t, port)
	io.WriteString(c, "GET /p?q=1 HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 10.9.9.9\r\n"+
		"X-Forwarded-Proto: gopher\r\nConnection: X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\n\r\n")
	_, body := readResponse(t, br, "GET")
	want := fmt.Sprintf("GET /p?q=1 host=app.example xff=10.9.9.9, 127.0.0.1 proto=http port=%d secret=\"\" te=[] len=0 body=", port)
	if body != want {
		t.Errorf("backend saw\n%s\nwant\n%s", body, want)
	}
	// Absolute form: the authority replaces Host.
	io.WriteString(c, "GET http://other.example/abs HTTP/1.1\r\nHost: ignored\r\n\r\n")
	if _, body := readResponse(t, br, "GET"); !strings.HasPrefix(body, "GET /abs host=other.example ") {
		t.Errorf("absolute-form request: backend saw %q", body)
	}
}

func TestProxyChunkedBothWays(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	const chunkedBody = "5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n"

	// HTTP/1.1: the chunked request reaches the backend whole and chunked;
	// the chunked answer stays chunked.
	c, br := dialLB(t, port)
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunkedBody)
	_, body := readResponse(t, br, "POST")
	if !strings.HasSuffix(body, `te=["chunked"] len=12 body=hello, world`) {
		t.Errorf("backend saw %q, want the chunked body", body)
	}
	io.WriteString(c, "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunkedBody)
	resp, body := readResponse(t, br, "POST")
	if body != "hello, world" || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" || resp.Close {
		t.Errorf("chunked response: %q, transfer encoding %v, close %v; want chunked hello, world on a kept connection", body, resp.TransferEncoding, resp.Close)
	}

	// HTTP/1.0: the chunked answer is de-chunked and ends with the
	// connection.
	c, br = dialLB(t, port)
	io.WriteString(c, "POST /chunked HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 12\r\n\r\nhello, world")
	raw, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	head, got, _ := strings.Cut(string(raw), "\r\n\r\n")
	if got != "hello, world" || strings.Contains(head, "chunked") || !strings.Contains(head, "Connection: close") {
		t.Errorf("HTTP/1.0 client got %q, want a close-delimited hello, world", raw)
	}
}

func TestProxyLargeBodyStreams(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	c, br := dialLB(t, port)
	big := strings.Repeat("x", 3*maxReplayBody+7)
	go io.WriteString(c, "PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n"+big)
	if _, body := readResponse(t, br, "PUT"); !strings.Contains(body, "len="+strconv.Itoa(len(big))+" ") {
		t.Errorf("backend saw %.80q..., want len=%d", body, len(big))
	}
}

func TestProxyHTTP10(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	// Without keep-alive: answered, then closed. Host is filled in.
	c, br := dialLB(t, port)
	io.WriteString(c, "GET /old HTTP/1.0\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /old host=127.0.0.1:") {
		t.Errorf("HTTP/1.0: %d %q", resp.StatusCode, body)
	}
	wantClosed(t, br)

	// With keep-alive: the connection carries a second request.
	c, br = dialLB(t, port)
	for i := range 2 {
		io.WriteString(c, "GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, _ := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("request %d: %d, Connection %q, want 200 keep-alive", i, resp.StatusCode, resp.Header.Get("Connection"))
		}
	}
}

func TestProxyKeepAliveAndPipelining(t *testing.T) {
	var mu sync.Mutex
	upstream := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstream[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, r.URL.Path)
	}))
	defer srv.Close()
	port := proxyTo(t, hostPort(srv))
	c, br := dialLB(t, port)
	for i := range 20 {
		io.WriteString(c, "GET /seq HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || body != "/seq" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if len(upstream) != 1 {
		t.Errorf("20 sequential requests used %d upstream connections, want 1", len(upstream))
	}
	// Three pipelined requests in one write are answered in order.
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	for _, want := range []string{"/1", "/2", "/3"} {
		if _, body := readResponse(t, br, "GET"); body != want {
			t.Errorf("pipelined: got %q, want %q", body, want)
		}
	}
	wantClosed(t, br)
}

func TestProxyNoBodyResponses(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	c, br := dialLB(t, port)
	for _, tt := range []struct{ method, path string }{{"HEAD", "/"}, {"GET", "/204"}, {"GET", "/304"}, {"GET", "/after"}} {
		io.WriteString(c, tt.method+" "+tt.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, br, tt.method)
		if tt.path == "/after" {
			if !strings.HasPrefix(body, "GET /after") {
				t.Errorf("request after the bodiless responses: %q", body)
			}
			continue
		}
		if body != "" || resp.StatusCode >= 400 {
			t.Errorf("%s %s: %d with body %q, want no body", tt.method, tt.path, resp.StatusCode, body)
		}
	}
}

func TestProxyExpectContinue(t *testing.T) {
	port := proxyTo(t, hostPort(echo(t)))
	c, br := dialLB(t, port)
	io.WriteString(c, "PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q %v, want 100 Continue before the body is sent", line, err)
	}
	if l, _ := br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("after 100 Continue: %q", l)
	}
	io.WriteString(c, "hello")
	if resp, body := readResponse(t, br, "PUT"); resp.StatusCode != 200 || !strings.HasSuffix(body, "body=hello") {
		t.Errorf("after the body: %d %q", resp.StatusCode, body)
	}
}

// rawBackend accepts connections and runs serve on each.
func rawBackend(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

func TestProxyUpstreamClosesMidResponse(t *testing.T) {
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readHead(br, nil, maxHeadBytes); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
	})
	port := proxyTo(t, addr)
	c, br := dialLB(t, port)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != io.ErrUnexpectedEOF || string(b) != "only ten b" {
		t.Errorf("body %q, %v; want the 10 bytes sent, then unexpected EOF", b, err)
	}
	wantClosed(t, br)
}

func TestProxyUpgrade(t *testing.T) {
	addr := rawBackend(t, func(c net.Conn, br *bufio.Reader) {
		head, err := readHead(br, nil, maxHeadBytes)
		if err != nil || !bytes.Contains(head, []byte("Upgrade: echo\r\n")) {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, br)
	})
	port := proxyTo(t, addr)
	c, br := dialLB(t, port)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("through the tunnel: %q %v, want ping", buf, err)
	}
}

func TestProxyFixedResponseAndRules(t *testing.T) {
	srv := echo(t)
	l, clk := newTestLB(t)
	port := freePort(t)
	err := l.Apply(Config{
		Listeners: []Listener{{
			Port: port,
			Rules: []Rule{
				{Priority: 1, Paths: []string{"/fixed"}, Action: Action{Fixed: &FixedResponse{StatusCode: 418, ContentType: "text/plain", Body: "teapot"}}},
				{Priority: 2, Hosts: []string{"*.example"}, Paths: []string{"/a b"}, Action: Action{Forward: []WeightedTargetGroup{{TargetGroup: "tg"}}}},
			},
			DefaultAction: Action{Fixed: &FixedResponse{StatusCode: 404}},
		}},
		TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)
	c, br := dialLB(t, port)
	io.WriteString(c, "POST /fixed HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	if resp, body := readResponse(t, br, "POST"); resp.StatusCode != 418 || body != "teapot" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("fixed: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	io.WriteString(c, "GET /a%20b HTTP/1.1\r\nHost: API.Example:8080\r\n\r\n") // path decoded, host case-folded
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /a%20b ") {
		t.Errorf("rule match on a decoded path: %d %q", resp.StatusCode, body)
	}
	io.WriteString(c, "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 400 {
		t.Errorf("bad escape: %d, want 400", resp.StatusCode)
	}
}
