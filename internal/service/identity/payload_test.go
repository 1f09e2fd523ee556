package identity

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/storetest"
)

// samplePayloads are well-formed payloads of every scope and method.
func samplePayloads() []payload {
	iat := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.UTC)
	exp := iat.Add(time.Hour)
	return []payload{
		{methods: 1, userID: "0123456789abcdef0123456789abcdef", issuedAt: iat, expiresAt: exp, auditIDs: []string{"AAAAAAAAAAAAAAAAAAAAAA"}},
		{methods: 3, userID: "u", scope: scopeProject, scopeID: "p", issuedAt: iat, expiresAt: exp, auditIDs: []string{"a", "b"}},
		{methods: 4, userID: "u", scope: scopeProject, scopeID: "p", appCredID: "ac", issuedAt: iat, expiresAt: exp, auditIDs: []string{"a"}},
		{methods: 1, userID: "u", scope: scopeDomain, scopeID: "default", issuedAt: iat, expiresAt: exp, auditIDs: []string{"a"}},
		{methods: 1, userID: "u", scope: scopeSystem, scopeID: "all", issuedAt: iat, expiresAt: exp, auditIDs: []string{"a"}},
		{methods: 1, userID: "trustee", scope: scopeProject, scopeID: "p", trustID: "t", issuedAt: iat, expiresAt: exp, auditIDs: []string{"a"}},
		{methods: 1, userID: strings.Repeat("x", 300), issuedAt: time.UnixMicro(math.MinInt64).UTC(), expiresAt: time.UnixMicro(math.MaxInt64).UTC(), auditIDs: []string{""}},
	}
}

var cmpPayload = cmp.AllowUnexported(payload{})

func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range samplePayloads() {
		q, err := unmarshalPayload(p.marshal())
		if err != nil {
			t.Fatalf("unmarshal(marshal(%+v)): %v", p, err)
		}
		if diff := cmp.Diff(p, q, cmpPayload); diff != "" {
			t.Errorf("round trip (-in +out):\n%s", diff)
		}
	}
}

func TestPayloadRejects(t *testing.T) {
	good := samplePayloads()[1].marshal()
	for name, b := range map[string][]byte{
		"nil":             nil,
		"version only":    {payloadVersion},
		"unknown version": append([]byte{3}, good[1:]...),
		"trust version, empty trust id": func() []byte {
			b := samplePayloads()[1].marshal() // user "u", project "p", no app cred
			b[0] = payloadVersionTrust
			return append(b[:8:8], append([]byte{0}, b[8:]...)...)
		}(),
		"trust without project scope": func() []byte { p := samplePayloads()[0]; p.trustID = "t"; return p.marshal() }(),
		"truncated":                   good[:len(good)-1],
		"trailing byte":               append(good[:len(good):len(good)], 0),
		"no audit ids":                func() []byte { p := samplePayloads()[0]; p.auditIDs = nil; return p.marshal() }(),
		"three audit ids":             func() []byte { p := samplePayloads()[0]; p.auditIDs = []string{"a", "b", "c"}; return p.marshal() }(),
		"empty user":                  func() []byte { p := samplePayloads()[0]; p.userID = ""; return p.marshal() }(),
		"unknown scope":               func() []byte { p := samplePayloads()[0]; p.scope = 9; return p.marshal() }(),
		"huge string length":          append([]byte{payloadVersion, 1, 0}, binary.AppendUvarint(nil, math.MaxUint64)...),
	} {
		if p, err := unmarshalPayload(b); err == nil {
			t.Errorf("%s: unmarshalPayload accepted %x as %+v", name, b, p)
		}
	}
}

// FuzzUnmarshalPayload: decoding never panics, and whatever decodes
// encodes back to the same payload.
func FuzzUnmarshalPayload(f *testing.F) {
	for _, p := range samplePayloads() {
		f.Add(p.marshal())
	}
	f.Add([]byte{})
	f.Add([]byte{payloadVersion, 1, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := unmarshalPayload(b)
		if err != nil {
			if !errors.Is(err, errPayload) {
				t.Fatalf("error %v is not errPayload", err)
			}
			return
		}
		q, err := unmarshalPayload(p.marshal())
		if err != nil {
			t.Fatalf("re-encoding of a decoded payload %+v does not decode: %v", p, err)
		}
		if diff := cmp.Diff(p, q, cmpPayload); diff != "" {
			t.Fatalf("round trip (-decoded +re-decoded):\n%s", diff)
		}
	})
}

// FuzzPayloadRoundTrip builds payloads field by field: a payload the
// decoder's rules allow survives marshal then unmarshal unchanged, any
// other is refused.
func FuzzPayloadRoundTrip(f *testing.F) {
	for _, p := range samplePayloads() {
		a2 := ""
		if len(p.auditIDs) > 1 {
			a2 = p.auditIDs[1]
		}
		f.Add(p.methods, p.scope, p.userID, p.scopeID, p.appCredID, p.issuedAt.UnixMicro(), p.expiresAt.UnixMicro(), p.auditIDs[0], a2, len(p.auditIDs) > 1)
	}
	f.Fuzz(func(t *testing.T, methods, scope byte, user, scopeID, appCred string, iat, exp int64, a1, a2 string, two bool) {
		p := payload{methods: methods, scope: scope, userID: user, scopeID: scopeID, appCredID: appCred,
			issuedAt: time.UnixMicro(iat).UTC(), expiresAt: time.UnixMicro(exp).UTC(), auditIDs: []string{a1}}
		if two {
			p.auditIDs = append(p.auditIDs, a2)
		}
		q, err := unmarshalPayload(p.marshal())
		wantOK := user != "" && scope <= scopeSystem
		switch {
		case wantOK && err != nil:
			t.Fatalf("valid payload %+v refused: %v", p, err)
		case !wantOK && err == nil:
			t.Fatalf("invalid payload %+v accepted", p)
		case wantOK:
			if diff := cmp.Diff(p, q, cmpPayload); diff != "" {
				t.Fatalf("round trip (-in +out):\n%s", diff)
			}
		}
	})
}

// FuzzValidate signs arbitrary payload bytes with the service's own key and
// validates them, so every step after decryption sees hostile input: it
// must answer 401 (or accept), never panic or fail otherwise. A second,
// unsigned string exercises the envelope checks.
func FuzzValidate(f *testing.F) {
	db := storetest.New(f)
	w := newWorld(f, db, Config{})
	tok := w.alice_(f, Scope{})
	raw := w.s.keys.open(decodeToken(tok.Token))
	f.Add(raw, tok.Token)
	for _, p := range samplePayloads() {
		f.Add(p.marshal(), "")
	}
	expired := samplePayloads()[1]
	expired.userID = w.alice.ID
	f.Add(expired.marshal(), "gAAAAA")
	f.Fuzz(func(t *testing.T, payloadBytes []byte, token string) {
		ctx := context.Background()
		signed, err := w.s.keys.sign(payloadBytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{encodeToken(signed), token} {
			c, err := w.s.Validate(ctx, s)
			if err == nil {
				if c.User.ID == "" || len(c.AuditIDs) == 0 {
					t.Fatalf("accepted token yields credentials without user or audit id: %+v", c)
				}
				continue
			}
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status != 401 {
				t.Fatalf("Validate error %v, want a 401 *oserr.Error", err)
			}
		}
	})
}

// TestFernetKeyFormat: keys on disk are what fernet-go (and Keystone's
// fernet key repository) read.
func TestFernetKeyFormat(t *testing.T) {
	k, err := LoadKeyRing(t.TempDir(), testKeep)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello")
	tok, err := k.sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := fernet.VerifyAndDecrypt(tok, 0, k.all); string(got) != "hello" {
		t.Fatalf("fernet-go cannot open our token: %q", got)
	}
	if got := k.open(decodeToken(encodeToken(tok))); string(got) != "hello" {
		t.Fatalf("a token without padding does not open: %q", got)
	}
}
