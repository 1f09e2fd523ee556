package workflow

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
)

var defFilters = map[string]string{"name": "name", "namespace": "namespace", "scope": "scope", "created_at": "created_at",
	"updated_at": "updated_at", "tags": "doc", "id": "id", "definition": "definition"}
var defSorts = map[string]string{"name": "name", "created_at": "created_at", "updated_at": "updated_at", "scope": "scope", "namespace": "namespace",
	"project_id": "project_id", "id": "id"}
var defTimes = map[string]bool{"created_at": true, "updated_at": true}

var workflowList = listSpec{name: "workflows", fields: []string{"id", "name", "namespace", "input", "interface", "definition", "checksum", "tags",
	"scope", "project_id", "created_at", "updated_at"}, filters: defFilters, sorts: defSorts, times: defTimes}
var workbookList = listSpec{name: "workbooks", fields: []string{"id", "name", "namespace", "definition", "tags", "scope", "project_id",
	"created_at", "updated_at"}, filters: defFilters, sorts: defSorts, times: defTimes}
var actionList = listSpec{name: "actions", fields: []string{"id", "name", "input", "description", "tags", "definition", "is_system", "scope",
	"project_id", "created_at", "updated_at", "namespace"}, filters: defFilters, sorts: defSorts, times: defTimes, extra: []string{"is_system"}}

func workflowJSON(d svc.Definition) map[string]any {
	iface := d.Interface
	if iface == nil {
		iface = map[string]any{"input": []any{}, "output": []any{}}
	}
	return map[string]any{"id": d.ID, "name": d.Name, "namespace": d.Namespace, "input": d.Input, "interface": iface, "definition": d.Definition,
		"checksum": d.Checksum, "tags": d.Tags, "scope": d.Scope, "project_id": d.ProjectID, "created_at": timeStr(d.CreatedAt),
		"updated_at": updated(d.CreatedAt, d.UpdatedAt)}
}

func workbookJSON(d svc.Definition) map[string]any {
	return map[string]any{"id": d.ID, "name": d.Name, "namespace": d.Namespace, "definition": d.Definition, "tags": d.Tags, "scope": d.Scope,
		"project_id": d.ProjectID, "created_at": timeStr(d.CreatedAt), "updated_at": updated(d.CreatedAt, d.UpdatedAt)}
}

func actionJSON(d svc.Definition) map[string]any {
	return map[string]any{"id": d.ID, "name": d.Name, "input": d.Input, "description": orNull(d.Description), "tags": d.Tags,
		"definition": orNull(d.Definition), "is_system": d.IsSystem, "scope": d.Scope, "project_id": d.ProjectID,
		"created_at": timeStr(d.CreatedAt), "updated_at": updated(d.CreatedAt, d.UpdatedAt), "namespace": d.Namespace}
}

// updated is null until a definition changes, as Mistral shows it.
func updated(created, upd time.Time) any {
	if upd.IsZero() || upd.Equal(created) {
		return nil
	}
	return timeStr(upd)
}

func creds(r *http.Request) *auth.Credentials { return auth.From(r.Context()) }

func (a *API) createWorkbook(w http.ResponseWriter, r *http.Request) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d, err := a.svc.CreateWorkbook(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, workbookJSON(d))
	return nil
}

func (a *API) updateWorkbook(w http.ResponseWriter, r *http.Request) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d, err := a.svc.UpdateWorkbook(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, workbookJSON(d))
	return nil
}

func (a *API) getWorkbook(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.GetDefinition(r.Context(), creds(r), store.WFKindWorkbook, r.PathValue("name"), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(workbookJSON(d), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) deleteWorkbook(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteWorkbook(r.Context(), creds(r), r.PathValue("name"), r.URL.Query().Get("namespace")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) listDefs(w http.ResponseWriter, r *http.Request, kind string, ls listSpec, conv func(svc.Definition) map[string]any) error {
	lq, fields, err := a.listQuery(r, ls)
	if err != nil {
		return err
	}
	defs, err := a.svc.ListDefinitions(r.Context(), creds(r), kind, lq)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(defs)), make([]string, len(defs))
	for i, d := range defs {
		items[i], ids[i] = conv(d), d.ID
	}
	a.writeList(w, r, ls.name, items, ids, lq, fields)
	return nil
}

func (a *API) listWorkbooks(w http.ResponseWriter, r *http.Request) error {
	return a.listDefs(w, r, store.WFKindWorkbook, workbookList, workbookJSON)
}

func (a *API) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	return a.listDefs(w, r, store.WFKindWorkflow, workflowList, workflowJSON)
}

func (a *API) createWorkflows(w http.ResponseWriter, r *http.Request) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	defs, err := a.svc.CreateWorkflows(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"))
	if err != nil {
		return err
	}
	out := make([]any, len(defs))
	for i, d := range defs {
		out[i] = workflowJSON(d)
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"workflows": out})
	return nil
}

func (a *API) updateWorkflowsWith(w http.ResponseWriter, r *http.Request, id string) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if id == "" {
		id = q.Get("workflow_id")
	}
	defs, err := a.svc.UpdateWorkflows(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"), id)
	if err != nil {
		return err
	}
	out := make([]any, len(defs))
	for i, d := range defs {
		out[i] = workflowJSON(d)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"workflows": out})
	return nil
}

func (a *API) updateWorkflows(w http.ResponseWriter, r *http.Request) error {
	return a.updateWorkflowsWith(w, r, "")
}

func (a *API) updateWorkflowByID(w http.ResponseWriter, r *http.Request) error {
	return a.updateWorkflowsWith(w, r, r.PathValue("id"))
}

func (a *API) getWorkflow(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.GetDefinition(r.Context(), creds(r), store.WFKindWorkflow, r.PathValue("id"), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(workflowJSON(d), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) deleteWorkflow(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteWorkflow(r.Context(), creds(r), r.PathValue("id"), r.URL.Query().Get("namespace")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) listActions(w http.ResponseWriter, r *http.Request) error {
	lq, fields, err := a.listQuery(r, actionList)
	if err != nil {
		return err
	}
	c := creds(r)
	// The system actions come first, then the ad-hoc ones (paged in
	// the store); a marker inside the system actions pages them.
	sys := a.svc.SystemActions()
	var items []map[string]any
	var ids []string
	q := r.URL.Query()
	showSys := lq.Marker == "" || isSystemID(sys, lq.Marker)
	if showSys && q.Get("is_system") != "false" && lq.SortKey == "created_at" && !lq.Desc {
		started := lq.Marker == "" || !isSystemID(sys, lq.Marker)
		for _, d := range sys {
			if !started {
				started = d.ID == lq.Marker
				continue
			}
			if len(items) == lq.Limit {
				break
			}
			if m := actionJSON(d); matches(m, lq.Filters) {
				items, ids = append(items, m), append(ids, d.ID)
			}
		}
		lq.Marker = ""
	}
	if len(items) < lq.Limit && q.Get("is_system") != "true" {
		sub := lq
		sub.Limit = lq.Limit - len(items)
		defs, err := a.svc.ListDefinitions(r.Context(), c, store.WFKindAction, sub)
		if err != nil {
			return err
		}
		for _, d := range defs {
			items, ids = append(items, actionJSON(d)), append(ids, d.ID)
		}
	}
	a.writeList(w, r, "actions", items, ids, lq, fields)
	return nil
}

func isSystemID(sys []svc.Definition, id string) bool {
	for _, d := range sys {
		if d.ID == id {
			return true
		}
	}
	return false
}

// matches applies list filters to a system action's wire form.
func matches(m map[string]any, fs []svc.Filter) bool {
	for _, f := range fs {
		v := fmt.Sprint(m[f.Field])
		if f.Field == "doc" {
			continue
		}
		want := make([]string, len(f.Values))
		for i, x := range f.Values {
			want[i] = fmt.Sprint(x)
		}
		ok := true
		switch f.Op {
		case "eq", "":
			ok = v == want[0]
		case "neq":
			ok = v != want[0]
		case "in":
			ok = slices.Contains(want, v)
		case "nin":
			ok = !slices.Contains(want, v)
		case "has":
			ok = strings.Contains(v, want[0])
		case "gt", "gte", "lt", "lte":
			ok = false // system actions have no times
		}
		if !ok {
			return false
		}
	}
	return true
}

func (a *API) createActions(w http.ResponseWriter, r *http.Request) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	defs, err := a.svc.CreateActions(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"))
	if err != nil {
		return err
	}
	out := make([]any, len(defs))
	for i, d := range defs {
		out[i] = actionJSON(d)
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"actions": out})
	return nil
}

func (a *API) updateActionsWith(w http.ResponseWriter, r *http.Request, id string) error {
	t, err := text(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	defs, err := a.svc.UpdateActions(r.Context(), creds(r), t, q.Get("scope"), q.Get("namespace"), id)
	if err != nil {
		return err
	}
	out := make([]any, len(defs))
	for i, d := range defs {
		out[i] = actionJSON(d)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"actions": out})
	return nil
}

func (a *API) updateActions(w http.ResponseWriter, r *http.Request) error {
	return a.updateActionsWith(w, r, "")
}

func (a *API) updateActionByID(w http.ResponseWriter, r *http.Request) error {
	return a.updateActionsWith(w, r, r.PathValue("id"))
}

func (a *API) getAction(w http.ResponseWriter, r *http.Request) error {
	d, err := a.svc.GetDefinition(r.Context(), creds(r), store.WFKindAction, r.PathValue("id"), r.URL.Query().Get("namespace"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(actionJSON(d), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) deleteAction(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteAction(r.Context(), creds(r), r.PathValue("id"), r.URL.Query().Get("namespace")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func memberJSON(m svc.Member) map[string]any {
	return map[string]any{"id": m.ID, "resource_id": m.ResourceID, "resource_type": m.ResourceType, "project_id": m.ProjectID,
		"member_id": m.MemberID, "status": m.Status, "created_at": timeStr(m.CreatedAt), "updated_at": timeStr(m.UpdatedAt)}
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.svc.ListMembers(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = memberJSON(m)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"members": out})
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		MemberID string `json:"member_id"`
	}
	if err := rest.Decode(r, &body, false); err != nil {
		return err
	}
	m, err := a.svc.AddMember(r.Context(), creds(r), r.PathValue("id"), "workflow", body.MemberID)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, memberJSON(m))
	return nil
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.svc.GetMember(r.Context(), creds(r), r.PathValue("id"), r.PathValue("member"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, memberJSON(m))
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Status string `json:"status"`
	}
	if err := rest.Decode(r, &body, false); err != nil {
		return err
	}
	if body.Status == "" {
		return oserr.BadRequest("status is required: accepted or rejected.")
	}
	m, err := a.svc.UpdateMember(r.Context(), creds(r), r.PathValue("id"), r.PathValue("member"), body.Status)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, memberJSON(m))
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteMember(r.Context(), creds(r), r.PathValue("id"), r.PathValue("member")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
