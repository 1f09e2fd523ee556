package storage

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

var completed = regexp.MustCompile(`Run completed in ([0-9.]+) seconds`)

// qemuBench runs qemu-img bench (256 sequential 1 MiB requests, one at a
// time as dd issues them; writes flushed at the end) and returns MB/s.
func qemuBench(b *testing.B, write bool, format, target string) float64 {
	b.Helper()
	args := []string{"bench", "-d", "1", "-s", "1M", "-c", "256", "-f", format}
	if write {
		args = append(args, "-w", "--flush-interval=256", "--pattern=7")
	}
	out, err := exec.Command("qemu-img", append(args, target)...).CombinedOutput()
	if err != nil {
		b.Fatalf("qemu-img bench: %v %s", err, out)
	}
	m := completed.FindSubmatch(out)
	if m == nil {
		b.Fatalf("qemu-img bench said %s", out)
	}
	s, _ := strconv.ParseFloat(string(m[1]), 64)
	return 256 * 1.048576 / s
}

// BenchmarkSequentialIO compares sequential 1 MiB writes and reads of a
// volume through its NBD export (the storage daemon, as a guest's QEMU
// reaches it) with the same I/O on its qcow2 file directly: the storage
// path's own cost, without a guest's CPU emulation.
//
//	go test -run '^$' -bench SequentialIO -benchtime 3x ./internal/driver/storage/
func BenchmarkSequentialIO(b *testing.B) {
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		b.Skip("qemu-storage-daemon not installed")
	}
	p, err := New(Config{Dir: b.TempDir(), RunDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Stop(context.Background()) })
	ctx := context.Background()
	const direct, viaNBD = "b0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000002"
	for _, id := range []string{direct, viaNBD} {
		if err := p.Create(ctx, id, 1); err != nil {
			b.Fatal(err)
		}
	}
	addr, err := p.Export(ctx, viaNBD)
	if err != nil {
		b.Fatal(err)
	}
	var fw, fr, nw, nr float64
	for b.Loop() {
		fw += qemuBench(b, true, "qcow2", p.volPath(direct))
		fr += qemuBench(b, false, "qcow2", p.volPath(direct))
		nw += qemuBench(b, true, "raw", addr)
		nr += qemuBench(b, false, "raw", addr)
	}
	n := float64(b.N)
	b.ReportMetric(fw/n, "file-write-MB/s")
	b.ReportMetric(nw/n, "nbd-write-MB/s")
	b.ReportMetric(fr/n, "file-read-MB/s")
	b.ReportMetric(nr/n, "nbd-read-MB/s")
	b.ReportMetric(100*nw/fw, "write-%")
	b.ReportMetric(100*nr/fr, "read-%")
}
