package compute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/hostapi"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// computeEnv is a test cloud with two fake hosts, a bootable image and flavors.
type computeEnv struct {
	*cloudtest.Env
	nova    *gophercloud.ServiceClient
	imageID string
}

func newComputeEnv(t testing.TB, backend string) *computeEnv {
	t.Helper()
	env := cloudtest.NewOn(t, backend)
	ctx := context.Background()
	pc := env.Admin(t)
	glance, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := images.Create(ctx, glance, images.CreateOpts{Name: "tiny", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if err := imagedata.Upload(ctx, glance, img.ID, bytes.NewReader(make([]byte, 4096))).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	err = env.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		now := time.Now()
		for _, f := range []store.Flavor{
			{ID: "1", Name: "small", RAM: 512, VCPUs: 1, Disk: 1, IsPublic: true, RxTxFactor: 1, CreatedAt: now, UpdatedAt: now},
			{ID: "2", Name: "medium", RAM: 1024, VCPUs: 2, Disk: 2, IsPublic: true, RxTxFactor: 1, CreatedAt: now, UpdatedAt: now},
			{ID: "99", Name: "huge", RAM: 32768, VCPUs: 2, Disk: 1, IsPublic: true, RxTxFactor: 1, CreatedAt: now, UpdatedAt: now},
		} {
			if err := tx.CreateFlavor(ctx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nova, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	nova.Microversion = "2.79"
	return &computeEnv{Env: env, nova: nova, imageID: img.ID}
}

// waitStatus polls (bounded) until the server reaches one of the statuses.
func (e *computeEnv) waitStatus(t *testing.T, id string, want ...string) *servers.Server {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last *servers.Server
	for time.Now().Before(deadline) {
		s, err := servers.Get(context.Background(), e.nova, id).Extract()
		if err != nil {
			t.Fatalf("get server %s: %v", id, err)
		}
		last = s
		for _, w := range want {
			if s.Status == w && s.TaskState == "" {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	var events []string
	if pages, err := instanceactions.List(e.nova, id, nil).AllPages(context.Background()); err == nil {
		acts, _ := instanceactions.ExtractInstanceActions(pages)
		for _, a := range acts {
			if act, err := instanceactions.Get(context.Background(), e.nova, id, a.RequestID).Extract(); err == nil && act.Events != nil {
				for _, ev := range *act.Events {
					events = append(events, a.Action+"/"+ev.Event+": "+ev.Result+" "+ev.Traceback)
				}
			}
		}
	}
	t.Fatalf("server %s: status %s (task %q), want %v; events: %q", id, last.Status, last.TaskState, want, events)
	return nil
}

func (e *computeEnv) boot(t testing.TB, name, flavor string, hints servers.SchedulerHintOptsBuilder) string {
	t.Helper()
	s, err := servers.Create(context.Background(), e.nova, servers.CreateOpts{
		Name: name, ImageRef: e.imageID, FlavorRef: flavor, Networks: "none",
	}, hints).Extract()
	if err != nil {
		t.Fatalf("boot %s: %v", name, err)
	}
	return s.ID
}

func TestServerLifecycle(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()
	id := e.boot(t, "web-1", "1", nil)
	s := e.waitStatus(t, id, "ACTIVE")
	if s.Host == "" || s.PowerState != servers.RUNNING || s.LaunchedAt.IsZero() {
		t.Fatalf("active server = host %q power %v launched %v; want a host, RUNNING and a launch time", s.Host, s.PowerState, s.LaunchedAt)
	}
	for _, step := range []struct {
		name string
		do   func() error
		want string
	}{
		{"stop", func() error { return servers.Stop(ctx, e.nova, id).ExtractErr() }, "SHUTOFF"},
		{"start", func() error { return servers.Start(ctx, e.nova, id).ExtractErr() }, "ACTIVE"},
		{"reboot", func() error {
			return servers.Reboot(ctx, e.nova, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr()
		}, "ACTIVE"},
		{"pause", func() error { return postAction(e, id, `{"pause": null}`) }, "PAUSED"},
		{"unpause", func() error { return postAction(e, id, `{"unpause": null}`) }, "ACTIVE"},
		{"suspend", func() error { return postAction(e, id, `{"suspend": null}`) }, "SUSPENDED"},
		{"resume", func() error { return postAction(e, id, `{"resume": null}`) }, "ACTIVE"},
		{"resize", func() error {
			return servers.Resize(ctx, e.nova, id, servers.ResizeOpts{FlavorRef: "2"}).ExtractErr()
		}, "VERIFY_RESIZE"},
		{"confirm", func() error { return servers.ConfirmResize(ctx, e.nova, id).ExtractErr() }, "ACTIVE"},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		e.waitStatus(t, id, step.want)
	}
	// A snapshot becomes an active image that boots.
	snapID, err := servers.CreateImage(ctx, e.nova, id, servers.CreateImageOpts{Name: "snap"}).ExtractImageID()
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "ACTIVE")
	glance, _ := openstack.NewImageV2(e.Admin(t), gophercloud.EndpointOpts{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		img, err := images.Get(ctx, glance, snapID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if img.Status == images.ImageStatusActive {
			if img.Properties["instance_uuid"] != id {
				t.Errorf("snapshot properties = %v, want instance_uuid %s", img.Properties, id)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot image stays %s", img.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fromSnap, err := servers.Create(ctx, e.nova, servers.CreateOpts{Name: "from-snap", ImageRef: snapID, FlavorRef: "1", Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, fromSnap.ID, "ACTIVE")

	s = e.waitStatus(t, id, "ACTIVE")
	if s.Flavor["original_name"] != "medium" {
		t.Errorf("flavor after resize = %v, want medium", s.Flavor["original_name"])
	}

	// Every action is recorded, newest first, with its events.
	pages, err := instanceactions.List(e.nova, id, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := instanceactions.ExtractInstanceActions(pages)
	var names []string
	for _, a := range acts {
		names = append(names, a.Action)
	}
	want := "createImage confirmResize resize resume suspend unpause pause reboot start stop create"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("instance actions = %q, want %q", got, want)
	}

	// A stopped server cannot be stopped again: 409 with Nova's body.
	if err := servers.Stop(ctx, e.nova, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "SHUTOFF")
	r := e.Do(t, "POST", "/compute/v2.1/servers/"+id+"/action", e.nova.TokenID, []byte(`{"os-stop": null}`))
	if r.Status != 409 || !strings.Contains(string(r.Body), `"conflictingRequest"`) || !strings.Contains(string(r.Body), "vm_state stopped") {
		t.Errorf("stop of a stopped server: %d %s", r.Status, r.Body)
	}

	if err := servers.Delete(ctx, e.nova, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, err := servers.Get(ctx, e.nova, id).Extract()
		if gophercloud.ResponseCodeIs(err, 404) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still there after delete: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing is left allocated in placement.
	pl := e.Do(t, "GET", "/placement/allocations/"+id, e.nova.TokenID, nil)
	if pl.Status != 200 || strings.Contains(string(pl.Body), "MEMORY_MB") {
		t.Errorf("allocations after delete: %d %s", pl.Status, pl.Body)
	}
}

func postAction(e *computeEnv, id, body string) error {
	_, err := e.nova.Post(context.Background(), e.nova.ServiceURL("servers", id, "action"), json.RawMessage(body), nil,
		&gophercloud.RequestOpts{OkCodes: []int{202}})
	return err
}

func TestSchedulerExplainsAndSpreads(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()

	// An anti-affinity group puts its two members on different hosts.
	g := store.ServerGroup{ID: "3f0d6c2c-0000-4000-8000-000000000001", Name: "web", Policy: "anti-affinity",
		Rules: map[string]any{}, CreatedAt: time.Now()}
	if err := e.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		proj, err := e.Cloud.Identity.ListProjects(ctx, idsvc.ProjectFilter{Name: "admin"})
		if err != nil {
			return err
		}
		g.ProjectID = proj[0].ID
		return tx.CreateServerGroup(ctx, g)
	}); err != nil {
		t.Fatal(err)
	}
	a := e.boot(t, "a", "1", servers.SchedulerHintOpts{Group: g.ID})
	b := e.boot(t, "b", "1", servers.SchedulerHintOpts{Group: g.ID})
	sa, sb := e.waitStatus(t, a, "ACTIVE"), e.waitStatus(t, b, "ACTIVE")
	if sa.Host == sb.Host {
		t.Errorf("anti-affinity members on the same host %s", sa.Host)
	}
	// A third member has nowhere to go: ERROR, and the fault says why.
	c := e.boot(t, "c", "1", servers.SchedulerHintOpts{Group: g.ID})
	sc := e.waitStatus(t, c, "ERROR")
	if !strings.Contains(sc.Fault.Message, "2 refused by the server group's policy") {
		t.Errorf("fault = %q, want it to name the group policy", sc.Fault.Message)
	}

	// A flavor larger than any host: the fault names RAM and the best host.
	big := e.boot(t, "big", "99", nil)
	s := e.waitStatus(t, big, "ERROR")
	if !strings.Contains(s.Fault.Message, "No valid host") || !strings.Contains(s.Fault.Message, "lacked RAM (best: host-") {
		t.Errorf("fault = %q, want No valid host … lacked RAM (best: host-…)", s.Fault.Message)
	}
	// The explanation is in the create action's events too.
	acts, err := instanceactions.List(e.nova, big, nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := instanceactions.ExtractInstanceActions(acts)
	act, err := instanceactions.Get(ctx, e.nova, big, list[0].RequestID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if act.Events == nil || len(*act.Events) == 0 || (*act.Events)[0].Result != "Error" || !strings.Contains((*act.Events)[0].Traceback, "lacked RAM") {
		t.Errorf("create events = %+v, want an Error event explaining RAM", act.Events)
	}
}

func TestServerErrors(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	e.checkErrors(t, []errorCase{
		{"missing server", "GET", "/compute/v2.1/servers/5bb1bd2a-0000-4000-8000-000000000000", "", nil, 404, "itemNotFound", "could not be found"},
		{"bad microversion", "GET", "/compute/v2.1/servers", "", []string{"OpenStack-API-Version", "compute 2.999"}, 406, "HTTPNotAcceptable", "maximum is 2.79"},
		{"unknown flavor", "POST", "/compute/v2.1/servers", `{"server": {"name": "x", "imageRef": "` + e.imageID + `", "flavorRef": "nope", "networks": "none"}}`, []string{"OpenStack-API-Version", "compute 2.79"}, 400, "badRequest", "Flavor nope could not be found"},
		{"networks required", "POST", "/compute/v2.1/servers", `{"server": {"name": "x", "imageRef": "` + e.imageID + `", "flavorRef": "1"}}`, []string{"OpenStack-API-Version", "compute 2.79"}, 400, "badRequest", "'networks' is a required property"},
		{"unknown network", "POST", "/compute/v2.1/servers", `{"server": {"name": "x", "imageRef": "` + e.imageID + `", "flavorRef": "1", "networks": [{"uuid": "5bb1bd2a-0000-4000-8000-000000000000"}]}}`, []string{"OpenStack-API-Version", "compute 2.79"}, 400, "badRequest", "Network 5bb1bd2a-0000-4000-8000-000000000000 could not be found"},
		{"malformed", "POST", "/compute/v2.1/servers", `{"server": `, nil, 400, "badRequest", "not valid JSON"},
		{"unknown action", "POST", "/compute/v2.1/servers/5bb1bd2a-0000-4000-8000-000000000000/action", `{"fly": null}`, nil, 400, "badRequest", "not supported"},
		{"quota", "POST", "/compute/v2.1/servers", `{"server": {"name": "x", "imageRef": "` + e.imageID + `", "flavorRef": "1", "networks": "none", "min_count": 11}}`, []string{"OpenStack-API-Version", "compute 2.79"}, 403, "forbidden", "Quota exceeded"},
	})
}

// errorCase is one request and the Nova error body it must get.
type errorCase struct {
	name, method, path, body string
	headers                  []string
	want                     int
	key, msg                 string
}

// checkErrors sends each case with the env's token and checks the status,
// the body's key and that its message says msg.
func (e *computeEnv) checkErrors(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			r := e.Do(t, tc.method, tc.path, e.nova.TokenID, body, tc.headers...)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.want, r.Body)
			}
			obj, ok := r.JSON(t)[tc.key].(map[string]any)
			if !ok {
				t.Fatalf("no %q object in %s", tc.key, r.Body)
			}
			if msg, _ := obj["message"].(string); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not mention %q", msg, tc.msg)
			}
			if r.Header.Get("X-Compute-Request-Id") == "" {
				t.Errorf("no x-compute-request-id")
			}
		})
	}
}

// TestAgentFailureBecomesFault: when a host agent reports that it could not
// act on a guest, the server goes to ERROR with the agent's words as the
// fault and an Error event, and the owner sees both.
func TestAgentFailureBecomesFault(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()
	id := e.boot(t, "x", "1", nil)
	s := e.waitStatus(t, id, "ACTIVE")
	if err := servers.Reboot(ctx, e.nova, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	msg := "qemu-system-x86_64: could not open disk image: No space left on device; free space in the data dir of " + s.Host
	if err := e.Cloud.Compute.Report(ctx, hostapi.Report{Host: s.Host, ServerID: id, Power: hostapi.PowerShutdown, Error: msg}); err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus(t, id, "ERROR")
	if got.Fault.Message != msg || got.Fault.Code != 500 {
		t.Errorf("fault = %+v, want the agent's message", got.Fault)
	}
	acts, _ := instanceactions.List(e.nova, id, nil).AllPages(ctx)
	list, _ := instanceactions.ExtractInstanceActions(acts)
	act, err := instanceactions.Get(ctx, e.nova, id, list[0].RequestID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if list[0].Action != "reboot" || act.Events == nil || (*act.Events)[len(*act.Events)-1].Result != "Error" {
		t.Errorf("reboot action events = %+v, want an Error event", act.Events)
	}
	// A hard reboot recovers from ERROR.
	if err := servers.Reboot(ctx, e.nova, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "ACTIVE")
}

// TestRemoteConsoleErrors: console URLs answer as Nova's does when a type
// is unavailable, with microversion gates; fake hosts have no serial port.
func TestRemoteConsoleErrors(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	id := e.boot(t, "rc", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	mv := func(v string) []string { return []string{"OpenStack-API-Version", "compute " + v} }
	rc := "/compute/v2.1/servers/" + id + "/remote-consoles"
	act := "/compute/v2.1/servers/" + id + "/action"
	e.checkErrors(t, []errorCase{
		{"vnc unavailable", "POST", rc, `{"remote_console": {"protocol": "vnc", "type": "novnc"}}`, mv("2.6"), 400, "badRequest", "Unavailable console type novnc"},
		{"serial on a fake host", "POST", rc, `{"remote_console": {"protocol": "serial", "type": "serial"}}`, mv("2.6"), 400, "badRequest", "serves no interactive console"},
		{"type mismatch", "POST", rc, `{"remote_console": {"protocol": "serial", "type": "novnc"}}`, mv("2.6"), 400, "badRequest", "Invalid console type novnc"},
		{"bad protocol", "POST", rc, `{"remote_console": {"protocol": "telnet", "type": "serial"}}`, mv("2.6"), 400, "badRequest", "is not one of"},
		{"mks before 2.8", "POST", rc, `{"remote_console": {"protocol": "mks", "type": "webmks"}}`, mv("2.6"), 400, "badRequest", "is not one of"},
		{"before 2.6", "POST", rc, `{"remote_console": {"protocol": "serial", "type": "serial"}}`, mv("2.5"), 404, "itemNotFound", "2.6"},
		{"legacy action", "POST", act, `{"os-getSerialConsole": {"type": "serial"}}`, mv("2.1"), 400, "badRequest", "serves no interactive console"},
		{"legacy vnc", "POST", act, `{"os-getVNCConsole": {"type": "novnc"}}`, mv("2.1"), 400, "badRequest", "Unavailable console type novnc"},
		{"legacy action gone", "POST", act, `{"os-getSerialConsole": {"type": "serial"}}`, mv("2.6"), 404, "itemNotFound", "no such action"},
		{"unknown token", "GET", "/compute/v2.1/os-console-auth-tokens/abc", "", mv("2.31"), 404, "itemNotFound", "invalid or has expired"},
		{"token before 2.31", "GET", "/compute/v2.1/os-console-auth-tokens/abc", "", mv("2.30"), 401, "unauthorized", "not accessible"},
		{"proxy without token", "GET", "/compute/serial-console/", "", nil, 404, "itemNotFound", "invalid or has expired"},
	})
}

// TestGuestStoppedByItself: a host reporting that a running server's guest
// is off though nothing asked for it (it powered off inside, or its
// process died) makes the server SHUTOFF with a "stop" action saying why,
// as Nova's power state sync does; a start brings it back.
func TestGuestStoppedByItself(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()
	id := e.boot(t, "self-stop", "1", nil)
	s := e.waitStatus(t, id, "ACTIVE")
	if err := e.Cloud.Compute.Report(ctx, hostapi.Report{Host: s.Host, ServerID: id, Power: hostapi.PowerShutdown}); err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus(t, id, "SHUTOFF")
	if got.PowerState != servers.SHUTDOWN {
		t.Errorf("power state %v, want SHUTDOWN", got.PowerState)
	}
	acts, _ := instanceactions.List(e.nova, id, nil).AllPages(ctx)
	list, _ := instanceactions.ExtractInstanceActions(acts)
	if len(list) == 0 || list[0].Action != "stop" || !strings.Contains(list[0].Message, "stopped by itself") {
		t.Errorf("latest action = %+v, want a stop saying the guest stopped by itself", list)
	}
	if err := servers.Start(ctx, e.nova, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "ACTIVE")
}

// TestRebuildKeepsPowerState: a stopped server is rebuilt stopped (as Nova
// does), a running one comes back running.
func TestRebuildKeepsPowerState(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()
	id := e.boot(t, "r", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	if err := servers.Stop(ctx, e.nova, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "SHUTOFF")
	if _, err := servers.Rebuild(ctx, e.nova, id, servers.RebuildOpts{ImageRef: e.imageID}).Extract(); err != nil {
		t.Fatal(err)
	}
	if s := e.waitStatus(t, id, "SHUTOFF"); s.PowerState != servers.SHUTDOWN {
		t.Errorf("rebuilt stopped server: power %v, want SHUTDOWN", s.PowerState)
	}
	if err := servers.Start(ctx, e.nova, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "ACTIVE")
	if _, err := servers.Rebuild(ctx, e.nova, id, servers.RebuildOpts{ImageRef: e.imageID}).Extract(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, id, "ACTIVE")
}

// TestVersionsAndLegacyV2: the version list names v2.0 first (old clients
// and Tempest expect it) and /compute/v2 serves the API at microversion 2.1.
func TestVersionsAndLegacyV2(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	r := e.Do(t, "GET", "/compute/", "", nil)
	vs, _ := r.JSON(t)["versions"].([]any)
	if r.Status != 200 || len(vs) != 2 || vs[0].(map[string]any)["id"] != "v2.0" || vs[1].(map[string]any)["version"] != "2.79" {
		t.Fatalf("GET /compute/: %d %s", r.Status, r.Body)
	}
	id := e.boot(t, "legacy", "1", nil)
	r = e.Do(t, "GET", "/compute/v2/servers/"+id, e.nova.TokenID, nil, "OpenStack-API-Version", "compute 2.79")
	if r.Status != 200 || r.Header.Get("OpenStack-API-Version") != "compute 2.1" {
		t.Fatalf("GET /compute/v2/servers/%s: %d %q %s", id, r.Status, r.Header.Get("OpenStack-API-Version"), r.Body)
	}
	if _, hasDesc := r.JSON(t)["server"].(map[string]any)["description"]; hasDesc {
		t.Errorf("the v2 alias served a 2.19+ field: %s", r.Body)
	}
}

// TestRefusedSnapshotLeavesNoImage: createImage on a server that cannot take
// it (here: in ERROR) is refused and leaves no queued image.
func TestRefusedSnapshotLeavesNoImage(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ctx := context.Background()
	id := e.boot(t, "s", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	if err := e.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		v, err := tx.GetServer(ctx, id)
		if err != nil {
			return err
		}
		v.VMState = "error" // no agent task changes this state back
		return tx.UpdateServer(ctx, &v, 0)
	}); err != nil {
		t.Fatal(err)
	}
	r := e.Do(t, "POST", "/compute/v2.1/servers/"+id+"/action", e.nova.TokenID, []byte(`{"createImage": {"name": "refused"}}`))
	if r.Status != 409 {
		t.Fatalf("createImage in ERROR: %d %s", r.Status, r.Body)
	}
	list := e.Do(t, "GET", "/image/v2/images?name=refused", e.nova.TokenID, nil)
	if imgs, _ := list.JSON(t)["images"].([]any); len(imgs) != 0 {
		t.Errorf("a refused snapshot left images: %s", list.Body)
	}
}
