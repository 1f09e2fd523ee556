package compute_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzServerRequests sends arbitrary bodies to server create and to the
// action endpoint of a live server, through the whole HTTP stack: no input
// may produce a 500 or a body that is not Nova's error format.
func FuzzServerRequests(f *testing.F) {
	for _, s := range []string{
		`{"server": {"name": "a", "imageRef": "IMAGE", "flavorRef": "1", "networks": "none"}}`,
		`{"server": {"name": "a", "imageRef": "IMAGE", "flavorRef": 1, "min_count": "2", "max_count": 1}}`,
		`{"server": {"name": "", "imageRef": "x", "flavorRef": null, "networks": [{"uuid": 1}]}}`,
		`{"server": {"name": "a", "imageRef": "IMAGE", "flavorRef": "1", "networks": "none", "user_data": "!!", "accessIPv6": "::g"}}`,
		`{"server": {"name": "a", "imageRef": "IMAGE", "flavorRef": "1", "networks": "auto", "metadata": {"": "x"}, "block_device_mapping_v2": [{}]}}`,
		`{"os-stop": null}`, `{"reboot": {"type": "WARM"}}`, `{"resize": {"flavorRef": 2}}`, `{"createImage": {"name": 7}}`,
		`{"os-getConsoleOutput": {"length": "-5"}}`, `{"lock": {"locked_reason": "x"}}`, `{"rebuild": {"imageRef": null}}`,
		`{}`, `[]`, `null`, `{"server": []}`, `{"a": 1, "b": 2}`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	env := newComputeEnv(f, "sqlite")
	serverID := env.boot(f, "target", "1", nil)
	f.Fuzz(func(t *testing.T, body string, create bool) {
		body = strings.ReplaceAll(body, "IMAGE", env.imageID)
		path := "/compute/v2.1/servers"
		if !create {
			path += "/" + serverID + "/action"
		}
		r := env.Do(t, "POST", path, env.nova.TokenID, []byte(body), "OpenStack-API-Version", "compute 2.79")
		if r.Status >= 500 {
			t.Fatalf("POST %s %q: status %d: %s", path, body, r.Status, r.Body)
		}
		if r.Status >= 400 {
			var doc map[string]map[string]any
			if err := json.Unmarshal(r.Body, &doc); err != nil || len(doc) != 1 {
				t.Fatalf("POST %s %q: %d with a body that is not Nova's error format: %s", path, body, r.Status, r.Body)
			}
			for _, v := range doc {
				if msg, _ := v["message"].(string); msg == "" {
					t.Fatalf("POST %s %q: error without a message: %s", path, body, r.Body)
				}
			}
		}
	})
}
