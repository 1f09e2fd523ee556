package loadbalancer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"

	"golang.org/x/crypto/pkcs12"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// Certificate containers. Octavia reads them from Barbican; onestack has
// no Barbican, so a container reference is either inline — a data: URL
// holding a PEM bundle (certificate, key, intermediates) or a PKCS#12
// bundle without passphrase — or a reference the Secrets reader resolves
// (the object store, when wired). The bundle is checked when the listener
// or pool is created or updated: a certificate that does not parse, a key
// that does not match it, a certificate without CN or DNS names are refused
// with Octavia's messages.

// MaxRef bounds a container reference (an inline bundle included).
const MaxRef = 64 << 10

// Bundle is a certificate container's content.
type Bundle struct {
	// PEM is the certificate, its intermediates and the key, in the order
	// HAProxy reads a crt file.
	PEM string
	// CN and DNSNames name the certificate (for SNI).
	CN       string
	DNSNames []string
}

// readRef returns a container's bytes.
func (s *Service) readRef(ctx context.Context, c *auth.Credentials, ref string) ([]byte, error) {
	if strings.HasPrefix(ref, "data:") {
		return parseDataURL(ref)
	}
	if s.secrets == nil {
		return nil, oserr.BadRequest("Could not retrieve certificate: %s (this cloud has no key manager: give the bundle inline as a data: URL, e.g. data:application/x-pem-file;base64,<base64 of cert+key PEM>)", shortRef(ref))
	}
	b, err := s.secrets.Read(ctx, c, ref)
	if err != nil {
		return nil, oserr.BadRequest("Could not retrieve certificate: %s (%v)", shortRef(ref), err)
	}
	return b, nil
}

func shortRef(ref string) string {
	if len(ref) > 80 {
		return ref[:80] + "…"
	}
	return ref
}

// parseDataURL decodes data:[<type>][;base64],<data>.
func parseDataURL(ref string) ([]byte, error) {
	rest := strings.TrimPrefix(ref, "data:")
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, oserr.BadRequest("Could not retrieve certificate: the data: URL has no ',' before its data; give data:application/x-pem-file;base64,<base64>.")
	}
	if strings.HasSuffix(meta, ";base64") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			if b, err = base64.URLEncoding.DecodeString(strings.TrimSpace(data)); err != nil {
				return nil, oserr.BadRequest("Could not retrieve certificate: the data: URL is not valid base64 (%v).", err)
			}
		}
		return b, nil
	}
	s, err := url.PathUnescape(data)
	if err != nil {
		return nil, oserr.BadRequest("Could not retrieve certificate: the data: URL is not valid percent-encoding.")
	}
	return []byte(s), nil
}

// LoadBundle reads and checks a certificate container: a certificate with
// its key (and intermediates).
func (s *Service) LoadBundle(ctx context.Context, c *auth.Credentials, ref string) (Bundle, error) {
	raw, err := s.readRef(ctx, c, ref)
	if err != nil {
		return Bundle{}, err
	}
	return ParseBundle(raw)
}

// ParseBundle checks a PEM or PKCS#12 bundle.
func ParseBundle(raw []byte) (Bundle, error) {
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	if bytes.Contains(raw, []byte("-----BEGIN")) {
		rest := raw
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch {
			case b.Type == "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return Bundle{}, oserr.BadRequest("Could not read X509 from PEM: %v", err)
				}
				certs = append(certs, c)
			case strings.HasSuffix(b.Type, "PRIVATE KEY"):
				if strings.Contains(b.Type, "ENCRYPTED") || b.Headers["Proc-Type"] != "" {
					return Bundle{}, oserr.BadRequest("Passphrase needed to decrypt key but client did not provide one.")
				}
				k, err := parseKey(b)
				if err != nil {
					return Bundle{}, oserr.BadRequest("The private key could not be read: %v; give an unencrypted PKCS#1, PKCS#8 or EC key in PEM.", err)
				}
				key = k
			}
		}
	} else {
		k, c, err := pkcs12.Decode(raw, "")
		if err != nil {
			return Bundle{}, oserr.BadRequest("The PKCS12 bundle is unreadable. Please check the PKCS12 bundle validity. In addition, make sure it does not require a pass phrase. Error: %v", err)
		}
		certs, key = []*x509.Certificate{c}, k
	}
	if len(certs) == 0 {
		return Bundle{}, oserr.BadRequest("Could not read X509 from PEM: the container has no certificate.")
	}
	if key == nil {
		return Bundle{}, oserr.BadRequest("The certificate container has no private key; give the certificate and its unencrypted key.")
	}
	leaf := certs[0]
	if err := matches(leaf, key); err != nil {
		return Bundle{}, err
	}
	if leaf.Subject.CommonName == "" && len(leaf.DNSNames) == 0 {
		return Bundle{}, oserr.BadRequest("No CN or DNSName(s) found in certificate. The certificate is invalid.")
	}
	var out bytes.Buffer
	for _, c := range certs {
		pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Bundle{}, oserr.BadRequest("The private key could not be used: %v.", err)
	}
	pem.Encode(&out, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return Bundle{PEM: out.String(), CN: leaf.Subject.CommonName, DNSNames: leaf.DNSNames}, nil
}

func parseKey(b *pem.Block) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not PKCS#8, PKCS#1 or SEC 1")
}

// matches checks the key belongs to the certificate.
func matches(c *x509.Certificate, key crypto.PrivateKey) error {
	bad := oserr.BadRequest("Key and x509 certificate do not match")
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok || !pub.Equal(&k.PublicKey) {
			return bad
		}
	case *ecdsa.PrivateKey:
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || !pub.Equal(&k.PublicKey) {
			return bad
		}
	case ed25519.PrivateKey:
		pub, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok || !pub.Equal(k.Public()) {
			return bad
		}
	default:
		return oserr.BadRequest("The private key type %T is not served; give an RSA, ECDSA or Ed25519 key.", key)
	}
	return nil
}

// loadCA reads a CA (or CRL) container: PEM certificates (or a CRL).
func (s *Service) loadCA(ctx context.Context, c *auth.Credentials, ref string, crl bool) (string, error) {
	raw, err := s.readRef(ctx, c, ref)
	if err != nil {
		return "", err
	}
	want := "CERTIFICATE"
	if crl {
		want = "X509 CRL"
	}
	n := 0
	rest := raw
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != want {
			continue
		}
		if crl {
			if _, err := x509.ParseRevocationList(b.Bytes); err != nil {
				return "", oserr.BadRequest("The client CRL container could not be read: %v.", err)
			}
		} else if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "", oserr.BadRequest("Could not read X509 from PEM: %v", err)
		}
		n++
	}
	if n == 0 {
		return "", oserr.BadRequest("The container %s holds no PEM %s.", shortRef(ref), strings.ToLower(want))
	}
	return string(raw), nil
}

// resolveCerts checks every certificate reference of t's listeners and
// pools: a change that names an unreadable or invalid bundle is refused
// before anything is written.
func (s *Service) resolveCerts(ctx context.Context, c *auth.Credentials, t *Tree) error {
	for _, id := range sorted(t, t.Listeners) {
		l := t.Listeners[id]
		if l.ProvisioningStatus == PendingDelete {
			continue
		}
		for _, ref := range append([]string{l.DefaultTLSRef}, l.SNIRefs...) {
			if ref == "" {
				continue
			}
			if len(ref) > MaxRef {
				return oserr.BadRequest("The certificate container reference is longer than %d bytes.", MaxRef)
			}
			if _, err := s.LoadBundle(ctx, c, ref); err != nil {
				return err
			}
		}
		if l.ClientCARef != "" {
			if _, err := s.loadCA(ctx, c, l.ClientCARef, false); err != nil {
				return err
			}
		}
		if l.ClientCRLRef != "" {
			if _, err := s.loadCA(ctx, c, l.ClientCRLRef, true); err != nil {
				return err
			}
		}
	}
	for _, id := range sorted(t, t.Pools) {
		p := t.Pools[id]
		if p.CACertRef != "" {
			if _, err := s.loadCA(ctx, c, p.CACertRef, false); err != nil {
				return err
			}
		}
	}
	return nil
}
