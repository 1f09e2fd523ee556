package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRemoteAgent runs a control plane without hosts and one `onestack
// agent` process that registers over HTTP; a server booted with the CLI
// lands on that host and becomes ACTIVE, and deleting it goes through the
// agent too. A load balancer is placed on that host too, goes ACTIVE
// through the agent's /agent/v1 load balancer loop, and its deletion
// completes through it.
func TestRemoteAgent(t *testing.T) {
	requireCLI(t)
	c := StartCloud(t, "", "--hosts", "0")
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(onestackBinary(t), "agent", "--controller", c.URL, "--host", "remote-1",
		"--hypervisor", "fake", "--clouds-yaml", filepath.Join(c.DataDir, "clouds.yaml"))
	agent.Stdout, agent.Stderr = logFile, logFile
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	t.Cleanup(func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("agent exited with %v after SIGTERM", err)
			}
		case <-time.After(10 * time.Second):
			_ = agent.Process.Kill()
			<-exited
			t.Errorf("agent still running 10s after SIGTERM; killed")
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("agent log:\n%s", tail(string(b), 100))
		}
	})

	admin := c.CloudEnv()
	nova := append(append(Env{}, admin...), "OS_COMPUTE_API_VERSION=2.79")
	// The agent registers within a moment; poll the hypervisor list (bounded).
	found := false
	for i := 0; i < 15 && !found; i++ {
		out := MustRun(t, admin, "hypervisor", "list", "-f", "value", "-c", "Hypervisor Hostname", "-c", "State").Stdout
		found = strings.Contains(out, "remote-1 up")
	}
	if !found {
		t.Fatal("the agent's host remote-1 never appeared up in 'openstack hypervisor list'")
	}
	src := filepath.Join(t.TempDir(), "img.raw")
	if err := os.WriteFile(src, []byte("remote agent image"), 0o600); err != nil {
		t.Fatal(err)
	}
	MustRun(t, admin, "image", "create", "--file", src, "--disk-format", "raw", "img")
	MustRun(t, admin, "flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", "f1")
	var s map[string]any
	RunJSON(t, nova, &s, "server", "create", "--image", "img", "--flavor", "f1", "--nic", "none", "--wait", "over-http")
	if s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "remote-1" {
		t.Fatalf("server over the agent API: status %v host %v fault %v", s["status"], s["OS-EXT-SRV-ATTR:host"], s["fault"])
	}
	MustRun(t, nova, "server", "delete", "--wait", "over-http")
	if out := MustRun(t, nova, "server", "list", "-f", "value", "-c", "Name").Stdout; strings.TrimSpace(out) != "" {
		t.Errorf("servers left after delete: %q", out)
	}

	MustRun(t, admin, "network", "create", "lbnet")
	MustRun(t, admin, "subnet", "create", "--network", "lbnet", "--subnet-range", "10.40.0.0/24", "lbsub")
	var lb map[string]any
	RunJSON(t, admin, &lb, "loadbalancer", "create", "--name", "over-http", "--vip-subnet-id", "lbsub", "--wait")
	if lb["provisioning_status"] != "ACTIVE" {
		t.Fatalf("load balancer over the agent API: %v (%v)", lb["provisioning_status"], lb["status_reason"])
	}
	if host := amphoraHost(t, c.AdminAPI(t), lb["id"].(string)); host != "remote-1" {
		t.Errorf("the load balancer runs on %v, want remote-1 (the agent's host)", host)
	}
	MustRun(t, admin, "loadbalancer", "delete", "--wait", "over-http")
	if out := MustRun(t, admin, "loadbalancer", "list", "-f", "value", "-c", "name").Stdout; strings.TrimSpace(out) != "" {
		t.Errorf("load balancers left after delete: %q", out)
	}
}
