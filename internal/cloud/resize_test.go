package cloud_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// TestResizeWithOneHostSaysWhy: a resize moves a server to another host;
// with a single host there is none, and the resize's event says so (not
// "no compute hosts are registered", which is what it said), while the
// server stays ACTIVE where it was.
func TestResizeWithOneHostSaysWhy(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{Hosts: 1})
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	do := func(method, path, body string) cloudtest.Response {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return env.Do(t, method, path, admin, b, "OpenStack-API-Version", "compute 2.79")
	}
	do("POST", "/compute/v2.1/flavors", `{"flavor": {"name": "a", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}}`)
	do("POST", "/compute/v2.1/flavors", `{"flavor": {"name": "b", "id": "2", "vcpus": 1, "ram": 128, "disk": 1}}`)
	r := env.Do(t, "POST", "/image/v2/images", admin, []byte(`{"name": "i", "disk_format": "raw", "container_format": "bare"}`))
	img, _ := r.JSON(t)["id"].(string)
	env.Do(t, "PUT", "/image/v2/images/"+img+"/file", admin, []byte("bytes"), "Content-Type", "application/octet-stream")
	r = do("POST", "/compute/v2.1/servers", `{"server": {"name": "s", "imageRef": "`+img+`", "flavorRef": "1", "networks": "none"}}`)
	srv, _ := r.JSON(t)["server"].(map[string]any)
	id, _ := srv["id"].(string)
	status := func() string {
		s, _ := do("GET", "/compute/v2.1/servers/"+id, "").JSON(t)["server"].(map[string]any)
		st, _ := s["status"].(string)
		return st
	}
	for i := 0; i < 200 && status() != "ACTIVE"; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	r = do("POST", "/compute/v2.1/servers/"+id+"/action", `{"resize": {"flavorRef": "2"}}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("resize: %d %s", r.Status, r.Body)
	}
	reqID := r.Header.Get("X-Openstack-Request-Id")
	var why string
	for i := 0; i < 200 && why == ""; i++ {
		act, _ := do("GET", "/compute/v2.1/servers/"+id+"/os-instance-actions/"+reqID, "").JSON(t)["instanceAction"].(map[string]any)
		events, _ := act["events"].([]any)
		for _, e := range events {
			if ev, _ := e.(map[string]any); ev["result"] == "Error" {
				why, _ = ev["traceback"].(string)
			}
		}
		if why == "" {
			time.Sleep(25 * time.Millisecond)
		}
	}
	if !strings.Contains(why, "another host than its own") || !strings.Contains(why, "host-1") {
		t.Errorf("resize event: %q, want it to say the server needs another host than host-1", why)
	}
	if st := status(); st != "ACTIVE" {
		t.Errorf("after the refused resize the server is %s, want ACTIVE", st)
	}
}
