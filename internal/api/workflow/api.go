// Package workflow serves Mistral's v2 API under /workflow (catalog type
// workflowv2, name mistral; clients append nothing to /workflow/v2):
// routes, request decoding, policy and Mistral's wire format (JSON fields
// as JSON strings, definitions as YAML text bodies, and
// {"faultstring", "faultcode", "debuginfo"} errors) over the workflow
// service.
package workflow

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// Prefix is where Mistral is mounted; its catalog URL is Prefix/v2.
const Prefix = "/workflow"

// Format renders errors as Mistral (WSME, and pecan for text bodies)
// does: {"faultstring": message, "faultcode": "Client" or "Server",
// "debuginfo": null}.
func Format(e *oserr.Error, _ string) any {
	code := "Client"
	if e.Status >= 500 {
		code = "Server"
	}
	return map[string]any{"faultstring": e.Message, "faultcode": code, "debuginfo": nil}
}

// API is Mistral's v2 HTTP API.
type API struct {
	svc       *svc.Service
	base      string
	log       *slog.Logger
	validator auth.Validator
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator}
}

// Service returns everything the wiring mounts.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: Format, Validator: a.validator, Routes: a.routes(), Log: a.log,
		Versions:  a.versions,
		Endpoints: []rest.Endpoint{{Type: "workflowv2", Name: "mistral", Suffix: "/v2"}},
		MaxBody:   spec.MaxDefinitionBytes + 64<<10,
	}
}

// reader: any token scoped to a project (Mistral's default policy lets
// every project user read its own and public resources).
func reader(c *auth.Credentials, _ *http.Request) error {
	if c.ProjectID() == "" {
		return oserr.Forbidden("Workflows belong to projects: use a project-scoped token.")
	}
	return nil
}

// member: changes need the member role (or admin).
func member(c *auth.Credentials, r *http.Request) error {
	if err := reader(c, r); err != nil {
		return err
	}
	if !c.IsAdmin() && !c.HasRole(auth.RoleMember) {
		return oserr.Forbidden("Policy doesn't allow this change: it needs the member role on project %s.", c.ProjectID())
	}
	return nil
}

func (a *API) routes() []rest.Route {
	p := func(s string) string { return "/v2" + s }
	return []rest.Route{
		rest.R("GET", p(""), nil, a.v2Root),
		rest.R("GET", p("/{$}"), nil, a.v2Root),

		rest.R("GET", p("/workbooks"), reader, a.listWorkbooks),
		rest.R("POST", p("/workbooks"), member, a.createWorkbook),
		rest.R("PUT", p("/workbooks"), member, a.updateWorkbook),
		rest.R("GET", p("/workbooks/{name}"), reader, a.getWorkbook),
		rest.R("DELETE", p("/workbooks/{name}"), member, a.deleteWorkbook),

		rest.R("GET", p("/workflows"), reader, a.listWorkflows),
		rest.R("POST", p("/workflows"), member, a.createWorkflows),
		rest.R("PUT", p("/workflows"), member, a.updateWorkflows),
		rest.R("GET", p("/workflows/{id}"), reader, a.getWorkflow),
		rest.R("PUT", p("/workflows/{id}"), member, a.updateWorkflowByID),
		rest.R("DELETE", p("/workflows/{id}"), member, a.deleteWorkflow),
		rest.R("GET", p("/workflows/{id}/members"), reader, a.listMembers),
		rest.R("POST", p("/workflows/{id}/members"), member, a.addMember),
		rest.R("GET", p("/workflows/{id}/members/{member}"), reader, a.getMember),
		rest.R("PUT", p("/workflows/{id}/members/{member}"), member, a.updateMember),
		rest.R("DELETE", p("/workflows/{id}/members/{member}"), member, a.deleteMember),

		rest.R("GET", p("/actions"), reader, a.listActions),
		rest.R("POST", p("/actions"), member, a.createActions),
		rest.R("PUT", p("/actions"), member, a.updateActions),
		rest.R("GET", p("/actions/{id}"), reader, a.getAction),
		rest.R("PUT", p("/actions/{id}"), member, a.updateActionByID),
		rest.R("DELETE", p("/actions/{id}"), member, a.deleteAction),

		rest.R("GET", p("/executions"), reader, a.listExecutions),
		rest.R("POST", p("/executions"), member, a.createExecution),
		rest.R("GET", p("/executions/{id}"), reader, a.getExecution),
		rest.R("PUT", p("/executions/{id}"), member, a.updateExecution),
		rest.R("DELETE", p("/executions/{id}"), member, a.deleteExecution),
		rest.R("GET", p("/executions/{id}/tasks"), reader, a.executionTasks),
		rest.R("GET", p("/executions/{id}/executions"), reader, a.executionChildren),
		rest.R("GET", p("/executions/{id}/report"), reader, a.executionReport),

		rest.R("GET", p("/tasks"), reader, a.listTasks),
		rest.R("GET", p("/tasks/{id}"), reader, a.getTask),
		rest.R("PUT", p("/tasks/{id}"), member, a.rerunTask),
		rest.R("GET", p("/tasks/{id}/action_executions"), reader, a.taskActions),
		rest.R("GET", p("/tasks/{id}/executions"), reader, a.taskExecutions),

		rest.R("GET", p("/action_executions"), reader, a.listActionExecutions),
		rest.R("POST", p("/action_executions"), member, a.runAction),
		rest.R("GET", p("/action_executions/{id}"), reader, a.getActionExecution),
		rest.R("PUT", p("/action_executions/{id}"), member, a.updateActionExecution),
		rest.R("DELETE", p("/action_executions/{id}"), member, a.deleteActionExecution),

		rest.R("GET", p("/cron_triggers"), reader, a.listCronTriggers),
		rest.R("POST", p("/cron_triggers"), member, a.createCronTrigger),
		rest.R("GET", p("/cron_triggers/{id}"), reader, a.getCronTrigger),
		rest.R("DELETE", p("/cron_triggers/{id}"), member, a.deleteCronTrigger),

		rest.R("GET", p("/environments"), reader, a.listEnvironments),
		rest.R("POST", p("/environments"), member, a.createEnvironment),
		rest.R("PUT", p("/environments"), member, a.updateEnvironment),
		rest.R("GET", p("/environments/{name}"), reader, a.getEnvironment),
		rest.R("DELETE", p("/environments/{name}"), member, a.deleteEnvironment),

		rest.R("GET", p("/services"), reader, a.listServices),
	}
}

// versions answers GET /workflow: Mistral's version list.
func (a *API) versions(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"href": a.base + "/v2", "target": "v2", "rel": "self"}},
	}}})
	return nil
}

func (a *API) v2Root(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"uri": a.base + "/v2"})
	return nil
}

// text reads a definition body (YAML text).
func text(r *http.Request) (string, error) {
	if r.Body == nil {
		return "", oserr.BadRequest("The request body is empty; send the definition (YAML) as the body.")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return "", oserr.TooLarge("The definition is larger than the limit of %d bytes; split it.", spec.MaxDefinitionBytes)
		}
		return "", oserr.BadRequest("Cannot read the request body: %v", err)
	}
	if !utf8.Valid(b) {
		return "", oserr.BadRequest("The definition is not valid UTF-8; send UTF-8 text.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return "", oserr.BadRequest("The request body is empty; send the definition (YAML) as the body.")
	}
	return string(b), nil
}

// jsonField reads a Mistral JSON-typed field: a JSON object, or a string
// holding one (clients send both).
func jsonField(raw json.RawMessage, name string) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	v := engine.Decode(string(raw))
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return map[string]any{}, nil
		}
		v = engine.Decode(s)
		if v == nil {
			return nil, oserr.BadRequest("Invalid input for field '%s': the string is not valid JSON; send a JSON object.", name)
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, oserr.BadRequest("JsonType field value must be a dictionary [actual=%s]: %s must be a JSON object.", clip(string(raw), 100), name)
	}
	return m, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// jsonText writes a value as Mistral's JsonType does: a JSON string.
func jsonText(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

func timeStr(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return timeStr(*t)
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// listSpec says how a collection lists: its name, its fields, the query
// parameters that filter it (to columns) and the columns it sorts by.
type listSpec struct {
	name    string
	fields  []string
	filters map[string]string
	sorts   map[string]string
	times   map[string]bool
	// extra are query parameters the collection takes besides filters.
	extra []string
}

// listQuery reads Mistral's list parameters: marker, limit, sort_keys,
// sort_dirs, fields, all_projects, project_id and the filters
// (field=value or field=op:value with eq, neq, in, nin, gt, gte, lt, lte,
// has).
func (a *API) listQuery(r *http.Request, ls listSpec) (svc.ListQuery, []string, error) {
	q := r.URL.Query()
	var lq svc.ListQuery
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return lq, nil, oserr.BadRequest("Invalid input for field/attribute limit. Value: '%s'. unable to convert to int", v)
		}
		if n <= 0 {
			return lq, nil, oserr.BadRequest("Limit must be positive.")
		}
		lq.Limit = min(n, a.svc.MaxLimit())
	} else {
		lq.Limit = a.svc.MaxLimit()
	}
	for k := range q {
		if !listParams[k] && !ls.accepts(k) {
			return lq, nil, oserr.BadRequest("Unknown argument: %q; filter %s by %s.", k, ls.name, strings.Join(sortedNames(ls.filters), ", "))
		}
	}
	keys := dedupe(splitList(q.Get("sort_keys")))
	dirs := splitList(q.Get("sort_dirs"))
	if len(keys) == 0 {
		keys = []string{"created_at"}
	}
	if len(keys) < len(dirs) {
		return lq, nil, oserr.BadRequest("Length of sort_keys must be equal or greater than sort_dirs.")
	}
	for len(dirs) < len(keys) {
		dirs = append(dirs, "asc")
	}
	for _, d := range dirs {
		if d != "asc" && d != "desc" {
			return lq, nil, oserr.BadRequest("Unknown sort direction, must be 'desc' or 'asc'.")
		}
	}
	if !slices.Contains(keys, "id") {
		keys, dirs = append(keys, "id"), append(dirs, "asc")
	}
	first := keys[0]
	col, ok := ls.sorts[first]
	if !ok && first != "id" {
		return lq, nil, oserr.BadRequest("Cannot sort %s by %s; sort by one of %s.", ls.name, first, strings.Join(sortedNames(ls.sorts), ", "))
	}
	if first == "id" {
		col = "id"
	}
	rest := keys[1:]
	restDirs := dirs[1:]
	idDesc := dirs[0] == "desc"
	for i, k := range rest {
		if k == "id" {
			idDesc = restDirs[i] == "desc"
			continue
		}
		if k != first {
			return lq, nil, oserr.BadRequest("Sorting by more than one field (besides id) is not supported on this cloud: sort by %s, or by %s.", first, k)
		}
	}
	lq.SortKey, lq.Desc, lq.IDDesc = col, dirs[0] == "desc", idDesc
	lq.Marker = q.Get("marker")
	fields := splitList(q.Get("fields"))
	if len(fields) > 0 {
		var bad []string
		for _, f := range fields {
			if !slices.Contains(ls.fields, f) {
				bad = append(bad, f)
			}
		}
		if len(bad) > 0 {
			return lq, nil, oserr.BadRequest("Some fields do not exist  [%s], please choose from [%s]", strings.Join(bad, ", "), strings.Join(ls.fields, ", "))
		}
		if !slices.Contains(fields, "id") {
			fields = append([]string{"id"}, fields...)
		}
	}
	if v := q.Get("all_projects"); v != "" {
		lq.All = strings.EqualFold(v, "true") || v == "1"
	}
	lq.Project = q.Get("project_id")
	for param, col := range ls.filters {
		for _, raw := range q[param] {
			f, err := filterOf(param, col, raw, ls.times[col])
			if err != nil {
				return lq, nil, err
			}
			lq.Filters = append(lq.Filters, f)
		}
	}
	return lq, fields, nil
}

// listParams are the query parameters every list takes besides filters.
var listParams = map[string]bool{"marker": true, "limit": true, "sort_keys": true, "sort_dirs": true, "fields": true, "all_projects": true,
	"project_id": true, "include_output": true, "namespace": true, "nulls": true}

func (ls listSpec) accepts(k string) bool {
	if _, ok := ls.filters[k]; ok {
		return true
	}
	return slices.Contains(ls.extra, k)
}

func dedupe(l []string) []string {
	var out []string
	for _, x := range l {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// filterOf reads one filter: value or op:value (eq, neq, in, nin, gt,
// gte, lt, lte, has); in and nin take comma-separated values.
func filterOf(param, col, val string, isTime bool) (svc.Filter, error) {
	op := "eq"
	if o, rest, ok := strings.Cut(val, ":"); ok && slices.Contains([]string{"eq", "neq", "in", "nin", "gt", "gte", "lt", "lte", "has"}, o) {
		op, val = o, rest
	}
	var vs []any
	if op == "in" || op == "nin" {
		for _, x := range strings.Split(val, ",") {
			vs = append(vs, x)
		}
	} else {
		vs = []any{val}
	}
	if isTime {
		for i, x := range vs {
			t, err := parseTime(x.(string))
			if err != nil {
				return svc.Filter{}, oserr.BadRequest("Invalid %s filter %q: write YYYY-MM-DD HH:MM:SS.", param, x)
			}
			vs[i] = t.UnixMicro()
		}
	}
	if col == "tags" || col == "doc" {
		op = "has"
		if col == "doc" {
			vs = []any{`"` + val + `"`}
		}
	}
	return svc.Filter{Field: col, Op: op, Values: vs}, nil
}

func parseTime(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.000000", "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// writeList writes a collection with Mistral's next link.
func (a *API) writeList(w http.ResponseWriter, r *http.Request, name string, items []map[string]any, ids []string, lq svc.ListQuery, fields []string) {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = pick(it, fields)
	}
	body := map[string]any{name: out}
	if len(items) > 0 && len(items) == lq.Limit {
		body["next"] = a.nextLink(r, name, lq, ids[len(ids)-1], fields)
	}
	rest.WriteJSON(w, http.StatusOK, body)
}

func (a *API) nextLink(r *http.Request, name string, lq svc.ListQuery, marker string, fields []string) string {
	q := r.URL.Query()
	keys := dedupe(splitList(q.Get("sort_keys")))
	dirs := splitList(q.Get("sort_dirs"))
	if len(keys) == 0 {
		keys = []string{"created_at"}
	}
	for len(dirs) < len(keys) {
		dirs = append(dirs, "asc")
	}
	if !slices.Contains(keys, "id") {
		keys, dirs = append(keys, "id"), append(dirs, "asc")
	}
	// Commas and colons stay as they are, as Mistral writes its links
	// (sort_keys=name,id; state=in:SUCCESS,ERROR).
	esc := func(s string) string {
		return strings.NewReplacer("%2C", ",", "%3A", ":").Replace(url.QueryEscape(s))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s/v2/%s?sort_keys=%s&sort_dirs=%s&", a.base, name, esc(strings.Join(keys, ",")), esc(strings.Join(dirs, ",")))
	var ks []string
	for k := range q {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		switch k {
		case "sort_keys", "sort_dirs", "limit", "marker", "fields":
			continue
		}
		for _, v := range q[k] {
			fmt.Fprintf(&b, "%s=%s&", esc(k), esc(v))
		}
	}
	fmt.Fprintf(&b, "limit=%d&marker=%s", lq.Limit, esc(marker))
	if len(fields) > 0 {
		fmt.Fprintf(&b, "&fields=%s", esc(strings.Join(fields, ",")))
	}
	return b.String()
}

func pick(m map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return m
	}
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		out[f] = m[f]
	}
	return out
}

// boolParam reads a boolean query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, oserr.BadRequest("Invalid input for field/attribute %s. Value: '%s'. Wrong type. Expected a boolean.", name, v)
}
