package compute_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// raw sends an admin request to /compute/v2.1 at microversion mv.
func (e *computeEnv) raw(t *testing.T, method, path, mv, body string) cloudtest.Response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	return e.Do(t, method, "/compute/v2.1"+path, tok, b, "OpenStack-API-Version", "compute "+mv)
}

func wantStatus(t *testing.T, r cloudtest.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(t)
}

func TestImageProxyMetadataAndFilters(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	img := "/images/" + e.imageID
	wantStatus(t, e.raw(t, "PUT", img+"/metadata", "2.1", `{"metadata": {"os_version": "1", "os_distro": "x"}}`), 200)
	wantStatus(t, e.raw(t, "POST", img+"/metadata", "2.1", `{"metadata": {"architecture": "a"}}`), 200)
	wantStatus(t, e.raw(t, "PUT", img+"/metadata/os_version", "2.1", `{"meta": {"os_version": "2"}}`), 200)
	wantStatus(t, e.raw(t, "DELETE", img+"/metadata/os_distro", "2.1", ""), 204)
	got := wantStatus(t, e.raw(t, "GET", img+"/metadata", "2.1", ""), 200)
	want := map[string]any{"metadata": map[string]any{"os_version": "2", "architecture": "a"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metadata (-want +got):\n%s", d)
	}
	// Replace drops what the body does not name.
	wantStatus(t, e.raw(t, "PUT", img+"/metadata", "2.1", `{"metadata": {"k": "v"}}`), 200)
	got = wantStatus(t, e.raw(t, "GET", img+"/metadata/k", "2.1", ""), 200)
	if d := cmp.Diff(map[string]any{"meta": map[string]any{"k": "v"}}, got); d != "" {
		t.Errorf("item (-want +got):\n%s", d)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", img + "/metadata/absent", "", 404},
		{"DELETE", img + "/metadata/absent", "", 404},
		{"GET", "/images/00000000-0000-0000-0000-000000000000/metadata", "", 404},
		{"PUT", img + "/metadata/k", `{"meta": {"other": "v"}}`, 400},
		{"PUT", img + "/metadata/k", `{"meta": {"k": "v", "l": "w"}}`, 400},
	} {
		if r := e.raw(t, c.method, c.path, "2.1", c.body); r.Status != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, r.Status, c.status, r.Body)
		}
	}
	if r := e.raw(t, "GET", img+"/metadata", "2.39", ""); r.Status != 404 {
		t.Errorf("metadata at 2.39: status %d, want 404", r.Status)
	}

	count := func(q string) int {
		t.Helper()
		b := wantStatus(t, e.raw(t, "GET", "/images/detail?"+q, "2.1", ""), 200)
		return len(b["images"].([]any))
	}
	for q, want := range map[string]int{
		"": 1, "name=tiny": 1, "name=other": 0, "status=ACTIVE": 1, "status=SAVING": 0,
		"type=snapshot": 0, "server=http://x/servers/abc": 0, "limit=0": 0, "minRam=1": 0,
		"changes-since=2000-01-01T00:00:00Z": 1, "changes-since=2999-01-01T00:00:00Z": 0,
	} {
		if got := count(q); got != want {
			t.Errorf("images?%s: %d images, want %d", q, got, want)
		}
	}
}

func TestServerDiskConfigStateAndUsage(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) { testServerDiskConfigStateAndUsage(t, backend) })
	}
}

func testServerDiskConfigStateAndUsage(t *testing.T, backend string) {
	e := newComputeEnv(t, backend)
	b := wantStatus(t, e.raw(t, "POST", "/servers", "2.1",
		`{"server": {"name": "dc", "imageRef": "`+e.imageID+`", "flavorRef": "1", "OS-DCF:diskConfig": "AUTO"}}`), 202)
	id := b["server"].(map[string]any)["id"].(string)
	if dc := b["server"].(map[string]any)["OS-DCF:diskConfig"]; dc != "AUTO" {
		t.Errorf("create answers diskConfig %v, want AUTO", dc)
	}
	e.waitStatus(t, id, "ACTIVE")
	wantStatus(t, e.raw(t, "PUT", "/servers/"+id, "2.1", `{"server": {"OS-DCF:diskConfig": "MANUAL"}}`), 200)
	show := wantStatus(t, e.raw(t, "GET", "/servers/"+id, "2.1", ""), 200)["server"].(map[string]any)
	if show["OS-DCF:diskConfig"] != "MANUAL" {
		t.Errorf("diskConfig after update = %v, want MANUAL", show["OS-DCF:diskConfig"])
	}
	wantStatus(t, e.raw(t, "PUT", "/servers/"+id, "2.1", `{"server": {"OS-DCF:diskConfig": "SOMETIMES"}}`), 400)

	// os-resetState sets the vm_state only.
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"os-resetState": {"state": "error"}}`), 202)
	e.waitStatus(t, id, "ERROR")
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"os-resetState": {"state": "active"}}`), 202)
	e.waitStatus(t, id, "ACTIVE")
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"os-resetState": {"state": "building"}}`), 400)

	// Booted without networks before 2.37: get-me-a-network gave it one
	// NIC on the project's auto-allocated network; /ips lists its address
	// per network name, version and addr only.
	ips := wantStatus(t, e.raw(t, "GET", "/servers/"+id+"/ips", "2.1", ""), 200)
	addrs, _ := ips["addresses"].(map[string]any)
	net, _ := addrs["auto_allocated_network"].([]any)
	if len(addrs) != 1 || len(net) != 1 {
		t.Fatalf("ips = %v, want one address on auto_allocated_network", ips)
	}
	if a := net[0].(map[string]any); a["version"] != 4.0 || a["addr"] == "" || len(a) != 2 {
		t.Errorf("ips address %v, want {version 4, addr}", a)
	}
	one := wantStatus(t, e.raw(t, "GET", "/servers/"+id+"/ips/auto_allocated_network", "2.1", ""), 200)
	if d := cmp.Diff(map[string]any{"auto_allocated_network": net}, one); d != "" {
		t.Errorf("ips/auto_allocated_network (-want +got):\n%s", d)
	}
	show = wantStatus(t, e.raw(t, "GET", "/servers/"+id, "2.1", ""), 200)["server"].(map[string]any)
	if sa, _ := show["addresses"].(map[string]any)["auto_allocated_network"].([]any); len(sa) != 1 || sa[0].(map[string]any)["OS-EXT-IPS:type"] != "fixed" {
		t.Errorf("server addresses %v, want the fixed address with its type", show["addresses"])
	}
	wantStatus(t, e.raw(t, "GET", "/servers/"+id+"/ips/private", "2.1", ""), 404)

	// Synthetic diagnostics on the fake host say so.
	diag := wantStatus(t, e.raw(t, "GET", "/servers/"+id+"/diagnostics", "2.48", ""), 200)
	if diag["hypervisor"] != "fake" || diag["state"] != "running" || diag["num_cpus"] != 1.0 {
		t.Errorf("diagnostics = %v, want hypervisor fake, running, 1 cpu", diag)
	}

	// Usage from the server record.
	list := wantStatus(t, e.raw(t, "GET", "/os-simple-tenant-usage?detailed=1&start=2000-01-01T00:00:00&end=2999-01-01T00:00:00", "2.1", ""), 200)
	tus := list["tenant_usages"].([]any)
	if len(tus) != 1 || len(tus[0].(map[string]any)) != 8 {
		t.Fatalf("tenant_usages = %v, want one project with 8 fields", tus)
	}
	su := tus[0].(map[string]any)["server_usages"].([]any)
	if len(su) != 1 || su[0].(map[string]any)["instance_id"] != id || su[0].(map[string]any)["flavor"] != "small" {
		t.Errorf("server_usages = %v, want the one server on flavor small", su)
	}
	wantStatus(t, e.raw(t, "GET", "/os-simple-tenant-usage?start=2999-01-01T00:00:00&end=2000-01-01T00:00:00", "2.1", ""), 400)
	wantStatus(t, e.raw(t, "GET", "/os-simple-tenant-usage?start=yesterday", "2.1", ""), 400)

	// limit=0 is an empty page.
	if l := wantStatus(t, e.raw(t, "GET", "/servers?limit=0", "2.1", ""), 200); len(l["servers"].([]any)) != 0 {
		t.Errorf("servers?limit=0 = %v, want none", l)
	}
}

func TestOSHosts(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	id := e.boot(t, "h", "1", nil)
	s := e.waitStatus(t, id, "ACTIVE")
	list := wantStatus(t, e.raw(t, "GET", "/os-hosts", "2.42", ""), 200)["hosts"].([]any)
	var compute int
	for _, h := range list {
		if h.(map[string]any)["service"] == "compute" {
			compute++
		}
	}
	if compute < 1 || len(list) < 3 {
		t.Fatalf("os-hosts = %v, want the control plane and the compute hosts", list)
	}
	if l := wantStatus(t, e.raw(t, "GET", "/os-hosts?zone=xxx", "2.42", ""), 200)["hosts"].([]any); len(l) != 0 {
		t.Errorf("os-hosts?zone=xxx = %v, want none", l)
	}
	show := wantStatus(t, e.raw(t, "GET", "/os-hosts/"+s.Host, "2.42", ""), 200)["host"].([]any)
	used := show[1].(map[string]any)["resource"].(map[string]any)
	if used["host"] != s.Host || used["project"] != "(used_now)" || used["memory_mb"] != 512.0 {
		t.Errorf("used_now = %v, want 512 MB on %s", used, s.Host)
	}
	for _, c := range []struct {
		method, path, mv, body string
		status                 int
	}{
		{"GET", "/os-hosts/nowhere", "2.42", "", 404},
		{"GET", "/os-hosts", "2.43", "", 404},
		{"PUT", "/os-hosts/" + s.Host, "2.42", `{"status": "sideways"}`, 400},
		{"PUT", "/os-hosts/nowhere", "2.42", `{"status": "enable"}`, 404},
		{"PUT", "/os-hosts/" + s.Host, "2.42", `{"status": "enable"}`, 501},
		{"GET", "/os-hosts/nowhere/reboot", "2.42", "", 404},
	} {
		if r := e.raw(t, c.method, c.path, c.mv, c.body); r.Status != c.status {
			t.Errorf("%s %s at %s: status %d, want %d: %s", c.method, c.path, c.mv, r.Status, c.status, r.Body)
		}
	}
}

func TestMigrationsList(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) { testMigrationsList(t, backend) })
	}
}

func testMigrationsList(t *testing.T, backend string) {
	e := newComputeEnv(t, backend)
	// A resize needs a second host: wait (bounded) for both fake agents.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		hs, err := e.Cloud.Compute.Hosts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 2 hosts registered", len(hs))
		}
	}
	id := e.boot(t, "m", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"resize": {"flavorRef": "2"}}`), 202)
	e.waitStatus(t, id, "VERIFY_RESIZE")
	list := func(q, mv string) []any {
		t.Helper()
		return wantStatus(t, e.raw(t, "GET", "/os-migrations"+q, mv, ""), 200)["migrations"].([]any)
	}
	ms := list("", "2.59")
	if len(ms) != 1 {
		t.Fatalf("migrations = %v, want one", ms)
	}
	m := ms[0].(map[string]any)
	if m["instance_uuid"] != id || m["status"] != "finished" || m["migration_type"] != "resize" || m["dest_compute"] == nil {
		t.Errorf("migration while resized = %v, want finished resize with a destination", m)
	}
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"confirmResize": null}`), 204)
	e.waitStatus(t, id, "ACTIVE")
	m = list("?instance_uuid="+id, "2.1")[0].(map[string]any)
	if m["status"] != "confirmed" {
		t.Errorf("status after confirm = %v, want confirmed", m["status"])
	}
	if _, ok := m["migration_type"]; ok {
		t.Errorf("migration_type shown at 2.1: %v", m)
	}
	if n := len(list("?status=reverted", "2.1")); n != 0 {
		t.Errorf("status=reverted lists %d, want 0", n)
	}
	if n := len(list("?limit=0", "2.59")); n != 0 {
		t.Errorf("limit=0 lists %d, want 0", n)
	}
}

func TestBackupEventsAuditPassword(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	id := e.boot(t, "b", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	var backups []string
	for i := 0; i < 3; i++ {
		r := wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.45",
			`{"createBackup": {"name": "bk", "backup_type": "daily", "rotation": 2}}`), 202)
		backups = append(backups, r["image_id"].(string))
		e.waitStatus(t, id, "ACTIVE")
	}
	left := wantStatus(t, e.raw(t, "GET", "/images?server="+id+"&type=backup", "2.1", ""), 200)["images"].([]any)
	var ids []string
	for _, im := range left {
		ids = append(ids, im.(map[string]any)["id"].(string))
	}
	if d := cmp.Diff([]string{backups[2], backups[1]}, ids); d != "" {
		t.Errorf("backups after rotation 2 (-want +got):\n%s", d)
	}
	wantStatus(t, e.raw(t, "POST", "/servers/"+id+"/action", "2.1", `{"createBackup": {"name": "bk"}}`), 400)

	ev := wantStatus(t, e.raw(t, "POST", "/os-server-external-events", "2.1",
		`{"events": [{"name": "network-changed", "server_uuid": "`+id+`"}, {"name": "network-changed", "server_uuid": "absent"}]}`), 207)
	codes := []any{ev["events"].([]any)[0].(map[string]any)["code"], ev["events"].([]any)[1].(map[string]any)["code"]}
	if d := cmp.Diff([]any{200.0, 404.0}, codes); d != "" {
		t.Errorf("event codes (-want +got):\n%s", d)
	}
	wantStatus(t, e.raw(t, "POST", "/os-server-external-events", "2.1", `{"events": [{"name": "power-update", "server_uuid": "`+id+`"}]}`), 400)

	log := wantStatus(t, e.raw(t, "GET", "/os-instance_usage_audit_log/2020-02-15%2010:00:00", "2.1", ""), 200)["instance_usage_audit_log"].(map[string]any)
	if log["period_beginning"] != "2020-01-01 00:00:00" || log["num_hosts_done"] != 0.0 {
		t.Errorf("audit log = %v, want January 2020 with no host done", log)
	}
	wantStatus(t, e.raw(t, "GET", "/os-instance_usage_audit_log/yesterday", "2.1", ""), 400)

	if p := wantStatus(t, e.raw(t, "GET", "/servers/"+id+"/os-server-password", "2.1", ""), 200); p["password"] != "" {
		t.Errorf("password = %v, want empty", p)
	}
	wantStatus(t, e.raw(t, "DELETE", "/servers/"+id+"/os-server-password", "2.1", ""), 204)
}

func TestPerUserQuotas(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	tok := e.Token(t, "admin", cloudtest.AdminPassword, "admin")
	var project, user string
	{
		r := e.Do(t, "GET", "/identity/v3/auth/tokens", tok, nil, "X-Subject-Token", tok)
		tokBody := wantStatus(t, r, 200)["token"].(map[string]any)
		project = tokBody["project"].(map[string]any)["id"].(string)
		user = tokBody["user"].(map[string]any)["id"].(string)
	}
	q := "/os-quota-sets/" + project
	wantStatus(t, e.raw(t, "PUT", q+"?user_id="+user, "2.1", `{"quota_set": {"instances": 1, "ram": "2048"}}`), 200)
	got := wantStatus(t, e.raw(t, "GET", q+"?user_id="+user, "2.1", ""), 200)["quota_set"].(map[string]any)
	if got["instances"] != 1.0 || got["ram"] != 2048.0 || got["cores"] != 20.0 {
		t.Errorf("user quota = %v, want instances 1, ram 2048 and the project's cores", got)
	}
	if p := wantStatus(t, e.raw(t, "GET", q, "2.1", ""), 200)["quota_set"].(map[string]any); p["instances"] != 10.0 {
		t.Errorf("project quota = %v, want instances 10 still", p)
	}
	// The user's own limit is enforced on the user's servers.
	e.boot(t, "one", "1", nil)
	r := e.raw(t, "POST", "/servers", "2.1", `{"server": {"name": "two", "imageRef": "`+e.imageID+`", "flavorRef": "1"}}`)
	if r.Status != 403 {
		t.Errorf("second boot over the user's instances quota: status %d, want 403: %s", r.Status, r.Body)
	}
	d := wantStatus(t, e.raw(t, "GET", q+"/detail?user_id="+user, "2.1", ""), 200)["quota_set"].(map[string]any)
	if in := d["instances"].(map[string]any); in["limit"] != 1.0 || in["in_use"] != 1.0 {
		t.Errorf("user detail instances = %v, want limit 1, in use 1", in)
	}
	wantStatus(t, e.raw(t, "DELETE", q+"?user_id="+user, "2.1", ""), 202)
	if got := wantStatus(t, e.raw(t, "GET", q+"?user_id="+user, "2.1", ""), 200)["quota_set"].(map[string]any); got["instances"] != 10.0 {
		t.Errorf("user quota after delete = %v, want the project's", got)
	}
}

func TestUnofferedActionsAnswerAsNova(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	id := e.boot(t, "u", "1", nil)
	e.waitStatus(t, id, "ACTIVE")
	for _, c := range []struct {
		server, body string
		status       int
	}{
		{id, `{"unshelve": null}`, 409},
		{id, `{"restore": null}`, 409},
		{id, `{"shelve": null}`, 400},
		{"00000000-0000-0000-0000-000000000000", `{"unshelve": null}`, 404},
		{"00000000-0000-0000-0000-000000000000", `{"restore": null}`, 404},
		{"00000000-0000-0000-0000-000000000000", `{"shelve": null}`, 404},
	} {
		if r := e.raw(t, "POST", "/servers/"+c.server+"/action", "2.1", c.body); r.Status != c.status {
			t.Errorf("%s on %s: status %d, want %d: %s", c.body, c.server, r.Status, c.status, r.Body)
		}
	}
}
