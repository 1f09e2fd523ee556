package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Accel is the accelerator guests run with, and why it was chosen.
type Accel struct {
	Name   string `json:"name"` // kvm or tcg
	Reason string `json:"reason"`
	// Key identifies what the verdict was measured with (QEMU version and
	// probe kernel); a cached verdict with another key is measured again.
	Key string `json:"key"`
}

// ProbeConfig says how to choose the accelerator.
type ProbeConfig struct {
	// Want is auto, kvm or tcg.
	Want   string
	Binary string
	// Kernel is a Linux kernel to boot for the probe; without one, auto
	// cannot prove KVM works and chooses tcg.
	Kernel string
	// Cache is the file the verdict is kept in.
	Cache string
}

// Probe chooses the accelerator. kvm and tcg are taken as asked; auto
// boots a real kernel once under KVM and uses KVM only if the kernel got
// to the end of its boot, because a /dev/kvm that opens is no proof (a
// paravirtual KVM accepts a VM, then fails on stock guests). The verdict
// is cached, keyed by QEMU's version and the kernel.
func Probe(ctx context.Context, pc ProbeConfig) Accel {
	switch pc.Want {
	case "kvm":
		return Accel{Name: "kvm", Reason: "--accel kvm"}
	case "tcg":
		return Accel{Name: "tcg", Reason: "--accel tcg (software emulation)"}
	}
	if pc.Binary == "" {
		pc.Binary = "qemu-system-x86_64"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return Accel{Name: "tcg", Reason: "software emulation: /dev/kvm cannot be opened (" + err.Error() + ")"}
	}
	f.Close()
	if pc.Kernel == "" {
		return Accel{Name: "tcg", Reason: "software emulation: /dev/kvm opens, but no kernel was available to prove it boots a guest"}
	}
	ver, _ := qemuVersion(pc.Binary)
	st, _ := os.Stat(pc.Kernel)
	key := ver + "|" + pc.Kernel
	if st != nil {
		key += fmt.Sprintf("|%d", st.Size())
	}
	if pc.Cache != "" {
		var a Accel
		if b, err := os.ReadFile(pc.Cache); err == nil && json.Unmarshal(b, &a) == nil && a.Key == key {
			a.Reason += " (cached verdict)"
			return a
		}
	}
	a := bootProbe(ctx, pc.Binary, pc.Kernel)
	a.Key = key
	if pc.Cache != "" {
		b, _ := json.Marshal(a)
		_ = writeFileAtomic(pc.Cache, b)
	}
	return a
}

const probeTimeout = 15 * time.Second

// bootProbe boots kernel under KVM with no root disk: a kernel that works
// ends in "VFS: Unable to mount root fs" and, with panic=-1 and
// -no-reboot, QEMU exits.
func bootProbe(ctx context.Context, bin, kernel string) Accel {
	// Under a working KVM the kernel gets there in a second or two.
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "128",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := out.String()
	if strings.Contains(text, "Unable to mount root fs") || strings.Contains(text, "Kernel panic") {
		return Accel{Name: "kvm", Reason: "KVM: a probe kernel booted to its end under KVM"}
	}
	last := lastLine(text)
	if ctx.Err() != nil {
		return Accel{Name: "tcg", Reason: "software emulation: /dev/kvm opens but a probe kernel hung under KVM for " + probeTimeout.String() + quoteLine(last)}
	}
	return Accel{Name: "tcg", Reason: fmt.Sprintf("software emulation: /dev/kvm opens but a probe kernel failed under KVM (%v)%s", err, quoteLine(last))}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func quoteLine(l string) string {
	if l == "" {
		return ""
	}
	if len(l) > 200 {
		l = l[:200]
	}
	return fmt.Sprintf("; last line: %q", l)
}
