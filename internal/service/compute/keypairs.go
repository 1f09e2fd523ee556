package compute

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"hash/fnv"
	"math/big"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/store"
)

// Keypair types (microversion 2.2).
const (
	KeypairSSH  = "ssh"
	KeypairX509 = "x509"
)

// KeypairCreate is a keypair create or import request.
type KeypairCreate struct {
	Name string
	Type string // ssh (default) or x509
	// PublicKey is imported when HasPublicKey; otherwise a key is generated.
	PublicKey    string
	HasPublicKey bool
	// UserID creates the keypair for another user (admins, 2.10); "" for the caller.
	UserID string
}

var keypairName = regexp.MustCompile(`^[_\- a-zA-Z0-9]+$`)

// ValidKeypairName reports whether name is a keypair name Nova accepts
// before microversion 2.92.
func ValidKeypairName(name string) bool {
	return len(name) <= 255 && keypairName.MatchString(name) && PrintableName(name)
}

// sshKeyTypes are the public key algorithms keypairs may hold.
var sshKeyTypes = map[string]bool{
	ssh.KeyAlgoRSA: true, ssh.KeyAlgoED25519: true,
	ssh.KeyAlgoECDSA256: true, ssh.KeyAlgoECDSA384: true, ssh.KeyAlgoECDSA521: true,
}

// SSHFingerprint validates an OpenSSH public key line and returns Nova's
// fingerprint of it: the MD5 of the key blob as colon-separated hex.
func SSHFingerprint(publicKey string) (string, error) {
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(publicKey))
	if err != nil {
		return "", oserr.BadRequest("Keypair data is invalid: failed to generate fingerprint: public_key is not an OpenSSH public key (%v); give one line such as the contents of ~/.ssh/id_ed25519.pub.", err)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return "", oserr.BadRequest("Keypair data is invalid: public_key holds more than one key; give exactly one.")
	}
	if !sshKeyTypes[key.Type()] {
		return "", oserr.BadRequest("Keypair data is invalid: key type %s is not supported; use ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521.", key.Type())
	}
	return ssh.FingerprintLegacyMD5(key), nil
}

// X509Fingerprint validates a PEM certificate and returns Nova's
// fingerprint of it: the SHA-1 of the DER as colon-separated hex.
func X509Fingerprint(certPEM string) (string, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		return "", oserr.BadRequest("Keypair data is invalid: failed to generate X509 fingerprint: public_key is not a PEM certificate (-----BEGIN CERTIFICATE-----).")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return "", oserr.BadRequest("Keypair data is invalid: failed to generate X509 fingerprint: %v.", err)
	}
	sum := sha1.Sum(block.Bytes)
	return colonHex(sum[:]), nil
}

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	parts := make([]string, 0, len(b))
	for i := 0; i+1 < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// generateSSHKey makes an RSA 2048 keypair as Nova does: the private key
// in PEM (PKCS#1) and the public key marked "Generated-by-Nova".
func generateSSHKey() (private, public, fingerprint string, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", "", err
	}
	pub, err := ssh.NewPublicKey(&k.PublicKey)
	if err != nil {
		return "", "", "", err
	}
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	public = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " Generated-by-Nova"
	return private, public, ssh.FingerprintLegacyMD5(pub), nil
}

// generateX509 makes an RSA key and a self-signed certificate for it, as
// Nova does for x509 keypairs (used by Windows guests for WinRM).
func generateX509(user string) (private, certPEM string, err error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user, OrganizationalUnit: []string{"onestack keypair"}},
		NotBefore:    now.Add(-time.Minute), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", err
	}
	private = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return private, certPEM, nil
}

// keypairOwner resolves whose keypairs a request is about: the caller, or
// for admins any user.
func keypairOwner(c *auth.Credentials, userID, rule string) (string, error) {
	if userID == "" || userID == c.User.ID {
		return c.User.ID, nil
	}
	if !c.IsAdmin() {
		return "", oserr.Forbidden("Policy doesn't allow %s to be performed for another user's keypairs; it needs the admin role.", rule)
	}
	return userID, nil
}

// CreateKeypair imports a public key or generates a keypair; a generated
// one's private key is returned once and never stored.
func (s *Service) CreateKeypair(ctx context.Context, c *auth.Credentials, req KeypairCreate) (kp store.Keypair, privateKey string, err error) {
	owner, err := keypairOwner(c, req.UserID, "os_compute_api:os-keypairs:create")
	if err != nil {
		return kp, "", err
	}
	if !ValidKeypairName(req.Name) {
		return kp, "", oserr.BadRequest("Invalid input for field/attribute name: keypair names are 1 to 255 letters, digits, spaces, '_' and '-', and may not start or end with a space.")
	}
	if req.Type == "" {
		req.Type = KeypairSSH
	}
	kp = store.Keypair{UserID: owner, Name: req.Name, Type: req.Type, CreatedAt: s.Now()}
	switch {
	case req.Type != KeypairSSH && req.Type != KeypairX509:
		return kp, "", oserr.BadRequest("Invalid input for field/attribute type: %q is not one of ssh, x509.", req.Type)
	case req.HasPublicKey && req.Type == KeypairSSH:
		kp.PublicKey = req.PublicKey
		kp.Fingerprint, err = SSHFingerprint(req.PublicKey)
	case req.HasPublicKey:
		kp.PublicKey = req.PublicKey
		kp.Fingerprint, err = X509Fingerprint(req.PublicKey)
	case req.Type == KeypairX509:
		privateKey, kp.PublicKey, err = generateX509(owner)
		if err == nil {
			kp.Fingerprint, err = X509Fingerprint(kp.PublicKey)
		}
	default:
		privateKey, kp.PublicKey, kp.Fingerprint, err = generateSSHKey()
	}
	if err != nil {
		return kp, "", err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		// Serialise a user's creates so two racing ones cannot both pass
		// the quota check.
		if err := tx.LockProjectQuota(ctx, "keypairs:"+owner); err != nil {
			return err
		}
		q, err := s.limitsTx(ctx, tx, c.ProjectID())
		if err != nil {
			return err
		}
		n, err := tx.CountKeypairs(ctx, owner)
		if err != nil {
			return err
		}
		if lim := q["key_pairs"]; lim >= 0 && int64(n)+1 > lim {
			return oserr.Forbidden("Quota exceeded, too many key pairs: user %s has %d of %d; delete one ('openstack keypair delete') or ask an admin to raise key_pairs ('openstack quota set --key-pairs').", owner, n, lim)
		}
		err = tx.CreateKeypair(ctx, kp)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Key pair '%s' already exists; choose another name or delete the old one first.", kp.Name)
		}
		return err
	})
	if err != nil {
		return store.Keypair{}, "", err
	}
	return kp, privateKey, nil
}

// Keypair returns one of the user's keypairs (any user's for admins).
func (s *Service) Keypair(ctx context.Context, c *auth.Credentials, userID, name string) (kp store.Keypair, err error) {
	owner, err := keypairOwner(c, userID, "os_compute_api:os-keypairs:show")
	if err != nil {
		return kp, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		kp, err = tx.GetKeypair(ctx, owner, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return kp, oserr.NotFound("Keypair %s not found for user %s; see 'openstack keypair list'.", name, owner)
	}
	return kp, err
}

// Keypairs lists a user's keypairs by name, after the marker name.
func (s *Service) Keypairs(ctx context.Context, c *auth.Credentials, userID string, p page.Request) (kps []store.Keypair, err error) {
	owner, err := keypairOwner(c, userID, "os_compute_api:os-keypairs:index")
	if err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if p.Marker != "" {
			if _, err := tx.GetKeypair(ctx, owner, p.Marker); errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Marker %s could not be found; page with the name of a keypair from the previous page.", p.Marker)
			} else if err != nil {
				return err
			}
		}
		kps, err = tx.ListKeypairs(ctx, owner, storePage(p))
		return err
	})
	return kps, err
}

// DeleteKeypair deletes one of the user's keypairs (any user's for admins).
func (s *Service) DeleteKeypair(ctx context.Context, c *auth.Credentials, userID, name string) error {
	owner, err := keypairOwner(c, userID, "os_compute_api:os-keypairs:delete")
	if err != nil {
		return err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteKeypair(ctx, owner, name) })
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("Keypair %s not found for user %s; see 'openstack keypair list'.", name, owner)
	}
	return err
}

// KeypairID is a stable small integer for a keypair: Nova shows its
// database id, which this store does not have.
func KeypairID(kp store.Keypair) int {
	h := fnv.New32a()
	h.Write([]byte(kp.UserID + "\x00" + kp.Name))
	return int(h.Sum32() & 0x7fffffff)
}
