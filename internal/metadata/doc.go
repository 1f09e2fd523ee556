// Package metadata renders what a guest learns about itself: Nova's
// instance metadata, as served on 169.254.169.254 and as written to a
// config drive.
//
// It is shared plumbing below the drivers and services: the qemu driver
// calls [WriteConfigDrive] while building a server, and the metadata HTTP
// service answers each guest request with [Lookup]. It imports nothing from
// the rest of onestack; callers fill an [Instance] from their own domain
// types.
//
// The output follows nova/api/metadata/base.py and nova/virt/configdrive.py
// so that cloud-init, cloudbase-init, glean and other guest agents written
// against Nova work unchanged: the same versions, the same files per
// version, the same keys gated by the same versions, and the same listing
// format (one entry a line, directories ending in "/", "0=keyname" for EC2
// public keys). Where onestack has no equivalent of a Nova value (integer
// database ids, the requester's address), the Instance field docs say what
// is used instead.
package metadata
