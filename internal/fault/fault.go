// Package fault crashes the process at named points, for crash tests: the
// process dies as under kill -9, between two steps that a real crash could
// separate, and the tests prove that a restart converges. It is plumbing
// below every layer; points cost one atomic load when none is enabled,
// which is always the case unless ONESTACK_FAULTS names some (read by the
// command, never in production deployments).
//
// The set of enabled points is process-wide on purpose: a crash is.
package fault

import (
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
)

// The points, in the order a boot and a delete pass them.
const (
	// CreateCommitted: the server record is written, the scheduler not
	// yet woken (the API call may not have answered).
	CreateCommitted = "compute.create.committed"
	// SchedulerClaiming: inside the placement transaction, before commit.
	SchedulerClaiming = "scheduler.claiming"
	// SchedulerPlaced: placement committed, the host's agent not yet woken.
	SchedulerPlaced = "scheduler.placed"
	// QemuDisksReady: the guest's disks exist, its QEMU is not started.
	QemuDisksReady = "qemu.disks-ready"
	// QemuStarted: QEMU runs the guest, the agent has not reported it.
	QemuStarted = "qemu.started"
	// AgentEnsured: the hypervisor did the work, the report is not sent.
	AgentEnsured = "agent.ensured"
	// NetworkApplied: the host's data plane is wired for its ports, the
	// agent has not reported them.
	NetworkApplied = "agent.network.applied"
	// ReportApplying: inside the transaction applying an agent's report.
	ReportApplying = "compute.report.applying"
	// DeleteCommitted: a delete is recorded, the host not yet woken.
	DeleteCommitted = "compute.delete.committed"
	// QemuDeleting: the guest's QEMU is stopped, its files not removed.
	QemuDeleting = "qemu.deleting"
)

// Points lists every point.
var Points = []string{CreateCommitted, SchedulerClaiming, SchedulerPlaced, NetworkApplied, QemuDisksReady, QemuStarted,
	AgentEnsured, ReportApplying, DeleteCommitted, QemuDeleting}

var enabled atomic.Pointer[[]string]

// Enable arms the named points; unknown names are an error.
func Enable(names []string) error {
	for _, n := range names {
		if !slices.Contains(Points, n) {
			return fmt.Errorf("unknown fault point %q; the points are %v", n, Points)
		}
	}
	if len(names) > 0 {
		enabled.Store(&names)
	}
	return nil
}

// Point crashes the process with SIGKILL if name is armed.
func Point(name string) {
	p := enabled.Load()
	if p == nil || !slices.Contains(*p, name) {
		return
	}
	fmt.Fprintf(os.Stderr, "onestack: fault point %s reached: killing the process (ONESTACK_FAULTS)\n", name)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
