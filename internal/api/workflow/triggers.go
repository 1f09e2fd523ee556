package workflow

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/workflow"
)

var cronList = listSpec{name: "cron_triggers",
	fields: []string{"id", "name", "workflow_name", "workflow_id", "workflow_input", "workflow_params", "project_id", "scope", "pattern",
		"remaining_executions", "first_execution_time", "next_execution_time", "created_at", "updated_at"},
	filters: map[string]string{"name": "name", "workflow_name": "workflow_name", "workflow_id": "workflow_id", "scope": "scope",
		"pattern": "pattern", "created_at": "created_at", "updated_at": "updated_at", "id": "id"},
	sorts: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name", "next_execution_time": "next_execution_time",
		"workflow_name": "workflow_name", "id": "id"},
	times: map[string]bool{"created_at": true, "updated_at": true}}

var envList = listSpec{name: "environments",
	fields:  []string{"id", "name", "description", "variables", "scope", "project_id", "created_at", "updated_at"},
	filters: map[string]string{"name": "name", "scope": "scope", "description": "description", "created_at": "created_at", "updated_at": "updated_at", "id": "id"},
	sorts:   map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name", "id": "id"},
	times:   map[string]bool{"created_at": true, "updated_at": true}}

func cronJSON(t svc.CronTrigger) map[string]any {
	var rem any
	if t.RemainingExecutions != nil {
		rem = *t.RemainingExecutions
	}
	var first any
	if t.FirstExecutionTime != nil {
		first = t.FirstExecutionTime.UTC().Format("2006-01-02 15:04:05")
	}
	return map[string]any{"id": t.ID, "name": t.Name, "workflow_name": t.WorkflowName, "workflow_id": t.WorkflowID,
		"workflow_input": jsonText(t.Input), "workflow_params": jsonText(t.Params), "project_id": t.ProjectID, "scope": t.Scope,
		"pattern": orNull(t.Pattern), "remaining_executions": rem, "first_execution_time": first,
		"next_execution_time": timeStr(t.NextExecutionTime), "created_at": timeStr(t.CreatedAt), "updated_at": updated(t.CreatedAt, t.UpdatedAt)}
}

func (a *API) createCronTrigger(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name                string          `json:"name"`
		WorkflowName        string          `json:"workflow_name"`
		WorkflowID          string          `json:"workflow_id"`
		WorkflowNamespace   string          `json:"workflow_namespace"`
		WorkflowInput       json.RawMessage `json:"workflow_input"`
		WorkflowParams      json.RawMessage `json:"workflow_params"`
		Pattern             *string         `json:"pattern"`
		FirstExecutionTime  *string         `json:"first_execution_time"`
		RemainingExecutions json.RawMessage `json:"remaining_executions"`
		Scope               string          `json:"scope"`
	}
	if err := rest.Decode(r, &body, false); err != nil {
		return err
	}
	input, err := jsonField(body.WorkflowInput, "workflow_input")
	if err != nil {
		return err
	}
	params, err := jsonField(body.WorkflowParams, "workflow_params")
	if err != nil {
		return err
	}
	in := svc.CronInput{Name: body.Name, WorkflowID: body.WorkflowID, WorkflowName: body.WorkflowName, Namespace: body.WorkflowNamespace,
		Input: input, Params: params, Scope: body.Scope}
	if n, err := intField(body.RemainingExecutions, "remaining_executions"); err != nil {
		return err
	} else {
		in.RemainingExecutions = n
	}
	if body.Pattern != nil {
		in.Pattern = *body.Pattern
	}
	if body.FirstExecutionTime != nil {
		in.FirstExecutionTime = *body.FirstExecutionTime
	}
	t, err := a.svc.CreateCronTrigger(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, cronJSON(t))
	return nil
}

// intField reads an integer that clients send as a number or a string
// (WSME converts "42" to 42).
func intField(raw json.RawMessage, name string) (*int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return &n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return &v, nil
		}
	}
	return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: '%s'. Wrong type. Expected an integer.", name, clip(string(raw), 50))
}

func (a *API) getCronTrigger(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.GetCronTrigger(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(cronJSON(t), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) listCronTriggers(w http.ResponseWriter, r *http.Request) error {
	lq, fields, err := a.listQuery(r, cronList)
	if err != nil {
		return err
	}
	ts, err := a.svc.ListCronTriggers(r.Context(), creds(r), lq)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(ts)), make([]string, len(ts))
	for i, t := range ts {
		items[i], ids[i] = cronJSON(t), t.ID
	}
	a.writeList(w, r, "cron_triggers", items, ids, lq, fields)
	return nil
}

func (a *API) deleteCronTrigger(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteCronTrigger(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func envJSON(e svc.Environment) map[string]any {
	return map[string]any{"id": e.ID, "name": e.Name, "description": e.Description, "variables": jsonText(e.Vars), "scope": e.Scope,
		"project_id": e.ProjectID, "created_at": timeStr(e.CreatedAt), "updated_at": updated(e.CreatedAt, e.UpdatedAt)}
}

func decodeEnv(r *http.Request) (svc.EnvInput, error) {
	var body struct {
		Name        string          `json:"name"`
		Description *string         `json:"description"`
		Variables   json.RawMessage `json:"variables"`
		Scope       string          `json:"scope"`
		ID          string          `json:"id"`
	}
	if err := rest.Decode(r, &body, false); err != nil {
		return svc.EnvInput{}, err
	}
	vars, err := jsonField(body.Variables, "variables")
	if err != nil {
		return svc.EnvInput{}, err
	}
	return svc.EnvInput{Name: body.Name, Description: body.Description, Variables: vars, Scope: body.Scope}, nil
}

func (a *API) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	in, err := decodeEnv(r)
	if err != nil {
		return err
	}
	if in.Variables == nil {
		return oserr.BadRequest("The environment needs variables (a JSON object).")
	}
	e, err := a.svc.CreateEnvironment(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, envJSON(e))
	return nil
}

func (a *API) updateEnvironment(w http.ResponseWriter, r *http.Request) error {
	in, err := decodeEnv(r)
	if err != nil {
		return err
	}
	if in.Name == "" {
		return oserr.BadRequest("Name the environment to update.")
	}
	e, err := a.svc.UpdateEnvironment(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, envJSON(e))
	return nil
}

func (a *API) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	e, err := a.svc.GetEnvironment(r.Context(), creds(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(envJSON(e), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	lq, fields, err := a.listQuery(r, envList)
	if err != nil {
		return err
	}
	es, err := a.svc.ListEnvironments(r.Context(), creds(r), lq)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(es)), make([]string, len(es))
	for i, e := range es {
		items[i], ids[i] = envJSON(e), e.ID
	}
	a.writeList(w, r, "environments", items, ids, lq, fields)
	return nil
}

func (a *API) deleteEnvironment(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteEnvironment(r.Context(), creds(r), r.PathValue("name")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// listServices lists the services of this controller (Mistral lists the
// members of its coordination groups): the API, the engine and the
// executor run in every onestack controller.
func (a *API) listServices(w http.ResponseWriter, _ *http.Request) error {
	owner := a.svc.Engine().Owner()
	var out []any
	for _, t := range []string{"api_group", "engine_group", "executor_group"} {
		out = append(out, map[string]any{"name": owner, "type": t})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"services": out})
	return nil
}
