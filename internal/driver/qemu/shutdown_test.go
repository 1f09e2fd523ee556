package qemu

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestStopWhileBooting stops a guest right after it started, before its
// OS handles the ACPI power button (a server stopped just after `server
// create --wait`, as TestRemoteQemuAgent does): the press is repeated
// until the guest, once booted, powers itself off, so the stop ends with a
// clean shutdown, not the hard power-off at the timeout.
func TestStopWhileBooting(t *testing.T) {
	ctx := context.Background()
	im := &images{files: map[string][]byte{"tiny": tinyImage(t)}, formats: map[string]string{"tiny": "qcow2"}}
	d := newDriver(t, im, t.TempDir())
	id := "0c5e7d5a-6666-4e6b-9f4e-000000000001"
	g := guestOf(id, hostapi.PowerRunning)
	if _, err := d.Ensure(ctx, g); err != nil {
		t.Fatal(err)
	}
	pid := d.guest(id).pid()
	g.Power = hostapi.PowerShutdown
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerShutdown {
		t.Fatalf("Ensure(shutdown) while booting = %q, %v", p, err)
	}
	if alive(pid) {
		t.Fatalf("the guest's process %d still runs after the stop", pid)
	}
	out := mustConsole(t, d, id)
	if !strings.Contains(out, "onestack-guest-ready") || !strings.Contains(out, "power button pressed") {
		t.Errorf("console after a stop during boot: want the guest to boot and power itself off on a repeated press:\n%s", out)
	}
	if n := d.TakeNote(id); n != "" {
		t.Errorf("note %q: the guest was powered off hard, want a clean ACPI shutdown", n)
	}
}

// TestStopIgnoredACPI stops a guest that never handles the power button
// (a disk without an OS: the firmware finds nothing to boot): after the
// shutdown timeout it is powered off hard, and the driver's note says so
// for the server's events.
func TestStopIgnoredACPI(t *testing.T) {
	ctx := context.Background()
	tinyImage(t) // skips without QEMU
	im := &images{files: map[string][]byte{"blank": make([]byte, 1<<20)}, formats: map[string]string{"blank": "raw"}}
	d, err := New(Config{Dir: t.TempDir(), Host: "test-host", Accel: Accel{Name: "tcg", Reason: "test"}, Images: im,
		ShutdownTimeout: 3 * time.Second, ShutdownRetry: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	id := "0c5e7d5a-6666-4e6b-9f4e-000000000002"
	t.Cleanup(func() { _ = d.Delete(context.Background(), id) })
	g := guestOf(id, hostapi.PowerRunning)
	g.ImageID, g.ConfigDrive = "blank", false
	if _, err := d.Ensure(ctx, g); err != nil {
		t.Fatal(err)
	}
	pid := d.guest(id).pid()
	g.Power = hostapi.PowerShutdown
	if p, err := d.Ensure(ctx, g); err != nil || p != hostapi.PowerShutdown {
		t.Fatalf("Ensure(shutdown) of a guest ignoring ACPI = %q, %v", p, err)
	}
	if alive(pid) {
		t.Fatalf("the guest's process %d still runs after the stop", pid)
	}
	if n, want := d.TakeNote(id), "the guest did not shut down within 3 s; powered off"; n != want {
		t.Errorf("note = %q, want %q", n, want)
	}
	if n := d.TakeNote(id); n != "" {
		t.Errorf("the note is given twice: %q", n)
	}
}
