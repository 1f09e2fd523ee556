package e2e

import (
	"net/http"
	"testing"
	"time"
)

// cliVolume is what `openstack volume show -f json` prints.
type cliVolume struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Size       int            `json:"size"`
	Type       string         `json:"type"`
	Bootable   string         `json:"bootable"`
	Project    string         `json:"os-vol-tenant-attr:tenant_id"`
	Properties map[string]any `json:"properties"`
}

// waitVolumeCLI polls `openstack volume show` until the volume has one of
// the statuses.
func waitVolumeCLI(t *testing.T, env Env, id string, want ...string) cliVolume {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var v cliVolume
		RunJSON(t, env, &v, "volume", "show", id)
		for _, w := range want {
			if v.Status == w {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s is %s, want %v", id, v.Status, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestVolumeCLI drives Cinder with the openstack CLI as its users do:
// create, list, show, set (name, property, bootable), extend, snapshot,
// volume types, a volume of a type, deleting an in-use volume refused with
// Cinder's message, delete.
func TestVolumeCLI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		var v cliVolume
		RunJSON(t, admin, &v, "volume", "create", "--size", "1", "--property", "tier=gold", "e2e-vol")
		if v.ID == "" || v.Name != "e2e-vol" || v.Size != 1 {
			t.Fatalf("volume create: %+v", v)
		}
		v = waitVolumeCLI(t, admin, v.ID, "available", "error")
		if v.Status != "available" || v.Type != "__DEFAULT__" || v.Properties["tier"] != "gold" {
			t.Fatalf("volume show: %+v", v)
		}
		var list []struct {
			ID, Name, Status string
		}
		RunJSON(t, admin, &list, "volume", "list")
		if len(list) != 1 || list[0].ID != v.ID || list[0].Status != "available" {
			t.Fatalf("volume list: %+v", list)
		}

		MustRun(t, admin, "volume", "set", "--name", "e2e-vol2", "--property", "zone=b", "--bootable", v.ID)
		MustRun(t, admin, "volume", "set", "--size", "2", v.ID)
		v = waitVolumeCLI(t, admin, v.ID, "available")
		if v.Name != "e2e-vol2" || v.Size != 2 || v.Bootable != "true" || v.Properties["zone"] != "b" {
			t.Fatalf("after volume set: %+v", v)
		}

		var snap struct{ ID, Status string }
		RunJSON(t, admin, &snap, "volume", "snapshot", "create", "--volume", v.ID, "e2e-snap")
		for deadline := time.Now().Add(time.Minute); snap.Status != "available"; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("snapshot is %s", snap.Status)
			}
			RunJSON(t, admin, &snap, "volume", "snapshot", "show", snap.ID)
		}
		var fromSnap cliVolume
		RunJSON(t, admin, &fromSnap, "volume", "create", "--snapshot", snap.ID, "e2e-from-snap")
		if got := waitVolumeCLI(t, admin, fromSnap.ID, "available", "error"); got.Status != "available" || got.Size != 2 {
			t.Fatalf("volume from snapshot: %+v", got)
		}

		var typ struct{ ID, Name string }
		RunJSON(t, admin, &typ, "volume", "type", "create", "--property", "volume_backend_name=pool", "e2e-fast")
		var typed cliVolume
		RunJSON(t, admin, &typed, "volume", "create", "--size", "1", "--type", "e2e-fast", "e2e-typed")
		if got := waitVolumeCLI(t, admin, typed.ID, "available"); got.Type != "e2e-fast" {
			t.Fatalf("typed volume: %+v", got)
		}

		// In use (os-attach, as a host records an attachment): delete is refused.
		a := c.AdminAPI(t)
		a.do("POST", "/volume/v3/"+v.Project+"/volumes/"+v.ID+"/action", nil,
			map[string]any{"os-attach": map[string]any{"instance_uuid": "3f0c5f0e-0000-4000-8000-0000000000e2", "mountpoint": "/dev/vdb"}}, nil, http.StatusAccepted)
		waitVolumeCLI(t, admin, v.ID, "in-use")
		Fail(t, Run(t, admin, "volume", "delete", v.ID), "Volume status must be available or error")
		a.do("POST", "/volume/v3/"+v.Project+"/volumes/"+v.ID+"/action", nil, map[string]any{"os-detach": map[string]any{}}, nil, http.StatusAccepted)
		waitVolumeCLI(t, admin, v.ID, "available")

		// A volume with a snapshot needs the snapshot gone first.
		Fail(t, Run(t, admin, "volume", "delete", v.ID), "have snapshots", "snapshots")
		MustRun(t, admin, "volume", "snapshot", "delete", snap.ID)
		MustRun(t, admin, "volume", "delete", fromSnap.ID, typed.ID)
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if r := Run(t, admin, "volume", "delete", v.ID); r.Code == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("volume delete never accepted after its snapshot was deleted")
			}
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			RunJSON(t, admin, &list, "volume", "list")
			if len(list) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("volumes left: %+v", list)
			}
		}
		MustRun(t, admin, "volume", "type", "delete", typ.ID)
	})
}
