package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCompute drives images, flavors, keypairs and servers with the real
// openstack CLI against `onestack up --hypervisor fake --hosts 2`, as the
// compute issue's "done when" lists.
func TestCompute(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		nova := append(Env{}, admin...)
		nova = append(nova, "OS_COMPUTE_API_VERSION=2.79")
		dir := t.TempDir()

		// Image: upload bytes, download them again, equal.
		data := bytes.Repeat([]byte("onestack-e2e-image "), 5000)
		src := filepath.Join(dir, "src.raw")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		MustRun(t, admin, "image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare", "--public", "tiny")
		var img struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Size   int    `json:"size"`
		}
		RunJSON(t, admin, &img, "image", "show", "tiny")
		if img.Status != "active" || img.Size != len(data) {
			t.Fatalf("image after upload: %+v, want active and %d bytes", img, len(data))
		}
		dst := filepath.Join(dir, "dst.raw")
		MustRun(t, admin, "image", "save", "--file", dst, "tiny")
		got, err := os.ReadFile(dst)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("image save: %d bytes back (err %v), want the %d uploaded", len(got), err, len(data))
		}

		MustRun(t, admin, "flavor", "create", "--ram", "512", "--vcpus", "1", "--disk", "1", "m1.small")
		MustRun(t, admin, "flavor", "create", "--ram", "40960", "--vcpus", "1", "--disk", "1", "m1.enormous")
		MustRun(t, admin, "keypair", "create", "--public-key", writeKey(t, dir), "ops")

		var hvs []struct {
			Name  string `json:"Hypervisor Hostname"`
			Type  string `json:"Hypervisor Type"`
			State string `json:"State"`
		}
		RunJSON(t, admin, &hvs, "hypervisor", "list")
		if len(hvs) != 2 || hvs[0].Type != "fake" || hvs[0].State != "up" {
			t.Fatalf("hypervisor list = %+v, want two up fake hosts", hvs)
		}

		// Boot, list, events, stop/start.
		var srv map[string]any
		RunJSON(t, nova, &srv, "server", "create", "--image", "tiny", "--flavor", "m1.small", "--key-name", "ops", "--nic", "none", "--wait", "web-1")
		if srv["status"] != "ACTIVE" {
			t.Fatalf("server create --wait ended %v (fault %v)", srv["status"], srv["fault"])
		}
		out := MustRun(t, nova, "server", "list", "-f", "value", "-c", "Name", "-c", "Status").Stdout
		if !strings.Contains(out, "web-1 ACTIVE") {
			t.Errorf("server list = %q, want web-1 ACTIVE", out)
		}
		MustRun(t, nova, "server", "stop", "web-1")
		if st := waitStatus(t, nova, "web-1", "SHUTOFF"); st != "SHUTOFF" {
			t.Errorf("after stop: %s, want SHUTOFF", st)
		}
		MustRun(t, nova, "server", "start", "web-1")
		if st := waitStatus(t, nova, "web-1", "ACTIVE"); st != "ACTIVE" {
			t.Errorf("after start: %s, want ACTIVE", st)
		}
		events := MustRun(t, nova, "server", "event", "list", "web-1", "-f", "value", "-c", "Action").Stdout
		if f := strings.Fields(events); strings.Join(f, " ") != "start stop create" {
			t.Errorf("server event list = %q, want start, stop, create", events)
		}

		// Anti-affinity: two members on two hosts.
		var grp struct {
			ID string `json:"id"`
		}
		RunJSON(t, nova, &grp, "server", "group", "create", "--policy", "anti-affinity", "spread")
		hosts := map[string]bool{}
		for _, name := range []string{"a-1", "a-2"} {
			var s map[string]any
			RunJSON(t, nova, &s, "server", "create", "--image", "tiny", "--flavor", "m1.small", "--nic", "none", "--hint", "group="+grp.ID, "--wait", name)
			if s["status"] != "ACTIVE" {
				t.Fatalf("%s ended %v: %v", name, s["status"], s["fault"])
			}
			hosts[s["OS-EXT-SRV-ATTR:host"].(string)] = true
		}
		if len(hosts) != 2 {
			t.Errorf("anti-affinity members on hosts %v, want two different hosts", hosts)
		}

		// Too large: ERROR with a fault that names RAM.
		// The CLI's --wait reports the failure itself; the server show says why.
		r := Run(t, nova, "server", "create", "--image", "tiny", "--flavor", "m1.enormous", "--nic", "none", "--wait", "too-big")
		t.Logf("server create --wait of an over-large flavor: %s", r)
		var big map[string]any
		RunJSON(t, nova, &big, "server", "show", "too-big")
		fault, _ := big["fault"].(map[string]any)
		if big["status"] != "ERROR" || fault == nil || !strings.Contains(fault["message"].(string), "lacked RAM") {
			t.Errorf("over-large server: status %v fault %v, want ERROR naming RAM", big["status"], fault)
		}

		for _, name := range []string{"web-1", "a-1", "a-2", "too-big"} {
			MustRun(t, nova, "server", "delete", "--wait", name)
		}
		if out := MustRun(t, nova, "server", "list", "-f", "value", "-c", "Name").Stdout; strings.TrimSpace(out) != "" {
			t.Errorf("servers left after delete: %q", out)
		}
	}, "--hypervisor", "fake", "--hosts", "2")
}

// statusDeadline bounds a wait for a server's status after a boot, start
// or reboot: TCG guests on a loaded CI machine.
const statusDeadline = 2 * time.Minute

// shutdownTimeout is how long a stop waits for the guest to power off after
// its ACPI power button before it powers it off hard (docs/guests.md; Nova's
// shutdown_timeout). stopDeadline bounds a wait for SHUTOFF after a stop:
// that timeout, the hard power-off after it (QMP quit, up to 5 s, then
// SIGKILL, up to 10 s), and time for the agent's report to land.
const (
	shutdownTimeout = 60 * time.Second
	stopDeadline    = shutdownTimeout + 15*time.Second + 30*time.Second
)

// waitStatus polls `server show` until the server has the status, is in
// ERROR (when that is not what is wanted) or statusDeadline passes, and
// returns the last seen.
func waitStatus(t *testing.T, env Env, name, want string) string {
	t.Helper()
	return waitStatusWithin(t, env, name, want, statusDeadline)
}

// waitStatusWithin is waitStatus with its own deadline.
func waitStatusWithin(t *testing.T, env Env, name, want string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := strings.TrimSpace(MustRun(t, env, "server", "show", name, "-f", "value", "-c", "status").Stdout)
		if st == want || (st == "ERROR" && want != "ERROR") || time.Now().After(deadline) {
			return st
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeKey writes a fixed ed25519 public key for keypair import.
func writeKey(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "id.pub")
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIFTd4N6hnEhDrxmbhPuTSBo4mkWcdvo79jNp3oCcnE9 e2e@onestack\n"
	if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
