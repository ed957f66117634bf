package elbv2api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-io/berth/api/elbv2"
	"github.com/berth-io/berth/internal/state"
)

// HTTPS listener certificates. ELB takes ACM certificate ARNs; berth takes
// two forms of CertificateArn instead:
//
//	file:///abs/path.pem              a PEM file holding the certificate chain
//	                                  and its private key
//	file:///abs/cert.pem?key=/abs/key.pem
//	                                  the chain and the key in separate files
//	berth:self-signed                 an ECDSA P-256 certificate berth generates
//	                                  once per load balancer (for its DNS name,
//	                                  localhost and 127.0.0.1) and keeps in the
//	                                  store, so it survives restarts
//
// Files are read when the listener is created or modified (to refuse a bad
// one with CertificateNotFound) and again each time the data plane is
// configured, so a renewed certificate is picked up on the next change.
const (
	SelfSignedCertificate = "berth:self-signed"
	defaultSSLPolicy      = "ELBSecurityPolicy-2016-08"
)

// certRef is a parsed CertificateArn.
type certRef struct {
	selfSigned bool
	cert, key  string // file paths; key == cert when one file holds both
}

func parseCertARN(arn, member string) (certRef, error) {
	if arn == SelfSignedCertificate {
		return certRef{selfSigned: true}, nil
	}
	u, err := url.Parse(arn)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
		return certRef{}, apiErr(elbv2.ErrCertificateNotFound, "%s: certificate '%s' not found: berth takes file:///abs/path.pem (chain and key; or ?key=/abs/key.pem) or %s", member, clip(arn), SelfSignedCertificate)
	}
	r := certRef{cert: u.Path, key: u.Path}
	if k := u.Query().Get("key"); k != "" {
		if !filepath.IsAbs(k) {
			return certRef{}, apiErr(elbv2.ErrCertificateNotFound, "%s: the key path '%s' must be absolute", member, clip(k))
		}
		r.key = k
	}
	return r, nil
}

// loadFile reads a certificate chain and key from disk.
func (r certRef) loadFile() (tls.Certificate, error) {
	certPEM, err := readPEM(r.cert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM := certPEM
	if r.key != r.cert {
		if keyPEM, err = readPEM(r.key); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// maxPEMBytes bounds a certificate or key file.
const maxPEMBytes = 1 << 20

// readPEM reads a regular file of at most maxPEMBytes: a path to a device
// or a pipe must not hang the API or the data plane's sync.
func readPEM(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxPEMBytes))
}

// checkCertificates validates an HTTPS listener's certificate list and
// returns it as stored.
func checkCertificates(certs []elbv2.Certificate, member string) ([]elbv2.Certificate, bool, error) {
	if len(certs) == 0 {
		return nil, false, errValidation("%s: a certificate must be specified for HTTPS listeners", member)
	}
	if len(certs) > 1 {
		return nil, false, apiErr(elbv2.ErrTooManyCertificates, "%s: a listener takes one default certificate", member)
	}
	arn := certs[0].CertificateArn
	ref, err := parseCertARN(arn, member+".member.1.CertificateArn")
	if err != nil {
		return nil, false, err
	}
	if !ref.selfSigned {
		if _, err := ref.loadFile(); err != nil {
			return nil, false, apiErr(elbv2.ErrCertificateNotFound, "%s.member.1.CertificateArn: cannot load '%s': %v", member, clip(arn), err)
		}
	}
	return []elbv2.Certificate{{CertificateArn: arn}}, ref.selfSigned, nil
}

// newSelfSigned generates an ECDSA P-256 certificate for host (an IP or a
// name), localhost and 127.0.0.1, valid for ten years from now.
func newSelfSigned(host string, now time.Time) (*state.ELBCertificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"berth self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() && !ip.IsUnspecified() {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	} else if host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return &state.ELBCertificate{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	}, nil
}

// resolveCertificates loads the certificates of an HTTPS listener: from
// disk, or the load balancer's stored self-signed one.
func resolveCertificates(w *world, l *state.ELBListener) ([]tls.Certificate, error) {
	var out []tls.Certificate
	for _, c := range l.Certificates {
		ref, err := parseCertARN(c.CertificateArn, "CertificateArn")
		if err != nil {
			return nil, err
		}
		var cert tls.Certificate
		if ref.selfSigned {
			r, ok := parseARN(l.LoadBalancerArn, "loadbalancer")
			stored, found := w.certs[r.lb]
			if !ok || !found {
				return nil, fmt.Errorf("listener %s: no self-signed certificate stored for its load balancer", l.ListenerArn)
			}
			cert, err = tls.X509KeyPair(stored.v.CertPEM, stored.v.KeyPEM)
		} else {
			cert, err = ref.loadFile()
		}
		if err != nil {
			return nil, fmt.Errorf("listener %s: certificate %s: %w", l.ListenerArn, c.CertificateArn, err)
		}
		out = append(out, cert)
	}
	return out, nil
}
