package lb

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Client-side timeouts.
const (
	// idleTimeout bounds the wait for a request head on a connection,
	// whether idle between requests or mid-head.
	idleTimeout = 60 * time.Second
	// handshakeTimeout bounds an HTTPS listener's TLS handshake.
	handshakeTimeout = 10 * time.Second
	// shutdownGrace is how long a removed listener's open connections get
	// to finish their current request.
	shutdownGrace = 30 * time.Second
	// maxDiscardBody is the largest unread request body drained so the
	// connection can carry the next request; larger ones close it.
	maxDiscardBody = 256 << 10
)

// listener is one bound socket and the connections it accepted.
type listener struct {
	addr string
	port string // for X-Forwarded-Port
	ln   net.Listener
	// certs is nil for HTTP; for HTTPS, read at every handshake so Apply
	// can change certificates (or the protocol) without a new socket.
	certs     atomic.Pointer[certSet]
	tlsConfig *tls.Config

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*clientConn]struct{}
}

func newListener(addr string, ln net.Listener) *listener {
	_, port, _ := net.SplitHostPort(addr)
	ls := &listener{addr: addr, port: port, ln: ln, conns: map[*clientConn]struct{}{}}
	ls.tlsConfig = &tls.Config{
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cs := ls.certs.Load()
			if cs == nil {
				return nil, errors.New("listener has no certificate")
			}
			return cs.pick(hello.ServerName), nil
		},
	}
	return ls
}

// acceptLoop accepts connections until the listener is closed.
func (l *LB) acceptLoop(ls *listener) {
	var backoff time.Duration
	for {
		c, err := ls.ln.Accept()
		if err != nil {
			if ls.closing.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff) // as net/http does: out of descriptors, keep serving
				continue
			}
			l.log.Error("listener stopped", "addr", ls.addr, "err", err)
			return
		}
		backoff = 0
		cc := newClientConn(l, ls, c)
		ls.mu.Lock()
		if ls.closing.Load() {
			ls.mu.Unlock()
			c.Close()
			return
		}
		ls.conns[cc] = struct{}{}
		ls.mu.Unlock()
		go cc.serve()
	}
}

// closeConns closes the listener's connections: all of them, or only those
// waiting for a request.
func (ls *listener) closeConns(all bool) (left int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for cc := range ls.conns {
		if all || cc.idle.Load() {
			cc.raw.Close()
		}
	}
	return len(ls.conns)
}

// clientConn is one client connection; one goroutine serves its requests
// one at a time.
type clientConn struct {
	l      *LB
	ls     *listener
	raw    net.Conn // the accepted connection, closed by shutdowns
	c      net.Conn // raw, or TLS over it
	br     *bufio.Reader
	bw     *bufio.Writer
	scheme string
	ip     string
	idle   atomic.Bool // waiting for a request head

	head []byte // the current request's head; req aliases it
	req  request
	body []byte // a replayable request body
	resp response
}

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

func newClientConn(l *LB, ls *listener, c net.Conn) *clientConn {
	cc := &clientConn{l: l, ls: ls, raw: c, c: c, scheme: "http"}
	cc.idle.Store(true)
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		cc.ip = a.IP.String()
	}
	return cc
}

// serve runs the connection's request loop, then closes it.
func (cc *clientConn) serve() {
	defer func() {
		lingerClose(cc.c)
		cc.ls.mu.Lock()
		delete(cc.ls.conns, cc)
		cc.ls.mu.Unlock()
	}()
	if cc.ls.certs.Load() != nil {
		tc := tls.Server(cc.c, cc.ls.tlsConfig)
		_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		_ = tc.SetDeadline(time.Time{})
		cc.c, cc.scheme = tc, "https"
	}
	br := clientReaders.Get().(*bufio.Reader)
	bw := clientWriters.Get().(*bufio.Writer)
	br.Reset(cc.c)
	bw.Reset(cc.c)
	cc.br, cc.bw = br, bw
	defer func() {
		br.Reset(nil)
		bw.Reset(nil)
		clientReaders.Put(br)
		clientWriters.Put(bw)
	}()
	for {
		cc.idle.Store(true)
		if cc.ls.closing.Load() {
			return
		}
		_ = cc.c.SetReadDeadline(time.Now().Add(idleTimeout))
		head, err := readHead(cc.br, cc.head, maxHeadBytes)
		cc.head = head
		if err == nil {
			err = parseRequest(head, &cc.req)
		}
		cc.idle.Store(false)
		if err != nil {
			var se *statusError
			if errors.As(err, &se) {
				cc.writeStatus(se.code, false)
				cc.bw.Flush()
			}
			return
		}
		if cc.req.hasBody() || cc.req.upgrade != nil {
			_ = cc.c.SetReadDeadline(time.Time{})
		}
		if !cc.handle() {
			return
		}
	}
}

// lingerClose closes c after sending FIN and reading what the client
// still sends for a moment, so that unread input (a pipelined request, a
// body never read) does not make the kernel reset the connection before
// the client has read the last response.
func lingerClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.CopyN(io.Discard, c, 256<<10)
	}
	c.Close()
}

// handle answers one parsed request and reports whether the connection
// may carry another.
func (cc *clientConn) handle() bool {
	r := &cc.req
	if string(r.method) == http.MethodConnect {
		return cc.reply(http.StatusMethodNotAllowed)
	}
	path, hostOverride, ok := splitRequestTarget(r.target)
	if !ok {
		cc.writeStatus(http.StatusBadRequest, false)
		cc.bw.Flush()
		return false
	}
	host := r.host
	if hostOverride != nil {
		host = hostOverride
	}
	rt := cc.l.table.Load().routes[cc.ls.addr]
	if rt == nil { // listener being removed
		return cc.reply(http.StatusServiceUnavailable)
	}
	act := rt.def
	if len(rt.rules) > 0 {
		p := string(path)
		if bytes.IndexByte(path, '%') >= 0 {
			var err error
			if p, err = url.PathUnescape(p); err != nil {
				cc.writeStatus(http.StatusBadRequest, false)
				cc.bw.Flush()
				return false
			}
		}
		act = rt.match(string(host), p)
	}
	if f := act.fixed; f != nil {
		if !cc.discardBody() {
			r.close = true
		}
		cc.writeFixed(f)
		return cc.bw.Flush() == nil && !r.close
	}
	g := act.pick()
	if g == nil {
		return cc.reply(http.StatusServiceUnavailable)
	}
	return cc.forward(g, hostOverride)
}

// splitRequestTarget returns the path of a request target, and for an
// absolute-form target the authority, which replaces Host.
func splitRequestTarget(t []byte) (path, authority []byte, ok bool) {
	if len(t) > 0 && t[0] == '/' || string(t) == "*" {
		if i := bytes.IndexByte(t, '?'); i >= 0 {
			return t[:i], nil, true
		}
		return t, nil, true
	}
	var rest []byte
	switch {
	case len(t) > 7 && bytes.EqualFold(t[:7], []byte("http://")):
		rest = t[7:]
	case len(t) > 8 && bytes.EqualFold(t[:8], []byte("https://")):
		rest = t[8:]
	default:
		return nil, nil, false
	}
	i := bytes.IndexAny(rest, "/?")
	if i < 0 {
		return []byte("/"), rest, len(rest) > 0
	}
	authority, path = rest[:i], rest[i:]
	if path[0] == '?' {
		return []byte("/"), authority, len(authority) > 0
	}
	if j := bytes.IndexByte(path, '?'); j >= 0 {
		path = path[:j]
	}
	return path, authority, len(authority) > 0
}

// originForm is the request target to send upstream: t itself, or for an
// absolute-form target the part after its authority.
func originForm(t, authority []byte) []byte {
	if authority == nil {
		return t
	}
	i := bytes.Index(t, []byte("://")) + 3 + len(authority)
	switch {
	case i >= len(t):
		return []byte("/")
	case t[i] == '?':
		return append([]byte("/"), t[i:]...)
	}
	return t[i:]
}

// reply answers code with an empty body, draining the request body first;
// it reports whether the connection may carry another request.
func (cc *clientConn) reply(code int) bool {
	keep := cc.discardBody() && !cc.req.close
	cc.writeStatus(code, keep)
	return cc.bw.Flush() == nil && keep
}

// discardBody reads and drops the request body, if small enough; it
// reports whether the connection is positioned at the next request.
func (cc *clientConn) discardBody() bool {
	r := &cc.req
	if !r.hasBody() {
		return true
	}
	if r.chunked || r.contentLength > maxDiscardBody || r.expect {
		return false // a client waiting for 100 Continue sends nothing
	}
	_, err := cc.br.Discard(int(r.contentLength))
	return err == nil
}

// writeStatus writes an empty-bodied response of the proxy's own.
func (cc *clientConn) writeStatus(code int, keep bool) {
	b := cc.bw.AvailableBuffer()
	b = appendStatusLine(b, code, nil)
	b = append(b, "Content-Length: 0\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	b = appendConnection(b, keep, cc.req.minor)
	b = append(b, "\r\n"...)
	_, _ = cc.bw.Write(b)
}

// writeFixed writes a fixed-response action's answer.
func (cc *clientConn) writeFixed(f *FixedResponse) {
	b := cc.bw.AvailableBuffer()
	b = appendStatusLine(b, f.StatusCode, nil)
	if f.ContentType != "" {
		b = append(append(append(b, "Content-Type: "...), f.ContentType...), "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(f.Body)), 10)
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	b = appendConnection(b, !cc.req.close, cc.req.minor)
	b = append(b, "\r\n"...)
	_, _ = cc.bw.Write(b)
	if string(cc.req.method) != http.MethodHead {
		_, _ = cc.bw.WriteString(f.Body)
	}
}

// appendConnection appends the Connection field a response needs, if any.
func appendConnection(b []byte, keep bool, minor int) []byte {
	switch {
	case !keep:
		return append(b, "Connection: close\r\n"...)
	case minor == 0:
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}
