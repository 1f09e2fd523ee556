package bench

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listenerPID finds the process listening on the TCP port of a local URL:
// the socket's inode from /proc/net/tcp{,6}, then the process holding a
// descriptor on it. It returns 0 when it cannot tell (another user's
// process, a remote cloud).
func listenerPID(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, ino := range listeningInodes(f, uint16(p)) {
			inodes["socket:["+ino+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err == nil && inodes[target] {
				pid, _ := strconv.Atoi(filepath.Base(dir))
				return pid
			}
		}
	}
	return 0
}

// listeningInodes returns the inodes of sockets in LISTEN state on port.
func listeningInodes(file string, port uint16) []string {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	want := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
		if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) {
			continue
		}
		out = append(out, fields[9])
	}
	return out
}

// procStatusKB reads one "kB" field (VmHWM, VmRSS) of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// dbSize is the bytes of the SQLite store in dataDir (the database and
// its write-ahead log); ok is false when there is none.
func dbSize(dataDir string) (int64, bool) {
	if dataDir == "" {
		return 0, false
	}
	var total int64
	found := false
	for _, name := range []string{"onestack.db", "onestack.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			total += fi.Size()
			found = found || name == "onestack.db"
		}
	}
	return total, found
}

// ListenerPID finds the local process serving rawURL (0 when unknown).
func ListenerPID(rawURL string) int { return listenerPID(rawURL) }
