package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/driver/haproxy"
	"github.com/onestack/onestack/internal/driver/linux"
	"github.com/onestack/onestack/internal/driver/qemu"
	"github.com/onestack/onestack/internal/driver/storage"
)

// cleanupCmd removes what a (crashed) `onestack up` with this data
// directory left on the machine: its guests' QEMU processes and runtime
// sockets, its load balancers' HAProxy processes, its storage daemon, and
// every network namespace, link and nftables table of its data plane.
// Records and disks stay: the next `onestack up` starts the guests again.
func cleanupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "the data directory of the onestack up run to clean up after")
	if err := fs.Parse(args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("data directory %s: %w", abs, err)
	}
	hosts, err := hostDirsIn(filepath.Join(abs, "hosts"))
	if err != nil {
		return err
	}
	stopped := 0
	for _, dir := range hosts {
		lbs, err := haproxy.Stop(filepath.Join(dir, "lb"))
		for _, id := range lbs {
			fmt.Printf("stopped load balancer %s (HAProxy)\n", id)
		}
		if err != nil {
			return fmt.Errorf("stop the load balancers of %s: %w", dir, err)
		}
		stopped += len(lbs)

		guests, err := qemu.Inspect(dir)
		if err != nil {
			return fmt.Errorf("read guests of %s: %w", dir, err)
		}
		for _, g := range guests {
			if g.PID == 0 {
				continue
			}
			if err := stopPID(ctx, g.PID); err != nil {
				return fmt.Errorf("stop guest %s (pid %d): %w", g.ID, g.PID, err)
			}
			fmt.Printf("stopped guest %s (qemu pid %d)\n", g.ID, g.PID)
			stopped++
		}
		if err := qemu.RemoveRuntime(dir); err != nil {
			return fmt.Errorf("remove the guests' sockets of %s: %w", dir, err)
		}
	}
	// The storage daemon after the guests: they read volumes through it.
	pid, err := storage.StopDaemon(ctx, filepath.Join(abs, "volumes"))
	if err != nil {
		return err
	}
	if pid != 0 {
		fmt.Printf("stopped the storage daemon (qemu-storage-daemon pid %d)\n", pid)
		stopped++
	}
	prefix := linux.Prefix(abs)
	removed, err := linux.Cleanup(ctx, prefix)
	for _, r := range removed {
		fmt.Println("removed", r)
	}
	if err != nil {
		return fmt.Errorf("clean up the data plane (prefix %s): %w", prefix, err)
	}
	_ = os.Remove(filepath.Join(abs, "external-netns"))
	fmt.Printf("cleanup of %s done: %d process(es) stopped, %d data plane object(s) removed\n", abs, stopped, len(removed))
	return nil
}

// hostDirsIn lists the host state directories in DATA/hosts: its
// subdirectories only (it also holds files, such as the accelerator
// verdict accel.json).
func hostDirsIn(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list the hosts in %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// stopPID ends a process: SIGTERM, then SIGKILL after 10 s.
func stopPID(ctx context.Context, pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p.Signal(syscall.Signal(0)) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return p.Signal(syscall.SIGKILL)
}
