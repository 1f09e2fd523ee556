package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/fault"
)

// TestCrashAtEveryPoint kills onestack (as kill -9 would) at each named
// step of a boot and a delete, restarts it, and checks what a user and
// an operator would: every boot the API accepted ends ACTIVE, every delete
// it accepted ends with the server gone, nothing stays in a task or ends
// in ERROR, and onestack doctor finds nothing wrong (records, placement
// allocations and, on qemu hosts, guest processes and files). Deleting
// everything afterwards leaves the host empty.
func TestCrashAtEveryPoint(t *testing.T) {
	requireQemu(t)
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.qcow2")
	if out, err := exec.Command(onestackBinary(t), "image", "build-tiny", "--output", tiny, "--cache-dir", filepath.Join(dir, "cache")).CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	qemuPoints := map[string]bool{fault.QemuDisksReady: true, fault.QemuStarted: true, fault.QemuDeleting: true}
	for _, point := range fault.Points {
		t.Run(point, func(t *testing.T) {
			hv := "fake"
			if qemuPoints[point] {
				hv = "qemu"
			}
			c := StartCloud(t, "", "--hypervisor", hv, "--accel", "tcg", "--hosts", "1")
			t.Cleanup(func() { killGuests(t, c.DataDir) })
			w := &tolerant{t: t, c: c, token: c.AdminAPI(t).token}
			image, network := w.setup(tiny, hv)

			c.Faults = point
			c.Restart(t)
			accepted := map[string]bool{} // names whose create the API accepted
			for _, name := range []string{"crash-a", "crash-b"} {
				if st, _ := w.call("POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{
					"name": name, "imageRef": image, "flavorRef": "crash", "networks": []any{map[string]any{"uuid": network}}}}, nil); st == http.StatusAccepted {
					accepted[name] = true
				}
			}
			deleted, deleteSent := false, false
			if w.waitFor(func(ss []crashServer) bool { return countStatus(ss, "ACTIVE") == len(accepted) }) {
				if id := idOf(w.servers(), "crash-a"); id != "" {
					st, _ := w.call("DELETE", "/compute/v2.1/servers/"+id, nil, nil)
					deleted, deleteSent = st == http.StatusNoContent, true
					w.waitFor(func(ss []crashServer) bool { return idOf(ss, "crash-a") == "" })
				}
			}
			select {
			case <-c.proc.exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("the fault point %s was never reached by a boot and a delete", point)
			}

			c.start(t, false)
			converged := w.waitFor(func(ss []crashServer) bool {
				for _, s := range ss {
					if s.Status != "ACTIVE" || s.Task != nil {
						return false
					}
				}
				return !deleted || idOf(ss, "crash-a") == ""
			})
			ss := w.servers()
			if !converged {
				t.Fatalf("after the crash at %s and a restart the servers did not settle: %+v", point, ss)
			}
			for name := range accepted {
				if name == "crash-a" && deleteSent {
					continue // accepted or cut off by the crash: gone or there are both right
				}
				if idOf(ss, name) == "" {
					t.Errorf("%s: the API accepted %s but it is gone after the restart", point, name)
				}
			}
			if out, err := exec.Command(c.binary, "doctor", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
				t.Errorf("onestack doctor after the crash at %s:\n%s", point, out)
			}

			// Deleting everything leaves the host as it was.
			for _, s := range ss {
				w.call("DELETE", "/compute/v2.1/servers/"+s.ID, nil, nil)
			}
			if !w.waitFor(func(ss []crashServer) bool { return len(ss) == 0 }) {
				t.Errorf("servers left after deleting all: %+v", w.servers())
			}
			if ents, _ := os.ReadDir(filepath.Join(c.DataDir, "hosts", "host-1", "guests")); len(ents) != 0 {
				t.Errorf("guest directories left after deleting all: %v", ents)
			}
			if out, err := exec.Command(c.binary, "doctor", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
				t.Errorf("onestack doctor after deleting all:\n%s", out)
			}
		})
	}
}

// tolerant calls the API and takes connection errors (the process may be
// dead) as answers.
type tolerant struct {
	t     *testing.T
	c     *Cloud
	token string
}

type crashServer struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Status string  `json:"status"`
	Task   *string `json:"OS-EXT-STS:task_state"`
	Fault  *struct {
		Message string `json:"message"`
	} `json:"fault"`
}

func (w *tolerant) call(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.c.URL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Auth-Token", w.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OpenStack-API-Version", "compute 2.79")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, err
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, nil
}

// setup uploads the image (the tiny one on qemu, a few bytes on fake
// hosts) and a flavor "crash"; it returns the image id.
// setup uploads the image and makes the flavor and a network with a
// subnet the crash servers boot on; it returns the image and network ids.
func (w *tolerant) setup(tiny, hv string) (string, string) {
	w.t.Helper()
	var im struct{ ID string }
	format := "raw"
	if hv == "qemu" {
		format = "qcow2"
	}
	if _, err := w.call("POST", "/image/v2/images", map[string]any{"name": "crash-image", "disk_format": format,
		"container_format": "bare", "visibility": "public"}, &im); err != nil {
		w.t.Fatal(err)
	}
	data := []byte("onestack crash test image\n")
	if hv == "qemu" {
		var err error
		if data, err = os.ReadFile(tiny); err != nil {
			w.t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("PUT", w.c.URL+"/image/v2/images/"+im.ID+"/file", bytes.NewReader(data))
	req.Header.Set("X-Auth-Token", w.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		w.t.Fatalf("upload the crash image: %v %v", err, resp)
	}
	resp.Body.Close()
	if _, err := w.call("POST", "/compute/v2.1/flavors", map[string]any{"flavor": map[string]any{
		"name": "crash", "id": "crash", "vcpus": 1, "ram": 128, "disk": 1}}, nil); err != nil {
		w.t.Fatal(err)
	}
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	if _, err := w.call("POST", "/network/v2.0/networks", map[string]any{"network": map[string]any{"name": "crash-net"}}, &net); err != nil || net.Network.ID == "" {
		w.t.Fatalf("create the crash network: %v", err)
	}
	if _, err := w.call("POST", "/network/v2.0/subnets", map[string]any{"subnet": map[string]any{
		"network_id": net.Network.ID, "cidr": "10.77.0.0/24", "ip_version": 4}}, nil); err != nil {
		w.t.Fatal(err)
	}
	return im.ID, net.Network.ID
}

func (w *tolerant) servers() []crashServer {
	var out struct {
		Servers []crashServer `json:"servers"`
	}
	if _, err := w.call("GET", "/compute/v2.1/servers/detail", nil, &out); err != nil {
		return nil
	}
	return out.Servers
}

// waitFor polls the server list until ok holds, the process exits, or
// 120 s pass (a TCG boot takes ~5 s); it reports whether ok held.
func (w *tolerant) waitFor(ok func([]crashServer) bool) bool {
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-w.c.proc.exited:
			return false
		default:
		}
		if ss, err := w.list(); err == nil && ok(ss) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (w *tolerant) list() ([]crashServer, error) {
	var out struct {
		Servers []crashServer `json:"servers"`
	}
	_, err := w.call("GET", "/compute/v2.1/servers/detail", nil, &out)
	return out.Servers, err
}

func countStatus(ss []crashServer, status string) int {
	n := 0
	for _, s := range ss {
		if s.Status == status {
			n++
		}
	}
	return n
}

func idOf(ss []crashServer, name string) string {
	for _, s := range ss {
		if s.Name == name {
			return s.ID
		}
	}
	return ""
}

// TestKillDuringChurn streams boots and deletes of real guests and kills
// onestack with SIGKILL at random moments, several times, restarting it
// each time; then it checks that everything settles: no server in a task
// or in ERROR, one guest process per running server (onestack doctor),
// and after deleting everything no guest, file or allocation is left.
func TestKillDuringChurn(t *testing.T) {
	requireQemu(t)
	dir := t.TempDir()
	tiny := filepath.Join(dir, "tiny.qcow2")
	if out, err := exec.Command(onestackBinary(t), "image", "build-tiny", "--output", tiny, "--cache-dir", filepath.Join(dir, "cache")).CombinedOutput(); err != nil {
		t.Fatalf("onestack image build-tiny: %v\n%s", err, out)
	}
	c := StartCloud(t, "", "--hypervisor", "qemu", "--accel", "tcg", "--hosts", "1")
	t.Cleanup(func() { killGuests(t, c.DataDir) })
	w := &tolerant{t: t, c: c, token: c.AdminAPI(t).token}
	image, network := w.setup(tiny, "qemu")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	seed := 0
	for round := 0; round < 4; round++ {
		stop := time.Now().Add(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		for time.Now().Before(stop) {
			ss, _ := w.list()
			if len(ss) < 3 || (len(ss) < 6 && rng.IntN(2) == 0) {
				seed++
				w.call("POST", "/compute/v2.1/servers", map[string]any{"server": map[string]any{
					"name": fmt.Sprintf("churn-%d", seed), "imageRef": image, "flavorRef": "crash", "networks": []any{map[string]any{"uuid": network}}}}, nil)
			} else {
				w.call("DELETE", "/compute/v2.1/servers/"+ss[rng.IntN(len(ss))].ID, nil, nil)
			}
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		}
		t.Logf("round %d: kill -9 after %d requests", round, seed)
		c.Kill(t)
		c.start(t, false)
	}
	// Settled: no task; ACTIVE, or ERROR with a fault saying why (the
	// stream may ask for more than the host holds).
	settled := w.waitFor(func(ss []crashServer) bool {
		for _, s := range ss {
			if s.Task != nil || (s.Status != "ACTIVE" && s.Status != "ERROR") {
				return false
			}
		}
		return true
	})
	if !settled {
		t.Fatalf("servers did not settle after the kills: %+v", w.servers())
	}
	ss := w.servers()
	for _, s := range ss {
		if s.Status == "ERROR" && (s.Fault == nil || s.Fault.Message == "") {
			t.Errorf("server %s is in ERROR without a fault", s.Name)
		}
		if s.Status == "ERROR" {
			t.Logf("server %s: ERROR: %s", s.Name, s.Fault.Message)
		}
	}
	if out, err := exec.Command(c.binary, "doctor", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
		t.Errorf("onestack doctor after the kills:\n%s", out)
	}
	for _, s := range ss {
		want := 1
		if s.Status == "ERROR" {
			want = 0
		}
		if p := guestPIDs(t, s.ID); len(p) != want {
			t.Errorf("%s server %s has guest processes %v, want %d", s.Status, s.Name, p, want)
		}
		w.call("DELETE", "/compute/v2.1/servers/"+s.ID, nil, nil)
	}
	if !w.waitFor(func(ss []crashServer) bool { return len(ss) == 0 }) {
		t.Fatalf("servers left after deleting all: %+v", w.servers())
	}
	if ents, _ := os.ReadDir(filepath.Join(c.DataDir, "hosts", "host-1", "guests")); len(ents) != 0 {
		t.Errorf("guest directories left after deleting all: %v", ents)
	}
	if out, err := exec.Command(c.binary, "doctor", "--data-dir", c.DataDir).CombinedOutput(); err != nil {
		t.Errorf("onestack doctor after deleting all:\n%s", out)
	}
	// No tap, DHCP namespace or port of a deleted server is left.
	prefix := strings.TrimSuffix(strings.TrimSpace(readFile(t, filepath.Join(c.DataDir, "external-netns"))), "-ext")
	if !eventually(30, func() bool { return len(leftLinks(t, prefix)) == 0 }) {
		t.Errorf("after deleting every server the host still has: %v", leftLinks(t, prefix))
	}
	var ports struct {
		Ports []struct{ ID, DeviceOwner string } `json:"ports"`
	}
	if _, err := w.call("GET", "/network/v2.0/ports?device_owner=compute:nova", nil, &ports); err != nil || len(ports.Ports) != 0 {
		t.Errorf("ports of deleted servers left: %+v (%v)", ports.Ports, err)
	}
}
