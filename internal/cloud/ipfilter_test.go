package cloud_test

import (
	"net/http"
	"sort"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// TestListServersByIP: Nova's ip and ip6 filters match a server's fixed
// addresses (from its ports) as regular expressions anchored at the start,
// as Tempest's test_list_servers_filtered_by_ip checks; a bad expression is
// a 400.
func TestListServersByIP(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{})
	admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	do := func(method, path, body string) cloudtest.Response {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		return env.Do(t, method, path, admin, b, "OpenStack-API-Version", "compute 2.79")
	}
	id := func(r cloudtest.Response, key string) string {
		t.Helper()
		if r.Status/100 != 2 {
			t.Fatalf("create %s: %d %s", key, r.Status, r.Body)
		}
		obj, _ := r.JSON(t)[key].(map[string]any)
		s, _ := obj["id"].(string)
		return s
	}
	do("POST", "/compute/v2.1/flavors", `{"flavor": {"name": "x", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}}`)
	r := env.Do(t, "POST", "/image/v2/images", admin, []byte(`{"name": "i", "disk_format": "raw", "container_format": "bare"}`))
	img, _ := r.JSON(t)["id"].(string)
	env.Do(t, "PUT", "/image/v2/images/"+img+"/file", admin, []byte("bytes"), "Content-Type", "application/octet-stream")
	net := id(do("POST", "/network/v2.0/networks", `{"network": {"name": "n"}}`), "network")
	id(do("POST", "/network/v2.0/subnets", `{"subnet": {"network_id": "`+net+`", "cidr": "10.77.0.0/24", "ip_version": 4}}`), "subnet")
	byIP := map[string]string{}
	for _, ip := range []string{"10.77.0.15", "10.77.0.150", "10.77.0.25"} {
		srv := id(do("POST", "/compute/v2.1/servers", `{"server": {"name": "s-`+ip+`", "imageRef": "`+img+`", "flavorRef": "1", "networks": [{"uuid": "`+net+`", "fixed_ip": "`+ip+`"}]}}`), "server")
		byIP[ip] = srv
	}
	list := func(query string) []string {
		t.Helper()
		r := do("GET", "/compute/v2.1/servers?"+query, "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /servers?%s: %d %s", query, r.Status, r.Body)
		}
		var ids []string
		servers, _ := r.JSON(t)["servers"].([]any)
		for _, s := range servers {
			ids = append(ids, s.(map[string]any)["id"].(string))
		}
		sort.Strings(ids)
		return ids
	}
	want := func(ips ...string) []string {
		var ids []string
		for _, ip := range ips {
			ids = append(ids, byIP[ip])
		}
		sort.Strings(ids)
		return ids
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"ip=10.77.0.25", want("10.77.0.25")},
		{"ip=10.77.0.15", want("10.77.0.15", "10.77.0.150")}, // a prefix match, as Nova's re.match
		{"ip=10.77.0.15$", want("10.77.0.15")},
		{"ip=77.0", nil}, // anchored at the start
		{"ip=10%5C.77%5C.0%5C..*", want("10.77.0.15", "10.77.0.150", "10.77.0.25")},
		{"ip6=fe80", nil},
	} {
		if got := list(c.query); !equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}
	// With a page size, the filter reads on until the page is full.
	if got := list("ip=10.77.0.15&limit=1"); len(got) != 1 || (got[0] != byIP["10.77.0.15"] && got[0] != byIP["10.77.0.150"]) {
		t.Errorf("ip=10.77.0.15&limit=1: %v, want one of the two matches", got)
	}
	if r := do("GET", "/compute/v2.1/servers?ip=10.(", ""); r.Status != http.StatusBadRequest {
		t.Errorf("a bad ip expression: %d %s, want 400", r.Status, r.Body)
	}

	// An update's answer before 2.75 has addresses without the OS-EXT-IPS
	// attributes (Tempest's schema refuses them); from 2.75 it has them.
	for _, c := range []struct {
		version  string
		extended bool
	}{{"compute 2.1", false}, {"compute 2.75", true}} {
		r := env.Do(t, "PUT", "/compute/v2.1/servers/"+byIP["10.77.0.25"], admin, []byte(`{"server": {"name": "renamed"}}`), "OpenStack-API-Version", c.version)
		srv, _ := r.JSON(t)["server"].(map[string]any)
		nets, _ := srv["addresses"].(map[string]any)
		list, _ := nets["n"].([]any)
		if r.Status != http.StatusOK || len(list) != 1 {
			t.Fatalf("update at %s: %d %s", c.version, r.Status, r.Body)
		}
		a, _ := list[0].(map[string]any)
		_, has := a["OS-EXT-IPS:type"]
		if a["addr"] != "10.77.0.25" || has != c.extended {
			t.Errorf("update at %s: address %v, want addr 10.77.0.25 with OS-EXT-IPS attributes %v", c.version, a, c.extended)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
