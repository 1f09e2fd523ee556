// Package qemu is the hypervisor driver that runs real guests: one
// qemu-system-x86_64 process per guest, started directly (no libvirt) with
// KVM where it really works and software emulation (TCG) elsewhere. It is
// a driver, below the agent: it knows files, processes and QMP, never the
// store or the APIs.
//
// A guest's state lives only on disk, under DIR/guests/ID: its disks
// (qcow2 overlays on the host's image cache in DIR/images), spec, pid
// file and console log, with its QMP and serial sockets in a short runtime
// directory. QEMU daemonizes, so guests outlive the agent; a restarted
// agent finds each one again through its pid file and QMP socket.
package qemu
