package guestimage

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	sectorSize = 512
	// partStart is where the boot partition begins: 1 MiB, as partitioning
	// tools align it.
	partStart = 1 << 20
	// mbrCode is syslinux's MBR boot code: it boots the active partition.
	mbrCode = "/usr/lib/syslinux/mbr/mbr.bin"
	// bootLabel is the FAT volume label of the boot partition.
	bootLabel = "ONESTACK"
	// kernelCmdline: the serial port comes last so that it is /dev/console,
	// where /init writes and what Nova's console log records.
	kernelCmdline = "console=tty0 console=ttyS0,115200n8 quiet"
)

// syslinuxCfg boots the kernel at once; the serial line shows syslinux too.
const syslinuxCfg = `SERIAL 0 115200
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND ` + kernelCmdline + `
`

// makeDisk writes a raw disk image: an MBR (syslinux boot code, one
// active FAT16 partition at 1 MiB) whose file system holds syslinux, its
// configuration, the kernel and the initramfs. Everything is done on the
// image file with mtools and syslinux's mtools installer: no loop device,
// no mount, no root.
func makeDisk(ctx context.Context, raw, kernel, initrd string) error {
	cfg := filepath.Join(filepath.Dir(raw), "syslinux.cfg")
	if err := os.WriteFile(cfg, []byte(syslinuxCfg), 0o644); err != nil {
		return err
	}
	var payload int64
	for _, f := range []string{kernel, initrd, cfg} {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		payload += st.Size()
	}
	// Room for syslinux (~150 KiB), FAT tables and slack; whole MiBs.
	partSize := (payload + payload/8 + 2<<20 + (1<<20 - 1)) &^ (1<<20 - 1)
	if err := os.WriteFile(raw, nil, 0o644); err != nil {
		return err
	}
	if err := os.Truncate(raw, partStart+partSize); err != nil {
		return err
	}
	offset := strconv.Itoa(partStart)
	steps := [][]string{
		{"mkfs.fat", "-F", "16", "-n", bootLabel, "-h", strconv.Itoa(partStart / sectorSize),
			"--offset", strconv.Itoa(partStart / sectorSize), "--mbr=n", raw, strconv.FormatInt(partSize/1024, 10)},
		{"syslinux", "--offset", offset, "--install", raw},
		{"mcopy", "-i", raw + "@@" + offset, kernel, "::/vmlinuz"},
		{"mcopy", "-i", raw + "@@" + offset, initrd, "::/initrd.gz"},
		{"mcopy", "-i", raw + "@@" + offset, cfg, "::/syslinux.cfg"},
	}
	for _, s := range steps {
		if err := runTool(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return writeMBR(raw, partStart/sectorSize, partSize/sectorSize)
}

// writeMBR puts syslinux's boot code and a partition table with one
// active FAT16 (LBA) partition into the first sector.
func writeMBR(raw string, startLBA, sectors int64) error {
	code, err := os.ReadFile(mbrCode)
	if err != nil {
		return fmt.Errorf("syslinux MBR code: %w", err)
	}
	if len(code) > 440 {
		return fmt.Errorf("%s is %d bytes, more than the 440 an MBR holds", mbrCode, len(code))
	}
	var mbr [sectorSize]byte
	copy(mbr[:], code)
	binary.LittleEndian.PutUint32(mbr[440:], 0x0e57ac4b) // disk signature
	p := mbr[446:462]
	p[0] = 0x80                 // active
	copy(p[1:4], chs(startLBA)) // first sector, CHS
	p[4] = 0x0e                 // FAT16, LBA
	copy(p[5:8], chs(startLBA+sectors-1))
	binary.LittleEndian.PutUint32(p[8:], uint32(startLBA))
	binary.LittleEndian.PutUint32(p[12:], uint32(sectors))
	mbr[510], mbr[511] = 0x55, 0xaa
	f, err := os.OpenFile(raw, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(mbr[:], 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// chs encodes an LBA in the legacy 255-head, 63-sector geometry, or the
// "use LBA" maximum past 1024 cylinders.
func chs(lba int64) []byte {
	const heads, spt = 255, 63
	c := lba / (heads * spt)
	if c > 1023 {
		return []byte{0xfe, 0xff, 0xff}
	}
	h := (lba / spt) % heads
	s := lba%spt + 1
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

// toQCOW2 converts the raw image to a compressed qcow2 file.
func toQCOW2(ctx context.Context, raw, out string) error {
	return runTool(ctx, "qemu-img", "convert", "-q", "-c", "-f", "raw", "-O", "qcow2", raw, out)
}

// runTool runs a host tool, folding its output into the error.
func runTool(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
