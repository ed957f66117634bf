package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Upstream connection settings.
const (
	// maxReplayBody is the largest request body buffered so the request
	// can be retried on another target.
	maxReplayBody = 64 << 10
	// maxResponseHead bounds an upstream response's status line and headers.
	maxResponseHead = 256 << 10
	// maxIdlePerTarget is how many idle keep-alive connections to one
	// target are kept.
	maxIdlePerTarget = 512
	// upstreamIdleTimeout drops pooled connections idle this long.
	upstreamIdleTimeout = 90 * time.Second
	dialTimeout         = 2 * time.Second
)

// upConn is a keep-alive connection to a target.
type upConn struct {
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	head   []byte
	idleAt time.Time
	reused bool
	// prev and next link the pool's busy list.
	prev, next *upConn
}

// errTargetGone means the target's deregistration ended while dialing.
var errTargetGone = errors.New("target deregistered")

// connPool holds a target's connections: idle ones (most recent last) and
// busy ones, so that the end of the target's deregistration delay can cut
// the requests still in flight.
type connPool struct {
	mu     sync.Mutex
	idle   []*upConn
	busy   *upConn // list head
	closed bool
}

// get returns an idle connection, or dials a new one (always when fresh).
// The caller hands it back with put or discard.
func (p *connPool) get(ctx context.Context, addr string, fresh bool) (*upConn, error) {
	for !fresh {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		uc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if time.Since(uc.idleAt) < upstreamIdleTimeout {
			p.linkLocked(uc)
			p.mu.Unlock()
			uc.reused = true
			return uc, nil
		}
		p.mu.Unlock()
		uc.c.Close()
	}
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	uc := &upConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 8<<10)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, errTargetGone
	}
	p.linkLocked(uc)
	return uc, nil
}

func (p *connPool) linkLocked(uc *upConn) {
	uc.prev, uc.next = nil, p.busy
	if p.busy != nil {
		p.busy.prev = uc
	}
	p.busy = uc
}

func (p *connPool) unlinkLocked(uc *upConn) {
	if uc.prev != nil {
		uc.prev.next = uc.next
	} else if p.busy == uc {
		p.busy = uc.next
	}
	if uc.next != nil {
		uc.next.prev = uc.prev
	}
	uc.prev, uc.next = nil, nil
}

// put returns a connection whose exchange completed cleanly.
func (p *connPool) put(uc *upConn) {
	uc.idleAt = time.Now()
	p.mu.Lock()
	p.unlinkLocked(uc)
	if p.closed || len(p.idle) >= maxIdlePerTarget {
		p.mu.Unlock()
		uc.c.Close()
		return
	}
	p.idle = append(p.idle, uc)
	p.mu.Unlock()
}

// discard closes a connection that cannot be reused.
func (p *connPool) discard(uc *upConn) {
	p.mu.Lock()
	p.unlinkLocked(uc)
	p.mu.Unlock()
	uc.c.Close()
}

// close closes every connection, idle and busy, and refuses later ones.
func (p *connPool) close() {
	p.mu.Lock()
	conns := p.idle
	for uc := p.busy; uc != nil; uc = uc.next {
		conns = append(conns, uc)
	}
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, uc := range conns {
		uc.c.Close()
	}
}

// attempt is how one try at a target ended.
type attempt int

const (
	attemptDone      attempt = iota // answered; the connection may go on
	attemptDoneClose                // answered (or the client left); close
	attemptRetry                    // failed before any response byte; body intact
	attemptFailed                   // failed before any response byte; answer 502/504
)

// forward proxies the current request to a target of g, retrying on
// other targets when a connection fails before any response byte and the
// body can be replayed. It reports whether the connection may carry
// another request.
func (cc *clientConn) forward(g *group, authority []byte) bool {
	r := &cc.req
	var replay []byte // nil: no body, or a streamed one
	streamed := false
	if r.hasBody() {
		if r.chunked || r.contentLength > maxReplayBody {
			streamed = true
		} else {
			if r.expect {
				cc.writeContinue()
			}
			if cap(cc.body) < int(r.contentLength) {
				cc.body = make([]byte, r.contentLength)
			}
			replay = cc.body[:r.contentLength]
			if _, err := io.ReadFull(cc.br, replay); err != nil {
				return false
			}
		}
	}
	var triedBuf [4]*target
	tried := triedBuf[:0]
	var lastErr error
	for n := 0; n <= cc.l.maxRetries; n++ {
		t := g.pick(tried)
		if t == nil {
			break
		}
		tried = append(tried, t)
		if !t.acquire() { // deregistered since it was picked: not a try
			n--
			continue
		}
		res, err := cc.exchange(t, authority, replay, streamed)
		switch res {
		case attemptDone:
			return true
		case attemptDoneClose:
			return false
		}
		lastErr = err
		if res == attemptFailed {
			break
		}
	}
	code := http.StatusServiceUnavailable // no target to try
	if lastErr != nil {
		code = http.StatusBadGateway
		var ne net.Error
		if errors.As(lastErr, &ne) && ne.Timeout() {
			code = http.StatusGatewayTimeout
		}
	}
	keep := !streamed && !r.close
	cc.writeStatus(code, keep)
	return cc.bw.Flush() == nil && keep
}

func (cc *clientConn) writeContinue() {
	_, _ = cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = cc.bw.Flush()
	cc.req.expect = false
}

// send writes the request on uc and reads the response head into resp,
// skipping 100 Continue and relaying other 1xx. attemptDone means the head
// is there. On failure uc is closed.
func (cc *clientConn) send(uc *upConn, resp *response, t *target, authority, replay []byte, streamed bool) (attempt, error) {
	r := &cc.req
	cc.writeRequestHead(uc.bw, t, authority)
	switch {
	case replay != nil:
		_, _ = uc.bw.Write(replay)
	case streamed:
		if r.expect {
			cc.writeContinue()
		}
		var rerr, werr error
		if r.chunked {
			rerr, werr = copyChunked(uc.bw, cc.br, true)
		} else {
			rerr, werr = copyBody(uc.bw, cc.br, r.contentLength)
		}
		if rerr != nil { // the client went away mid-body
			t.pool.discard(uc)
			return attemptDoneClose, rerr
		}
		if werr != nil {
			t.pool.discard(uc)
			return attemptFailed, werr
		}
	}
	if err := uc.bw.Flush(); err != nil {
		t.pool.discard(uc)
		return cc.failed(t, err, streamed, uc)
	}
	for {
		head, err := readHead(uc.br, uc.head, maxResponseHead)
		uc.head = head
		if err != nil {
			t.pool.discard(uc)
			if len(head) == 0 {
				return cc.failed(t, err, streamed, uc)
			}
			return attemptFailed, err
		}
		if err := parseResponse(head, resp); err != nil {
			t.pool.discard(uc)
			return attemptFailed, err
		}
		if resp.status == http.StatusSwitchingProtocols && r.upgrade == nil {
			t.pool.discard(uc) // switching protocols nobody asked for
			return attemptFailed, errMalformed
		}
		if resp.status >= 200 || resp.status == http.StatusSwitchingProtocols {
			return attemptDone, nil
		}
		if resp.status != http.StatusContinue && r.minor == 1 {
			cc.writeResponseHead(resp, true, false)
			if err := cc.bw.Flush(); err != nil {
				t.pool.discard(uc)
				return attemptDoneClose, err
			}
		}
	}
}

// exchange sends the request to t, which the caller acquired, and streams
// the response back. It releases t when done.
func (cc *clientConn) exchange(t *target, authority, replay []byte, streamed bool) (attempt, error) {
	var uc *upConn
	resp := &cc.resp
	for {
		// A streamed body cannot be sent twice: it gets a fresh connection,
		// never one the target may have closed while idle.
		var err error
		uc, err = t.pool.get(t.ctx, t.addr, streamed)
		if err != nil {
			t.release()
			return cc.failed(t, err, streamed, nil)
		}
		res, err := cc.send(uc, resp, t, authority, replay, streamed)
		if res == attemptDone {
			break
		}
		if res == attemptRetry && uc.reused {
			continue // a stale keep-alive connection: try the next one
		}
		t.release()
		return res, err
	}
	r := &cc.req
	if resp.status == http.StatusSwitchingProtocols {
		// A tunnel is neither an outstanding request nor cut by the end of
		// the deregistration delay.
		t.pool.mu.Lock()
		t.pool.unlinkLocked(uc)
		t.pool.mu.Unlock()
		t.release()
		cc.writeResponseHead(resp, false, true)
		return cc.tunnel(uc)
	}
	defer t.release()

	// Committed: from here a failure closes the client connection.
	noBody := string(r.method) == http.MethodHead || resp.status == http.StatusNoContent || resp.status == http.StatusNotModified
	keep := !r.close && !cc.ls.closing.Load()
	if !noBody && resp.contentLength < 0 && (!resp.chunked || r.minor == 0) {
		keep = false // delimited by closing the connection
	}
	cc.writeResponseHead(resp, keep, noBody)
	upOK := !resp.close
	var rerr, werr error
	switch {
	case noBody:
	case resp.contentLength >= 0:
		rerr, werr = copyBody(cc.bw, uc.br, resp.contentLength)
	case resp.chunked:
		rerr, werr = copyChunked(cc.bw, uc.br, r.minor == 1)
	default:
		rerr, werr = copyBody(cc.bw, uc.br, -1)
		upOK = false
	}
	if werr == nil {
		werr = cc.bw.Flush()
	}
	if rerr != nil || werr != nil || !upOK {
		t.pool.discard(uc)
	} else {
		t.pool.put(uc)
	}
	if rerr != nil || werr != nil || !keep {
		return attemptDoneClose, errors.Join(rerr, werr)
	}
	return attemptDone, nil
}

// failed classifies an error before any response byte: retry on another
// target when the target never took the request (refused, reset, closed)
// and the body can be sent again; otherwise a 502 or 504.
func (cc *clientConn) failed(t *target, err error, streamed bool, uc *upConn) (attempt, error) {
	if streamed || t.ctx.Err() != nil {
		return attemptFailed, err
	}
	if uc == nil { // dial
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return attemptRetry, err
		}
		return attemptFailed, err
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return attemptRetry, err
	}
	return attemptFailed, err
}

// writeRequestHead writes the request head for t: origin-form target,
// hop-by-hop fields dropped, X-Forwarded-* set, framing re-stated.
func (cc *clientConn) writeRequestHead(bw *bufio.Writer, t *target, authority []byte) {
	r := &cc.req
	b := bw.AvailableBuffer()
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, originForm(r.target, authority)...)
	b = append(b, " HTTP/1.1\r\n"...)
	switch {
	case authority != nil:
		b = append(append(append(b, "Host: "...), authority...), "\r\n"...)
	case r.host == nil: // HTTP/1.0 without Host
		b = append(append(append(b, "Host: "...), t.addr...), "\r\n"...)
	}
	for _, h := range r.headers {
		if hopByHop(h.name, r.connection) ||
			(authority != nil && fieldIs(h.name, "host")) ||
			fieldIs(h.name, "x-forwarded-proto") || fieldIs(h.name, "x-forwarded-port") {
			continue
		}
		b = appendHeader(b, h.name, h.value)
		if len(b) > 4<<10 {
			_, _ = bw.Write(b)
			b = bw.AvailableBuffer()
		}
	}
	b = append(b, "X-Forwarded-For: "...)
	if len(r.xff) > 0 {
		b = append(append(b, r.xff...), ", "...)
	}
	b = append(b, cc.ip...)
	b = append(b, "\r\nX-Forwarded-Proto: "...)
	b = append(b, cc.scheme...)
	b = append(b, "\r\nX-Forwarded-Port: "...)
	b = append(b, cc.ls.port...)
	b = append(b, "\r\n"...)
	switch {
	case r.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case r.contentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.contentLength, 10)
		b = append(b, "\r\n"...)
	}
	if r.upgrade != nil {
		b = append(append(append(b, "Connection: Upgrade\r\nUpgrade: "...), r.upgrade...), "\r\n"...)
	}
	b = append(b, "\r\n"...)
	_, _ = bw.Write(b)
}

// writeResponseHead writes resp's head to the client, re-stating framing:
// chunked stays chunked for HTTP/1.1 clients, and is sent close-delimited to
// HTTP/1.0 ones.
func (cc *clientConn) writeResponseHead(resp *response, keep, noBody bool) {
	r := &cc.req
	b := cc.bw.AvailableBuffer()
	b = appendStatusLine(b, resp.status, resp.reason)
	upgrade := resp.status == http.StatusSwitchingProtocols
	for _, h := range resp.headers {
		switch {
		case upgrade && fieldIs(h.name, "upgrade"),
			fieldIs(h.name, "trailer") && resp.chunked && r.minor == 1:
		case hopByHop(h.name, resp.connection):
			continue
		}
		b = appendHeader(b, h.name, h.value)
		if len(b) > 4<<10 {
			_, _ = cc.bw.Write(b)
			b = cc.bw.AvailableBuffer()
		}
	}
	switch {
	case upgrade:
		b = append(b, "Connection: Upgrade\r\n"...)
	case resp.status < 200:
	default:
		if resp.contentLength >= 0 && resp.status != http.StatusNoContent {
			b = append(b, "Content-Length: "...)
			b = strconv.AppendInt(b, resp.contentLength, 10)
			b = append(b, "\r\n"...)
		} else if resp.chunked && r.minor == 1 && !noBody {
			b = append(b, "Transfer-Encoding: chunked\r\n"...)
		}
		b = appendConnection(b, keep, r.minor)
	}
	b = append(b, "\r\n"...)
	_, _ = cc.bw.Write(b)
}

func appendHeader(b, name, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// tunnel relays bytes both ways after 101 Switching Protocols, until
// either side closes.
func (cc *clientConn) tunnel(uc *upConn) (attempt, error) {
	defer uc.c.Close()
	if err := cc.bw.Flush(); err != nil {
		return attemptDoneClose, err
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(uc.c, cc.br) // cc.br first yields what it buffered
		closeWrite(uc.c)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(cc.c, uc.br)
		closeWrite(cc.c)
		done <- struct{}{}
	}()
	<-done
	<-done
	return attemptDoneClose, nil
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

// copyBody copies n bytes (n < 0: until EOF) from src to dst, flushing dst
// whenever src would block so streamed responses are not held back. rerr
// is src's failure, werr dst's.
func copyBody(dst *bufio.Writer, src *bufio.Reader, n int64) (rerr, werr error) {
	for n != 0 {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return nil, err
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					if n < 0 {
						return nil, nil
					}
					err = io.ErrUnexpectedEOF
				}
				return err, nil
			}
		}
		k := src.Buffered()
		if n > 0 && int64(k) > n {
			k = int(n)
		}
		b, _ := src.Peek(k)
		if _, err := dst.Write(b); err != nil {
			return nil, err
		}
		_, _ = src.Discard(k)
		if n > 0 {
			n -= int64(k)
		}
	}
	return nil, nil
}

// copyChunked copies a chunked body from src to dst, re-chunked when
// rechunk is set and de-chunked otherwise. Trailer fields follow the last
// chunk when re-chunked.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, rechunk bool) (rerr, werr error) {
	for {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return nil, err
			}
		}
		size, err := readChunkSize(src)
		if err != nil {
			return err, nil
		}
		if size == 0 {
			break
		}
		if rechunk {
			b := dst.AvailableBuffer()
			b = strconv.AppendInt(b, size, 16)
			b = append(b, "\r\n"...)
			if _, err := dst.Write(b); err != nil {
				return nil, err
			}
		}
		if rerr, werr := copyBody(dst, src, size); rerr != nil || werr != nil {
			return rerr, werr
		}
		if err := readCRLF(src); err != nil {
			return err, nil
		}
		if rechunk {
			if _, err := dst.WriteString("\r\n"); err != nil {
				return nil, err
			}
		}
	}
	if rechunk {
		_, _ = dst.WriteString("0\r\n")
	}
	for total := 0; ; {
		line, err := src.ReadSlice('\n')
		if err != nil {
			if err == io.EOF || err == bufio.ErrBufferFull {
				err = io.ErrUnexpectedEOF
			}
			return err, nil
		}
		if total += len(line); total > maxHeadBytes {
			return errMalformed, nil
		}
		line, _ = nextLine(line)
		if len(line) == 0 {
			break
		}
		h, err := parseHeader(line)
		if err != nil {
			return errMalformed, nil
		}
		if rechunk {
			if _, err := dst.Write(appendHeader(dst.AvailableBuffer(), h.name, h.value)); err != nil {
				return nil, err
			}
		}
	}
	if rechunk {
		if _, err := dst.WriteString("\r\n"); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
