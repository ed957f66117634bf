package lb

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a self-signed certificate for names; pool, if not
// nil, is made to trust it.
func selfSigned(t *testing.T, pool *x509.CertPool, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if pool != nil {
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		pool.AddCert(leaf)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// served makes a TLS handshake with SNI name on port and returns the
// certificate the listener presented.
func served(t *testing.T, port int, name string, pool *x509.CertPool) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{ServerName: name, RootCAs: pool})
	if err != nil {
		t.Fatalf("handshake with SNI %s: %v", name, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

func TestHTTPSListener(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Port"))
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	a := selfSigned(t, pool, "a.test")
	b := selfSigned(t, pool, "b.test", "*.b.test")
	a2 := selfSigned(t, pool, "a.test")

	l, clk := newTestLB(t)
	port := freePort(t)
	cfg := func(certs ...tls.Certificate) Config {
		ls := forward(port, "tg")
		ls.Protocol = ProtocolHTTPS
		ls.Certificates = certs
		return Config{Listeners: []Listener{ls}, TargetGroups: []TargetGroup{{Name: "tg", Targets: []string{hostPort(srv)}}}}
	}
	if err := l.Apply(cfg(a, b)); err != nil {
		t.Fatal(err)
	}
	makeHealthy(l, clk)

	tests := []struct {
		sni  string
		want tls.Certificate
	}{
		{"a.test", a},
		{"b.test", b},
		{"X.B.test", b},   // wildcard, any case
		{"other.test", a}, // the first is the default
		{"", a},
	}
	for _, tt := range tests {
		verify := pool
		if tt.sni == "other.test" || tt.sni == "" {
			verify = nil // the default does not cover the name
		}
		var got []byte
		if verify == nil {
			c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("SNI %q: %v", tt.sni, err)
			}
			got = c.ConnectionState().PeerCertificates[0].Raw
			c.Close()
		} else {
			got = served(t, port, tt.sni, verify)
		}
		if !bytes.Equal(got, tt.want.Certificate[0]) {
			t.Errorf("SNI %q: served another certificate than %s's", tt.sni, tt.want.Leaf.Subject.CommonName)
		}
	}

	// Requests are proxied with X-Forwarded-Proto https. One kept-alive
	// connection survives a certificate change; new handshakes get the new
	// certificate.
	dials := 0
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "a.test"},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/"
	want := "https " + strconv.Itoa(port)
	if code, body, err := get(c, url); err != nil || code != 200 || body != want {
		t.Fatalf("before the change: %d %q %v, want 200 %q", code, body, err, want)
	}
	if err := l.Apply(cfg(a2)); err != nil {
		t.Fatal(err)
	}
	if code, body, err := get(c, url); err != nil || code != 200 || body != want || dials != 1 {
		t.Errorf("after the change, kept-alive: %d %q %v on %d connections, want 200 %q on 1", code, body, err, dials, want)
	}
	if got := served(t, port, "a.test", pool); !bytes.Equal(got, a2.Certificate[0]) {
		t.Error("new handshake after the change: old certificate served, want the new one")
	}

	// Back to plain HTTP on the same socket.
	plain := cfg()
	plain.Listeners[0].Protocol = ProtocolHTTP
	if err := l.Apply(plain); err != nil {
		t.Fatal(err)
	}
	if code, body, err := get(newClient(t), lbURL(port, "/")); err != nil || code != 200 || body != "http "+strconv.Itoa(port) {
		t.Errorf("after switching to HTTP: %d %q %v, want 200", code, body, err)
	}
}

func TestHTTPSValidation(t *testing.T) {
	cert := selfSigned(t, nil, "a.test")
	tests := []struct {
		name  string
		l     Listener
		field string
	}{
		{"https without certificates", Listener{Port: 443, Protocol: ProtocolHTTPS}, "Listeners[0].Certificates"},
		{"http with certificates", Listener{Port: 80, Certificates: []tls.Certificate{cert}}, "Listeners[0].Certificates"},
		{"no private key", Listener{Port: 443, Protocol: ProtocolHTTPS, Certificates: []tls.Certificate{{Certificate: cert.Certificate}}}, "Listeners[0].Certificates"},
		{"unknown protocol", Listener{Port: 443, Protocol: "QUIC"}, "Listeners[0].Protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.l.DefaultAction.Fixed = &FixedResponse{StatusCode: 200}
			err := Config{Listeners: []Listener{tt.l}}.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate = %v, want an ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	l := Listener{Port: 443, Protocol: ProtocolHTTPS, Certificates: []tls.Certificate{cert}}
	if s := fmt.Sprint(l); !strings.Contains(s, "[redacted]") || strings.Contains(s, "PrivateKey") {
		t.Errorf("Listener prints as %q, want certificates redacted", s)
	}
}
