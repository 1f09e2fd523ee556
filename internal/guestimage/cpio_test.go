package guestimage

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cpioEntry is one parsed newc entry.
type cpioEntry struct {
	Name                string
	Mode, UID, GID      uint32
	RdevMajor, RdevMinr uint32
	Data                string
}

// readCPIO parses a newc archive up to its trailer, checking magic and
// alignment, and returns the entries and the inode numbers seen.
func readCPIO(t *testing.T, b []byte) ([]cpioEntry, []uint32) {
	t.Helper()
	var out []cpioEntry
	var inos []uint32
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d field %d: %v", off, i, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off%4 != 0 {
			t.Fatalf("entry at %d not 4-byte aligned", off)
		}
		if got := string(b[off : off+6]); got != "070701" {
			t.Fatalf("magic at %d = %q", off, got)
		}
		ino, mode, uid, gid := field(0), field(1), field(2), field(3)
		size, rmaj, rmin, namesize, check := field(6), field(9), field(10), field(11), field(12)
		if check != 0 {
			t.Fatalf("check field %d", check)
		}
		nameEnd := off + 110 + int(namesize)
		if b[nameEnd-1] != 0 {
			t.Fatalf("name at %d not NUL-terminated", off)
		}
		name := string(b[off+110 : nameEnd-1])
		dataOff := align(nameEnd)
		data := string(b[dataOff : dataOff+int(size)])
		off = align(dataOff + int(size))
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out, inos
		}
		out = append(out, cpioEntry{name, mode, uid, gid, rmaj, rmin, data})
		inos = append(inos, ino)
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	steps := []error{
		w.Dir("/etc", 0o755),
		w.File("/etc/hostname", 0o644, []byte("tiny\n")),
		w.File("etc/empty", 0o600, nil),
		w.File("/odd", 0o755, []byte("12345")), // name and data both need padding
		w.Symlink("/init", "/bin/busybox"),
		w.CharDev("/dev/console", 0o600, 5, 1),
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, inos := readCPIO(t, buf.Bytes())
	want := []cpioEntry{
		{Name: "etc", Mode: 0o40755},
		{Name: "etc/hostname", Mode: 0o100644, Data: "tiny\n"},
		{Name: "etc/empty", Mode: 0o100600},
		{Name: "odd", Mode: 0o100755, Data: "12345"},
		{Name: "init", Mode: 0o120777, Data: "/bin/busybox"},
		{Name: "dev/console", Mode: 0o20600, RdevMajor: 5, RdevMinr: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	seen := map[uint32]bool{}
	for _, ino := range inos {
		if seen[ino] {
			t.Errorf("inode %d used twice: the kernel would hard-link the entries", ino)
		}
		seen[ino] = true
	}
	if err := w.File("/late", 0o644, nil); err == nil {
		t.Error("write after Close succeeded")
	}

	// The system cpio, when present, must read the archive as we do.
	if _, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command("cpio", "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("cpio -it: %v", err)
		}
		if diff := cmp.Diff("etc\netc/hostname\netc/empty\nodd\ninit\ndev/console\n", string(out)); diff != "" {
			t.Errorf("cpio -it (-want +got):\n%s", diff)
		}
	}
}

func TestCPIOWriterRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "/", "TRAILER!!!"} {
		w := newCPIOWriter(io.Discard)
		if err := w.File(name, 0o644, nil); err == nil {
			t.Errorf("File(%q) succeeded", name)
		}
	}
}

func TestRootfsArchive(t *testing.T) {
	fs := newRootfs()
	fs.file("/usr/bin/jsonflat", 0o755, []byte("x"))
	fs.symlink("/a-b", "/a/b")
	fs.file("/a/b", 0o644, []byte("b"))
	fs.dir("/tmp", 0o1777)
	var gz bytes.Buffer
	if err := fs.writeGzipCPIO(&gz); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&gz)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := readCPIO(t, raw)
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %o", e.Name, e.Mode))
	}
	// Parents come first and are made when missing; ownership is 0:0.
	want := []string{"a 40755", "a/b 100644", "a-b 120777", "tmp 41777", "usr 40755", "usr/bin 40755", "usr/bin/jsonflat 100755"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
	for _, e := range entries {
		if e.UID != 0 || e.GID != 0 {
			t.Errorf("%s owned by %d:%d", e.Name, e.UID, e.GID)
		}
	}
}
