package compute_test

import (
	"strings"
	"testing"
)

// TestFlavorErrorBodies drives every way a flavor request can be wrong and
// checks Nova's body, status and a message that says what to change.
func TestFlavorErrorBodies(t *testing.T) {
	e := newOpsEnv(t, "sqlite")
	for _, b := range []string{
		`{"flavor": {"name": "small", "id": "1", "ram": 512, "vcpus": 1, "disk": 1}}`,
		`{"flavor": {"name": "private", "id": "p", "ram": 512, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": false}}`,
	} {
		if r := e.call(t, "POST", "/flavors", e.adminTok, "2.79", b); r.Status != 200 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
	}
	if r := e.call(t, "POST", "/flavors/p/action", e.adminTok, "2.79", `{"addTenantAccess": {"tenant": "t1"}}`); r.Status != 200 {
		t.Fatalf("add access: %d %s", r.Status, r.Body)
	}
	flavor := func(fields string) string { return `{"flavor": {"name": "x", ` + fields + `}}` }
	for _, tc := range []struct {
		name, method, path, body string
		member                   bool
		status                   int
		key, msg                 string
	}{
		{"ram a word", "POST", "/flavors", flavor(`"ram": "lots", "vcpus": 1, "disk": 1`), false, 400, "badRequest", "ram"},
		{"ram fractional", "POST", "/flavors", flavor(`"ram": 1.5, "vcpus": 1, "disk": 1`), false, 400, "badRequest", "ram"},
		{"ram zero", "POST", "/flavors", flavor(`"ram": 0, "vcpus": 1, "disk": 1`), false, 400, "badRequest", "from 1 to 2147483647"},
		{"vcpus too many", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 2147483648, "disk": 1`), false, 400, "badRequest", "vcpus"},
		{"disk negative", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": -1`), false, 400, "badRequest", "disk"},
		{"swap string", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": 1, "swap": "x"`), false, 400, "badRequest", "swap"},
		{"rxtx zero", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": 0`), false, 400, "badRequest", "rxtx_factor"},
		{"is_public maybe", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": "maybe"`), false, 400, "badRequest", "boolean"},
		{"ram missing", "POST", "/flavors", flavor(`"vcpus": 1, "disk": 1`), false, 400, "badRequest", "'ram' is a required property"},
		{"unknown field", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": 1, "gpus": 2`), false, 400, "badRequest", "'gpus' was unexpected"},
		{"empty name", "POST", "/flavors", `{"flavor": {"name": "", "ram": 1, "vcpus": 1, "disk": 1}}`, false, 400, "badRequest", "name"},
		{"bad id", "POST", "/flavors", flavor(`"id": "a/b", "ram": 1, "vcpus": 1, "disk": 1`), false, 400, "badRequest", "flavor id"},
		{"not json", "POST", "/flavors", `{"flavor": `, false, 400, "badRequest", "not valid JSON"},
		{"not an object", "POST", "/flavors", `[]`, false, 400, "badRequest", "JSON object"},
		{"duplicate name", "POST", "/flavors", `{"flavor": {"name": "small", "ram": 1, "vcpus": 1, "disk": 1}}`, false, 409, "conflictingRequest", "Flavor with name small already exists"},
		{"duplicate id", "POST", "/flavors", flavor(`"id": 1, "ram": 1, "vcpus": 1, "disk": 1`), false, 409, "conflictingRequest", "Flavor with ID 1 already exists"},
		{"member creates", "POST", "/flavors", flavor(`"ram": 1, "vcpus": 1, "disk": 1`), true, 403, "forbidden", "os_compute_api:os-flavor-manage:create"},
		{"member deletes", "DELETE", "/flavors/1", "", true, 403, "forbidden", "admin"},
		{"unknown flavor", "GET", "/flavors/nope", "", true, 404, "itemNotFound", "Flavor nope could not be found"},
		{"private unshared", "GET", "/flavors/p", "", true, 404, "itemNotFound", "could not be found"},
		{"delete unknown", "DELETE", "/flavors/nope", "", false, 404, "itemNotFound", "Flavor nope could not be found"},
		{"specs member", "POST", "/flavors/1/os-extra_specs", `{"extra_specs": {"a": "b"}}`, true, 403, "forbidden", "admin"},
		{"specs bad key", "POST", "/flavors/1/os-extra_specs", `{"extra_specs": {"a/b": "c"}}`, false, 400, "badRequest", "a/b"},
		{"specs bad value", "POST", "/flavors/1/os-extra_specs", `{"extra_specs": {"a": ["c"]}}`, false, 400, "badRequest", "string or a number"},
		{"specs long value", "POST", "/flavors/1/os-extra_specs", `{"extra_specs": {"a": "` + strings.Repeat("v", 256) + `"}}`, false, 400, "badRequest", "255"},
		{"specs unknown flavor", "POST", "/flavors/nope/os-extra_specs", `{"extra_specs": {"a": "b"}}`, false, 404, "itemNotFound", "Flavor nope"},
		{"spec mismatch", "PUT", "/flavors/1/os-extra_specs/a", `{"b": "c"}`, false, 400, "badRequest", "Request body and URI mismatch"},
		{"spec too many", "PUT", "/flavors/1/os-extra_specs/a", `{"a": "c", "b": "d"}`, false, 400, "badRequest", "exactly one"},
		{"spec missing", "GET", "/flavors/1/os-extra_specs/nope", "", true, 404, "itemNotFound", "has no extra specs with key nope"},
		{"spec delete missing", "DELETE", "/flavors/1/os-extra_specs/nope", "", false, 404, "itemNotFound", "has no extra specs with key nope"},
		{"access duplicate", "POST", "/flavors/p/action", `{"addTenantAccess": {"tenant": "t1"}}`, false, 409, "conflictingRequest", "already exists"},
		{"access remove absent", "POST", "/flavors/p/action", `{"removeTenantAccess": {"tenant": "t2"}}`, false, 404, "itemNotFound", "Flavor access not found"},
		{"access no tenant", "POST", "/flavors/p/action", `{"addTenantAccess": {}}`, false, 400, "badRequest", "'tenant' is a required property"},
		{"access unknown action", "POST", "/flavors/p/action", `{"shareAll": {}}`, false, 400, "badRequest", "'shareAll' was unexpected"},
		{"access list member", "GET", "/flavors/p/os-flavor-access", "", true, 403, "forbidden", "os_compute_api:os-flavor-access"},
		{"update bad type", "PUT", "/flavors/1", `{"flavor": {"description": 5}}`, false, 400, "badRequest", "description"},
		{"update other field", "PUT", "/flavors/1", `{"flavor": {"description": "d", "ram": 5}}`, false, 400, "badRequest", "'ram' was unexpected"},
		{"wrong method", "PATCH", "/flavors/1", "{}", false, 405, "HTTPMethodNotAllowed", "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.adminTok
			if tc.member {
				tok = e.aliceTok
			}
			r := e.call(t, tc.method, tc.path, tok, "2.79", tc.body)
			novaError(t, r, tc.status, tc.key, tc.msg)
			if r.Header.Get("X-Compute-Request-Id") == "" || !strings.HasPrefix(r.Header.Get("X-Openstack-Request-Id"), "req-") {
				t.Errorf("request id headers missing: %v", r.Header)
			}
		})
	}
}
