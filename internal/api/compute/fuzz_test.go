package compute_test

import (
	"testing"

	"github.com/onestack/onestack/internal/api/compute"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// badRequestOnly fails unless err is a 400 *oserr.Error: a decoder never
// panics or answers bad input with anything but Nova's badRequest.
func badRequestOnly(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*oserr.Error)
	if !ok || e.Status != 400 || e.Message == "" {
		t.Fatalf("decoder error %T %v is not a 400 with a message", err, err)
	}
}

func FuzzDecodeFlavorCreate(f *testing.F) {
	for _, s := range []string{
		`{"flavor": {"name": "m1.small", "ram": 2048, "vcpus": 1, "disk": 20}}`,
		`{"flavor": {"name": "x", "id": 10, "ram": "512", "vcpus": "2", "disk": "0", "swap": 0, "OS-FLV-EXT-DATA:ephemeral": 5, "rxtx_factor": "1.5", "os-flavor-access:is_public": "False"}}`,
		`{"flavor": {"name": "d", "ram": 1, "vcpus": 1, "disk": 0, "description": null}}`,
		`{"flavor": {"name": " ", "ram": 1.0, "vcpus": -1, "disk": 1e3}}`,
		`{"flavor": null}`, `[]`, `{"flavor": {"name": "\u0000"}}`,
	} {
		f.Add([]byte(s), 79)
	}
	f.Fuzz(func(t *testing.T, body []byte, minor int) {
		minor = 1 + (minor%79+79)%79
		req, err := compute.DecodeFlavorCreate(body, minor)
		if err != nil {
			badRequestOnly(t, err)
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("decoded request %+v does not validate: %v", req, err)
		}
		if req.RAM < 1 || req.VCPUs < 1 || req.Disk < 0 || req.Swap < 0 || req.Ephemeral < 0 || req.RxTxFactor <= 0 {
			t.Fatalf("out of range: %+v", req)
		}
		if minor < 55 && req.Description != nil {
			t.Fatalf("description accepted at 2.%d", minor)
		}
		if !svc.PrintableName(req.Name) {
			t.Fatalf("name %q accepted", req.Name)
		}
	})
}

func FuzzDecodeKeypairCreate(f *testing.F) {
	for _, s := range []string{
		`{"keypair": {"name": "laptop"}}`,
		`{"keypair": {"name": "k 1", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "type": "ssh"}}`,
		`{"keypair": {"name": "k", "type": "x509", "user_id": "u1"}}`,
		`{"keypair": {"name": 7}}`, `{"keypair": {}}`, `{"keypair": {"name": "a", "extra": 1}}`,
	} {
		f.Add([]byte(s), 79)
	}
	f.Fuzz(func(t *testing.T, body []byte, minor int) {
		minor = 1 + (minor%79+79)%79
		req, err := compute.DecodeKeypairCreate(body, minor)
		if err != nil {
			badRequestOnly(t, err)
			return
		}
		if !svc.ValidKeypairName(req.Name) {
			t.Fatalf("name %q accepted", req.Name)
		}
		if req.Type != "" && req.Type != "ssh" && req.Type != "x509" {
			t.Fatalf("type %q accepted", req.Type)
		}
		if minor < 2 && req.Type != "" || minor < 10 && req.UserID != "" {
			t.Fatalf("field accepted before its microversion (2.%d): %+v", minor, req)
		}
	})
}
