package identity

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"
)

// Token scopes.
const (
	scopeNone    byte = 0
	scopeProject byte = 1
	scopeDomain  byte = 2
	scopeSystem  byte = 3
)

// Authentication methods, as bits in the payload.
var methodBits = []string{"password", "token", "application_credential"}

// Payload versions: 1 carries no trust; 2 adds the trust id after the
// application credential id. Tokens without a trust are still written as
// version 1, so they stay as short as before and older tokens stay valid.
const (
	payloadVersion      = 1
	payloadVersionTrust = 2
)

// payload is what a token carries inside its Fernet envelope. Everything
// else a token response shows (names, roles, catalog) is looked up at
// validation time, so a role removed takes effect at once.
type payload struct {
	methods   uint8
	userID    string
	scope     byte
	scopeID   string
	appCredID string
	trustID   string    // set for a trust-scoped token (scope is then the trust's project)
	issuedAt  time.Time // microsecond precision
	expiresAt time.Time // microsecond precision
	auditIDs  []string  // this token's, then its parent's for a rescoped token
}

var errPayload = errors.New("malformed token payload")

func (p *payload) methodNames() []string {
	var out []string
	for i, m := range methodBits {
		if p.methods&(1<<i) != 0 {
			out = append(out, m)
		}
	}
	return out
}

func methodBit(name string) uint8 {
	for i, m := range methodBits {
		if m == name {
			return 1 << i
		}
	}
	return 0
}

func (p *payload) marshal() []byte {
	b := make([]byte, 0, 192)
	strs := []string{p.userID, p.scopeID, p.appCredID}
	version := byte(payloadVersion)
	if p.trustID != "" {
		version = payloadVersionTrust
		strs = append(strs, p.trustID)
	}
	b = append(b, version, p.methods, p.scope)
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(p.issuedAt.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.expiresAt.UnixMicro()))
	b = append(b, byte(len(p.auditIDs)))
	for _, a := range p.auditIDs {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

func unmarshalPayload(b []byte) (payload, error) {
	var p payload
	if len(b) < 3 || (b[0] != payloadVersion && b[0] != payloadVersionTrust) {
		return p, errPayload
	}
	version := b[0]
	p.methods, p.scope = b[1], b[2]
	b = b[3:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	dsts := []*string{&p.userID, &p.scopeID, &p.appCredID}
	if version == payloadVersionTrust {
		dsts = append(dsts, &p.trustID)
	}
	for _, dst := range dsts {
		if *dst, ok = str(); !ok {
			return p, errPayload
		}
	}
	if version == payloadVersionTrust && (p.trustID == "" || p.scope != scopeProject) {
		return p, errPayload
	}
	if len(b) < 17 {
		return p, errPayload
	}
	p.issuedAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b))).UTC()
	p.expiresAt = time.UnixMicro(int64(binary.BigEndian.Uint64(b[8:]))).UTC()
	n := int(b[16])
	b = b[17:]
	if n == 0 || n > 2 {
		return p, errPayload
	}
	for range n {
		a, ok := str()
		if !ok {
			return p, errPayload
		}
		p.auditIDs = append(p.auditIDs, a)
	}
	if len(b) != 0 || p.userID == "" || p.scope > scopeSystem {
		return p, errPayload
	}
	return p, nil
}

// newAuditID makes an id like Keystone's: 16 random bytes, URL-safe base64
// without padding.
func newAuditID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Tokens travel without Fernet's base64 padding, as Keystone's do.
func encodeToken(raw []byte) string { return strings.TrimRight(string(raw), "=") }

func decodeToken(s string) []byte {
	if len(s) > 1024 {
		return nil
	}
	if m := len(s) % 4; m != 0 {
		s += strings.Repeat("=", 4-m)
	}
	return []byte(s)
}
