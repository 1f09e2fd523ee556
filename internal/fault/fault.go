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

// The points of a volume attach and detach, in the order they pass them.
const (
	// BootVolumeExported: a boot from volume's root volume exists and is
	// exported; neither its attachment nor the server is recorded.
	BootVolumeExported = "compute.boot-volume.exported"
	// AttachExported: the volume is exported for the guest; neither its
	// attachment nor the server's block device mapping is written.
	AttachExported = "compute.attach.exported"
	// AttachCommitted: the attachment (volume attaching) and the block
	// device mapping are written in one transaction; the host not yet woken.
	AttachCommitted = "compute.attach.committed"
	// AgentVolumesSynced: the host plugged or unplugged the guest's
	// volumes; the agent has not reported it.
	AgentVolumesSynced = "agent.volumes.synced"
	// VolumesApplying: inside the transaction applying an agent's volume
	// report (attach done or failed, detach done), before commit.
	VolumesApplying = "compute.volumes.applying"
	// DetachCommitted: a detach is recorded (mapping detaching); the host
	// not yet woken.
	DetachCommitted = "compute.detach.committed"
	// VolumesReleased: a transaction that released volumes (a detach done,
	// a server deleted) committed; the volumes are not yet unexported and
	// the delete_on_termination ones not yet handed to the volume worker.
	VolumesReleased = "compute.volumes.released"
)

// The points of an object upload and delete (Swift), in the order they
// pass them.
const (
	// ObjectReceiving: an upload's data is arriving; part of it is in the
	// journal's file.
	ObjectReceiving = "object.receiving"
	// ObjectWritten: the new data is durable under its final name (and
	// journaled); its row is not written.
	ObjectWritten = "object.written"
	// ObjectCommitting: inside the transaction that records the object
	// (and drops the row of what it replaces), before commit.
	ObjectCommitting = "object.committing"
	// ObjectCommitted: the object is recorded; the replaced data is not yet
	// removed, nor the journal cleared.
	ObjectCommitted = "object.committed"
	// ObjectDeleteCommitted: a delete is committed; the data file is not
	// yet removed.
	ObjectDeleteCommitted = "object.delete.committed"
)

// ObjectPoints lists every point an object upload and delete pass.
var ObjectPoints = []string{ObjectReceiving, ObjectWritten, ObjectCommitting, ObjectCommitted, ObjectDeleteCommitted}

// Points lists every point a boot and a delete pass.
var Points = []string{CreateCommitted, SchedulerClaiming, SchedulerPlaced, NetworkApplied, QemuDisksReady, QemuStarted,
	AgentEnsured, ReportApplying, DeleteCommitted, QemuDeleting}

// VolumePoints lists every point a volume attach, a detach, a boot from
// volume and a delete with volumes pass (besides Points).
var VolumePoints = []string{BootVolumeExported, AttachExported, AttachCommitted, AgentVolumesSynced, VolumesApplying,
	DetachCommitted, VolumesReleased}

var enabled atomic.Pointer[[]string]

// Enable arms the named points; unknown names are an error.
func Enable(names []string) error {
	for _, n := range names {
		if !slices.Contains(Points, n) && !slices.Contains(VolumePoints, n) && !slices.Contains(ObjectPoints, n) {
			return fmt.Errorf("unknown fault point %q; the points are %v, %v and %v", n, Points, VolumePoints, ObjectPoints)
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
