package guestimage

import (
	"fmt"
	"io"
	"strings"
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// kernel unpacks as an initramfs. Every entry is owned by 0:0 and dated
// at the epoch, so the archive depends only on its contents and needs no
// root to build (device nodes are plain headers here).
type cpioWriter struct {
	w      io.Writer
	ino    uint32
	err    error
	closed bool
}

// Mode bits of the newc header, as in stat(2).
const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

func newCPIOWriter(w io.Writer) *cpioWriter { return &cpioWriter{w: w} }

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm uint32) error {
	return c.entry(name, modeDir|perm&0o7777, 0, 0, nil)
}

// File adds a regular file with the given contents.
func (c *cpioWriter) File(name string, perm uint32, data []byte) error {
	return c.entry(name, modeFile|perm&0o7777, 0, 0, data)
}

// Symlink adds a symbolic link name -> target.
func (c *cpioWriter) Symlink(name, target string) error {
	return c.entry(name, modeSymlink|0o777, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.entry(name, modeCharDev|perm&0o7777, major, minor, nil)
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if c.closed {
		return c.err
	}
	c.closed = true
	c.header("TRAILER!!!", 0, 0, 0, 0, 1)
	return c.err
}

func (c *cpioWriter) entry(name string, mode, rmajor, rminor uint32, data []byte) error {
	if c.closed {
		return fmt.Errorf("cpio: write after close")
	}
	name = strings.TrimPrefix(name, "/")
	if name == "" || name == "TRAILER!!!" {
		return fmt.Errorf("cpio: invalid entry name %q", name)
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	c.header(name, c.ino, mode, uint32(len(data)), rmajor<<16|rminor, nlink)
	c.write(data)
	c.pad(len(data))
	return c.err
}

// header writes the 110-byte header, the name, its NUL and the padding
// that aligns what follows to four bytes. rdev packs major<<16|minor.
func (c *cpioWriter) header(name string, ino, mode, size, rdev, nlink uint32) {
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size,
		0, 0, // dev major, minor: of the archive's file system, unused
		rdev>>16, rdev&0xffff,
		len(name)+1, 0)
	c.write([]byte(h))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad(len(h) + len(name) + 1)
}

func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil || len(b) == 0 {
		return
	}
	_, c.err = c.w.Write(b)
}
