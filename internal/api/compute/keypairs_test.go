package compute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"golang.org/x/crypto/ssh"
)

const testPubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@shop"

func TestKeypairsGophercloud(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	ctx := context.Background()
	alice := nova(t, e.alicePC, "2.79")
	admin := nova(t, e.adminPC, "2.79")

	imported, err := keypairs.Create(ctx, alice, keypairs.CreateOpts{Name: "laptop", PublicKey: testPubKey}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if imported.Fingerprint != "65:96:2d:fc:e8:d5:a9:11:64:0c:0f:ea:00:6e:5b:bd" || imported.Type != "ssh" || imported.UserID != e.aliceID || imported.PrivateKey != "" {
		t.Errorf("imported: %+v", imported)
	}
	gen, err := keypairs.Create(ctx, alice, keypairs.CreateOpts{Name: "generated"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ssh.ParseRawPrivateKey([]byte(gen.PrivateKey)); err != nil {
		t.Errorf("generated private key does not parse: %v", err)
	}
	pages, err := keypairs.List(alice, keypairs.ListOpts{}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kps, _ := keypairs.ExtractKeyPairs(pages)
	if len(kps) != 2 || kps[0].Name != "generated" || kps[1].PublicKey != testPubKey {
		t.Errorf("list: %+v", kps)
	}
	// Paging (2.35): a full page links to the next.
	p1 := e.call(t, "GET", "/os-keypairs?limit=1", e.aliceTok, "2.35", "").JSON(t)
	links, _ := p1["keypairs_links"].([]any)
	if len(p1["keypairs"].([]any)) != 1 || len(links) != 1 || !strings.Contains(links[0].(map[string]any)["href"].(string), "marker=generated") {
		t.Errorf("page 1: %v", p1)
	}
	p2 := e.call(t, "GET", "/os-keypairs?limit=1&marker=generated", e.aliceTok, "2.35", "").JSON(t)
	if kp := p2["keypairs"].([]any); len(kp) != 1 || kp[0].(map[string]any)["keypair"].(map[string]any)["name"] != "laptop" {
		t.Errorf("page 2: %v", p2)
	}
	got, err := keypairs.Get(ctx, alice, "laptop", nil).Extract()
	if err != nil || got.PublicKey != testPubKey {
		t.Fatalf("get: %+v %v", got, err)
	}
	// Admins reach alice's keypairs with user_id (2.10); others do not see them.
	if _, err := keypairs.Get(ctx, admin, "laptop", keypairs.GetOpts{UserID: e.aliceID}).Extract(); err != nil {
		t.Errorf("admin get with user_id: %v", err)
	}
	if _, err := keypairs.Get(ctx, admin, "laptop", nil).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("admin's own keypair named laptop: %v", err)
	}
	if err := keypairs.Delete(ctx, alice, "laptop", nil).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := keypairs.Delete(ctx, alice, "laptop", nil).ExtractErr(); !gophercloud.ResponseCodeIs(err, 404) {
		t.Errorf("second delete: %v", err)
	}
}

// TestKeypairMicroversions checks status codes and fields at 2.1, 2.2,
// 2.10 and 2.35, and the error bodies.
func TestKeypairMicroversions(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	body := `{"keypair": {"name": "k1", "public_key": "` + testPubKey + `"}}`
	r := e.call(t, "POST", "/os-keypairs", e.aliceTok, "2.1", body)
	if r.Status != 200 {
		t.Fatalf("create at 2.1: %d %s", r.Status, r.Body)
	}
	if _, ok := r.JSON(t)["keypair"].(map[string]any)["type"]; ok {
		t.Error("type shown before 2.2")
	}
	r = e.call(t, "POST", "/os-keypairs", e.aliceTok, "2.2", strings.Replace(body, "k1", "k2", 1))
	if r.Status != 201 || r.JSON(t)["keypair"].(map[string]any)["type"] != "ssh" {
		t.Fatalf("create at 2.2: %d %s", r.Status, r.Body)
	}
	show := e.call(t, "GET", "/os-keypairs/k1", e.aliceTok, "2.2", "").JSON(t)["keypair"].(map[string]any)
	for _, k := range []string{"id", "created_at", "deleted", "deleted_at", "updated_at", "user_id", "type", "fingerprint"} {
		if _, ok := show[k]; !ok {
			t.Errorf("show lacks %s: %v", k, show)
		}
	}
	if r := e.call(t, "DELETE", "/os-keypairs/k1", e.aliceTok, "2.1", ""); r.Status != 202 {
		t.Errorf("delete at 2.1: %d", r.Status)
	}
	if r := e.call(t, "DELETE", "/os-keypairs/k2", e.aliceTok, "2.2", ""); r.Status != 204 {
		t.Errorf("delete at 2.2: %d", r.Status)
	}
	for _, tc := range []struct {
		name, mv, body string
		status         int
		key, msg       string
	}{
		{"type before 2.2", "2.1", `{"keypair": {"name": "x", "type": "ssh"}}`, 400, "badRequest", "'type' was unexpected"},
		{"user_id before 2.10", "2.9", `{"keypair": {"name": "x", "user_id": "u"}}`, 400, "badRequest", "'user_id' was unexpected"},
		{"bad type", "2.2", `{"keypair": {"name": "x", "type": "pgp"}}`, 400, "badRequest", "ssh, x509"},
		{"missing name", "2.2", `{"keypair": {"public_key": "x"}}`, 400, "badRequest", "'name' is a required property"},
		{"name not a string", "2.2", `{"keypair": {"name": 7}}`, 400, "badRequest", "expected a string"},
		{"bad name", "2.2", `{"keypair": {"name": "a.b"}}`, 400, "badRequest", "keypair names"},
		{"bad key", "2.2", `{"keypair": {"name": "x", "public_key": "ssh-rsa nope"}}`, 400, "badRequest", "Keypair data is invalid"},
		{"other user", "2.10", `{"keypair": {"name": "x", "user_id": "someone"}}`, 403, "forbidden", "admin"},
		{"no wrapper", "2.2", `{"name": "x"}`, 400, "badRequest", "'name' was unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			novaError(t, e.call(t, "POST", "/os-keypairs", e.aliceTok, tc.mv, tc.body), tc.status, tc.key, tc.msg)
		})
	}
	novaError(t, e.call(t, "GET", "/os-keypairs/nope", e.aliceTok, "2.1", ""), 404, "itemNotFound", "Keypair nope not found")
	// A generated x509 keypair is a certificate with its private key.
	x := e.call(t, "POST", "/os-keypairs", e.adminTok, "2.2", `{"keypair": {"name": "win", "type": "x509"}}`)
	if x.Status != 201 {
		t.Fatalf("x509 generate: %d %s", x.Status, x.Body)
	}
	kp := x.JSON(t)["keypair"].(map[string]any)
	if !strings.HasPrefix(kp["public_key"].(string), "-----BEGIN CERTIFICATE-----") || !strings.Contains(kp["private_key"].(string), "PRIVATE KEY") || kp["type"] != "x509" {
		t.Errorf("x509 keypair = %v, want a certificate, a private key and type x509", kp)
	}
	if r := e.call(t, "DELETE", "/os-keypairs/win", e.adminTok, "2.2", ""); r.Status != 202 && r.Status != 204 {
		t.Fatalf("delete x509 keypair: %d %s", r.Status, r.Body)
	}
	if r := e.call(t, "POST", "/os-keypairs", e.aliceTok, "2.2", strings.Replace(body, "k1", "k3", 1)); r.Status != 201 {
		t.Fatalf("create k3: %d %s", r.Status, r.Body)
	}
	novaError(t, e.call(t, "POST", "/os-keypairs", e.aliceTok, "2.2", strings.Replace(body, "k1", "k3", 1)), 409, "conflictingRequest", "already exists")
	// user_id is honoured from 2.10, for admins only.
	count := func(mv, query, tok string) int {
		r := e.call(t, "GET", "/os-keypairs"+query, tok, mv, "")
		if r.Status != 200 {
			t.Fatalf("list %s at %s: %d %s", query, mv, r.Status, r.Body)
		}
		return len(r.JSON(t)["keypairs"].([]any))
	}
	if n := count("2.9", "?user_id="+e.aliceID, e.adminTok); n != 0 {
		t.Errorf("user_id before 2.10 listed %d keypairs", n)
	}
	if n := count("2.10", "?user_id="+e.aliceID, e.adminTok); n != 1 {
		t.Errorf("user_id at 2.10 listed %d keypairs", n)
	}
	novaError(t, e.call(t, "GET", "/os-keypairs?user_id=someone", e.aliceTok, "2.10", ""), 403, "forbidden", "admin")
	novaError(t, e.call(t, "GET", "/os-keypairs?colour=red", e.aliceTok, "2.75", ""), 400, "badRequest", "colour")
	novaError(t, e.call(t, "GET", "/os-keypairs?limit=-1", e.aliceTok, "2.35", ""), 400, "badRequest", "limit")
}
