package guestimage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// requireTools skips the test when a host tool is missing, except in CI
// (CI=true), where a missing tool is a broken machine and fails it.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	var problems []string
	if err := CheckHost(); err != nil {
		problems = append(problems, err.Error())
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			problems = append(problems, tool+" is missing")
		}
	}
	if len(problems) == 0 {
		return
	}
	msg := strings.Join(problems, "; ") + " (Debian packages: apt dpkg dosfstools mtools syslinux syslinux-common qemu-utils qemu-system-x86 genisoimage)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestBuildAndBoot builds the image once and boots it under TCG in
// several machines, at once: with a config drive and a NIC (SSH login,
// then ACPI power-off), with nothing at all, and with the config drive on
// the CD-ROMs the cloud kernel can see (virtio-scsi, IDE).
func TestBuildAndBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and boots it under qemu")
	}
	requireTools(t, "qemu-system-x86_64", "genisoimage")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	img := filepath.Join(dir, "tiny.qcow2")
	res, err := Build(ctx, Options{Output: img, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s: %d bytes (virtual %d), kernel %s, %d modules, in %s",
		img, res.Size, res.VirtualSize, res.KernelRelease, len(res.Modules), res.Duration)
	if res.Size > 64<<20 {
		t.Errorf("image is %d bytes; the tiny image should stay in the tens of MB", res.Size)
	}
	for _, want := range []string{"busybox-static", "dropbear-bin", "libgmp10"} {
		if !hasPackage(res.Packages, want) {
			t.Errorf("packages %v lack %s", res.Packages, want)
		}
	}

	t.Run("Kernel", func(t *testing.T) {
		// Same cache: the package is there already; the vmlinuz is unpacked once.
		k, err := Kernel(ctx, cache)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 0x210 || string(b[0x202:0x206]) != "HdrS" {
			t.Fatalf("%s is not a bzImage", k)
		}
		again, err := Kernel(ctx, cache)
		if err != nil || again != k {
			t.Fatalf("second Kernel = %q, %v; want the cached %q", again, err, k)
		}
	})

	signer, authorized := sshKey(t)
	meta := map[string]any{
		"uuid":        "7a0e4a4e-54b5-4a63-9a3c-5b1e0c6f1d2a",
		"name":        "tiny-test",
		"hostname":    "tiny-test",
		"public_keys": map[string]string{"k": authorized},
		"meta":        map[string]string{"hostname": "not-this-one"},
	}
	userData := "#!/bin/sh\necho user-data-ran-$((6*7))\n"
	iso := configDrive(t, meta, userData)
	meta["hostname"] = "tiny-fqdn.novalocal" // Nova may add its dhcp_domain
	fqdnISO := configDrive(t, meta, userData)

	tests := []struct {
		name      string
		args      func(sshPort int) []string
		want      []string
		ssh       bool
		powerdown bool
	}{
		{
			// As the qemu driver attaches it: Debian's cloud kernel has no
			// AHCI driver for a q35 machine's SATA CD-ROM.
			name: "config drive on virtio-blk, NIC, SSH, powerdown",
			args: func(port int) []string {
				return []string{"-machine", "q35",
					"-drive", "file=" + iso + ",if=virtio,format=raw,readonly=on",
					// restrict=on: the guest reaches nothing outside qemu.
					"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", port),
					"-device", "virtio-net-pci,netdev=n0"}
			},
			want:      []string{"config drive on /dev/vdb", "user-data-ran-42", "hostname: tiny-test", "address: eth0 10.0.2.15/24", ReadyMarker},
			ssh:       true,
			powerdown: true,
		},
		{
			name: "no config drive, no NIC",
			args: func(int) []string { return []string{"-machine", "q35"} },
			want: []string{"no metadata", "hostname: tiny\n", ReadyMarker},
		},
		{
			name: "config drive on virtio-scsi CD-ROM",
			args: func(int) []string {
				return []string{"-machine", "q35", "-device", "virtio-scsi-pci",
					"-drive", "file=" + fqdnISO + ",if=none,id=cd0,media=cdrom,readonly=on", "-device", "scsi-cd,drive=cd0"}
			},
			want: []string{"config drive on /dev/sr0", "user-data-ran-42", "hostname: tiny-fqdn\n", ReadyMarker},
		},
		{
			name: "config drive on IDE CD-ROM of a pc machine",
			args: func(int) []string { return []string{"-machine", "pc", "-cdrom", iso} },
			want: []string{"config drive on /dev/sr0", "user-data-ran-42", "hostname: tiny-test", ReadyMarker},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port := 0
			if tt.ssh {
				port = freePort(t)
			}
			vm := startQEMU(t, img, tt.args(port))
			vm.waitLog(t, 3*time.Minute, tt.want...)
			if tt.ssh {
				out := sshRun(t, port, signer, "hostname; cat /etc/onestack-tiny-release")
				if !strings.HasPrefix(out, "tiny-test\n") || !strings.Contains(out, "PACKAGE=busybox-static=") {
					t.Errorf("over SSH: %q", out)
				}
				// The test services for load balancer members answer the
				// hostname: HTTP on port 80 (/ and /api), UDP on port 9000.
				out = sshRun(t, port, signer, "wget -q -O - http://127.0.0.1/; wget -q -O - http://127.0.0.1/api; echo who | nc.openbsd -u -w 2 127.0.0.1 9000")
				if out != "tiny-test\ntiny-test\ntiny-test\n" {
					t.Errorf("HTTP /, /api and UDP 9000 answered %q, want the hostname three times", out)
				}
			}
			if tt.powerdown {
				if err := qmpPowerdown(vm.qmp); err != nil {
					t.Fatal(err)
				}
				select {
				case <-vm.done:
				case <-time.After(2 * time.Minute):
					t.Fatalf("qemu still runs 2m after system_powerdown; console:\n%s", vm.tail())
				}
				vm.waitLog(t, time.Second, "power button pressed", "reboot: Power down")
			}
		})
	}
}

func hasPackage(pkgs []Package, name string) bool {
	for _, p := range pkgs {
		if p.Name == name {
			return true
		}
	}
	return false
}

// sshKey makes an ed25519 key pair: the signer and the authorized_keys line.
func sshKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " test"
}

// configDrive writes an OpenStack config drive ISO as Nova does.
func configDrive(t *testing.T, meta map[string]any, userData string) string {
	t.Helper()
	dir := t.TempDir()
	latest := filepath.Join(dir, "drive", "openstack", "latest")
	if err := os.MkdirAll(latest, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(latest, "meta_data.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(latest, "user_data"), []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "config.iso")
	out, err := exec.Command("genisoimage", "-o", iso, "-ldots", "-allow-lowercase", "-allow-multidot",
		"-l", "-quiet", "-J", "-r", "-V", "config-2", filepath.Join(dir, "drive")).CombinedOutput()
	if err != nil {
		t.Fatalf("genisoimage: %v: %s", err, out)
	}
	return iso
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// vm is a running qemu whose serial console goes to a file.
type vm struct {
	log  string
	qmp  string
	done chan struct{} // closed when qemu has exited
}

// startQEMU boots the image under TCG (this host's KVM cannot run stock
// guests) with 128 MB, the console in a file and a QMP socket; the image
// is opened in snapshot mode so parallel boots share it. Cleanup kills
// qemu by its PID if it still runs.
func startQEMU(t *testing.T, img string, extra []string) *vm {
	t.Helper()
	dir, err := os.MkdirTemp("", "tiny-vm-") // short path: unix sockets allow ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	v := &vm{log: filepath.Join(dir, "console.log"), qmp: filepath.Join(dir, "qmp.sock"), done: make(chan struct{})}
	args := append([]string{"-accel", "tcg", "-cpu", "max", "-m", "128", "-nographic", "-nodefaults",
		"-serial", "file:" + v.log,
		"-drive", "file=" + img + ",if=virtio,snapshot=on",
		"-qmp", "unix:" + v.qmp + ",server=on,wait=off"}, extra...)
	cmd := exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(v.done)
	}()
	t.Cleanup(func() {
		select {
		case <-v.done:
		default:
			_ = cmd.Process.Kill()
			<-v.done
		}
		if t.Failed() {
			t.Logf("qemu %s\nstderr: %s\nconsole:\n%s", strings.Join(args, " "), stderr.String(), v.tail())
		}
	})
	return v
}

// tail returns the end of the console log, for failure messages.
func (v *vm) tail() string {
	b := v.console()
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// console returns the console log with the serial line's \r removed.
func (v *vm) console() []byte {
	b, _ := os.ReadFile(v.log)
	return bytes.ReplaceAll(b, []byte("\r"), nil)
}

// waitLog polls the console log until it holds every wanted string, qemu
// exits, or the deadline passes.
func (v *vm) waitLog(t *testing.T, within time.Duration, want ...string) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		b := v.console()
		missing := ""
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		select {
		case <-tick.C:
		case <-v.done:
			// One last read: qemu may have written the line as it exited.
			if bytes.Contains(v.console(), []byte(missing)) {
				continue
			}
			t.Fatalf("qemu exited before the console showed %q; console:\n%s", missing, v.tail())
		case <-deadline.C:
			t.Fatalf("console did not show %q within %s; console:\n%s", missing, within, v.tail())
		}
	}
}

// sshRun runs a command as root over the forwarded port.
func sshRun(t *testing.T, port int, signer ssh.Signer, command string) string {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a fresh test guest
		Timeout:         30 * time.Second,
	}
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), cfg)
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(command)
	if err != nil {
		t.Fatalf("ssh %q: %v: %s", command, err, out)
	}
	return string(out)
}

// qmpPowerdown presses the virtual power button, as Nova's stop does:
// read the greeting, negotiate capabilities, send system_powerdown.
func qmpPowerdown(sock string) error {
	conn, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	greeting, err := r.ReadBytes('\n')
	if err != nil || !bytes.Contains(greeting, []byte(`"QMP"`)) {
		return fmt.Errorf("qmp greeting %q: %v", greeting, err)
	}
	for _, cmd := range []string{"qmp_capabilities", "system_powerdown"} {
		if _, err := fmt.Fprintf(conn, `{"execute":%q}`+"\n", cmd); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		// Events (POWERDOWN) may come before the reply; skip them.
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("qmp %s: %w", cmd, err)
			}
			var msg struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Desc string `json:"desc"`
				} `json:"error"`
			}
			if err := json.Unmarshal(line, &msg); err != nil {
				return fmt.Errorf("qmp %s: %w", cmd, err)
			}
			if msg.Error != nil {
				return fmt.Errorf("qmp %s: %s", cmd, msg.Error.Desc)
			}
			if msg.Return != nil {
				break
			}
		}
	}
	return nil
}
