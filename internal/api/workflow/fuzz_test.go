package workflow_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
)

// fuzzRoutes are the requests whose bodies and query strings the fuzzer
// varies: every decoder of the API.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/workflow/v2/executions"},
	{"PUT", "/workflow/v2/executions/00000000-0000-0000-0000-000000000000"},
	{"POST", "/workflow/v2/action_executions"},
	{"PUT", "/workflow/v2/action_executions/00000000-0000-0000-0000-000000000000"},
	{"POST", "/workflow/v2/cron_triggers"},
	{"POST", "/workflow/v2/environments"},
	{"PUT", "/workflow/v2/environments"},
	{"PUT", "/workflow/v2/tasks/00000000-0000-0000-0000-000000000000"},
	{"POST", "/workflow/v2/workflows"},
	{"POST", "/workflow/v2/workbooks"},
	{"POST", "/workflow/v2/actions"},
	{"GET", "/workflow/v2/executions"},
	{"GET", "/workflow/v2/tasks"},
	{"GET", "/workflow/v2/actions"},
	{"POST", "/workflow/v2/workflows/00000000-0000-0000-0000-000000000000/members"},
}

// FuzzAPI sends arbitrary bodies and query strings to every decoding
// route: the answer is never a 5xx, and an error is Mistral's JSON body
// with a faultstring.
func FuzzAPI(f *testing.F) {
	e := cloudtest.New(f)
	token := e.Token(f, "admin", cloudtest.AdminPassword, "admin")
	h := e.Cloud.Handler()
	for i := range fuzzRoutes {
		for _, s := range []string{`{}`, `null`, `[]`, `{"workflow_name": "x", "input": "{\"a\": 1}", "params": {"env": "e"}}`,
			`{"name": "std.echo", "input": {"output": 1}, "params": "{\"save_result\": true}"}`, `{"state": "SUCCESS", "output": "[1]"}`,
			`{"name": "t", "workflow_name": "w", "pattern": "* * * * *", "first_execution_time": "2099-01-01 00:00", "remaining_executions": -1}`,
			`{"name": "e", "variables": "{\"k\": 1}", "scope": "galaxy"}`, `{"state": "RUNNING", "reset": false, "env": 5}`,
			"version: '2.0'\nwf:\n  tasks:\n    t: {}\n", "version: '2.0'\nname: wb\nactions:\n  a:\n    base: std.noop\n",
			"\xff\xfe", `{"member_id": 7}`} {
			f.Add(i, []byte(s), "limit=1&sort_keys=name&sort_dirs=desc&state=in:SUCCESS,ERROR&created_at=gte:2020-01-01")
		}
	}
	f.Fuzz(func(t *testing.T, route int, body []byte, query string) {
		if route < 0 {
			route = -route
		}
		rt := fuzzRoutes[route%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		if q, err := parseQuery(query); err == nil {
			req.URL.RawQuery = q
		}
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:1"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s with %q: %d %s", rt.method, rt.path, query, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Faultstring string `json:"faultstring"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Faultstring == "" {
				t.Fatalf("%s %s with %q: %d body %q is not Mistral's error", rt.method, rt.path, body, rec.Code, rec.Body)
			}
		}
		if rec.Code == http.StatusCreated && rt.method == "POST" && rt.path == "/workflow/v2/executions" {
			t.Logf("created an execution from %q", body)
		}
	})
}

func parseQuery(s string) (string, error) {
	req, err := http.NewRequest("GET", "/?"+s, nil)
	if err != nil {
		return "", err
	}
	return req.URL.RawQuery, nil
}
