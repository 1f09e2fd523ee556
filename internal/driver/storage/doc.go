// Package storage is a host's volume pool (driver layer): one qcow2 file
// per volume in a directory, snapshots kept inside the volume's file
// (qcow2 internal snapshots: taken in one metadata update, so they are
// consistent and cost no copy), clones and volumes from images or
// snapshots written with qemu-img, and one qemu-storage-daemon serving
// every exported volume to guests over NBD on a unix socket.
//
// It implements the volume service's Backend.
package storage
