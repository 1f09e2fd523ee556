package workflow

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

var execList = listSpec{name: "executions",
	fields: []string{"id", "workflow_id", "workflow_name", "workflow_namespace", "description", "tags", "params", "task_execution_id",
		"root_execution_id", "source_execution_id", "state", "state_info", "input", "output", "created_at", "updated_at", "project_id",
		"published_global"},
	filters: map[string]string{"workflow_name": "workflow_name", "workflow_id": "workflow_id", "workflow_namespace": "workflow_namespace",
		"description": "description", "state": "state", "state_info": "state_info", "root_execution_id": "root_execution_id",
		"task_execution_id": "parent_task_id", "created_at": "created_at", "updated_at": "updated_at", "id": "id", "tags": "tags"},
	sorts: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "workflow_name": "workflow_name", "state": "state",
		"workflow_id": "workflow_id", "description": "description", "id": "id", "project_id": "project_id"},
	times: map[string]bool{"created_at": true, "updated_at": true}, extra: []string{"params", "input", "output", "source_execution_id"}}

var taskList = listSpec{name: "tasks",
	fields: []string{"id", "name", "type", "workflow_name", "workflow_namespace", "workflow_id", "workflow_execution_id", "tags", "state",
		"state_info", "project_id", "runtime_context", "result", "published", "published_global", "created_at", "updated_at", "started_at",
		"finished_at", "processed", "reset", "env"},
	filters: map[string]string{"name": "name", "workflow_name": "workflow_name", "workflow_id": "workflow_id", "workflow_execution_id": "execution_id",
		"state": "state", "state_info": "state_info", "created_at": "created_at", "updated_at": "updated_at", "type": "type", "id": "id"},
	sorts: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name", "state": "state", "workflow_name": "workflow_name",
		"id": "id", "started_at": "started_at", "finished_at": "finished_at"},
	times: map[string]bool{"created_at": true, "updated_at": true}, extra: []string{"processed", "reset", "env", "result", "published", "tags"}}

var actionExecList = listSpec{name: "action_executions",
	fields: []string{"id", "workflow_name", "workflow_namespace", "task_name", "task_execution_id", "state", "state_info", "tags", "name",
		"description", "project_id", "input", "output", "created_at", "updated_at", "params"},
	filters: map[string]string{"name": "name", "workflow_name": "workflow_name", "task_name": "task_name", "task_execution_id": "task_id",
		"state": "state", "state_info": "state_info", "description": "description", "created_at": "created_at", "updated_at": "updated_at", "id": "id"},
	sorts: map[string]string{"created_at": "created_at", "updated_at": "updated_at", "name": "name", "state": "state", "id": "id",
		"workflow_name": "workflow_name", "task_name": "task_name"},
	times: map[string]bool{"created_at": true, "updated_at": true}, extra: []string{"input", "output", "accepted", "tags", "workflow_namespace"}}

func execJSON(x store.WFExecution, withOutput bool) map[string]any {
	params := engine.DecodeMap(x.Params)
	delete(params, "depth")
	if _, ok := params["namespace"]; !ok {
		params["namespace"] = x.Namespace
	}
	var tags []any
	if t, ok := engine.Decode(x.Tags).([]any); ok {
		tags = t
	} else {
		tags = []any{}
	}
	m := map[string]any{"id": x.ID, "workflow_id": x.WorkflowID, "workflow_name": x.WorkflowName, "workflow_namespace": x.Namespace,
		"description": x.Description, "tags": tags, "params": jsonText(params), "task_execution_id": orNull(x.ParentTaskID),
		"root_execution_id": orNull(x.RootID), "source_execution_id": nil, "state": x.State, "state_info": orNull(x.StateInfo),
		"input": jsonText(engine.DecodeMap(x.Input)), "created_at": timeStr(x.CreatedAt), "updated_at": timeStr(x.UpdatedAt),
		"project_id": x.ProjectID}
	if withOutput {
		m["output"] = jsonText(engine.DecodeMap(x.Output))
	}
	return m
}

// publishedGlobal is what an execution's tasks published to its global
// context (its vars, __execution and openstack left out).
func publishedGlobal(x store.WFExecution) map[string]any {
	ctx := engine.DecodeMap(x.Context)
	out := map[string]any{}
	var vars map[string]any
	if wf, err := spec.ParseWorkflow(x.Definition, x.WorkflowName, x.Workbook); err == nil {
		vars = wf.Vars
	}
	for k, v := range ctx {
		if k == "__execution" || k == "openstack" {
			continue
		}
		if _, isVar := vars[k]; isVar {
			continue
		}
		out[k] = v
	}
	return out
}

func (a *API) createExecution(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID                string          `json:"id"`
		WorkflowID        string          `json:"workflow_id"`
		WorkflowName      string          `json:"workflow_name"`
		WorkflowNamespace string          `json:"workflow_namespace"`
		Description       string          `json:"description"`
		Input             json.RawMessage `json:"input"`
		Params            json.RawMessage `json:"params"`
		SourceExecutionID string          `json:"source_execution_id"`
		State             string          `json:"state"`
		Tags              []string        `json:"tags"`
		TaskExecutionID   string          `json:"task_execution_id"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return err
	}
	input, err := jsonField(body.Input, "input")
	if err != nil {
		return err
	}
	params, err := jsonField(body.Params, "params")
	if err != nil {
		return err
	}
	ns := body.WorkflowNamespace
	if ns == "" {
		if v, ok := params["namespace"].(string); ok {
			ns = v
		}
	}
	x, err := a.svc.CreateExecution(r.Context(), creds(r), svc.ExecRequest{ID: body.ID, WorkflowID: body.WorkflowID, WorkflowName: body.WorkflowName,
		Namespace: ns, Description: body.Description, Input: input, Params: params, SourceExecutionID: body.SourceExecutionID})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, execJSON(x, true))
	return nil
}

func (a *API) getExecution(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetExecution(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	m := execJSON(x, true)
	m["published_global"] = jsonText(publishedGlobal(x))
	rest.WriteJSON(w, http.StatusOK, pick(m, splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) listExecutionsWith(w http.ResponseWriter, r *http.Request, extra ...svc.Filter) error {
	lq, fields, err := a.listQuery(r, execList)
	if err != nil {
		return err
	}
	lq.Filters = append(lq.Filters, extra...)
	withOutput, err := boolParam(r.URL.Query(), "include_output")
	if err != nil {
		return err
	}
	for _, f := range fields {
		withOutput = withOutput || f == "output"
	}
	xs, err := a.svc.ListExecutions(r.Context(), creds(r), lq)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(xs)), make([]string, len(xs))
	for i, x := range xs {
		items[i], ids[i] = execJSON(x, withOutput), x.ID
	}
	a.writeList(w, r, "executions", items, ids, lq, fields)
	return nil
}

func (a *API) listExecutions(w http.ResponseWriter, r *http.Request) error {
	return a.listExecutionsWith(w, r)
}

func (a *API) executionChildren(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetExecution(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	root := x.RootID
	if root == "" {
		root = x.ID
	}
	return a.listExecutionsWith(w, r, svc.Filter{Field: "root_execution_id", Op: "eq", Values: []any{root}})
}

func (a *API) taskExecutions(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.GetTask(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	return a.listExecutionsWith(w, r, svc.Filter{Field: "parent_task_id", Op: "eq", Values: []any{r.PathValue("id")}})
}

func (a *API) updateExecution(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		State       *string         `json:"state"`
		StateInfo   *string         `json:"state_info"`
		Description *string         `json:"description"`
		Params      json.RawMessage `json:"params"`
		ID          string          `json:"id"`
		Tags        []string        `json:"tags"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return err
	}
	params, err := jsonField(body.Params, "params")
	if err != nil {
		return err
	}
	u := svc.ExecUpdate{State: body.State, StateInfo: body.StateInfo, Description: body.Description}
	if env, ok := params["env"]; ok {
		m, ok := env.(map[string]any)
		if !ok {
			return oserr.BadRequest("params.env must be a mapping of variables.")
		}
		u.Env = m
	}
	if u.State == nil && u.Description == nil && u.Env == nil {
		return oserr.BadRequest("Nothing to update: give state, description or params.env.")
	}
	x, err := a.svc.UpdateExecution(r.Context(), creds(r), r.PathValue("id"), u)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, execJSON(x, true))
	return nil
}

func (a *API) deleteExecution(w http.ResponseWriter, r *http.Request) error {
	force, err := boolParam(r.URL.Query(), "force")
	if err != nil {
		return err
	}
	if err := a.svc.DeleteExecution(r.Context(), creds(r), r.PathValue("id"), force); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func taskJSON(t svc.Task, withResult bool) map[string]any {
	rt := engine.DecodeMap(t.Runtime)
	ctx := map[string]any{}
	if n, ok := rt["retry_no"]; ok {
		ctx["retry_task_policy"] = map[string]any{"retry_no": n}
	}
	if wi, ok := rt["with_items"].(map[string]any); ok {
		ctx["with_items"] = map[string]any{"count": wi["count"], "capacity": wi["concurrency"]}
	}
	if tb, ok := rt["triggered_by"]; ok {
		ctx["triggered_by"] = tb
	}
	m := map[string]any{"id": t.ID, "name": t.Name, "type": t.Type, "workflow_name": t.WorkflowName, "workflow_namespace": t.Namespace,
		"workflow_id": t.WorkflowID, "workflow_execution_id": t.ExecutionID, "tags": []any{}, "state": t.State, "state_info": orNull(t.StateInfo),
		"project_id": t.ProjectID, "runtime_context": jsonText(ctx), "published": jsonText(engine.DecodeMap(t.Published)),
		"created_at": timeStr(t.CreatedAt), "updated_at": timeStr(t.UpdatedAt), "started_at": timePtr(t.StartedAt),
		"finished_at": timePtr(t.FinishedAt), "processed": engine.Terminal(t.State), "reset": false, "env": nil}
	if withResult {
		b, _ := json.Marshal(t.Result)
		m["result"] = string(b)
	}
	return m
}

func (a *API) getTask(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.GetTask(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(taskJSON(t, true), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) listTasksWith(w http.ResponseWriter, r *http.Request, extra ...svc.Filter) error {
	lq, fields, err := a.listQuery(r, taskList)
	if err != nil {
		return err
	}
	lq.Filters = append(lq.Filters, extra...)
	withResult := len(fields) == 0
	for _, f := range fields {
		withResult = withResult || f == "result"
	}
	ts, err := a.svc.ListTasks(r.Context(), creds(r), lq, withResult)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(ts)), make([]string, len(ts))
	for i, t := range ts {
		items[i], ids[i] = taskJSON(t, withResult), t.ID
	}
	a.writeList(w, r, "tasks", items, ids, lq, fields)
	return nil
}

func (a *API) listTasks(w http.ResponseWriter, r *http.Request) error { return a.listTasksWith(w, r) }

func (a *API) executionTasks(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.GetExecution(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	return a.listTasksWith(w, r, svc.Filter{Field: "execution_id", Op: "eq", Values: []any{r.PathValue("id")}})
}

func (a *API) rerunTask(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		State        string          `json:"state"`
		Reset        *bool           `json:"reset"`
		Env          json.RawMessage `json:"env"`
		Name         string          `json:"name"`
		WorkflowName string          `json:"workflow_name"`
		ID           string          `json:"id"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return err
	}
	env, err := jsonField(body.Env, "env")
	if err != nil {
		return err
	}
	if body.State != engine.Running {
		return oserr.BadRequest("Invalid task state. Only updating task to RUNNING is supported (a rerun of a failed task).")
	}
	if body.Reset == nil {
		return oserr.BadRequest("Reset field is mandatory to rerun task.")
	}
	t, err := a.svc.GetTask(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	if body.Name != "" && body.Name != t.Name {
		return oserr.BadRequest("Task name does not match.")
	}
	if body.WorkflowName != "" && body.WorkflowName != t.WorkflowName {
		return oserr.BadRequest("Workflow name does not match.")
	}
	if !*body.Reset && !strings.Contains(t.Runtime, `"with_items"`) {
		return oserr.BadRequest("Only with-items task has the option to not reset.")
	}
	t, err = a.svc.RerunTask(r.Context(), creds(r), t.ID, *body.Reset, env)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, taskJSON(t, true))
	return nil
}

func actionExecJSON(x store.WFAction) map[string]any {
	ns, _ := engine.DecodeMap(x.Runtime)["namespace"].(string)
	return map[string]any{"id": x.ID, "workflow_name": orNull(x.WorkflowName), "workflow_namespace": ns, "task_name": orNull(x.TaskName),
		"task_execution_id": orNull(x.TaskID), "state": x.State, "state_info": orNull(x.StateInfo), "tags": []any{}, "name": x.Name,
		"description": x.Description, "project_id": x.ProjectID, "input": jsonText(engine.DecodeMap(x.Input)),
		"output": jsonText(engine.DecodeMap(x.Output)), "created_at": timeStr(x.CreatedAt), "updated_at": timeStr(x.UpdatedAt)}
}

func (a *API) listActionExecutionsWith(w http.ResponseWriter, r *http.Request, extra ...svc.Filter) error {
	lq, fields, err := a.listQuery(r, actionExecList)
	if err != nil {
		return err
	}
	lq.Filters = append(lq.Filters, extra...)
	withOutput, err := boolParam(r.URL.Query(), "include_output")
	if err != nil {
		return err
	}
	for _, f := range fields {
		withOutput = withOutput || f == "output"
	}
	xs, err := a.svc.ListActionExecutions(r.Context(), creds(r), lq)
	if err != nil {
		return err
	}
	items, ids := make([]map[string]any, len(xs)), make([]string, len(xs))
	for i, x := range xs {
		items[i], ids[i] = actionExecJSON(x), x.ID
		if !withOutput {
			delete(items[i], "output")
		}
	}
	a.writeList(w, r, "action_executions", items, ids, lq, fields)
	return nil
}

func (a *API) listActionExecutions(w http.ResponseWriter, r *http.Request) error {
	return a.listActionExecutionsWith(w, r)
}

func (a *API) taskActions(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.GetTask(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	return a.listActionExecutionsWith(w, r, svc.Filter{Field: "task_id", Op: "eq", Values: []any{r.PathValue("id")}})
}

func (a *API) getActionExecution(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetActionExecution(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, pick(actionExecJSON(x), splitList(r.URL.Query().Get("fields"))))
	return nil
}

func (a *API) runAction(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name              string          `json:"name"`
		Description       string          `json:"description"`
		Input             json.RawMessage `json:"input"`
		Params            json.RawMessage `json:"params"`
		WorkflowNamespace string          `json:"workflow_namespace"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return err
	}
	input, err := jsonField(body.Input, "input")
	if err != nil {
		return err
	}
	params, err := jsonField(body.Params, "params")
	if err != nil {
		return err
	}
	if body.Name == "" {
		return oserr.BadRequest("Please provide at least action name to run action.")
	}
	// As Mistral: an unsaved run answers with the result; a saved one
	// runs asynchronously unless run_sync is true.
	save, _ := params["save_result"].(bool)
	sync, syncSet := params["run_sync"].(bool)
	async := save && !(syncSet && sync)
	if syncSet && !sync && !save {
		return oserr.BadRequest("An action run with run_sync false needs save_result true: its result is kept to be read later.")
	}
	x, err := a.svc.RunAction(r.Context(), creds(r), svc.RunRequest{Name: body.Name, Namespace: body.WorkflowNamespace, Description: body.Description,
		Input: input, Save: save, Async: async})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, actionExecJSON(x))
	return nil
}

func (a *API) updateActionExecution(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		State     string          `json:"state"`
		Output    json.RawMessage `json:"output"`
		StateInfo string          `json:"state_info"`
		ID        string          `json:"id"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return err
	}
	var output any
	if len(body.Output) > 0 && string(body.Output) != "null" {
		output = engine.Decode(string(body.Output))
		if s, ok := output.(string); ok {
			if v := engine.Decode(s); v != nil {
				output = v
			}
		}
	}
	switch body.State {
	case engine.Success, engine.Error, engine.Cancelled:
	default:
		return oserr.BadRequest("Error. Expected one of [SUCCESS, ERROR, CANCELLED], actual: %s", body.State)
	}
	if m, ok := output.(map[string]any); ok && len(m) == 1 {
		if v, ok := m["result"]; ok {
			output = v
		}
	}
	x, err := a.svc.UpdateActionExecution(r.Context(), creds(r), r.PathValue("id"), body.State, output, body.StateInfo)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, actionExecJSON(x))
	return nil
}

func (a *API) deleteActionExecution(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteActionExecution(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// executionReport is Mistral's execution report: the execution's tree of
// tasks with their states and a count of each state.
func (a *API) executionReport(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetExecution(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	stats := map[string]int{"total_tasks_count": 0, "running_tasks_count": 0, "success_tasks_count": 0, "error_tasks_count": 0,
		"idle_tasks_count": 0, "paused_tasks_count": 0}
	var entry func(store.WFExecution, int) (map[string]any, error)
	entry = func(x store.WFExecution, depth int) (map[string]any, error) {
		ts, err := a.svc.ListTasks(r.Context(), creds(r), svc.ListQuery{Filters: []svc.Filter{{Field: "execution_id", Op: "eq", Values: []any{x.ID}}}}, false)
		if err != nil {
			return nil, err
		}
		var tasks []any
		for _, t := range ts {
			stats["total_tasks_count"]++
			switch t.State {
			case engine.Running, engine.RunningDelayed, engine.Waiting:
				stats["running_tasks_count"]++
			case engine.Success:
				stats["success_tasks_count"]++
			case engine.Error:
				stats["error_tasks_count"]++
			case engine.Idle:
				stats["idle_tasks_count"]++
			case engine.Paused:
				stats["paused_tasks_count"]++
			}
			te := map[string]any{"id": t.ID, "name": t.Name, "state": t.State, "state_info": orNull(t.StateInfo),
				"created_at": timeStr(t.CreatedAt), "updated_at": timeStr(t.UpdatedAt)}
			if t.Type == engine.TypeWorkflow && depth < 10 {
				subs, err := a.svc.ListExecutions(r.Context(), creds(r), svc.ListQuery{Filters: []svc.Filter{{Field: "parent_task_id", Op: "eq", Values: []any{t.ID}}}})
				if err != nil {
					return nil, err
				}
				var se []any
				for _, s := range subs {
					e, err := entry(s, depth+1)
					if err != nil {
						return nil, err
					}
					se = append(se, e)
				}
				te["workflow_executions"] = se
			}
			tasks = append(tasks, te)
		}
		return map[string]any{"id": x.ID, "name": x.WorkflowName, "state": x.State, "state_info": orNull(x.StateInfo),
			"created_at": timeStr(x.CreatedAt), "updated_at": timeStr(x.UpdatedAt), "task_executions": tasks}, nil
	}
	root, err := entry(x, 0)
	if err != nil {
		return err
	}
	st := map[string]any{}
	for k, v := range stats {
		st[k] = v
	}
	st["estimated_time"] = -1
	rest.WriteJSON(w, http.StatusOK, map[string]any{"statistics": st, "root_workflow_execution": root})
	return nil
}
