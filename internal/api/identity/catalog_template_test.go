package identity_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// TestCatalogURLTemplates: an endpoint URL with %(project_id)s or
// $(tenant_id)s (Keystone takes both forms) names the token's project in
// its catalog; the object-store endpoint names the project's account.
func TestCatalogURLTemplates(t *testing.T) {
	env := cloudtest.New(t)
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	r := env.Do(t, "POST", "/identity/v3/services", tok, []byte(`{"service": {"type": "templated", "name": "templated"}}`))
	var svc struct{ Service struct{ ID string } }
	_ = json.Unmarshal(r.Body, &svc)
	for _, u := range []string{"http://example.com/a/%(project_id)s", "http://example.com/b/$(tenant_id)s"} {
		body := `{"endpoint": {"service_id": "` + svc.Service.ID + `", "interface": "public", "region_id": "RegionOne", "url": "` + u + `"}}`
		if r := env.Do(t, "POST", "/identity/v3/endpoints", tok, []byte(body)); r.Status != 201 {
			t.Fatalf("create endpoint %s: %d %s", u, r.Status, r.Body)
		}
	}
	r = env.Do(t, "GET", "/identity/v3/auth/catalog", tok, nil)
	var cat struct {
		Catalog []struct {
			Type      string
			Endpoints []struct{ URL string }
		}
	}
	if err := json.Unmarshal(r.Body, &cat); err != nil {
		t.Fatal(err)
	}
	var project string
	for _, p := range env.Do(t, "GET", "/identity/v3/auth/projects", tok, nil).JSON(t)["projects"].([]any) {
		project = p.(map[string]any)["id"].(string)
	}
	found := map[string]bool{}
	for _, s := range cat.Catalog {
		for _, e := range s.Endpoints {
			switch s.Type {
			case "templated":
				if strings.Contains(e.URL, "(") || !strings.HasSuffix(e.URL, "/"+project) {
					t.Errorf("templated endpoint %q", e.URL)
				}
				found[e.URL] = true
			case "object-store":
				if !strings.HasSuffix(e.URL, "/object/v1/AUTH_"+project) {
					t.Errorf("object-store endpoint %q", e.URL)
				}
				found["object-store"] = true
			}
		}
	}
	if len(found) != 3 {
		t.Errorf("catalog entries found: %v", found)
	}
}
