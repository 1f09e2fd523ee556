package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guestWorkflow boots a server through the system workflow
// std.create_instance, waits for its OS on the console, makes a volume,
// attaches it, waits for Cinder to see it in use, detaches it and deletes
// everything, each step an OpenStack action acting as the user.
const guestWorkflow = `---
version: '2.0'
vm_lifecycle:
  input:
    - image
    - flavor
  output:
    server: <% $.server_id %>
    volume: <% $.volume_id %>
    device: <% $.device %>
  task-defaults:
    on-error:
      - fail
  tasks:
    boot:
      workflow: std.create_instance name="wf-vm" image_id=<% $.image %> flavor_id=<% $.flavor %> nics="none"
      publish:
        server_id: <% task().result.id %>
      on-success: wait_booted
    # ACTIVE is QEMU running; the guest takes its hot-plugged disks once
    # its OS is up, which the tiny image prints on the console.
    wait_booted:
      action: nova.servers_get_console_output server=<% $.server_id %>
      fail-on: <% task().result.indexOf("onestack-guest-ready") < 0 %>
      retry:
        count: 150
        delay: 2
      on-success: make_volume
    make_volume:
      action: cinder.volumes_create size=1 name="wf-vol"
      publish:
        volume_id: <% task().result.id %>
      on-success: wait_available
    wait_available:
      action: cinder.volumes_get volume_id=<% $.volume_id %>
      fail-on: <% task().result.status != available %>
      retry:
        count: 90
        delay: 2
      on-success: attach
    attach:
      action: nova.volumes_create_server_volume server_id=<% $.server_id %> volume_id=<% $.volume_id %>
      publish:
        device: <% task().result.device %>
      on-success: wait_in_use
    wait_in_use:
      action: cinder.volumes_get volume_id=<% $.volume_id %>
      fail-on: <% task().result.status != "in-use" %>
      retry:
        count: 90
        delay: 2
      on-success: detach
    detach:
      action: nova.volumes_delete_server_volume server_id=<% $.server_id %> volume_id=<% $.volume_id %>
      on-success: wait_detached
    wait_detached:
      action: cinder.volumes_get volume_id=<% $.volume_id %>
      fail-on: <% task().result.status != available %>
      retry:
        count: 90
        delay: 2
      on-success: delete_server
    delete_server:
      workflow: std.delete_instance instance_id=<% $.server_id %>
      on-success: delete_volume
    delete_volume:
      action: cinder.volumes_delete volume=<% $.volume_id %>
`

// TestWorkflowBootsGuest runs, with the openstack CLI, a workflow that
// boots a real guest (QEMU, the tiny image) through std.create_instance,
// waits for it to be ACTIVE, makes and attaches a volume, detaches it and
// deletes the server and the volume: every step is a Nova or Cinder call
// made by the engine as the user, through a trust.
func TestWorkflowBootsGuest(t *testing.T) {
	requireQemu(t)
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		t.Skip("qemu-storage-daemon not installed (Debian's qemu-system-common)")
	}
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "1")
	t.Cleanup(func() { killGuests(t, c.DataDir); killStorageDaemon(t, c.DataDir) })
	admin := c.CloudEnv()
	dir := t.TempDir()
	img := filepath.Join(dir, "tiny.qcow2")
	build := exec.Command(c.binary, "image", "build-tiny", "--output", img, "--cache-dir", filepath.Join(dir, "cache"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	image := strings.TrimSpace(MustRun(t, admin, "image", "create", "--file", img, "--disk-format", "qcow2", "--container-format", "bare",
		"-f", "value", "-c", "id", "tiny").Stdout)
	flavor := strings.TrimSpace(MustRun(t, admin, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "-f", "value", "-c", "id", "g.tiny").Stdout)

	MustRun(t, admin, "workflow", "create", workflowFile(t, "vm.yaml", guestWorkflow))
	var x map[string]any
	input, _ := json.Marshal(map[string]string{"image": image, "flavor": flavor})
	start := time.Now()
	RunJSON(t, admin, &x, "workflow", "execution", "create", "vm_lifecycle", string(input))
	id := x["ID"].(string)
	x = waitExecution(t, admin, id, 10*time.Minute)
	if x["State"] != "SUCCESS" {
		var tasks []map[string]any
		RunJSON(t, admin, &tasks, "task", "execution", "list", id)
		t.Fatalf("execution %v: %v\ntasks: %v", x["State"], x["State info"], tasks)
	}
	t.Logf("figure: workflow boot, attach, detach, delete: %s", time.Since(start).Round(time.Second))
	var out map[string]any
	if err := json.Unmarshal([]byte(MustRun(t, admin, "workflow", "execution", "output", "show", id).Stdout), &out); err != nil {
		t.Fatal(err)
	}
	if dev, _ := out["device"].(string); !strings.HasPrefix(dev, "/dev/vd") {
		t.Errorf("output %v: the attachment's device is not a /dev/vdX", out)
	}
	var tasks []map[string]any
	RunJSON(t, admin, &tasks, "task", "execution", "list", id)
	names := map[string]bool{}
	for _, tk := range tasks {
		names[tk["Name"].(string)] = true
		if tk["State"] != "SUCCESS" {
			t.Errorf("task %v ended %v", tk["Name"], tk["State"])
		}
	}
	for _, n := range []string{"boot", "wait_booted", "make_volume", "attach", "detach", "delete_server", "delete_volume"} {
		if !names[n] {
			t.Errorf("task %s did not run: %v", n, names)
		}
	}
	// Everything the workflow made is gone.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		servers := strings.TrimSpace(MustRun(t, admin, "server", "list", "-f", "value", "-c", "ID").Stdout)
		volumes := strings.TrimSpace(MustRun(t, admin, "volume", "list", "-f", "value", "-c", "ID").Stdout)
		if servers == "" && volumes == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: servers %q, volumes %q", servers, volumes)
		}
		time.Sleep(2 * time.Second)
	}
}
