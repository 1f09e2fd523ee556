// Package fake is a hypervisor that runs no guests: it keeps their power
// state in memory and answers at once. It exists for scale benchmarks and
// control-plane tests, and says "fake" in every field and log line.
package fake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/onestack/onestack/internal/hostapi"
)

// Driver is the fake hypervisor of one host.
type Driver struct {
	log                   *slog.Logger
	vcpus, memoryMB, disk int

	mu     sync.Mutex
	guests map[string]string // id -> power
	// volumes counts each guest's attached volumes (volumes.go).
	volumes map[string]int
}

// New returns a fake hypervisor offering the given capacity.
func New(log *slog.Logger, vcpus, memoryMB, diskGB int) *Driver {
	return &Driver{log: log.With("hypervisor", "fake"), vcpus: vcpus, memoryMB: memoryMB, disk: diskGB, guests: map[string]string{}}
}

// Info describes the fake host.
func (d *Driver) Info(context.Context) (hostapi.HostInfo, error) {
	return hostapi.HostInfo{
		HypervisorType: "fake", HypervisorVersion: 1000, HostIP: "127.0.0.1",
		VCPUs: d.vcpus, MemoryMB: d.memoryMB, DiskGB: d.disk,
		CPUInfo: `{"arch": "x86_64", "model": "fake (onestack fake hypervisor: no real guests)", "vendor": "fake"}`,
	}, nil
}

// Ensure sets the guest's power state to the desired one.
func (d *Driver) Ensure(_ context.Context, g hostapi.Guest) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.guests[g.ServerID]
	power := g.Power
	if power == "" || power == hostapi.PowerAbsent {
		power = hostapi.PowerRunning
	}
	d.guests[g.ServerID] = power
	if !ok || old != power || g.Task != "" {
		d.log.Debug("fake guest changed (no real guest runs)", "server_id", g.ServerID, "power", power, "task", g.Task)
	}
	return power, nil
}

// Delete forgets a guest.
func (d *Driver) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.guests[id]; ok {
		d.log.Debug("fake guest deleted (no real guest ran)", "server_id", id)
	}
	delete(d.guests, id)
	return nil
}

// List returns the fake guests.
func (d *Driver) List(context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.guests))
	for id := range d.guests {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// Power returns a guest's power state, for tests.
func (d *Driver) Power(id string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.guests[id]
	return p, ok
}

// ConsoleOutput returns what a console would show: the fake says it is fake.
func (d *Driver) ConsoleOutput(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.guests[id]
	if !ok {
		return ""
	}
	return fmt.Sprintf("onestack fake hypervisor: server %s has no real guest and no console\n"+
		"onestack fake hypervisor: this log is made up by the fake driver, for tests and benchmarks\n"+
		"onestack fake hypervisor: power state %s\n", id, p)
}

// Snapshot returns a tiny stand-in for a disk image that says it is fake.
func (d *Driver) Snapshot(_ context.Context, id string) (io.ReadCloser, error) {
	d.mu.Lock()
	_, ok := d.guests[id]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fake guest %s does not exist", id)
	}
	d.log.Info("fake snapshot: the image gets placeholder data, not a disk", "server_id", id)
	return io.NopCloser(strings.NewReader("onestack fake hypervisor snapshot of server " + id + ": no real disk\n")), nil
}
