package lb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// maxReplayBody is the largest request body buffered so the request can be
// retried on another target.
const maxReplayBody = 64 << 10

// errNoTarget means a target group had no routable target.
var errNoTarget = errors.New("no healthy target")

type ctxKey struct{}

// bufferPool hands ReverseProxy 32 KiB copy buffers.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

// newTransport is the pooled upstream transport.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// newProxy builds the reverse proxy; rt picks targets and retries.
func newProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "target" // replaced by retryTransport
			pr.SetXForwarded()
			if a, ok := pr.In.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
				pr.Out.Header.Set("X-Forwarded-Port", strconv.Itoa(a.Port))
			}
		},
		Transport:  rt,
		BufferPool: newBufferPool(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, errNoTarget):
				w.WriteHeader(http.StatusServiceUnavailable)
			case errors.Is(err, context.DeadlineExceeded):
				w.WriteHeader(http.StatusGatewayTimeout)
			default:
				w.WriteHeader(http.StatusBadGateway)
			}
		},
	}
}

// retryTransport sends each request to a target of the group in its
// context, retrying on another target when the connection fails before any
// response byte and the body can be replayed.
type retryTransport struct {
	next       http.RoundTripper
	maxRetries int
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	g, _ := req.Context().Value(ctxKey{}).(*group)
	if g == nil {
		return nil, errNoTarget
	}
	replay := req.Body == nil || req.Body == http.NoBody
	if !replay && req.ContentLength > 0 && req.ContentLength <= maxReplayBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		replay = true
	}
	var tried []*target
	var lastErr error = errNoTarget
	for attempt := 0; attempt <= rt.maxRetries; attempt++ {
		t := g.pick(tried)
		if t == nil {
			break
		}
		tried = append(tried, t)
		if !t.acquire() { // deregistered since it was picked: not an attempt
			attempt--
			continue
		}
		out := req
		if attempt > 0 {
			out = req.Clone(req.Context())
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				out.Body = b
			}
		}
		resp, err := rt.send(out, t)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !replay || !retryable(req.Context(), err) {
			break
		}
	}
	return nil, lastErr
}

// send proxies to t, which the caller acquired, counting it outstanding
// until the response body is closed, and cancelling it if t's drain ends
// first.
func (rt *retryTransport) send(req *http.Request, t *target) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	done := func() {
		stop()
		cancel()
		t.release()
	}
	out := req.WithContext(ctx)
	u := *req.URL
	u.Host = t.addr
	out.URL = &u
	resp, err := rt.next.RoundTrip(out)
	if err != nil {
		done()
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy needs the raw io.ReadWriteCloser for upgrades; the
		// tunnel is not counted as outstanding.
		stop()
		t.release()
		return resp, nil
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// retryable reports whether err means the target never answered: refused,
// reset or closed before any response byte.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

// doneBody calls done once when closed.
type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
