package cloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/doctor"
	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/service/volume/volumetest"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// The crash child's environment: the point to crash at, the scenario,
// the cloud's directory and store.
const (
	envCrashPoint = "ONESTACK_TEST_CRASH_POINT"
	envCrashOp    = "ONESTACK_TEST_CRASH_OP"
	envCrashDir   = "ONESTACK_TEST_CRASH_DIR"
	envCrashDB    = "ONESTACK_TEST_CRASH_DB"
)

// volumeCrash is one crash: the operation a child process runs with the
// point armed, and what the volume must end as after the restart.
type volumeCrash struct {
	point, op string
	// want: "available" (the change never happened or was rolled back),
	// "in-use" (it is finished), "deleted" (delete_on_termination).
	want string
}

var volumeCrashes = []volumeCrash{
	{fault.BootVolumeExported, "boot", "available"},
	{fault.AttachExported, "attach", "available"},
	{fault.AttachCommitted, "attach", "in-use"},
	{fault.AgentVolumesSynced, "attach", "in-use"},
	{fault.VolumesApplying, "attach", "in-use"},
	{fault.DetachCommitted, "detach", "available"},
	{fault.AgentVolumesSynced, "detach", "available"},
	{fault.VolumesApplying, "detach", "available"},
	{fault.VolumesReleased, "detach", "available"},
	{fault.ReportApplying, "delete", "deleted"},
	{fault.VolumesReleased, "delete", "deleted"},
}

// TestVolumeCrashConvergence crashes a cloud (SIGKILL, as kill -9) at
// each named step of a volume attach, a detach, a boot from volume and a
// delete of a server with volumes, restarts it on the same directory and
// store, and checks that it converges: the volume's status and
// attach_status, its attachments and the server's os-volume_attachments
// agree (the change finished, or rolled back when the crash came before it
// was recorded), no export is left without an attachment, quota usage
// counts what exists, and onestack doctor finds nothing.
func TestVolumeCrashConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud twice per crash point")
	}
	for _, backend := range storetest.Backends(t) {
		for _, k := range volumeCrashes {
			t.Run(backend+"/"+k.op+"/"+k.point, func(t *testing.T) {
				dir := t.TempDir()
				dbURL := ""
				if backend == "postgres" {
					dbURL = storetest.PostgresURL(t)
				}
				crashChild(t, k, dir, dbURL)

				// The restart.
				files, err := volumetest.Open(filepath.Join(dir, "files"))
				if err != nil {
					t.Fatal(err)
				}
				e := cloudtest.NewWith(t, cloudtest.Options{Hosts: 1, DataDir: filepath.Join(dir, "cloud"), Database: dbURL, VolumeBackend: files})
				api := newCrashAPI(t, e)
				ids := readCrashIDs(t, dir)
				checkVolumeConverged(t, e, api, files, k, ids)
			})
		}
	}
}

// crashChild runs the scenario in a child process (this test binary) that
// must die at the point.
func crashChild(t *testing.T, k volumeCrash, dir, dbURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestVolumeCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), envCrashPoint+"="+k.point, envCrashOp+"="+k.op, envCrashDir+"="+dir, envCrashDB+"="+dbURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the crash child did not crash (%v):\n%s", err, out.Bytes())
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the crash child ended with %v, not killed at %s:\n%s", err, k.point, out.Bytes())
	}
}

// TestVolumeCrashChild is the crashing half of TestVolumeCrashConvergence;
// it runs only in the child process that test starts.
func TestVolumeCrashChild(t *testing.T) {
	point, op, dir := os.Getenv(envCrashPoint), os.Getenv(envCrashOp), os.Getenv(envCrashDir)
	if point == "" {
		t.Skip("the child of TestVolumeCrashConvergence")
	}
	files, err := volumetest.Open(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	e := cloudtest.NewWith(t, cloudtest.Options{Hosts: 1, DataDir: filepath.Join(dir, "cloud"), Database: os.Getenv(envCrashDB), VolumeBackend: files})
	api := newCrashAPI(t, e)
	ids := map[string]string{}
	ids["volume"] = api.createVolume()
	if op != "boot" {
		ids["server"] = api.createServer(nil)
		api.waitServer(ids["server"], "ACTIVE")
	}
	if op == "detach" || op == "delete" {
		api.attach(ids["server"], ids["volume"], true)
		api.waitVolume(ids["volume"], "in-use")
	}
	if op == "delete" {
		ids["kept"] = api.createVolume() // without delete_on_termination
		api.attach(ids["server"], ids["kept"], false)
		api.waitVolume(ids["kept"], "in-use")
	}
	b, _ := json.Marshal(ids)
	if err := os.WriteFile(filepath.Join(dir, "ids.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := fault.Enable([]string{point}); err != nil {
		t.Fatal(err)
	}
	switch op {
	case "boot":
		api.createServer([]any{map[string]any{"boot_index": 0, "uuid": ids["volume"], "source_type": "volume",
			"destination_type": "volume", "delete_on_termination": false}})
	case "attach":
		api.attach(ids["server"], ids["volume"], false)
	case "detach":
		api.call("DELETE", "/compute/v2.1/servers/"+ids["server"]+"/os-volume_attachments/"+ids["volume"], nil, http.StatusAccepted)
	case "delete":
		api.call("DELETE", "/compute/v2.1/servers/"+ids["server"], nil, http.StatusNoContent)
	}
	// The point is reached by the request or, after it, by the agent.
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	<-timer.C
	t.Fatalf("%s: the fault point %s was never reached", op, point)
}

func readCrashIDs(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ids.json"))
	if err != nil {
		t.Fatalf("the crash child crashed before its setup was done: %v", err)
	}
	ids := map[string]string{}
	if err := json.Unmarshal(b, &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkVolumeConverged waits until the volume reaches k.want and checks
// everything that must agree with it.
func checkVolumeConverged(t *testing.T, e *cloudtest.Env, api *crashAPI, files *volumetest.Files, k volumeCrash, ids map[string]string) {
	t.Helper()
	vol, srv := ids["volume"], ids["server"]
	var last string
	settled := api.eventually(func() bool {
		v, ok := api.volume(vol)
		switch {
		case k.want == "deleted":
			last = "present"
			if ok {
				last = v.Status
			}
			return !ok
		case !ok:
			last = "gone"
			return false
		}
		last = v.Status
		if v.Status != k.want {
			return false
		}
		if k.want == "in-use" {
			// The server's mapping is attached too (the agent confirmed).
			for _, a := range api.serverAttachments(srv) {
				if a == vol && api.bdmState(srv, vol) == "attached" {
					return true
				}
			}
			return false
		}
		return true
	})
	if !settled {
		t.Fatalf("after the crash at %s (%s) and a restart, volume %s is %s, want %s", k.point, k.op, vol, last, k.want)
	}

	// The volume's records agree with its status.
	var sv store.Volume
	var atts []store.VolumeAttachment
	err := e.Cloud.DB.Read(context.Background(), func(tx *store.Tx) (err error) {
		if sv, err = tx.GetVolume(context.Background(), vol); err != nil {
			return err
		}
		atts, err = tx.VolumeAttachments(context.Background(), vol)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	switch k.want {
	case "in-use":
		if sv.AttachStatus != "attached" || len(atts) != 1 || atts[0].Status != "attached" || atts[0].InstanceUUID != srv {
			t.Errorf("in-use volume: attach_status %s, attachments %+v", sv.AttachStatus, atts)
		}
		if !files.Exported(vol) {
			t.Errorf("in-use volume %s is not exported", vol)
		}
	case "available":
		if sv.AttachStatus != "detached" || len(atts) != 0 {
			t.Errorf("available volume: attach_status %s, attachments %+v", sv.AttachStatus, atts)
		}
		if srv != "" && slices.Contains(api.serverAttachments(srv), vol) {
			t.Errorf("server %s still lists volume %s in os-volume_attachments", srv, vol)
		}
	case "deleted":
		if len(atts) != 0 {
			t.Errorf("deleted volume has attachments %+v", atts)
		}
	}
	// No export without an attachment (the worker's sweep after the restart).
	if k.want != "in-use" && !api.eventually(func() bool { return !files.Exported(vol) }) {
		t.Errorf("volume %s is still exported with no attachment", vol)
	}

	// A deleted server released every volume; the one without
	// delete_on_termination is available again.
	if k.op == "delete" {
		if !api.eventually(func() bool { return !api.serverExists(srv) }) {
			t.Errorf("server %s is not deleted after the restart", srv)
		}
		kept := ids["kept"]
		if v, ok := api.volume(kept); !ok || v.Status != "available" || len(v.Attachments) != 0 {
			t.Errorf("the volume without delete_on_termination: %+v (exists %v), want available", v, ok)
		}
		if !api.eventually(func() bool { return !files.Exported(kept) }) {
			t.Errorf("volume %s is still exported after its server was deleted", kept)
		}
	}
	if k.op == "boot" && api.serverCount() != 0 {
		t.Errorf("a boot cut off before it was recorded left a server")
	}

	// Quota usage counts the volumes that exist: the one of the scenario
	// (after a delete, the one kept; its delete_on_termination one is gone).
	if got := api.volumesInUse(); got != 1 {
		t.Errorf("quota usage: volumes in_use %d, want 1", got)
	}

	ps, err := doctor.Check(context.Background(), doctor.Config{DB: e.Cloud.DB})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		t.Errorf("onestack doctor after the crash at %s: %s", k.point, p)
	}
}

// crashAPI drives a test cloud as the admin over HTTP.
type crashAPI struct {
	t       *testing.T
	e       *cloudtest.Env
	tok     string
	project string
}

func newCrashAPI(t *testing.T, e *cloudtest.Env) *crashAPI {
	a := &crashAPI{t: t, e: e, tok: e.Token(t, "admin", cloudtest.AdminPassword, "admin")}
	var tok struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	r := e.Do(t, "GET", "/identity/v3/auth/tokens", a.tok, nil, "X-Subject-Token", a.tok)
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &tok) != nil || tok.Token.Project.ID == "" {
		t.Fatalf("read the admin token: %d %s", r.Status, r.Body)
	}
	a.project = tok.Token.Project.ID
	return a
}

// call sends a request and decodes the answer into out (if any); a status
// other than want fails the test.
func (a *crashAPI) call(method, path string, in any, want int, out ...any) {
	a.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	r := a.e.Do(a.t, method, path, a.tok, body, "OpenStack-API-Version", "compute 2.79")
	if r.Status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	if len(out) == 1 {
		if err := json.Unmarshal(r.Body, out[0]); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (a *crashAPI) volumePath(id string) string {
	return fmt.Sprintf("/volume/v3/%s/volumes/%s", a.project, id)
}

func (a *crashAPI) createVolume() string {
	var out struct{ Volume struct{ ID string } }
	a.call("POST", fmt.Sprintf("/volume/v3/%s/volumes", a.project), map[string]any{"volume": map[string]any{"size": 1}}, http.StatusAccepted, &out)
	a.waitVolume(out.Volume.ID, "available")
	return out.Volume.ID
}

// createServer boots a server, from an image, or from the block devices.
func (a *crashAPI) createServer(bdms []any) string {
	if r := a.e.Do(a.t, "GET", "/compute/v2.1/flavors/crash", a.tok, nil); r.Status == http.StatusNotFound {
		a.call("POST", "/compute/v2.1/flavors", map[string]any{"flavor": map[string]any{
			"name": "crash", "id": "crash", "vcpus": 1, "ram": 128, "disk": 1}}, http.StatusOK)
	}
	s := map[string]any{"name": "crash", "flavorRef": "crash", "networks": "none"}
	if bdms != nil {
		s["block_device_mapping_v2"] = bdms
	} else {
		var im struct{ ID string }
		a.call("POST", "/image/v2/images", map[string]any{"name": "crash", "disk_format": "raw",
			"container_format": "bare", "visibility": "public"}, http.StatusCreated, &im)
		if r := a.e.Do(a.t, "PUT", "/image/v2/images/"+im.ID+"/file", a.tok, []byte("onestack crash test image\n"),
			"Content-Type", "application/octet-stream"); r.Status != http.StatusNoContent {
			a.t.Fatalf("upload the image: %d %s", r.Status, r.Body)
		}
		s["imageRef"] = im.ID
	}
	var out struct{ Server struct{ ID string } }
	a.call("POST", "/compute/v2.1/servers", map[string]any{"server": s}, http.StatusAccepted, &out)
	return out.Server.ID
}

func (a *crashAPI) attach(server, volume string, deleteOnTermination bool) {
	a.call("POST", "/compute/v2.1/servers/"+server+"/os-volume_attachments", map[string]any{"volumeAttachment": map[string]any{
		"volumeId": volume, "delete_on_termination": deleteOnTermination}}, http.StatusOK)
}

type crashVolume struct {
	Status      string
	Attachments []struct {
		ServerID string `json:"server_id"`
	}
}

// volume reads a volume; false when it is gone.
func (a *crashAPI) volume(id string) (crashVolume, bool) {
	r := a.e.Do(a.t, "GET", a.volumePath(id), a.tok, nil)
	if r.Status == http.StatusNotFound {
		return crashVolume{}, false
	}
	var out struct{ Volume crashVolume }
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil {
		a.t.Fatalf("GET volume %s: %d %s", id, r.Status, r.Body)
	}
	return out.Volume, true
}

// serverAttachments are the volume ids of os-volume_attachments (none when
// the server is gone).
func (a *crashAPI) serverAttachments(server string) []string {
	r := a.e.Do(a.t, "GET", "/compute/v2.1/servers/"+server+"/os-volume_attachments", a.tok, nil, "OpenStack-API-Version", "compute 2.79")
	if r.Status == http.StatusNotFound {
		return nil
	}
	var out struct {
		VolumeAttachments []struct {
			VolumeID string `json:"volumeId"`
		} `json:"volumeAttachments"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &out) != nil {
		a.t.Fatalf("os-volume_attachments of %s: %d %s", server, r.Status, r.Body)
	}
	var ids []string
	for _, v := range out.VolumeAttachments {
		ids = append(ids, v.VolumeID)
	}
	return ids
}

// bdmState is the state of the server's mapping of the volume ("" none).
func (a *crashAPI) bdmState(server, volume string) string {
	var v store.Server
	err := a.e.Cloud.DB.Read(context.Background(), func(tx *store.Tx) (err error) {
		v, err = tx.GetServer(context.Background(), server)
		return err
	})
	if err != nil {
		return ""
	}
	var bs []struct {
		VolumeID string `json:"volume_id"`
		State    string `json:"state"`
	}
	_ = json.Unmarshal([]byte(v.Volumes), &bs)
	for _, b := range bs {
		if b.VolumeID == volume {
			return b.State
		}
	}
	return ""
}

func (a *crashAPI) serverExists(id string) bool {
	return a.e.Do(a.t, "GET", "/compute/v2.1/servers/"+id, a.tok, nil).Status != http.StatusNotFound
}

func (a *crashAPI) serverCount() int {
	var out struct{ Servers []any }
	a.call("GET", "/compute/v2.1/servers", nil, http.StatusOK, &out)
	return len(out.Servers)
}

func (a *crashAPI) volumesInUse() int {
	var out struct {
		QuotaSet struct {
			Volumes struct {
				InUse int `json:"in_use"`
			} `json:"volumes"`
		} `json:"quota_set"`
	}
	a.call("GET", fmt.Sprintf("/volume/v3/%s/os-quota-sets/%s?usage=true", a.project, a.project), nil, http.StatusOK, &out)
	return out.QuotaSet.Volumes.InUse
}

func (a *crashAPI) waitVolume(id, status string) {
	a.t.Helper()
	var last crashVolume
	if !a.eventually(func() bool {
		last, _ = a.volume(id)
		return last.Status == status
	}) {
		a.t.Fatalf("volume %s is %s, want %s", id, last.Status, status)
	}
}

func (a *crashAPI) waitServer(id, status string) {
	a.t.Helper()
	var out struct {
		Server struct {
			Status string
			Fault  any `json:"fault"`
		}
	}
	if !a.eventually(func() bool {
		a.call("GET", "/compute/v2.1/servers/"+id, nil, http.StatusOK, &out)
		return out.Server.Status == status
	}) {
		a.t.Fatalf("server %s is %s (fault %v), want %s", id, out.Server.Status, out.Server.Fault, status)
	}
}

// eventually polls ok until it holds or a minute passes.
func (a *crashAPI) eventually(ok func() bool) bool {
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			return true
		}
		select {
		case <-deadline.C:
			return ok()
		case <-tick.C:
		}
	}
}
