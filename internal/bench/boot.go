package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BootConfig configures the boot bench: one real guest at a time through
// the cloud's API against the same image booted by bare QEMU.
type BootConfig struct {
	CloudURL    string
	Credentials Credentials
	// ImageFile is the qcow2 image both boots use (onestack image
	// build-tiny makes one); it is uploaded once as image ImageName.
	ImageFile, ImageName string
	// Marker is the console line that ends a boot.
	Marker string
	// Runs is how many boots of each kind to time.
	Runs int
	// DataDir is the cloud's data dir: with it the bench reads each
	// guest's boot.json for the host-side breakdown.
	DataDir string
	// PID is the control plane process, for its memory per guest.
	PID int
	// Network boots each guest on a tenant network behind a router and
	// also times create → its floating IP answering ping from the outside
	// world's namespace (DataDir/external-netns).
	Network bool
	Log     *slog.Logger
}

// BootResult is what the boot bench prints. Durations are milliseconds.
type BootResult struct {
	Accel string `json:"accel"`
	Runs  int    `json:"runs"`
	// BareMs is bare qemu-system-x86_64 to the marker; CloudMs is from the
	// create call to the marker in the API's console output (polled every
	// 20 ms); both the median of Runs.
	BareMs  float64 `json:"bare_qemu_to_marker_ms"`
	CloudMs float64 `json:"api_to_marker_ms"`
	Ratio   float64 `json:"ratio"`
	// FloatingMs (with Network) is from the create call to the guest's
	// floating IP answering ping from the outside world, the median of
	// Runs; FloatingRatio is FloatingMs / BareMs.
	FloatingMs    float64 `json:"api_to_floating_ip_ping_ms,omitempty"`
	FloatingRatio float64 `json:"floating_ip_ratio,omitempty"`
	// ColdCloudMs is the first boot, with the image not yet cached on the host.
	ColdCloudMs float64 `json:"api_to_marker_cold_cache_ms"`
	Breakdown   struct {
		API          float64 `json:"api_ms"`
		ControlPlane float64 `json:"schedule_and_dispatch_ms"`
		ImageCache   float64 `json:"image_cache_ms"`
		Disks        float64 `json:"disk_prep_ms"`
		QemuStart    float64 `json:"qemu_start_ms"`
		GuestBoot    float64 `json:"guest_boot_ms"`
	} `json:"breakdown_median_ms"`
	// The control plane's resident memory before the first boot and with
	// Runs+1 guests running, and how much it grew per guest (GC noise can
	// make it negative: then it did not grow measurably).
	RSSBeforeKB   int64   `json:"control_plane_rss_before_kb"`
	RSSAfterKB    int64   `json:"control_plane_rss_with_guests_kb"`
	RSSPerGuestKB float64 `json:"control_plane_rss_per_guest_kb"`
	// QemuRSSKB is the median resident memory of one guest's QEMU process.
	QemuRSSKB int64 `json:"qemu_rss_per_guest_kb"`
}

// RunBoot times the boots. The cloud must run the qemu hypervisor.
func RunBoot(ctx context.Context, cfg BootConfig) (*BootResult, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.Marker == "" {
		cfg.Marker = "onestack-guest-ready"
	}
	if cfg.ImageName == "" {
		cfg.ImageName = "bench-guest"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base, err := checkLoopback(cfg.CloudURL)
	if err != nil {
		return nil, err
	}
	img, err := os.ReadFile(cfg.ImageFile)
	if err != nil {
		return nil, fmt.Errorf("read the image to boot: %w (build one with onestack image build-tiny)", err)
	}
	c := newClient(base, cfg.Credentials, 4)
	defer c.close()
	if err := c.authenticate(ctx); err != nil {
		return nil, err
	}
	res := &BootResult{Runs: cfg.Runs}
	var hv struct {
		Hypervisors []struct {
			Type    string `json:"hypervisor_type"`
			CPUInfo any    `json:"cpu_info"`
		} `json:"hypervisors"`
	}
	if err := c.do(ctx, "GET", "/compute/v2.1/os-hypervisors/detail", nil, &hv); err != nil {
		return nil, err
	}
	if len(hv.Hypervisors) == 0 || hv.Hypervisors[0].Type != "QEMU" {
		return nil, fmt.Errorf("the cloud's hosts are not qemu hosts (start it with onestack up --hypervisor qemu)")
	}
	res.Accel = accelOf(hv.Hypervisors[0].CPUInfo)

	imageID, err := c.uploadImage(ctx, cfg.ImageName, img)
	if err != nil {
		return nil, err
	}
	flavorID, err := c.ensureFlavorShape(ctx, "bench.guest", 1, 128, 1)
	if err != nil {
		return nil, err
	}

	var bare, cloud, floating []float64
	var parts [6][]float64
	var ids, fips []string
	var net *benchNet
	if cfg.Network {
		if net, err = c.setupNet(ctx, cfg.DataDir); err != nil {
			c.teardownNet(context.WithoutCancel(ctx), net)
			return nil, fmt.Errorf("set up the bench network: %w", err)
		}
	}
	defer func() {
		for _, id := range fips {
			_ = c.do(context.WithoutCancel(ctx), "DELETE", "/network/v2.0/floatingips/"+id, nil, nil)
		}
		for _, id := range ids {
			_ = c.do(context.WithoutCancel(ctx), "DELETE", "/compute/v2.1/servers/"+id, nil, nil)
		}
		c.teardownNet(context.WithoutCancel(ctx), net)
	}()
	rss0, _ := procStatusKB(cfg.PID, "VmRSS")
	for i := 0; i <= cfg.Runs; i++ {
		if i > 0 { // run 0 warms the host's image cache
			ms, err := bareBoot(ctx, cfg.ImageFile, res.Accel, cfg.Marker)
			if err != nil {
				return nil, err
			}
			bare = append(bare, ms)
		}
		id, total, b, fipMs, fip, err := c.cloudBoot(ctx, imageID, flavorID, cfg, net)
		if id != "" {
			ids = append(ids, id)
		}
		if fip != "" {
			fips = append(fips, fip)
		}
		if err != nil {
			return nil, err
		}
		if net != nil {
			if i > 0 {
				floating = append(floating, fipMs)
			}
			// Each guest goes before the next boot: running TCG guests
			// would slow the next one down and bias the ratio.
			c.deleteNow(ctx, fips, ids)
			fips, ids = nil, nil
		}
		cfg.Log.Info("boot timed", "run", i, "api_to_marker_ms", total)
		if i == 0 {
			res.ColdCloudMs = total
			continue
		}
		cloud = append(cloud, total)
		for j, v := range b {
			parts[j] = append(parts[j], v)
		}
	}
	rss1, _ := procStatusKB(cfg.PID, "VmRSS")
	if cfg.PID > 0 && len(ids) > 0 {
		res.RSSBeforeKB, res.RSSAfterKB = rss0, rss1
		res.RSSPerGuestKB = round(float64(rss1-rss0)/float64(len(ids)), 1)
	}
	res.QemuRSSKB = guestRSS(ids)
	res.BareMs, res.CloudMs = median(bare), median(cloud)
	if res.BareMs > 0 {
		res.Ratio = round(res.CloudMs/res.BareMs, 3)
	}
	if len(floating) > 0 {
		res.FloatingMs = median(floating)
		res.FloatingRatio = round(res.FloatingMs/res.BareMs, 3)
	}
	bd := &res.Breakdown
	bd.API, bd.ControlPlane, bd.ImageCache, bd.Disks, bd.QemuStart, bd.GuestBoot =
		median(parts[0]), median(parts[1]), median(parts[2]), median(parts[3]), median(parts[4]), median(parts[5])
	return res, nil
}

func accelOf(cpuInfo any) string {
	var m map[string]any
	switch v := cpuInfo.(type) {
	case string:
		_ = json.Unmarshal([]byte(v), &m)
	case map[string]any:
		m = v
	}
	if a, ok := m["accel"].(string); ok {
		return a
	}
	return "tcg"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// bareBoot boots image with qemu-system-x86_64 as a person would by hand
// (a throwaway overlay, the same machine, memory and accelerator) and
// returns the milliseconds to the marker on its serial console.
func bareBoot(ctx context.Context, image, accel, marker string) (float64, error) {
	dir, err := os.MkdirTemp("", "onestack-bench-boot-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	abs, _ := filepath.Abs(image)
	overlay := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", abs, overlay).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("qemu-img create: %s", out)
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-machine", "q35,accel="+accel, "-cpu", cpu, "-m", "128",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
		"-drive", "file="+overlay+",if=virtio,format=qcow2")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), marker) {
			return float64(time.Since(start).Microseconds()) / 1000, nil
		}
	}
	return 0, fmt.Errorf("bare qemu never printed %q", marker)
}

// cloudBoot creates a server and polls its console output until the
// marker; it returns the total and the breakdown (API, control plane,
// image cache, disks, qemu start, guest boot) in milliseconds.
func (c *client) cloudBoot(ctx context.Context, imageID, flavorID string, cfg BootConfig, net *benchNet) (id string, totalMs float64, parts [6]float64, fipMs float64, fipID string, err error) {
	start := time.Now()
	var created struct {
		Server struct{ ID string } `json:"server"`
	}
	var networks any = "none"
	if net != nil {
		networks = []any{map[string]any{"uuid": net.netID}}
	}
	err = c.do(ctx, "POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{
		"name": "bench-guest-" + randomHex(4), "imageRef": imageID, "flavorRef": flavorID, "networks": networks,
	}}, &created)
	if err != nil {
		return "", 0, parts, 0, "", err
	}
	apiDone := time.Now()
	id = created.Server.ID
	type reach struct {
		at  time.Time
		fip string
		err error
	}
	reached := make(chan reach, 1)
	if net != nil {
		go func() {
			at, fip, err := c.floatingReach(ctx, net, id)
			reached <- reach{at, fip, err}
		}()
	}
	wait := func() {
		if net == nil {
			return
		}
		r := <-reached
		fipID = r.fip
		if r.err != nil && err == nil {
			err = r.err
		} else if r.err == nil {
			fipMs = ms(r.at.Sub(start))
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var out struct {
			Output string `json:"output"`
		}
		err := c.do(ctx, "POST", "/compute/v2.1/servers/"+id+"/action", map[string]any{"os-getConsoleOutput": map[string]any{}}, &out)
		if err == nil && strings.Contains(out.Output, cfg.Marker) {
			total := time.Since(start)
			parts[0] = ms(apiDone.Sub(start))
			if bt, _, ok := c.bootTimes(ctx, id, cfg.DataDir); ok {
				parts[1] = ms(bt.Began.Sub(apiDone))
				parts[2], parts[3], parts[4] = ms(bt.Image), ms(bt.Disks), ms(bt.Qemu)
				parts[5] = ms(start.Add(total).Sub(bt.Started))
			}
			totalMs = ms(total)
			wait()
			return id, totalMs, parts, fipMs, fipID, err
		}
		var sv struct {
			Server struct {
				Status string         `json:"status"`
				Fault  map[string]any `json:"fault"`
			} `json:"server"`
		}
		if err := c.do(ctx, "GET", "/compute/v2.1/servers/"+id, nil, &sv); err == nil && sv.Server.Status == "ERROR" {
			return id, 0, parts, 0, fipID, fmt.Errorf("server %s went to ERROR: %v", id, sv.Server.Fault)
		}
		select {
		case <-ctx.Done():
			return id, 0, parts, 0, fipID, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return id, 0, parts, 0, fipID, fmt.Errorf("server %s never printed %q on its console", id, cfg.Marker)
}

type bootTimes struct {
	Began, Started     time.Time
	Image, Disks, Qemu time.Duration
}

// bootTimes reads the host's record of a guest's first boot.
func (c *client) bootTimes(ctx context.Context, id, dataDir string) (bootTimes, string, bool) {
	var bt bootTimes
	if dataDir == "" {
		return bt, "", false
	}
	var sv struct {
		Server struct {
			Host string `json:"OS-EXT-SRV-ATTR:host"`
		} `json:"server"`
	}
	if err := c.do(ctx, "GET", "/compute/v2.1/servers/"+id, nil, &sv); err != nil {
		return bt, "", false
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "hosts", sv.Server.Host, "guests", id, "boot.json"))
	if err != nil || json.Unmarshal(b, &bt) != nil {
		return bt, "", false
	}
	return bt, sv.Server.Host, true
}

// guestRSS is the median resident memory of the guests' QEMU processes.
func guestRSS(ids []string) int64 {
	var v []float64
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, id := range ids {
			if strings.Contains(string(cmd), "\x00-uuid\x00"+id+"\x00") {
				var pid int
				fmt.Sscan(e.Name(), &pid)
				if kb, ok := procStatusKB(pid, "VmRSS"); ok {
					v = append(v, float64(kb))
				}
			}
		}
	}
	return int64(median(v))
}

// uploadImage creates a public qcow2 image with data, or returns the
// active one of that name.
func (c *client) uploadImage(ctx context.Context, name string, data []byte) (string, error) {
	var list struct {
		Images []struct{ ID, Status string } `json:"images"`
	}
	if err := c.do(ctx, "GET", "/image/v2/images?name="+name, nil, &list); err != nil {
		return "", err
	}
	for _, im := range list.Images {
		if im.Status == "active" {
			return im.ID, nil
		}
	}
	var im struct{ ID string }
	if err := c.do(ctx, "POST", "/image/v2/images", map[string]any{
		"name": name, "disk_format": "qcow2", "container_format": "bare", "visibility": "public",
	}, &im); err != nil {
		return "", err
	}
	return im.ID, c.raw(ctx, "PUT", "/image/v2/images/"+im.ID+"/file", "application/octet-stream", data)
}

// ensureFlavorShape returns a public flavor of the given shape named name.
func (c *client) ensureFlavorShape(ctx context.Context, name string, vcpus, ram, disk int) (string, error) {
	var list struct {
		Flavors []struct{ ID, Name string } `json:"flavors"`
	}
	if err := c.do(ctx, "GET", "/compute/v2.1/flavors?limit=1000", nil, &list); err != nil {
		return "", err
	}
	for _, f := range list.Flavors {
		if f.Name == name {
			return f.ID, nil
		}
	}
	var created struct {
		Flavor struct{ ID string } `json:"flavor"`
	}
	err := c.do(ctx, "POST", "/compute/v2.1/flavors", map[string]any{"flavor": map[string]any{
		"name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "os-flavor-access:is_public": true}}, &created)
	return created.Flavor.ID, err
}

// deleteNow deletes floating IPs and servers and waits (bounded) until the
// servers are gone.
func (c *client) deleteNow(ctx context.Context, fips, ids []string) {
	for _, id := range fips {
		_ = c.do(ctx, "DELETE", "/network/v2.0/floatingips/"+id, nil, nil)
	}
	for _, id := range ids {
		_ = c.do(ctx, "DELETE", "/compute/v2.1/servers/"+id, nil, nil)
	}
	for _, id := range ids {
		for i := 0; i < 300; i++ {
			if err := c.do(ctx, "GET", "/compute/v2.1/servers/"+id, nil, nil); err != nil {
				break
			}
			if sleepCtx(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}
}
