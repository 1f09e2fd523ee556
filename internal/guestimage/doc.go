// Package guestimage builds the tiny test guest image: a bootable qcow2
// assembled on the host from Debian packages (the cloud kernel, a static
// busybox, dropbear and the few shared libraries it needs), with no root
// privileges, loop mounts or chroots. The guest reads an OpenStack config
// drive or the metadata service, sets its hostname and SSH keys, runs a
// "#!" user-data script and prints ReadyMarker on its serial console.
//
// Layer: a host-side tool below cmd/onestack ('onestack image build-tiny')
// and beside the qemu driver, which calls Kernel to probe whether KVM
// really works. It imports no other onestack package; it runs apt-get,
// apt-cache, dpkg-deb, mkfs.fat, mcopy, syslinux and qemu-img.
package guestimage
