package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/qmp"
)

// The pool's one qemu-storage-daemon serves every exported volume on one
// NBD unix socket, each volume an export named by its id. It is started on
// demand with -daemonize (it outlives the agent: guests keep their disks
// while the agent restarts), found again through its pid file, and exports
// come and go live over its monitor. Which volumes are exported is kept in
// DIR/exports, so a daemon started again (after a host reboot or a crash)
// serves them again, and guests' NBD clients reconnect.

func (p *Pool) pidFile() string { return filepath.Join(p.cfg.RunDir, "qsd.pid") }
func (p *Pool) qmpSock() string { return filepath.Join(p.cfg.RunDir, "qsd.qmp") }

// NBDSocket is the unix socket guests' NBD clients connect to.
func (p *Pool) NBDSocket() string { return filepath.Join(p.cfg.RunDir, "nbd.sock") }

// nodeName is the daemon's block node of a volume: node names are limited
// to 31 characters, a UUID has 36.
func nodeName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "v" + hex.EncodeToString(sum[:12])
}

// exportID is the daemon's id of a volume's export: QMP ids start with a
// letter, a UUID may not. (The NBD export name is the volume id.)
func exportID(id string) string { return "x" + nodeName(id)[1:] }

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Address is the NBD address of an exported volume, as QEMU opens it.
func (p *Pool) Address(id string) string {
	return "nbd+unix:///" + id + "?socket=" + url.QueryEscape(p.NBDSocket())
}

// Export makes the volume reachable by guests over NBD and returns its
// address.
func (p *Pool) Export(ctx context.Context, id string) (string, error) {
	if err := checkID("volume", id); err != nil {
		return "", err
	}
	defer p.lock(id)()
	if !exists(p.volPath(id)) {
		return "", fmt.Errorf("volume %s does not exist in the storage pool %s; check the volume's host", id, p.cfg.Dir)
	}
	if err := os.WriteFile(p.exportMark(id), nil, 0o600); err != nil {
		return "", err
	}
	err := p.monitor(ctx, func(q *qmp.Conn) error { return p.ensureExport(ctx, q, id) })
	if err != nil {
		return "", fmt.Errorf("export volume %s: %w", id, err)
	}
	return p.Address(id), nil
}

// Exports lists the volumes exported (their marks in DIR/exports, which a
// restarted daemon serves again), for the volume worker to unexport those
// no attachment uses any more.
func (p *Pool) Exports(context.Context) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(p.cfg.Dir, "exports"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var ids []string
	for _, e := range ents {
		if checkID("volume", e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, err
}

// ensureExport adds the volume's node and NBD export unless present.
func (p *Pool) ensureExport(ctx context.Context, q *qmp.Conn, id string) error {
	exports, nodes, err := p.query(ctx, q)
	if err != nil {
		return err
	}
	if exports[exportID(id)] {
		return nil
	}
	node := nodeName(id)
	if !nodes[node] {
		_, err := q.Exec(ctx, "blockdev-add", map[string]any{
			"driver": "qcow2", "node-name": node, "discard": "unmap",
			"file": map[string]any{"driver": "file", "filename": p.volPath(id), "aio": "threads"},
		})
		if err != nil {
			return fmt.Errorf("open the volume in the storage daemon: %w", err)
		}
	}
	if _, err := q.Exec(ctx, "block-export-add", map[string]any{
		"type": "nbd", "id": exportID(id), "node-name": node, "name": id, "writable": true,
	}); err != nil {
		return fmt.Errorf("add the NBD export: %w", err)
	}
	p.log.Info("volume exported", "volume_id", id, "socket", p.NBDSocket())
	return nil
}

// query returns the daemon's exports (by id) and block nodes (by name).
func (p *Pool) query(ctx context.Context, q *qmp.Conn) (exports, nodes map[string]bool, err error) {
	raw, err := q.Exec(ctx, "query-block-exports", nil)
	if err != nil {
		return nil, nil, err
	}
	var ex []struct {
		ID       string `json:"id"`
		Shutting bool   `json:"shutting-down"`
	}
	_ = json.Unmarshal(raw, &ex)
	exports = map[string]bool{}
	for _, e := range ex {
		exports[e.ID] = !e.Shutting
	}
	raw, err = q.Exec(ctx, "query-named-block-nodes", map[string]any{"flat": true})
	if err != nil {
		return nil, nil, err
	}
	var ns []struct {
		Node string `json:"node-name"`
	}
	_ = json.Unmarshal(raw, &ns)
	nodes = map[string]bool{}
	for _, n := range ns {
		nodes[n.Node] = true
	}
	return exports, nodes, nil
}

// Unexport stops serving the volume. A guest still connected to it keeps
// it exported: detach the volume from the guest first.
func (p *Pool) Unexport(ctx context.Context, id string) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	defer p.lock(id)()
	marked := exists(p.exportMark(id))
	if !marked && !p.running() {
		return nil
	}
	err := p.monitor(ctx, func(q *qmp.Conn) error {
		exports, nodes, err := p.query(ctx, q)
		if err != nil {
			return err
		}
		if _, ok := exports[exportID(id)]; ok {
			// safe mode: refused while a guest's NBD client is connected.
			// A client that just disconnected may take a moment to go.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err = q.Exec(ctx, "block-export-del", map[string]any{"id": exportID(id), "mode": "safe"})
				if err == nil || time.Now().After(deadline) {
					break
				}
				var qe *qmp.Error
				if !errors.As(err, &qe) || !strings.Contains(qe.Desc, "in use") {
					break
				}
				if sleep(ctx, 100*time.Millisecond) != nil {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("stop the NBD export (a guest still uses the volume? detach it first): %w", err)
			}
		}
		// The export is deleted asynchronously; its node is free after.
		for deadline := time.Now().Add(10 * time.Second); ; {
			exports, nodes, err = p.query(ctx, q)
			if err != nil {
				return err
			}
			if _, ok := exports[exportID(id)]; !ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the NBD export of volume %s does not go away; a guest still holds it", id)
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
		if nodes[nodeName(id)] {
			if _, err := q.Exec(ctx, "blockdev-del", map[string]any{"node-name": nodeName(id)}); err != nil {
				return fmt.Errorf("close the volume in the storage daemon: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unexport volume %s: %w", id, err)
	}
	if err := removeIfExists(p.exportMark(id)); err != nil {
		return err
	}
	if marked {
		p.log.Info("volume unexported", "volume_id", id)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// monitor runs fn on the storage daemon's monitor, starting the daemon
// first if it does not run.
func (p *Pool) monitor(ctx context.Context, fn func(q *qmp.Conn) error) error {
	p.daemonMu.Lock()
	defer p.daemonMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	started := false
	if p.pid() == 0 {
		if err := p.start(ctx); err != nil {
			return err
		}
		started = true
	}
	q, err := qmp.Dial(ctx, p.qmpSock())
	if err != nil {
		return fmt.Errorf("connect to the storage daemon's monitor %s (check that %s is writable, or stop its process): %w", p.qmpSock(), p.cfg.RunDir, err)
	}
	defer q.Close()
	if started {
		p.restoreExports(ctx, q)
	}
	return fn(q)
}

// restoreExports serves again the volumes that were exported when a
// previous daemon ended. The caller holds one volume's lock at most; a
// volume busy in another step is exported by that step's next Export.
func (p *Pool) restoreExports(ctx context.Context, q *qmp.Conn) {
	ents, err := os.ReadDir(filepath.Join(p.cfg.Dir, "exports"))
	if err != nil {
		return
	}
	for _, e := range ents {
		id := e.Name()
		if checkID("volume", id) != nil || !exists(p.volPath(id)) {
			continue
		}
		if err := p.ensureExport(ctx, q, id); err != nil {
			p.log.Warn("cannot export a volume again after the storage daemon restarted", "volume_id", id, "error", err)
		}
	}
}

// start launches the storage daemon and waits until it serves.
func (p *Pool) start(ctx context.Context) error {
	bin, err := exec.LookPath(p.cfg.Daemon)
	if err != nil {
		return fmt.Errorf("%s not found: install Debian's qemu-system-common package (apt-get install qemu-system-x86 qemu-utils)", p.cfg.Daemon)
	}
	if err := os.MkdirAll(p.cfg.RunDir, 0o700); err != nil {
		return fmt.Errorf("create the storage daemon's runtime directory: %w", err)
	}
	for _, f := range []string{p.qmpSock(), p.NBDSocket(), p.pidFile()} {
		_ = os.Remove(f)
	}
	cmd := exec.CommandContext(ctx, bin,
		"--chardev", "socket,id=mon0,path="+p.qmpSock()+",server=on,wait=off",
		"--monitor", "chardev=mon0",
		"--nbd-server", "addr.type=unix,addr.path="+p.NBDSocket(),
		"--pidfile", p.pidFile(),
		"--daemonize")
	cmd.Dir = p.cfg.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-storage-daemon did not start: %s; check that %s is writable", lastLine(out, err), p.cfg.RunDir)
	}
	p.log.Info("storage daemon started", "pid", p.pid(), "socket", p.NBDSocket())
	return nil
}

func lastLine(out []byte, err error) string {
	line := ""
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			line = l
		}
	}
	if line == "" {
		line = err.Error()
	}
	return line
}

// pid returns the storage daemon's process, or 0 when none runs. The pid
// file alone is not proof: the process must be a qemu-storage-daemon
// serving this pool's socket.
func (p *Pool) pid() int {
	b, err := os.ReadFile(p.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmd, []byte("qemu-storage-daemon")) || !bytes.Contains(cmd, []byte("path="+p.qmpSock()+",")) {
		return 0
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
			return 0
		}
	}
	return pid
}

func (p *Pool) running() bool { return p.pid() != 0 }

// DaemonPID is the storage daemon's process id, 0 when none runs.
func (p *Pool) DaemonPID() int { return p.pid() }

// Stop ends the storage daemon (by its pid) after it has flushed its
// volumes. Exports are kept in DIR/exports: the next Export or volume
// operation starts the daemon again and serves them.
func (p *Pool) Stop(ctx context.Context) error {
	p.daemonMu.Lock()
	defer p.daemonMu.Unlock()
	pid := p.pid()
	if pid == 0 {
		_ = os.Remove(p.cfg.RunDir) // only when empty: nothing of a running daemon
		return nil
	}
	if q, err := qmp.Dial(ctx, p.qmpSock()); err == nil {
		_, _ = q.Exec(ctx, "quit", nil)
		q.Close()
	} else {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(10 * time.Second); p.pid() != 0; {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	for _, f := range []string{p.qmpSock(), p.NBDSocket(), p.pidFile(), p.cfg.RunDir} {
		_ = os.Remove(f) // the directory only once empty
	}
	p.log.Info("storage daemon stopped", "pid", pid)
	return nil
}

// StopDaemon ends the storage daemon of the pool in dir, if one runs, and
// removes its runtime directory: for `onestack cleanup` after a crash,
// once the guests that read volumes through it are gone. It creates
// nothing and returns the daemon's pid (0 when none ran).
func StopDaemon(ctx context.Context, dir string) (int, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	p := &Pool{cfg: Config{Dir: abs, RunDir: runDirFor(abs)}, log: slog.New(slog.DiscardHandler), locks: map[string]*sync.Mutex{}}
	pid := p.pid()
	if err := p.Stop(ctx); err != nil {
		return pid, fmt.Errorf("stop the storage daemon (pid %d) of %s: %w", pid, abs, err)
	}
	for _, f := range []string{p.qmpSock(), p.NBDSocket(), p.pidFile()} {
		_ = os.Remove(f) // left by a daemon that was killed
	}
	if err := os.Remove(p.cfg.RunDir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return pid, fmt.Errorf("remove the storage daemon's runtime directory: %w", err)
	}
	return pid, nil
}
