package exec

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The stream's HTTP/1.1 upgrade.
const (
	// UpgradeProtocol is the Upgrade header's token.
	UpgradeProtocol = "berth-exec/1"
	// SessionPath is where the client attaches: SessionPath + session ID
	// (ECS's session.streamUrl).
	SessionPath = "/exec/v1/sessions/"
	// HeaderTTY ("1") asks for a terminal when the client attaches.
	HeaderTTY = "Berth-Exec-Tty"
	// HeaderSize is the terminal's initial size, "ROWSxCOLS".
	HeaderSize = "Berth-Exec-Size"
)

// DialError is an answer other than 101 Switching Protocols.
type DialError struct {
	Status int
	// Code and Message come from a {"code","message"} JSON body, or
	// Message is the body's text.
	Code    string
	Message string
}

func (e *DialError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// Dial opens a berth-exec stream: a GET of rawURL (http or https) with
// `Authorization: Bearer <token>`, header, and an upgrade to
// UpgradeProtocol. It returns the upgraded connection once the server
// answered 101. ctx bounds the handshake only.
func Dial(ctx context.Context, rawURL, token string, header http.Header, tlsConfig *tls.Config) (net.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("exec stream: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("exec stream: %w", err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		cfg := tlsConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		conn = tls.Client(conn, cfg)
	default:
		conn.Close()
		return nil, fmt.Errorf("exec stream: URL scheme %q: want http or https", u.Scheme)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	c, err := handshake(conn, u, token, header)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

func handshake(conn net.Conn, u *url.URL, token string, header http.Header) (net.Conn, error) {
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: header.Clone(), ProtoMajor: 1, ProtoMinor: 1}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", UpgradeProtocol)
	req.Header.Set("Authorization", "Bearer "+token)
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("exec stream: send request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("exec stream: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		de := &DialError{Status: resp.StatusCode}
		var e struct{ Code, Message string }
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			de.Code, de.Message = e.Code, e.Message
		} else {
			de.Message = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("exec stream: %w", de)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), UpgradeProtocol) {
		return nil, fmt.Errorf("exec stream: the server upgraded to %q, not %s", resp.Header.Get("Upgrade"), UpgradeProtocol)
	}
	return &bufConn{Conn: conn, r: br}, nil
}

// bufConn reads what the handshake's reader buffered first.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ParseSize parses a HeaderSize value, "ROWSxCOLS".
func ParseSize(s string) (rows, cols uint16, ok bool) {
	r, c, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	rr, err := strconv.ParseUint(r, 10, 16)
	if err != nil {
		return 0, 0, false
	}
	cc, err := strconv.ParseUint(c, 10, 16)
	if err != nil {
		return 0, 0, false
	}
	return uint16(rr), uint16(cc), true
}

// FormatSize formats a HeaderSize value.
func FormatSize(rows, cols uint16) string { return fmt.Sprintf("%dx%d", rows, cols) }
