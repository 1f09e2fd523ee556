package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadme follows the README's "Start" section as a new user does,
// line by line, with `make run`'s defaults: `onestack up --data-dir
// ./data` (a relative data directory, KVM probed with --accel auto, the
// package cache in ~/.cache) from a fresh working directory, the CLI
// through `source data/openrc`, the tiny image built with ./bin/onestack.
// It boots web-1 without a network and reads its ready line, then web-2 on
// a tenant network behind a router, pings and SSHes it by floating IP from
// the outside world's namespace with ~/.ssh/id_ed25519, attaches a volume
// and finds it in the guest. Then onestack is killed with SIGKILL, as a
// crash, and `onestack cleanup --data-dir ./data` must leave no process,
// namespace, link, nftables table, mount or runtime socket of that data
// directory. The only departures from the README: a free port instead of
// 127.0.0.1:8000, HOME a directory of the test's (its ~/.ssh key and
// ~/.cache; ssh is given that key and known hosts file, as it reads ~ from
// the password database), ssh told to accept the guest's new host key
// without asking, and waits where a user would look again (the console
// log, the first ping, the volume in the guest).
func TestReadme(t *testing.T) {
	requireQemu(t)
	requireCLI(t)
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		t.Skip("qemu-storage-daemon not installed (Debian's qemu-system-common)")
	}
	work, home := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(onestackBinary(t), filepath.Join(work, "bin", "onestack")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(home, ".ssh", "id_ed25519")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	env := []string{"HOME=" + home, "XDG_CACHE_HOME="}

	// make run: ./bin/onestack up --data-dir ./data --listen 127.0.0.1:8000
	c := &Cloud{
		Listen:     "127.0.0.1:" + freePort(t),
		DataDir:    filepath.Join(work, "data"),
		binary:     onestackBinary(t),
		logf:       filepath.Join(t.TempDir(), "onestack.log"),
		workDir:    work,
		dataDirArg: "./data",
		env:        env,
	}
	c.URL = "http://" + c.Listen
	t.Cleanup(func() {
		// Also when the test failed half-way: stop onestack, then what it
		// left (guests, storage daemon, namespaces) as an operator would.
		if err := c.Stop(10 * time.Second); err != nil {
			t.Errorf("stop onestack: %v", err)
		}
		cmd := exec.Command(c.binary, "cleanup", "--data-dir", c.DataDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("onestack cleanup --data-dir %s: %v\n%s", c.DataDir, err, out)
		}
		killGuests(t, c.DataDir)
		killStorageDaemon(t, c.DataDir)
		if t.Failed() {
			t.Logf("onestack log (%s):\n%s", c.logf, tail(c.log(), 150))
		}
	})
	c.start(t, false)

	// sh runs one README line in the working directory, after `source
	// data/openrc`, and fails the test unless it exits 0.
	sh := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", "openstack() { "+openstackCLI+` "$@"; }`+"\nsource data/openrc\n"+line)
		cmd.Dir = work
		cmd.Env = append(cleanEnv(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("README line %q: %v\nstdout: %s\nstderr: %s", line, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	value := func(line string) string { t.Helper(); return strings.TrimSpace(sh(line)) }
	active := func(name string) string {
		t.Helper()
		if st := value("openstack server show " + name + " -f value -c status"); st != "ACTIVE" {
			t.Fatalf("%s is %s after server create --wait, want ACTIVE: %s", name, st, sh("openstack server show "+name+" -f value -c fault"))
		}
		return value("openstack server show " + name + " -f value -c id")
	}

	if !strings.Contains(sh("openstack token issue"), "expires") {
		t.Error("openstack token issue printed no token")
	}
	if out := sh("openstack catalog list"); !strings.Contains(out, "compute") || !strings.Contains(out, "volumev3") {
		t.Errorf("openstack catalog list lacks compute or volumev3:\n%s", out)
	}

	// A real guest: the tiny image.
	sh("./bin/onestack image build-tiny --output tiny.qcow2")
	sh("openstack image create --file tiny.qcow2 --disk-format qcow2 --container-format bare --public tiny")
	sh("openstack flavor create --ram 128 --vcpus 1 --disk 1 m1.tiny")
	sh("openstack --os-compute-api-version 2.79 server create --image tiny --flavor m1.tiny --nic none --config-drive true --wait web-1")
	web1 := active("web-1")
	ready := false
	for deadline := time.Now().Add(statusDeadline); !ready && time.Now().Before(deadline); {
		ready = strings.Contains(sh("openstack console log show web-1"), "onestack-guest-ready")
	}
	if !ready {
		t.Fatalf("openstack console log show web-1 never showed onestack-guest-ready:\n%s", sh("openstack console log show web-1"))
	}
	if out := sh("openstack server event list web-1"); !strings.Contains(out, "create") {
		t.Errorf("openstack server event list web-1 lacks the create action:\n%s", out)
	}

	// A network, a router to "public", and a guest reachable by a floating IP.
	sh("openstack network create net1")
	sh("openstack subnet create --network net1 --subnet-range 10.0.0.0/24 sub1")
	sh("openstack router create r1 && openstack router set --external-gateway public r1 && openstack router add subnet r1 sub1")
	sh("openstack security group rule create --protocol icmp default")
	sh("openstack security group rule create --protocol tcp --dst-port 22 default")
	sh("openstack keypair create --public-key ~/.ssh/id_ed25519.pub me")
	sh("openstack server create --image tiny --flavor m1.tiny --network net1 --key-name me --wait web-2")
	web2 := active("web-2")
	fip := value("openstack floating ip create public -f value -c floating_ip_address")
	sh("openstack server add floating ip web-2 " + fip)
	ping := "ip netns exec $(cat data/external-netns) ping -c 3 " + fip
	pinged := false
	for deadline := time.Now().Add(statusDeadline); !pinged && time.Now().Before(deadline); {
		// The guest may still be booting: look again, as a user would.
		cmd := exec.Command("bash", "-c", ping)
		cmd.Dir = work
		pinged = cmd.Run() == nil
	}
	if !pinged {
		t.Fatalf("%q never answered", ping)
	}
	// ssh reads ~ from the password database, not $HOME: name the key and
	// the known hosts file of the test's home.
	ssh := "ip netns exec $(cat data/external-netns) ssh -i ~/.ssh/id_ed25519 -o UserKnownHostsFile=~/.ssh/known_hosts -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=10 root@" + fip
	if got := value(ssh + " hostname"); got != "web-2" {
		t.Errorf("ssh root@%s hostname = %q, want web-2", fip, got)
	}

	// A volume attached to it, seen in the guest by its serial (the
	// volume id's first 20 characters).
	sh("openstack volume create --size 1 vol1")
	sh("openstack server add volume web-2 vol1")
	vol := value("openstack volume show vol1 -f value -c id")
	waitVolume(t, c.CloudEnv(), "vol1", "in-use")
	seen := ""
	for deadline := time.Now().Add(statusDeadline); !strings.Contains(seen, vol[:20]) && time.Now().Before(deadline); {
		seen = value(ssh + ` 'cat /sys/block/vd*/serial 2>/dev/null; echo'`)
	}
	if !strings.Contains(seen, vol[:20]) {
		t.Errorf("web-2 has no disk with the volume's serial %s; its disks' serials: %q", vol[:20], seen)
	}

	// A crash, then `onestack cleanup`: nothing of the data directory is
	// left on the machine.
	extNS := strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns")))
	prefix := strings.TrimSuffix(extNS, "-ext")
	nsInodes := map[string]uint64{}
	for _, ns := range namespaces(t, prefix) {
		var st syscall.Stat_t
		if err := syscall.Stat("/run/netns/"+ns, &st); err == nil {
			nsInodes[ns] = st.Ino
		}
	}
	if len(nsInodes) < 3 {
		t.Fatalf("namespaces of the cloud before the crash: %v; want the host's, the underlay's and the outside world's", nsInodes)
	}
	tables, _ := exec.Command("ip", "netns", "exec", prefix+"-h-host-1", "nft", "list", "tables").Output()
	if !strings.Contains(string(tables), "onestack") {
		t.Fatalf("the host's namespace has no onestack nftables table before the crash (%q): the check after cleanup would prove nothing", tables)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "hosts", "accel.json")); err != nil {
		t.Logf("no DATA/hosts/accel.json (%v): the accelerator was not probed", err)
	}
	c.Kill(t)
	if len(guestPIDs(t, web1)) == 0 || len(guestPIDs(t, web2)) == 0 {
		t.Fatal("the guests did not survive onestack's crash; cleanup would have nothing to stop")
	}
	out := sh("./bin/onestack cleanup --data-dir ./data")
	t.Logf("onestack cleanup:\n%s", out)
	for _, left := range leftBehind(t, c.DataDir, prefix, nsInodes, web1, web2) {
		t.Errorf("after onestack cleanup: %s", left)
	}
}

// leftBehind lists what of a data directory's cloud is still on the
// machine: guest and storage daemon processes, processes in its (former)
// namespaces, its namespaces, links, nftables tables and mounts named
// after its prefix, and its runtime directories.
func leftBehind(t *testing.T, dataDir, prefix string, nsInodes map[string]uint64, servers ...string) []string {
	t.Helper()
	var left []string
	for _, id := range servers {
		if p := guestPIDs(t, id); len(p) > 0 {
			left = append(left, fmt.Sprintf("guest %s still runs as %v", id, p))
		}
	}
	hostDirs, _ := filepath.Glob(filepath.Join(dataDir, "hosts", "*"))
	inode := map[uint64]string{}
	for ns, ino := range nsInodes {
		inode[ino] = ns
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || bytes.Contains(cmd, []byte("onestack\x00cleanup")) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(st, []byte(") Z")) {
			continue
		}
		if bytes.Contains(cmd, []byte(dataDir+"/")) {
			left = append(left, fmt.Sprintf("process %d: %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
			continue
		}
		for _, run := range runtimeDirs(dataDir, hostDirs) {
			if bytes.Contains(cmd, []byte(run+"/")) {
				left = append(left, fmt.Sprintf("process %d with sockets in %s: %s", pid, run, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
			}
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) == nil {
			if ns, ok := inode[st.Ino]; ok {
				left = append(left, fmt.Sprintf("process %d in the namespace that was %s", pid, ns))
			}
		}
	}
	for _, ns := range namespaces(t, prefix) {
		left = append(left, "namespace "+ns)
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, prefix) {
				left = append(left, "link in the machine's namespace: "+line)
			}
		}
	}
	if out, err := exec.Command("nft", "list", "tables").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "onestack") || strings.Contains(line, prefix) {
				left = append(left, "nftables table in the machine's namespace: "+line)
			}
		}
	}
	for ns := range nsInodes {
		if err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "tables").Run(); err == nil {
			left = append(left, "nftables tables still reachable in namespace "+ns)
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "/"+prefix+"-") || strings.Contains(line, dataDir) {
				left = append(left, "mount: "+line)
			}
		}
	}
	for _, run := range runtimeDirs(dataDir, hostDirs) {
		if _, err := os.Stat(run); !errors.Is(err, os.ErrNotExist) {
			ents, _ := os.ReadDir(run)
			left = append(left, fmt.Sprintf("runtime directory %s (%d entries)", run, len(ents)))
		}
	}
	return left
}

// runtimeDirs are the short runtime directories of a data directory's
// hosts (their guests' sockets) and of its storage pool (the storage
// daemon's), as the qemu driver and the pool name them (running as root).
func runtimeDirs(dataDir string, hostDirs []string) []string {
	var out []string
	for _, h := range hostDirs {
		if st, err := os.Stat(h); err != nil || !st.IsDir() {
			continue
		}
		sum := sha256.Sum256([]byte(h))
		out = append(out, filepath.Join("/run/onestack", hex.EncodeToString(sum[:4])))
	}
	sum := sha256.Sum256([]byte("volumes:" + filepath.Join(dataDir, "volumes")))
	return append(out, filepath.Join("/run/onestack", hex.EncodeToString(sum[:4])))
}
