package cloud_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// badInput is one class of bad input sent to one API, with the status it
// must get. docs/reliability.md lists the same table.
type badInput struct {
	class, method, path string
	body                string
	headers             []string
	want                int
	// list is a collection whose size must not change (no partial write).
	list, listKey string
}

func badInputs() []badInput {
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	huge := `{"network": {"name": "` + strings.Repeat("x", 2<<20) + `"}}`
	nets, servers, vols := "/network/v2.0/networks", "/compute/v2.1/servers", "/volume/v3/%s/volumes"
	return []badInput{
		{class: "malformed JSON", method: "POST", path: nets, body: `{"network": {"name": "n"`, want: 400, list: nets, listKey: "networks"},
		{class: "malformed JSON", method: "POST", path: servers, body: `{"server": `, want: 400, list: servers, listKey: "servers"},
		{class: "malformed JSON", method: "POST", path: vols, body: `{"volume": {"size": 1,}}`, want: 400, list: vols, listKey: "volumes"},
		{class: "malformed JSON", method: "POST", path: "/identity/v3/auth/tokens", body: `{"auth": [`, want: 400},
		{class: "body over the size limit (2 MiB)", method: "POST", path: nets, body: huge, want: 413, list: nets, listKey: "networks"},
		{class: "deeply nested JSON (10,000 levels)", method: "POST", path: nets, body: deep, want: 400, list: nets, listKey: "networks"},
		{class: "deeply nested JSON (10,000 levels)", method: "POST", path: servers, body: `{"server": ` + deep + `}`, want: 400, list: servers, listKey: "servers"},
		{class: "wrong type", method: "POST", path: nets, body: `{"network": {"name": 42}}`, want: 400, list: nets, listKey: "networks"},
		{class: "wrong type", method: "POST", path: servers, body: `{"server": {"name": ["a"], "imageRef": 1, "flavorRef": 1}}`, want: 400, list: servers, listKey: "servers"},
		{class: "wrong type", method: "POST", path: vols, body: `{"volume": {"size": "ten"}}`, want: 400, list: vols, listKey: "volumes"},
		{class: "unknown attribute", method: "POST", path: nets, body: `{"network": {"name": "n", "colour": "red"}}`, want: 400, list: nets, listKey: "networks"},
		{class: "invalid UTF-8", method: "POST", path: nets, body: "{\"network\": {\"name\": \"\xff\xfe\"}}", want: 400, list: nets, listKey: "networks"},
		{class: "unicode edge (NUL, RTL override, 4-byte)", method: "POST", path: servers, body: `{"server": {"name": "a\u0000b\u202e😀", "imageRef": "x", "flavorRef": "1", "networks": "none"}}`, headers: []string{"OpenStack-API-Version", "compute 2.79"}, want: 400, list: servers, listKey: "servers"},
		{class: "bad UUID", method: "GET", path: nets + "/not-a-uuid", want: 404},
		{class: "bad UUID", method: "POST", path: servers, body: `{"server": {"name": "s", "imageRef": "x", "flavorRef": "1", "networks": [{"uuid": "nope"}]}}`, headers: []string{"OpenStack-API-Version", "compute 2.79"}, want: 400, list: servers, listKey: "servers"},
		{class: "bad CIDR", method: "POST", path: "/network/v2.0/subnets", body: `{"subnet": {"network_id": "%n", "cidr": "10.0.0.300/24", "ip_version": 4}}`, want: 400, list: "/network/v2.0/subnets", listKey: "subnets"},
		{class: "bad MAC", method: "POST", path: "/network/v2.0/ports", body: `{"port": {"network_id": "%n", "mac_address": "zz:zz"}}`, want: 400, list: "/network/v2.0/ports", listKey: "ports"},
		{class: "bad IP address", method: "POST", path: "/network/v2.0/ports", body: `{"port": {"network_id": "%n", "fixed_ips": [{"ip_address": "10.1.2.999"}]}}`, want: 400, list: "/network/v2.0/ports", listKey: "ports"},
		{class: "negative size", method: "POST", path: vols, body: `{"volume": {"size": -1}}`, want: 400, list: vols, listKey: "volumes"},
		{class: "huge size", method: "POST", path: vols, body: `{"volume": {"size": 99999999999999}}`, want: 400, list: vols, listKey: "volumes"},
		{class: "huge number", method: "POST", path: "/compute/v2.1/flavors", body: `{"flavor": {"name": "f", "ram": 1e400, "vcpus": 1, "disk": 1}}`, want: 400},
		{class: "bad microversion header", method: "GET", path: servers, headers: []string{"OpenStack-API-Version", "compute 2.999"}, want: 406},
		{class: "bad microversion header", method: "GET", path: vols, headers: []string{"OpenStack-API-Version", "volume banana"}, want: 400},
		{class: "unknown path", method: "GET", path: "/network/v2.0/nothing-here", want: 404},
		{class: "unsupported method", method: "PATCH", path: nets, body: `{}`, want: 405},
	}
}

// TestBadInput sends every class of bad input to the APIs: each gets its
// 4xx in the service's own error format, never a 500, and leaves no
// record behind.
func TestBadInput(t *testing.T) {
	env := cloudtest.New(t)
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	var project string
	{
		r := env.Do(t, "GET", "/identity/v3/auth/projects", tok, nil)
		var body struct {
			Projects []struct{ ID, Name string } `json:"projects"`
		}
		_ = json.Unmarshal(r.Body, &body)
		for _, p := range body.Projects {
			if p.Name == "admin" {
				project = p.ID
			}
		}
	}
	r := env.Do(t, "POST", "/network/v2.0/networks", tok, []byte(`{"network": {"name": "target"}}`))
	netID, _ := r.JSON(t)["network"].(map[string]any)["id"].(string)
	count := func(path, key string) int {
		r := env.Do(t, "GET", path, tok, nil)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(r.Body, &m)
		var items []any
		_ = json.Unmarshal(m[key], &items)
		return len(items)
	}
	for _, c := range badInputs() {
		path := c.path
		if strings.Contains(path, "%s") {
			path = fmt.Sprintf(path, project)
		}
		list := c.list
		if strings.Contains(list, "%s") {
			list = fmt.Sprintf(list, project)
		}
		t.Run(c.class+" "+c.method+" "+strings.SplitN(path, "/", 3)[1], func(t *testing.T) {
			before := 0
			if list != "" {
				before = count(list, c.listKey)
			}
			var body []byte
			if c.body != "" {
				body = []byte(strings.ReplaceAll(c.body, "%n", netID))
			}
			r := env.Do(t, c.method, path, tok, body, c.headers...)
			if r.Status != c.want {
				t.Errorf("%s %s (%s): %d %.300s; want %d", c.method, path, c.class, r.Status, r.Body, c.want)
			}
			if r.Status >= 500 {
				t.Errorf("a server error for bad input")
			}
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil || len(m) != 1 {
				t.Errorf("error body %.300q is not one service error object", r.Body)
			}
			if list != "" {
				if after := count(list, c.listKey); after != before {
					t.Errorf("%s left a record: %d %s before, %d after", c.class, before, c.listKey, after)
				}
			}
		})
	}
}

// TestSlowClient: a client that sends its headers too slowly is cut off
// (after 10 s by onestack up; here the test server's own bound) while
// others are served: one slow connection never holds the API.
func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	env := cloudtest.New(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /compute/v2.1/ HTTP/1.1\r\nHost: x\r\n")); err != nil { // headers never end
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(env.URL + "/")
	if err != nil {
		t.Fatalf("another client while one sends its headers slowly: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Errorf("GET / while a slow client is connected: %d", resp.StatusCode)
	}
}
