package lb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// certSet is an HTTPS listener's certificates, ready for SNI selection. It
// is immutable; Apply swaps in a new one.
type certSet struct {
	def    *tls.Certificate
	exact  map[string]*tls.Certificate // lower-cased DNS name
	suffix map[string]*tls.Certificate // "*.example.com" stored as ".example.com"
}

// newCertSet indexes certs by the DNS names of their leaves; earlier
// certificates win a name they share with later ones.
func newCertSet(certs []tls.Certificate) (*certSet, error) {
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	cs := &certSet{exact: map[string]*tls.Certificate{}, suffix: map[string]*tls.Certificate{}}
	for i := range certs {
		c := &certs[i]
		if len(c.Certificate) == 0 || c.PrivateKey == nil {
			return nil, fmt.Errorf("[%d]: want a certificate chain and its private key", i)
		}
		leaf := c.Leaf
		if leaf == nil {
			var err error
			if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("[%d]: parse leaf: %w", i, err)
			}
			cp := *c
			cp.Leaf = leaf
			c = &cp
		}
		if cs.def == nil {
			cs.def = c
		}
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			m, key := cs.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = cs.suffix, "."+rest
			}
			if _, dup := m[key]; !dup {
				m[key] = c
			}
		}
	}
	return cs, nil
}

// pick returns the certificate for an SNI server name: an exact match, then
// a wildcard covering its first label, then the default.
func (cs *certSet) pick(serverName string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if c := cs.exact[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := cs.suffix[name[i:]]; c != nil {
			return c
		}
	}
	return cs.def
}
