package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/engine"
)

// ExecRequest starts a workflow execution.
type ExecRequest struct {
	// ID, when given, makes the create idempotent: an execution with this
	// id is returned as it is.
	ID                       string
	WorkflowID, WorkflowName string
	Namespace, Description   string
	Input, Params            map[string]any
	SourceExecutionID        string
}

// openstackContext is the context's openstack entry: who runs the
// workflow, with the token and catalog masked as Mistral masks them.
func openstackContext(c *auth.Credentials) map[string]any {
	roles := []any{}
	for _, r := range c.Roles {
		roles = append(roles, r.Name)
	}
	ctx := map[string]any{"user_id": c.User.ID, "user_name": c.User.Name, "roles": roles, "is_admin": c.IsAdmin(),
		"auth_token": "***", "service_catalog": "***"}
	if c.Project != nil {
		ctx["project_id"], ctx["project_name"] = c.Project.ID, c.Project.Name
	}
	return ctx
}

// delegate asks the delegation for the document executions of c act with.
func (s *Service) delegate(ctx context.Context, c *auth.Credentials) (map[string]any, error) {
	if s.deleg == nil {
		return map[string]any{}, nil
	}
	doc, err := s.deleg.Delegate(ctx, c)
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// resolveEnv turns params.env given by name into its variables.
func (s *Service) resolveEnv(ctx context.Context, tx *store.Tx, c *auth.Credentials, params map[string]any) error {
	name, ok := params["env"].(string)
	if !ok {
		return nil
	}
	envs, err := tx.FindWFEnvironment(ctx, name, c.ProjectID())
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return oserr.BadRequest("Environment %q not found; create it with 'openstack workflow env create' or pass the variables in params.env.", name)
	}
	params["env"] = engine.DecodeMap(envs[0].Variables)
	return nil
}

// CreateExecution starts a workflow as c.
func (s *Service) CreateExecution(ctx context.Context, c *auth.Credentials, req ExecRequest) (store.WFExecution, error) {
	if req.ID != "" {
		if !IsUUID(req.ID) {
			return store.WFExecution{}, oserr.BadRequest("Invalid execution id %q: give a UUID or leave it out.", req.ID)
		}
		if x, err := s.GetExecution(ctx, c, req.ID); err == nil {
			return x, nil
		}
	}
	params := map[string]any{}
	for k, v := range req.Params {
		params[k] = v
	}
	input := req.Input
	var def store.WFDefinition
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if req.SourceExecutionID != "" {
			src, err := tx.GetWFExecution(ctx, req.SourceExecutionID)
			if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, src.ProjectID) {
				return oserr.NotFound("Source execution not found [id=%s].", req.SourceExecutionID)
			}
			if err != nil {
				return err
			}
			if req.WorkflowID == "" && req.WorkflowName == "" {
				req.WorkflowID = src.WorkflowID
			}
			if input == nil {
				input = engine.DecodeMap(src.Input)
			}
			if len(params) == 0 {
				params = engine.DecodeMap(src.Params)
				delete(params, "depth")
			}
			if req.Description == "" {
				req.Description = src.Description
			}
		}
		ident := req.WorkflowID
		if ident == "" {
			ident = req.WorkflowName
		}
		if ident == "" {
			return oserr.BadRequest("Workflow ID or workflow name must be provided: give workflow_id or workflow_name.")
		}
		var err error
		if def, err = s.find(ctx, tx, c, store.WFKindWorkflow, ident, req.Namespace); err != nil {
			return err
		}
		return s.resolveEnv(ctx, tx, c, params)
	})
	if err != nil {
		return store.WFExecution{}, err
	}
	if input == nil {
		input = map[string]any{}
	}
	params["namespace"] = req.Namespace
	doc, err := s.delegate(ctx, c)
	if err != nil {
		return store.WFExecution{}, err
	}
	doc[perExecution] = true
	x, err := s.eng.Start(ctx, engine.StartRequest{ID: req.ID, WorkflowID: def.ID, WorkflowName: def.Name, Namespace: def.Namespace,
		Workbook: def.Workbook, Definition: def.Definition, Description: req.Description, Input: input, Params: params,
		ProjectID: c.ProjectID(), UserID: c.User.ID, Auth: doc, OpenStack: openstackContext(c)})
	if err != nil {
		if s.deleg != nil {
			_ = s.deleg.Revoke(ctx, doc)
		}
		return store.WFExecution{}, engineErr(err)
	}
	fault.Point(fault.WorkflowStarted)
	return x, nil
}

func canSee(c *auth.Credentials, project string) bool {
	return c.IsAdmin() || project == c.ProjectID()
}

// GetExecution reads an execution of c's project.
func (s *Service) GetExecution(ctx context.Context, c *auth.Credentials, id string) (store.WFExecution, error) {
	var x store.WFExecution
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		x, err = tx.GetWFExecution(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, x.ProjectID) {
			return oserr.NotFound("WorkflowExecution not found [id=%s].", id)
		}
		return err
	})
	return x, err
}

// ListExecutions lists executions of c's project (all, for admins asking).
func (s *Service) ListExecutions(ctx context.Context, c *auth.Credentials, q ListQuery) ([]store.WFExecution, error) {
	l := s.ownPage(c, q)
	var out []store.WFExecution
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.ListWFExecutions(ctx, l)
		return err
	})
	return out, storeErr(err, "the list")
}

// ownPage is page for resources that are never public.
func (s *Service) ownPage(c *auth.Credentials, q ListQuery) store.WFList {
	l := s.page(c, q)
	return l
}

// ExecUpdate changes an execution.
type ExecUpdate struct {
	State, StateInfo, Description *string
	Env                           map[string]any
}

// UpdateExecution changes an execution's state, description or env.
func (s *Service) UpdateExecution(ctx context.Context, c *auth.Credentials, id string, u ExecUpdate) (store.WFExecution, error) {
	x, err := s.GetExecution(ctx, c, id)
	if err != nil {
		return x, err
	}
	if !c.IsAdmin() && !c.HasRole(auth.RoleMember) {
		return x, oserr.Forbidden("Changing an execution needs the member role.")
	}
	if u.Description != nil {
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.GetWFExecution(ctx, id)
			if err != nil {
				return err
			}
			cur.Description, cur.UpdatedAt = *u.Description, s.now()
			return tx.UpdateWFExecution(ctx, cur)
		})
		if err != nil {
			return x, err
		}
	}
	if u.State != nil {
		info := ""
		if u.StateInfo != nil {
			info = *u.StateInfo
		}
		if err := s.eng.SetState(ctx, id, *u.State, info, u.Env); err != nil {
			return x, engineErr(err)
		}
	} else if u.Env != nil {
		return x, oserr.BadRequest("The environment of an execution changes only with a state change (resume) or a task rerun.")
	}
	return s.GetExecution(ctx, c, id)
}

// perExecution marks a delegation made for one execution (ended with it),
// not for a cron trigger's executions.
const perExecution = "per_execution"

// DeleteExecution deletes an execution with its tasks, actions and
// sub-workflows; a running one only with force. Its delegation ends.
func (s *Service) DeleteExecution(ctx context.Context, c *auth.Credentials, id string, force bool) error {
	var doc map[string]any
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		x, err := tx.GetWFExecution(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, x.ProjectID) {
			return oserr.NotFound("WorkflowExecution not found [id=%s].", id)
		}
		if err != nil {
			return err
		}
		if !engine.Terminal(x.State) && !force {
			return oserr.BadRequest("Only completed executions can be deleted. Use --force to override this. Execution %s is in %s state", id, x.State)
		}
		doc = engine.DecodeMap(x.Auth)
		if x.RootID == "" {
			subs, err := tx.ListWFExecutions(ctx, store.WFList{Conds: []store.WFCond{{Col: "root_execution_id", Op: "eq", Vals: []any{id}}}})
			if err != nil {
				return err
			}
			for _, sub := range subs {
				if err := tx.DeleteWFExecution(ctx, sub.ID); err != nil {
					return err
				}
			}
		}
		return tx.DeleteWFExecution(ctx, id)
	})
	if err == nil && s.deleg != nil && doc[perExecution] == true {
		if rerr := s.deleg.Revoke(ctx, doc); rerr != nil {
			s.log.Warn("end the delegation of a deleted execution", "execution_id", id, "error", rerr)
		}
	}
	return err
}

// Task is a task execution with its result.
type Task struct {
	store.WFTask
	Result any
	// Env is the environment of the task's execution.
	Env map[string]any
}

// GetTask reads a task execution with its result.
func (s *Service) GetTask(ctx context.Context, c *auth.Credentials, id string) (Task, error) {
	var t Task
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		row, err := tx.GetWFTask(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, row.ProjectID) {
			return oserr.NotFound("Task execution not found [id=%s].", id)
		}
		if err != nil {
			return err
		}
		t, err = s.taskView(ctx, tx, row)
		return err
	})
	return t, err
}

func (s *Service) taskView(ctx context.Context, tx *store.Tx, row store.WFTask) (Task, error) {
	rt := engine.DecodeMap(row.Runtime)
	items, _ := rt["with_items"].(map[string]any)
	count := 0
	if items != nil {
		if n, ok := items["count"].(int64); ok {
			count = int(n)
		}
	}
	res, err := engine.TaskResult(ctx, tx, row, items != nil, count)
	if err != nil {
		return Task{}, err
	}
	return Task{WFTask: row, Result: res}, nil
}

// ListTasks lists task executions (results included).
func (s *Service) ListTasks(ctx context.Context, c *auth.Credentials, q ListQuery, withResults bool) ([]Task, error) {
	l := s.ownPage(c, q)
	var out []Task
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.ListWFTasks(ctx, l)
		if err != nil {
			return err
		}
		out = make([]Task, len(rows))
		var results []any
		if withResults {
			if results, err = engine.TaskResults(ctx, tx, rows); err != nil {
				return err
			}
		}
		for i, r := range rows {
			out[i] = Task{WFTask: r}
			if withResults {
				out[i].Result = results[i]
			}
		}
		return nil
	})
	return out, storeErr(err, "the list")
}

// RerunTask runs a failed task again.
func (s *Service) RerunTask(ctx context.Context, c *auth.Credentials, id string, reset bool, env map[string]any) (Task, error) {
	if _, err := s.GetTask(ctx, c, id); err != nil {
		return Task{}, err
	}
	if err := s.eng.RerunTask(ctx, id, reset, env); err != nil {
		return Task{}, engineErr(err)
	}
	return s.GetTask(ctx, c, id)
}

// GetActionExecution reads an action execution.
func (s *Service) GetActionExecution(ctx context.Context, c *auth.Credentials, id string) (store.WFAction, error) {
	var a store.WFAction
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		a, err = tx.GetWFAction(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, a.ProjectID) {
			return oserr.NotFound("Action execution not found [id=%s].", id)
		}
		return err
	})
	return a, err
}

// ListActionExecutions lists action executions.
func (s *Service) ListActionExecutions(ctx context.Context, c *auth.Credentials, q ListQuery) ([]store.WFAction, error) {
	l := s.ownPage(c, q)
	var out []store.WFAction
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.ListWFActions(ctx, l)
		return err
	})
	return out, storeErr(err, "the list")
}

// RunRequest runs an action outside workflows.
type RunRequest struct {
	Name, Namespace, Description string
	Input                        map[string]any
	Save, Async                  bool
}

// RunAction runs an action as c (POST /v2/action_executions).
func (s *Service) RunAction(ctx context.Context, c *auth.Credentials, r RunRequest) (store.WFAction, error) {
	if r.Name == "" {
		return store.WFAction{}, oserr.BadRequest("Action name must be provided: give name.")
	}
	doc, err := s.delegate(ctx, c)
	if err != nil {
		return store.WFAction{}, err
	}
	a, err := s.eng.RunAction(ctx, engine.RunRequest{Name: r.Name, Namespace: r.Namespace, Description: r.Description, Input: r.Input,
		ProjectID: c.ProjectID(), Auth: doc, Save: r.Save, Async: r.Async})
	if err != nil {
		return a, engineErr(err)
	}
	return a, nil
}

// UpdateActionExecution posts the result of a running action.
func (s *Service) UpdateActionExecution(ctx context.Context, c *auth.Credentials, id, state string, output any, info string) (store.WFAction, error) {
	if _, err := s.GetActionExecution(ctx, c, id); err != nil {
		return store.WFAction{}, err
	}
	if err := s.eng.CompleteAction(ctx, id, state, output, info); err != nil {
		return store.WFAction{}, engineErr(err)
	}
	return s.GetActionExecution(ctx, c, id)
}

// DeleteActionExecution deletes an action execution that is not part of
// a workflow (a task's calls stay with their task).
func (s *Service) DeleteActionExecution(ctx context.Context, c *auth.Credentials, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.GetWFAction(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, a.ProjectID) {
			return oserr.NotFound("Action execution not found [id=%s].", id)
		}
		if err != nil {
			return err
		}
		if a.TaskID != "" {
			return oserr.Forbidden("Action execution %s belongs to task %s; delete its workflow execution instead.", id, a.TaskID)
		}
		if a.State == engine.Running {
			return oserr.BadRequest("Action execution %s is RUNNING; it can be deleted when it ends.", id)
		}
		return tx.DeleteWFAction(ctx, id)
	})
}

// Environment is a named set of variables.
type Environment struct {
	store.WFEnvironment
	Vars map[string]any
}

func envView(e store.WFEnvironment) Environment {
	return Environment{WFEnvironment: e, Vars: engine.DecodeMap(e.Variables)}
}

// EnvInput creates or changes an environment.
type EnvInput struct {
	Name        string
	Description *string
	Variables   map[string]any
	Scope       string
}

// CreateEnvironment stores an environment.
func (s *Service) CreateEnvironment(ctx context.Context, c *auth.Credentials, in EnvInput) (Environment, error) {
	if in.Name == "" {
		return Environment{}, oserr.BadRequest("The environment needs a name.")
	}
	if IsUUID(in.Name) {
		return Environment{}, oserr.BadRequest("An environment name cannot look like a UUID; choose another name.")
	}
	scope, err := checkScope(in.Scope)
	if err != nil {
		return Environment{}, err
	}
	now := s.now()
	e := store.WFEnvironment{ID: uuid.NewString(), Name: in.Name, ProjectID: c.ProjectID(), Scope: scope, Variables: encodeJSON(in.Variables),
		CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		e.Description = *in.Description
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateWFEnvironment(ctx, e); errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Duplicate entry for Environment ['name', 'project_id']: %s, %s", in.Name, c.ProjectID())
		} else if err != nil {
			return err
		}
		return nil
	})
	return envView(e), err
}

func (s *Service) findEnv(ctx context.Context, tx *store.Tx, c *auth.Credentials, name string, own bool) (store.WFEnvironment, error) {
	project := c.ProjectID()
	if c.IsAdmin() {
		project = ""
	}
	envs, err := tx.FindWFEnvironment(ctx, name, project)
	if err != nil {
		return store.WFEnvironment{}, err
	}
	for _, e := range envs {
		if e.ProjectID == c.ProjectID() || !own || c.IsAdmin() {
			return e, nil
		}
	}
	return store.WFEnvironment{}, oserr.NotFound("Environment not found [name=%s].", name)
}

// UpdateEnvironment changes an environment's description, variables or
// scope.
func (s *Service) UpdateEnvironment(ctx context.Context, c *auth.Credentials, in EnvInput) (Environment, error) {
	var out store.WFEnvironment
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		e, err := s.findEnv(ctx, tx, c, in.Name, true)
		if err != nil {
			return err
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.Variables != nil {
			e.Variables = encodeJSON(in.Variables)
		}
		if in.Scope != "" {
			if e.Scope, err = checkScope(in.Scope); err != nil {
				return err
			}
		}
		e.UpdatedAt = s.now()
		out = e
		return tx.UpdateWFEnvironment(ctx, e)
	})
	return envView(out), err
}

// GetEnvironment reads an environment by name.
func (s *Service) GetEnvironment(ctx context.Context, c *auth.Credentials, name string) (Environment, error) {
	var out store.WFEnvironment
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.findEnv(ctx, tx, c, name, false)
		return err
	})
	return envView(out), err
}

// ListEnvironments lists environments.
func (s *Service) ListEnvironments(ctx context.Context, c *auth.Credentials, q ListQuery) ([]Environment, error) {
	l := s.page(c, q)
	var rows []store.WFEnvironment
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.ListWFEnvironments(ctx, l)
		return err
	})
	out := make([]Environment, len(rows))
	for i, r := range rows {
		out[i] = envView(r)
	}
	return out, storeErr(err, "the list")
}

// DeleteEnvironment deletes an environment.
func (s *Service) DeleteEnvironment(ctx context.Context, c *auth.Credentials, name string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		e, err := s.findEnv(ctx, tx, c, name, true)
		if err != nil {
			return err
		}
		return tx.DeleteWFEnvironment(ctx, e.ID)
	})
}

func encodeJSON(v any) string {
	if v == nil {
		return "{}"
	}
	return fmt.Sprint(jsonString(v))
}
