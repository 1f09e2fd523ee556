package compute_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// opsService is a compute service over db without images or placement:
// enough for flavors, keypairs, groups, aggregates, hosts and quotas.
func opsService(t testing.TB, db *store.DB) *compute.Service {
	t.Helper()
	return compute.New(db, nil, nil, slog.New(slog.DiscardHandler), compute.Config{})
}

// opsCreds returns credentials for user in project with the given roles
// (admin implies member implies reader, as Keystone's implied roles do).
func opsCreds(user, project, role string) *auth.Credentials {
	c := &auth.Credentials{User: auth.Ref{ID: user, Name: user}, Project: &auth.Ref{ID: project, Name: project}}
	switch role {
	case auth.RoleAdmin:
		c.Roles = []auth.Ref{{Name: auth.RoleAdmin}, {Name: auth.RoleMember}, {Name: auth.RoleReader}}
	case auth.RoleMember:
		c.Roles = []auth.Ref{{Name: auth.RoleMember}, {Name: auth.RoleReader}}
	default:
		c.Roles = []auth.Ref{{Name: auth.RoleReader}}
	}
	return c
}

var (
	opsAdmin   = opsCreds("u-admin", "p-admin", auth.RoleAdmin)
	opsAlice   = opsCreds("u-alice", "p-shop", auth.RoleMember)
	opsBob     = opsCreds("u-bob", "p-shop", auth.RoleMember)
	opsMallory = opsCreds("u-mallory", "p-other", auth.RoleMember)
)

// opsHost registers a compute host directly in the store.
func opsHost(t testing.TB, db *store.DB, name string, heartbeat time.Time) store.ComputeHost {
	t.Helper()
	var h store.ComputeHost
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		h, err = tx.UpsertHost(context.Background(), store.ComputeHost{
			ID: uuid.NewString(), Host: name, Enabled: true, StatusChangedAt: heartbeat, HeartbeatAt: heartbeat,
			HypervisorType: "QEMU", HypervisorVersion: 8002000, HostIP: "192.0.2.10", VCPUs: 16, MemoryMB: 32768, DiskGB: 1000,
			CPUInfo: `{"arch": "x86_64", "vendor": "AMD"}`, CreatedAt: heartbeat,
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// opsServer records a live server placed on host (it never boots).
func opsServer(t testing.TB, db *store.DB, project, name, host, group string, f store.Flavor) store.Server {
	t.Helper()
	now := time.Now()
	v := store.Server{ID: uuid.NewString(), ProjectID: project, UserID: "u-" + project, Name: name, Flavor: f,
		Host: host, GroupID: group, VMState: compute.VMActive, DesiredPower: "running", CreatedAt: now, UpdatedAt: now}
	err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.CreateServer(context.Background(), &v) })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantStatus fails unless err is an *oserr.Error with the status.
func wantStatus(t testing.TB, err error, status int) *oserr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d", status)
	}
	e := oserr.From(err)
	if e.Status != status {
		t.Fatalf("got %v, want status %d", err, status)
	}
	return e
}
