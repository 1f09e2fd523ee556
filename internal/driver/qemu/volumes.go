package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/qmp"
)

// Volumes are virtio-blk disks on the storage pool's NBD exports. Each
// sits on its own PCIe root port (q35 plugs and unplugs only there): a
// guest started with volumes gets them on its command line, a running
// guest gets them with QMP blockdev-add + device_add and loses them with
// device_del (which the guest's OS must accept) + blockdev-del. Names of
// nodes and devices derive from the attachment id, and DIR/volumes.json
// records which port each plugged attachment holds.

// volumePorts is how many volumes a guest can have (its root ports for
// volumes; the hotplug ports stay for NICs).
const volumePorts = 8

// unplugTimeout is how long a guest gets to release a volume: Linux's
// PCIe hot-plug driver waits 5 s after the attention button before it
// removes the device, and a TCG guest is slow.
var unplugTimeout = 60 * time.Second

// plugged is one volume the guest has, on its port.
type plugged struct {
	hostapi.GuestVolume
	Port int `json:"port"`
}

func (g *guest) volumesFile() string { return filepath.Join(g.dir, "volumes.json") }

func (g *guest) readPlugged() []plugged {
	var ps []plugged
	b, err := os.ReadFile(g.volumesFile())
	if err == nil {
		_ = json.Unmarshal(b, &ps)
	}
	return ps
}

func (g *guest) writePlugged(ps []plugged) error {
	if len(ps) == 0 {
		if err := os.Remove(g.volumesFile()); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	b, _ := json.Marshal(ps)
	return writeFileAtomic(g.volumesFile(), b)
}

func attHash(att string) string {
	sum := sha256.Sum256([]byte(att))
	return hex.EncodeToString(sum[:12])
}

// volNode and volDevice are an attachment's block node and device ids
// (QMP ids start with a letter; node names are at most 31 bytes).
func volNode(att string) string   { return "vn" + attHash(att) }
func volDevice(att string) string { return "vd" + attHash(att) }
func volPort(n int) string        { return fmt.Sprintf("volport%d", n) }

func serial(v hostapi.GuestVolume) string {
	s := v.Serial
	if s == "" {
		s = v.VolumeID
	}
	if len(s) > 20 { // virtio-blk's serial holds 20 bytes
		s = s[:20]
	}
	return s
}

// nbdServer turns a volume's export address into QEMU's nbd blockdev
// options: nbd+unix:///EXPORT?socket=PATH or nbd://HOST:PORT/EXPORT.
func nbdServer(addr string) (server map[string]any, export string, err error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, "", fmt.Errorf("volume export address %q is not a URI: %w", addr, err)
	}
	export = strings.TrimPrefix(u.Path, "/")
	switch u.Scheme {
	case "nbd+unix":
		sock := u.Query().Get("socket")
		if sock == "" || export == "" {
			return nil, "", fmt.Errorf("volume export address %q needs an export name and ?socket=", addr)
		}
		return map[string]any{"type": "unix", "path": sock}, export, nil
	case "nbd":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			host, port = u.Host, "10809"
		}
		if host == "" || export == "" {
			return nil, "", fmt.Errorf("volume export address %q needs a host and an export name", addr)
		}
		return map[string]any{"type": "inet", "host": host, "port": port}, export, nil
	}
	return nil, "", fmt.Errorf("volume export address %q is not an NBD address (nbd+unix:// or nbd://)", addr)
}

// blockdev is the nbd block node of a volume. reconnect-delay: a storage
// daemon that restarts is reconnected to, and the guest's I/O waits for
// it instead of failing.
func blockdev(v hostapi.GuestVolume) (map[string]any, error) {
	server, export, err := nbdServer(v.Export)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"driver": "nbd", "node-name": volNode(v.AttachmentID), "server": server, "export": export,
		"read-only": v.ReadOnly, "reconnect-delay": 15,
	}, nil
}

func volumeDevice(p plugged) map[string]any {
	dev := map[string]any{
		"driver": "virtio-blk-pci", "id": volDevice(p.AttachmentID), "drive": volNode(p.AttachmentID),
		"bus": volPort(p.Port), "serial": serial(p.GuestVolume),
	}
	if p.BootIndex >= 0 {
		dev["bootindex"] = p.BootIndex
	}
	return dev
}

// checkVolumes refuses desired volumes QEMU could not open, before any
// change to the guest.
func checkVolumes(want hostapi.Guest) error {
	if len(want.Volumes) > volumePorts {
		return fmt.Errorf("the server has %d volumes; a guest takes at most %d: detach some", len(want.Volumes), volumePorts)
	}
	for _, v := range want.Volumes {
		if v.AttachmentID == "" {
			return fmt.Errorf("volume %s has no attachment id", v.VolumeID)
		}
		if _, err := blockdev(v); err != nil {
			return fmt.Errorf("volume %s: %w", v.VolumeID, err)
		}
	}
	return nil
}

// volumeArgs is the command line of the guest's volume ports and of the
// volumes it starts with, and records them as plugged. A guest restored
// from a suspend gets exactly the volumes it had when saved.
func (d *Driver) volumeArgs(g *guest, want hostapi.Guest, restore bool) []string {
	var a []string
	for i := 1; i <= volumePorts; i++ {
		a = append(a, "-device", fmt.Sprintf("pcie-root-port,id=%s,chassis=%d,bus=pcie.0", volPort(i), 32+i))
	}
	var ps []plugged
	if restore {
		ps = g.readPlugged()
	} else {
		for i, v := range want.Volumes {
			ps = append(ps, plugged{GuestVolume: v, Port: i + 1})
		}
		if err := g.writePlugged(ps); err != nil {
			d.log.Warn("cannot record the guest's volumes", "server_id", g.id, "error", err)
		}
	}
	for _, p := range ps {
		node, err := blockdev(p.GuestVolume)
		if err != nil {
			continue // checkVolumes refused it before
		}
		nb, _ := json.Marshal(node)
		db, _ := json.Marshal(volumeDevice(p))
		a = append(a, "-blockdev", string(nb), "-device", string(db))
	}
	return a
}

// SyncVolumes makes a running guest's volumes match want.Volumes: it
// plugs the new ones and unplugs the ones no longer wanted. It returns the
// attachment ids the guest has afterwards and, per attachment, why a
// change failed (nil, nil for a guest that has and wants none). A guest
// that does not run gets its volumes at its next start, so they count as
// attached.
func (d *Driver) SyncVolumes(ctx context.Context, want hostapi.Guest) (attached []string, errs map[string]string) {
	g := d.guest(want.ServerID)
	have := g.readPlugged()
	if len(have) == 0 && len(want.Volumes) == 0 {
		return nil, nil // no volumes, none to report on
	}
	errs = map[string]string{}
	attached = []string{}
	if g.pid() == 0 {
		for _, v := range want.Volumes {
			attached = append(attached, v.AttachmentID)
		}
		return attached, errs
	}
	ctx, cancel := context.WithTimeout(ctx, unplugTimeout+30*time.Second)
	defer cancel()
	q, err := qmp.Dial(ctx, g.qmpSock())
	if err != nil {
		for _, v := range want.Volumes {
			errs[v.AttachmentID] = fmt.Sprintf("attach volume %s: cannot reach the guest's QEMU on %s: %v", v.VolumeID, d.cfg.Host, err)
		}
		for _, p := range have {
			attached = append(attached, p.AttachmentID)
		}
		return attached, errs
	}
	defer q.Close()
	wanted := map[string]hostapi.GuestVolume{}
	for _, v := range want.Volumes {
		wanted[v.AttachmentID] = v
	}
	// Unplug first: it frees ports for the new ones.
	var keep []plugged
	for _, p := range have {
		if _, ok := wanted[p.AttachmentID]; ok {
			keep = append(keep, p)
			continue
		}
		if p.BootIndex == 0 {
			errs[p.AttachmentID] = fmt.Sprintf("volume %s is the guest's root disk; it cannot be detached while the server runs", p.VolumeID)
			keep = append(keep, p)
			continue
		}
		if err := d.unplug(ctx, q, g, p); err != nil {
			errs[p.AttachmentID] = err.Error()
			keep = append(keep, p)
			continue
		}
		d.log.Info("volume detached", "server_id", g.id, "volume_id", p.VolumeID, "attachment_id", p.AttachmentID)
	}
	have = keep
	if err := g.writePlugged(have); err != nil {
		d.log.Warn("cannot record the guest's volumes", "server_id", g.id, "error", err)
	}
	devices, err := qomDevices(ctx, q)
	if err != nil {
		for _, v := range want.Volumes {
			errs[v.AttachmentID] = fmt.Sprintf("attach volume %s: %v", v.VolumeID, err)
		}
		return plugIDs(have, errs), errs
	}
	isPlugged := map[string]bool{}
	for _, p := range have {
		isPlugged[p.AttachmentID] = true
	}
	for _, v := range want.Volumes {
		if isPlugged[v.AttachmentID] {
			if !devices[volDevice(v.AttachmentID)] {
				// Recorded but gone (a crash between record and plug):
				// plug it again on its port, or forget it.
				for i, p := range have {
					if p.AttachmentID == v.AttachmentID {
						if err := d.plug(ctx, q, g, p); err != nil {
							errs[v.AttachmentID] = err.Error()
							have = append(have[:i:i], have[i+1:]...)
							_ = g.writePlugged(have)
						}
						break
					}
				}
			}
			continue
		}
		port := freePort(have)
		if port == 0 {
			errs[v.AttachmentID] = fmt.Sprintf("attach volume %s: the guest has no free volume slot (at most %d volumes); detach one first", v.VolumeID, volumePorts)
			continue
		}
		p := plugged{GuestVolume: v, Port: port}
		have = append(have, p)
		if err := g.writePlugged(have); err != nil {
			errs[v.AttachmentID] = fmt.Sprintf("attach volume %s: record it: %v", v.VolumeID, err)
			have = have[:len(have)-1]
			continue
		}
		if err := d.plug(ctx, q, g, p); err != nil {
			errs[v.AttachmentID] = err.Error()
			have = have[:len(have)-1]
			_ = g.writePlugged(have)
			continue
		}
		d.log.Info("volume attached", "server_id", g.id, "volume_id", v.VolumeID, "attachment_id", v.AttachmentID, "port", volPort(port))
	}
	return plugIDs(have, errs), errs
}

// plugIDs are the attachments the guest has (a failed detach keeps its
// volume).
func plugIDs(ps []plugged, _ map[string]string) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.AttachmentID)
	}
	return out
}

func freePort(ps []plugged) int {
	used := map[int]bool{}
	for _, p := range ps {
		used[p.Port] = true
	}
	for i := 1; i <= volumePorts; i++ {
		if !used[i] {
			return i
		}
	}
	return 0
}

// plug adds the volume's node and device to the running guest.
func (d *Driver) plug(ctx context.Context, q *qmp.Conn, g *guest, p plugged) error {
	nodes, err := blockNodes(ctx, q)
	if err != nil {
		return fmt.Errorf("attach volume %s: %w", p.VolumeID, err)
	}
	if !nodes[volNode(p.AttachmentID)] {
		node, err := blockdev(p.GuestVolume)
		if err != nil {
			return fmt.Errorf("attach volume %s: %w", p.VolumeID, err)
		}
		if _, err := q.Exec(ctx, "blockdev-add", node); err != nil {
			return fmt.Errorf("attach volume %s: QEMU cannot open its export %s (is the storage pool's qemu-storage-daemon running and the volume exported?): %w", p.VolumeID, p.Export, err)
		}
	}
	if _, err := q.Exec(ctx, "device_add", volumeDevice(p)); err != nil {
		_, _ = q.Exec(ctx, "blockdev-del", map[string]any{"node-name": volNode(p.AttachmentID)})
		return fmt.Errorf("attach volume %s: QEMU cannot add the disk to the guest: %w", p.VolumeID, err)
	}
	return nil
}

// unplug asks the guest to release the volume's device, waits until it
// has, then closes the node.
func (d *Driver) unplug(ctx context.Context, q *qmp.Conn, g *guest, p plugged) error {
	dev := volDevice(p.AttachmentID)
	devices, err := qomDevices(ctx, q)
	if err != nil {
		return fmt.Errorf("detach volume %s: %w", p.VolumeID, err)
	}
	if devices[dev] {
		if _, err := q.Exec(ctx, "device_del", map[string]any{"id": dev}); err != nil {
			var qe *qmp.Error
			// A device_del already pending is repeated harmlessly.
			if !errors.As(err, &qe) || !(strings.Contains(qe.Desc, "in progress") || strings.Contains(qe.Desc, "pending")) {
				return fmt.Errorf("detach volume %s: %w", p.VolumeID, err)
			}
		}
		deadline := time.Now().Add(unplugTimeout)
		for {
			devices, err := qomDevices(ctx, q)
			if err != nil {
				return fmt.Errorf("detach volume %s: %w", p.VolumeID, err)
			}
			if !devices[dev] {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("detach volume %s: the guest did not release the disk within %s after the unplug request (its OS ignores PCIe hot-unplug, or it is still booting); detach again once it runs, or stop the server and detach", p.VolumeID, unplugTimeout)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("detach volume %s: %w", p.VolumeID, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	nodes, err := blockNodes(ctx, q)
	if err != nil {
		return fmt.Errorf("detach volume %s: %w", p.VolumeID, err)
	}
	if nodes[volNode(p.AttachmentID)] {
		if _, err := q.Exec(ctx, "blockdev-del", map[string]any{"node-name": volNode(p.AttachmentID)}); err != nil {
			return fmt.Errorf("detach volume %s: close its export: %w", p.VolumeID, err)
		}
	}
	return nil
}

// qomDevices returns the ids of the guest's user-created devices.
func qomDevices(ctx context.Context, q *qmp.Conn) (map[string]bool, error) {
	raw, err := q.Exec(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"})
	if err != nil {
		return nil, err
	}
	var props []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range props {
		if strings.HasPrefix(p.Type, "child<") {
			out[p.Name] = true
		}
	}
	return out, nil
}

// blockNodes returns the names of the guest's block nodes.
func blockNodes(ctx context.Context, q *qmp.Conn) (map[string]bool, error) {
	raw, err := q.Exec(ctx, "query-named-block-nodes", map[string]any{"flat": true})
	if err != nil {
		return nil, err
	}
	var ns []struct {
		Node string `json:"node-name"`
	}
	if err := json.Unmarshal(raw, &ns); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range ns {
		out[n.Node] = true
	}
	return out, nil
}
