package compute_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// A fixed key and its fingerprint as `ssh-keygen -l -E md5` prints it.
const (
	testEd25519   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@shop"
	testEd25519FP = "65:96:2d:fc:e8:d5:a9:11:64:0c:0f:ea:00:6e:5b:bd"
)

var colonMD5 = regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`)

func authorizedKey(t testing.TB, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestSSHFingerprint(t *testing.T) {
	fp, err := compute.SSHFingerprint(testEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if fp != testEd25519FP {
		t.Errorf("fingerprint %q is not Nova's colon md5", fp)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]string{"rsa": authorizedKey(t, &rsaKey.PublicKey), "ecdsa": authorizedKey(t, &ecKey.PublicKey),
		"ed25519": authorizedKey(t, edPub), "with comment": authorizedKey(t, edPub) + " me@laptop"} {
		if fp, err := compute.SSHFingerprint(key); err != nil || !colonMD5.MatchString(fp) {
			t.Errorf("%s: %q %v", name, fp, err)
		}
	}
	for name, key := range map[string]string{"empty": "", "garbage": "not a key", "truncated": testEd25519[:40],
		"two keys": testEd25519 + "\n" + testEd25519} {
		_, err := compute.SSHFingerprint(key)
		e := wantStatus(t, err, 400)
		if !strings.Contains(e.Message, "Keypair data is invalid") {
			t.Errorf("%s: message %q", name, e.Message)
		}
	}
}

func selfSigned(t testing.TB) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "u-alice"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestKeypairs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)

		kp, priv, err := s.CreateKeypair(ctx, opsAlice, compute.KeypairCreate{Name: "laptop", PublicKey: testEd25519, HasPublicKey: true})
		if err != nil {
			t.Fatal(err)
		}
		if priv != "" || kp.Fingerprint != testEd25519FP || kp.Type != "ssh" || kp.UserID != "u-alice" {
			t.Errorf("imported keypair: %+v (private %q)", kp, priv)
		}
		gen, priv, err := s.CreateKeypair(ctx, opsAlice, compute.KeypairCreate{Name: "generated"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(priv, "-----BEGIN RSA PRIVATE KEY-----") || !strings.HasSuffix(gen.PublicKey, " Generated-by-Nova") {
			t.Errorf("generated keypair: %+v", gen)
		}
		if fp, err := compute.SSHFingerprint(gen.PublicKey); err != nil || fp != gen.Fingerprint {
			t.Errorf("generated key's fingerprint %q does not match its key (%q, %v)", gen.Fingerprint, fp, err)
		}
		cert, _, err := s.CreateKeypair(ctx, opsAlice, compute.KeypairCreate{Name: "winrm", Type: "x509", PublicKey: selfSigned(t), HasPublicKey: true})
		if err != nil || cert.Type != "x509" || len(cert.Fingerprint) != 59 {
			t.Errorf("x509 import: %+v %v", cert, err)
		}
		for _, tc := range []struct {
			name   string
			req    compute.KeypairCreate
			status int
			msg    string
		}{
			{"duplicate", compute.KeypairCreate{Name: "laptop", PublicKey: testEd25519, HasPublicKey: true}, 409, "already exists"},
			{"bad name", compute.KeypairCreate{Name: "a/b"}, 400, "name"},
			{"bad key", compute.KeypairCreate{Name: "k", PublicKey: "ssh-rsa AAAA", HasPublicKey: true}, 400, "invalid"},
			{"x509 not a cert", compute.KeypairCreate{Name: "k", Type: "x509", PublicKey: testEd25519, HasPublicKey: true}, 400, "PEM certificate"},
			{"other user", compute.KeypairCreate{Name: "k", UserID: "u-bob"}, 403, "admin"},
		} {
			_, _, err := s.CreateKeypair(ctx, opsAlice, tc.req)
			e := wantStatus(t, err, tc.status)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%s: message %q does not mention %q", tc.name, e.Message, tc.msg)
			}
		}

		// Keypairs are per user: bob does not see alice's.
		if _, err := s.Keypair(ctx, opsBob, "", "laptop"); err == nil {
			t.Error("bob sees alice's keypair")
		}
		kps, err := s.Keypairs(ctx, opsAlice, "", page.Request{})
		if err != nil || len(kps) != 3 {
			t.Fatalf("alice's keypairs: %v %v", kps, err)
		}
		p1, _ := s.Keypairs(ctx, opsAlice, "", page.Request{Limit: 2})
		p2, _ := s.Keypairs(ctx, opsAlice, "", page.Request{Limit: 2, Marker: p1[1].Name})
		if len(p1) != 2 || len(p2) != 1 || p2[0].Name != "winrm" {
			t.Errorf("pages: %v / %v", p1, p2)
		}
		_, err = s.Keypairs(ctx, opsAlice, "", page.Request{Marker: "nope"})
		wantStatus(t, err, 400)
		// Admins reach other users' keypairs (2.10).
		if _, _, err := s.CreateKeypair(ctx, opsAdmin, compute.KeypairCreate{Name: "ops", UserID: "u-bob", PublicKey: testEd25519, HasPublicKey: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Keypair(ctx, opsBob, "", "ops"); err != nil {
			t.Errorf("bob's keypair made by an admin: %v", err)
		}
		if kps, _ := s.Keypairs(ctx, opsAdmin, "u-alice", page.Request{}); len(kps) != 3 {
			t.Errorf("admin lists alice's keypairs: %v", kps)
		}
		_, err = s.Keypairs(ctx, opsBob, "u-alice", page.Request{})
		wantStatus(t, err, 403)

		if err := s.DeleteKeypair(ctx, opsAlice, "", "laptop"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, s.DeleteKeypair(ctx, opsAlice, "", "laptop"), 404)

		// Quota key_pairs.
		if _, err := s.SetLimits(ctx, "p-shop", map[string]int64{"key_pairs": 3}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateKeypair(ctx, opsAlice, compute.KeypairCreate{Name: "third", PublicKey: testEd25519, HasPublicKey: true}); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateKeypair(ctx, opsAlice, compute.KeypairCreate{Name: "fourth", PublicKey: testEd25519, HasPublicKey: true})
		e := wantStatus(t, err, 403)
		if !strings.Contains(e.Message, "Quota exceeded, too many key pairs") {
			t.Errorf("quota message: %q", e.Message)
		}
	})
}
