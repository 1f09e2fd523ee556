package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The tables of Mistral (workflow v2) and its engine: definitions,
// members, executions, tasks, action executions, jobs, cron triggers and
// environments. JSON values are TEXT the callers encode and decode.

// WFDefinition is a workflow, workbook or ad-hoc action definition.
type WFDefinition struct {
	ID, Kind, Name, Namespace, ProjectID, Scope, Workbook string
	Definition                                            string
	// Doc is JSON: tags, description, input signature, checksum.
	Doc                  string
	CreatedAt, UpdatedAt time.Time
}

// Kinds of definitions.
const (
	WFKindWorkflow = "workflow"
	WFKindWorkbook = "workbook"
	WFKindAction   = "action"
)

const wfDefCols = `id, kind, name, namespace, project_id, scope, workbook, definition, doc, created_at, updated_at`

func scanWFDefinition(s scanner) (WFDefinition, error) {
	var d WFDefinition
	var c, u int64
	err := s.Scan(&d.ID, &d.Kind, &d.Name, &d.Namespace, &d.ProjectID, &d.Scope, &d.Workbook, &d.Definition, &d.Doc, &c, &u)
	d.CreatedAt, d.UpdatedAt = fromMicros(c), fromMicros(u)
	return d, err
}

// CreateWFDefinition inserts d; ErrConflict when its kind, name, namespace
// and project exist.
func (t *Tx) CreateWFDefinition(ctx context.Context, d WFDefinition) error {
	_, err := t.exec(ctx, `INSERT INTO wf_definitions (`+wfDefCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.Kind, d.Name, d.Namespace, d.ProjectID, d.Scope, d.Workbook, d.Definition, d.Doc, micros(d.CreatedAt), micros(d.UpdatedAt))
	return t.mapErr(err)
}

// UpdateWFDefinition rewrites d's scope, workbook, definition and doc.
func (t *Tx) UpdateWFDefinition(ctx context.Context, d WFDefinition) error {
	res, err := t.exec(ctx, `UPDATE wf_definitions SET scope = ?, workbook = ?, definition = ?, doc = ?, updated_at = ? WHERE id = ?`,
		d.Scope, d.Workbook, d.Definition, d.Doc, micros(d.UpdatedAt), d.ID)
	return affected(res, err)
}

// GetWFDefinition reads a definition by id.
func (t *Tx) GetWFDefinition(ctx context.Context, kind, id string) (WFDefinition, error) {
	return one(ctx, t, scanWFDefinition, `SELECT `+wfDefCols+` FROM wf_definitions WHERE kind = ? AND id = ?`, kind, id)
}

// FindWFDefinitions reads the definitions of kind named name in namespace
// that project owns or that are public (any project when project is "").
func (t *Tx) FindWFDefinitions(ctx context.Context, kind, name, namespace, project string) ([]WFDefinition, error) {
	q := `SELECT ` + wfDefCols + ` FROM wf_definitions WHERE kind = ? AND name = ? AND namespace = ?`
	args := []any{kind, name, namespace}
	if project != "" {
		q += ` AND (project_id = ? OR scope = 'public' OR id IN (SELECT resource_id FROM wf_members WHERE member_id = ? AND status = 'accepted'))`
		args = append(args, project, project)
	}
	return list(ctx, t, scanWFDefinition, q+` ORDER BY created_at, id`, args...)
}

// DeleteWFDefinition removes a definition; ErrNotFound when it is gone.
func (t *Tx) DeleteWFDefinition(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM wf_definitions WHERE id = ?`, id)
	if err := affected(res, err); err != nil {
		return err
	}
	_, err = t.exec(ctx, `DELETE FROM wf_members WHERE resource_id = ?`, id)
	return err
}

// WorkbookDefinitions lists the workflows and actions a workbook made.
func (t *Tx) WorkbookDefinitions(ctx context.Context, workbook, namespace, project string) ([]WFDefinition, error) {
	return list(ctx, t, scanWFDefinition, `SELECT `+wfDefCols+` FROM wf_definitions WHERE workbook = ? AND namespace = ? AND project_id = ? AND kind <> 'workbook'`,
		workbook, namespace, project)
}

// WFCond is one condition of a list filter: Op is eq, neq, in, nin, gt,
// gte, lt, lte or has (substring).
type WFCond struct {
	Col  string
	Op   string
	Vals []any
}

// WFList selects and pages rows of a workflow table.
type WFList struct {
	Conds []WFCond
	// Visible, when set, keeps rows of this project, public rows and, for
	// definitions, rows shared with it.
	Visible string
	// Sort is the column to order by, then id; Desc reverses the column's
	// order, IDDesc id's (Mistral pages "name desc, id asc").
	Sort   string
	Desc   bool
	IDDesc bool
	// Marker is the id of the last row of the previous page.
	Marker string
	Limit  int
}

func (q WFList) where(table string, cols map[string]bool) (*where, error) {
	w := &where{}
	for _, c := range q.Conds {
		if !cols[c.Col] {
			return nil, fmt.Errorf("%w: cannot filter on %s", ErrBadQuery, c.Col)
		}
		switch c.Op {
		case "eq", "":
			w.eq(c.Col, c.Vals[0], true)
		case "neq":
			w.clauses = append(w.clauses, c.Col+" <> ?")
			w.args = append(w.args, c.Vals[0])
		case "gt", "gte", "lt", "lte":
			op := map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[c.Op]
			w.clauses = append(w.clauses, c.Col+" "+op+" ?")
			w.args = append(w.args, c.Vals[0])
		case "in", "nin":
			if len(c.Vals) == 0 {
				if c.Op == "in" {
					w.clauses = append(w.clauses, "1 = 0")
				}
				continue
			}
			not := ""
			if c.Op == "nin" {
				not = "NOT "
			}
			w.clauses = append(w.clauses, c.Col+" "+not+"IN (?"+strings.Repeat(", ?", len(c.Vals)-1)+")")
			w.args = append(w.args, c.Vals...)
		case "has":
			w.clauses = append(w.clauses, c.Col+" LIKE ?")
			w.args = append(w.args, "%"+fmt.Sprint(c.Vals[0])+"%")
		default:
			return nil, fmt.Errorf("%w: unknown filter %s", ErrBadQuery, c.Op)
		}
	}
	if q.Visible != "" {
		switch table {
		case "wf_definitions":
			w.clauses = append(w.clauses, "(project_id = ? OR scope = 'public' OR id IN (SELECT resource_id FROM wf_members WHERE member_id = ? AND status = 'accepted'))")
			w.args = append(w.args, q.Visible, q.Visible)
		case "wf_cron_triggers", "wf_environments":
			w.clauses = append(w.clauses, "(project_id = ? OR scope = 'public')")
			w.args = append(w.args, q.Visible)
		default:
			w.eq("project_id", q.Visible, true)
		}
	}
	return w, nil
}

// ErrBadQuery is a list filter or sort on a column that cannot be used.
var ErrBadQuery = fmt.Errorf("bad query")

// pageWF runs a keyset-paged list: rows after the marker in (sort, id).
func pageWF[T any](ctx context.Context, t *Tx, table, cols string, allowed map[string]bool, scan func(scanner) (T, error), q WFList) ([]T, error) {
	w, err := q.where(table, allowed)
	if err != nil {
		return nil, err
	}
	sortCol := q.Sort
	if sortCol == "" {
		sortCol = "created_at"
	}
	if !allowed[sortCol] {
		return nil, fmt.Errorf("%w: cannot sort by %s", ErrBadQuery, sortCol)
	}
	op, idOp, dir, idDir := ">", ">", " ASC", " ASC"
	if q.Desc {
		op, dir = "<", " DESC"
	}
	if q.IDDesc {
		idOp, idDir = "<", " DESC"
	}
	if q.Marker != "" {
		var mv any
		if err := t.queryRow(ctx, `SELECT `+sortCol+` FROM `+table+` WHERE id = ?`, q.Marker).Scan(&mv); err != nil {
			return nil, t.mapErr(err)
		}
		if sortCol == "id" {
			w.clauses = append(w.clauses, "id "+op+" ?")
			w.args = append(w.args, q.Marker)
		} else {
			w.clauses = append(w.clauses, "("+sortCol+" "+op+" ? OR ("+sortCol+" = ? AND id "+idOp+" ?))")
			w.args = append(w.args, mv, mv, q.Marker)
		}
	}
	order := ` ORDER BY ` + sortCol + dir
	if sortCol != "id" {
		order += `, id` + idDir
	}
	sql := `SELECT ` + cols + ` FROM ` + table + w.sql() + order
	if q.Limit > 0 {
		sql += ` LIMIT ?`
		w.args = append(w.args, q.Limit)
	}
	return list(ctx, t, scan, sql, w.args...)
}

var wfDefFilterCols = map[string]bool{"id": true, "kind": true, "name": true, "namespace": true, "project_id": true, "scope": true,
	"workbook": true, "created_at": true, "updated_at": true, "doc": true}

// ListWFDefinitions pages definitions (filter "kind" to one kind).
func (t *Tx) ListWFDefinitions(ctx context.Context, q WFList) ([]WFDefinition, error) {
	return pageWF(ctx, t, "wf_definitions", wfDefCols, wfDefFilterCols, scanWFDefinition, q)
}

// WFMember shares a definition with another project.
type WFMember struct {
	ID, ResourceID, ResourceType, ProjectID, MemberID, Status string
	CreatedAt, UpdatedAt                                      time.Time
}

const wfMemberCols = `id, resource_id, resource_type, project_id, member_id, status, created_at, updated_at`

func scanWFMember(s scanner) (WFMember, error) {
	var m WFMember
	var c, u int64
	err := s.Scan(&m.ID, &m.ResourceID, &m.ResourceType, &m.ProjectID, &m.MemberID, &m.Status, &c, &u)
	m.CreatedAt, m.UpdatedAt = fromMicros(c), fromMicros(u)
	return m, err
}

// CreateWFMember inserts m; ErrConflict when the member exists.
func (t *Tx) CreateWFMember(ctx context.Context, m WFMember) error {
	_, err := t.exec(ctx, `INSERT INTO wf_members (`+wfMemberCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.ResourceID, m.ResourceType, m.ProjectID, m.MemberID, m.Status, micros(m.CreatedAt), micros(m.UpdatedAt))
	return t.mapErr(err)
}

// UpdateWFMember sets m's status.
func (t *Tx) UpdateWFMember(ctx context.Context, m WFMember) error {
	res, err := t.exec(ctx, `UPDATE wf_members SET status = ?, updated_at = ? WHERE id = ?`, m.Status, micros(m.UpdatedAt), m.ID)
	return affected(res, err)
}

// GetWFMember reads the membership of member in resource.
func (t *Tx) GetWFMember(ctx context.Context, resource, member string) (WFMember, error) {
	return one(ctx, t, scanWFMember, `SELECT `+wfMemberCols+` FROM wf_members WHERE resource_id = ? AND member_id = ?`, resource, member)
}

// ListWFMembers lists a resource's members (all of them when member is "").
func (t *Tx) ListWFMembers(ctx context.Context, resource, member string) ([]WFMember, error) {
	q, args := `SELECT `+wfMemberCols+` FROM wf_members WHERE resource_id = ?`, []any{resource}
	if member != "" {
		q += ` AND member_id = ?`
		args = append(args, member)
	}
	return list(ctx, t, scanWFMember, q+` ORDER BY created_at, id`, args...)
}

// DeleteWFMember removes a membership; ErrNotFound when there is none.
func (t *Tx) DeleteWFMember(ctx context.Context, resource, member string) error {
	res, err := t.exec(ctx, `DELETE FROM wf_members WHERE resource_id = ? AND member_id = ?`, resource, member)
	return affected(res, err)
}

// WFExecution is a workflow execution.
type WFExecution struct {
	ID, ProjectID, UserID, WorkflowID, WorkflowName, Namespace, Workbook string
	Description, State, StateInfo, RootID, ParentTaskID                  string
	Definition, Input, Params, Output, Context, Tags, Auth               string
	Active, Errors, Revision                                             int64
	CreatedAt, UpdatedAt                                                 time.Time
}

const wfExecCols = `id, project_id, user_id, workflow_id, workflow_name, workflow_namespace, workbook, description, state, state_info,
	root_execution_id, parent_task_id, definition, input, params, output, context, tags, auth, active, errors, revision, created_at, updated_at`

// wfExecListCols leaves out the definition, which lists do not show.
const wfExecListCols = `id, project_id, user_id, workflow_id, workflow_name, workflow_namespace, workbook, description, state, state_info,
	root_execution_id, parent_task_id, '', input, params, output, context, tags, '{}', active, errors, revision, created_at, updated_at`

func scanWFExecution(s scanner) (WFExecution, error) {
	var e WFExecution
	var c, u int64
	err := s.Scan(&e.ID, &e.ProjectID, &e.UserID, &e.WorkflowID, &e.WorkflowName, &e.Namespace, &e.Workbook, &e.Description, &e.State, &e.StateInfo,
		&e.RootID, &e.ParentTaskID, &e.Definition, &e.Input, &e.Params, &e.Output, &e.Context, &e.Tags, &e.Auth, &e.Active, &e.Errors, &e.Revision, &c, &u)
	e.CreatedAt, e.UpdatedAt = fromMicros(c), fromMicros(u)
	return e, err
}

// The engine's hottest statements, prepared once on SQLite.
var (
	sqlCreateWFTask = `INSERT INTO wf_tasks (` + wfTaskCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateWFTask = `UPDATE wf_tasks SET state = ?, state_info = ?, unique_key = ?, in_context = ?, published = ?, runtime = ?,
		next_tasks = ?, error_handled = ?, updated_at = ?, started_at = ?, finished_at = ? WHERE id = ?`
	sqlCreateWFAction = `INSERT INTO wf_actions (` + wfActionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlUpdateWFExec   = `UPDATE wf_executions SET state = ?, state_info = ?, description = ?, output = ?, context = ?, tags = ?,
		active = ?, errors = ?, revision = revision + 1, updated_at = ? WHERE id = ?`
	sqlCreateWFJob = `INSERT INTO wf_jobs (` + wfJobCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

var hotStatements = []string{sqlCreateWFTask, sqlUpdateWFTask, sqlCreateWFAction, sqlUpdateWFExec, sqlCreateWFJob}

// CreateWFExecution inserts e.
func (t *Tx) CreateWFExecution(ctx context.Context, e WFExecution) error {
	_, err := t.exec(ctx, `INSERT INTO wf_executions (`+wfExecCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ProjectID, e.UserID, e.WorkflowID, e.WorkflowName, e.Namespace, e.Workbook, e.Description, e.State, e.StateInfo,
		e.RootID, e.ParentTaskID, e.Definition, e.Input, e.Params, e.Output, e.Context, e.Tags, e.Auth, e.Active, e.Errors, e.Revision,
		micros(e.CreatedAt), micros(e.UpdatedAt))
	return t.mapErr(err)
}

// UpdateWFExecution writes e's changing columns: state, state_info,
// description, output, context, tags, active, errors and the update time.
func (t *Tx) UpdateWFExecution(ctx context.Context, e WFExecution) error {
	res, err := t.execHot(ctx, sqlUpdateWFExec,
		e.State, e.StateInfo, e.Description, e.Output, e.Context, e.Tags, e.Active, e.Errors, micros(e.UpdatedAt), e.ID)
	return affected(res, err)
}

// LockWFExecution takes the execution's row lock until the transaction
// ends, so that changes to one execution's tasks are serialised across
// controllers (SQLite's writer lock already serialises them).
func (t *Tx) LockWFExecution(ctx context.Context, id string) error {
	if t.d.name() != "postgres" {
		return nil
	}
	res, err := t.exec(ctx, `UPDATE wf_executions SET revision = revision + 1 WHERE id = ?`, id)
	return affected(res, err)
}

// GetWFExecution reads an execution.
func (t *Tx) GetWFExecution(ctx context.Context, id string) (WFExecution, error) {
	return one(ctx, t, scanWFExecution, `SELECT `+wfExecCols+` FROM wf_executions WHERE id = ?`, id)
}

// DeleteWFExecution removes an execution with its tasks, actions and jobs.
func (t *Tx) DeleteWFExecution(ctx context.Context, id string) error {
	for _, q := range []string{
		`DELETE FROM wf_jobs WHERE execution_id = ?`,
		`DELETE FROM wf_actions WHERE execution_id = ?`,
		`DELETE FROM wf_tasks WHERE execution_id = ?`,
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return err
		}
	}
	res, err := t.exec(ctx, `DELETE FROM wf_executions WHERE id = ?`, id)
	return affected(res, err)
}

var wfExecFilterCols = map[string]bool{"id": true, "project_id": true, "workflow_id": true, "workflow_name": true, "workflow_namespace": true,
	"description": true, "state": true, "state_info": true, "root_execution_id": true, "parent_task_id": true, "created_at": true,
	"updated_at": true, "tags": true, "input": true, "output": true, "params": true}

// ListWFExecutions pages executions.
func (t *Tx) ListWFExecutions(ctx context.Context, q WFList) ([]WFExecution, error) {
	return pageWF(ctx, t, "wf_executions", wfExecListCols, wfExecFilterCols, scanWFExecution, q)
}

// ChildWFExecutions lists the executions started by a task.
func (t *Tx) ChildWFExecutions(ctx context.Context, taskID string) ([]WFExecution, error) {
	return list(ctx, t, scanWFExecution, `SELECT `+wfExecCols+` FROM wf_executions WHERE parent_task_id = ? ORDER BY created_at, id`, taskID)
}

// WFTask is a task execution.
type WFTask struct {
	ID, ExecutionID, ProjectID, Name, Type, State, StateInfo, UniqueKey string
	WorkflowName, WorkflowID, Namespace                                 string
	InContext, Published, Runtime, NextTasks                            string
	ErrorHandled                                                        bool
	CreatedAt, UpdatedAt                                                time.Time
	StartedAt, FinishedAt                                               *time.Time
}

const wfTaskCols = `id, execution_id, project_id, name, type, state, state_info, unique_key, workflow_name, workflow_id, workflow_namespace,
	in_context, published, runtime, next_tasks, error_handled, created_at, updated_at, started_at, finished_at`

func scanWFTask(s scanner) (WFTask, error) {
	var x WFTask
	var c, u int64
	var st, fi sql.NullInt64
	err := s.Scan(&x.ID, &x.ExecutionID, &x.ProjectID, &x.Name, &x.Type, &x.State, &x.StateInfo, &x.UniqueKey, &x.WorkflowName, &x.WorkflowID,
		&x.Namespace, &x.InContext, &x.Published, &x.Runtime, &x.NextTasks, &x.ErrorHandled, &c, &u, &st, &fi)
	x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
	x.StartedAt, x.FinishedAt = fromNullMicros(st), fromNullMicros(fi)
	return x, err
}

// CreateWFTask inserts x; ErrConflict when its unique key is taken.
func (t *Tx) CreateWFTask(ctx context.Context, x WFTask) error {
	_, err := t.execHot(ctx, sqlCreateWFTask,
		x.ID, x.ExecutionID, x.ProjectID, x.Name, x.Type, x.State, x.StateInfo, x.UniqueKey, x.WorkflowName, x.WorkflowID, x.Namespace,
		x.InContext, x.Published, x.Runtime, x.NextTasks, x.ErrorHandled, micros(x.CreatedAt), micros(x.UpdatedAt),
		nullMicros(x.StartedAt), nullMicros(x.FinishedAt))
	return t.mapErr(err)
}

// UpdateWFTask writes x's changing columns.
func (t *Tx) UpdateWFTask(ctx context.Context, x WFTask) error {
	res, err := t.execHot(ctx, sqlUpdateWFTask,
		x.State, x.StateInfo, x.UniqueKey, x.InContext, x.Published, x.Runtime, x.NextTasks, x.ErrorHandled, micros(x.UpdatedAt),
		nullMicros(x.StartedAt), nullMicros(x.FinishedAt), x.ID)
	return affected(res, err)
}

// GetWFTask reads a task execution.
func (t *Tx) GetWFTask(ctx context.Context, id string) (WFTask, error) {
	return one(ctx, t, scanWFTask, `SELECT `+wfTaskCols+` FROM wf_tasks WHERE id = ?`, id)
}

// ExecutionWFTasks lists an execution's tasks (named name when name is
// not ""), oldest first.
func (t *Tx) ExecutionWFTasks(ctx context.Context, execution, name string) ([]WFTask, error) {
	if name != "" {
		return list(ctx, t, scanWFTask, `SELECT `+wfTaskCols+` FROM wf_tasks WHERE execution_id = ? AND name = ? ORDER BY created_at, id`, execution, name)
	}
	return list(ctx, t, scanWFTask, `SELECT `+wfTaskCols+` FROM wf_tasks WHERE execution_id = ? ORDER BY created_at, id`, execution)
}

// WFTaskByKey reads the task of an execution with a unique key (a join).
func (t *Tx) WFTaskByKey(ctx context.Context, execution, key string) (WFTask, error) {
	return one(ctx, t, scanWFTask, `SELECT `+wfTaskCols+` FROM wf_tasks WHERE execution_id = ? AND unique_key = ?`, execution, key)
}

var wfTaskFilterCols = map[string]bool{"id": true, "execution_id": true, "project_id": true, "name": true, "type": true, "state": true,
	"state_info": true, "workflow_name": true, "workflow_id": true, "workflow_namespace": true, "created_at": true, "updated_at": true,
	"started_at": true, "finished_at": true, "published": true}

// ListWFTasks pages task executions.
func (t *Tx) ListWFTasks(ctx context.Context, q WFList) ([]WFTask, error) {
	return pageWF(ctx, t, "wf_tasks", wfTaskCols, wfTaskFilterCols, scanWFTask, q)
}

// WFAction is an action execution.
type WFAction struct {
	ID, ProjectID, ExecutionID, TaskID, Name, State, StateInfo, Description string
	WorkflowName, TaskName, Input, Output, Runtime                          string
	Accepted, SafeRerun, Started                                            bool
	ItemIndex, Attempt                                                      int64
	CreatedAt, UpdatedAt                                                    time.Time
}

const wfActionCols = `id, project_id, execution_id, task_id, name, state, state_info, description, workflow_name, task_name, input, output,
	runtime, accepted, safe_rerun, started, item_index, attempt, created_at, updated_at`

func scanWFAction(s scanner) (WFAction, error) {
	var a WFAction
	var c, u int64
	err := s.Scan(&a.ID, &a.ProjectID, &a.ExecutionID, &a.TaskID, &a.Name, &a.State, &a.StateInfo, &a.Description, &a.WorkflowName, &a.TaskName,
		&a.Input, &a.Output, &a.Runtime, &a.Accepted, &a.SafeRerun, &a.Started, &a.ItemIndex, &a.Attempt, &c, &u)
	a.CreatedAt, a.UpdatedAt = fromMicros(c), fromMicros(u)
	return a, err
}

// CreateWFAction inserts a.
func (t *Tx) CreateWFAction(ctx context.Context, a WFAction) error {
	_, err := t.execHot(ctx, sqlCreateWFAction,
		a.ID, a.ProjectID, a.ExecutionID, a.TaskID, a.Name, a.State, a.StateInfo, a.Description, a.WorkflowName, a.TaskName,
		a.Input, a.Output, a.Runtime, a.Accepted, a.SafeRerun, a.Started, a.ItemIndex, a.Attempt, micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// UpdateWFAction writes a's changing columns.
func (t *Tx) UpdateWFAction(ctx context.Context, a WFAction) error {
	res, err := t.exec(ctx, `UPDATE wf_actions SET state = ?, state_info = ?, output = ?, runtime = ?, accepted = ?, started = ?, attempt = ?,
		updated_at = ? WHERE id = ?`, a.State, a.StateInfo, a.Output, a.Runtime, a.Accepted, a.Started, a.Attempt, micros(a.UpdatedAt), a.ID)
	return affected(res, err)
}

// GetWFAction reads an action execution.
func (t *Tx) GetWFAction(ctx context.Context, id string) (WFAction, error) {
	return one(ctx, t, scanWFAction, `SELECT `+wfActionCols+` FROM wf_actions WHERE id = ?`, id)
}

// TaskWFActions lists a task's action executions by item index and
// creation (accepted ones only when accepted is true).
func (t *Tx) TaskWFActions(ctx context.Context, task string, acceptedOnly bool) ([]WFAction, error) {
	q := `SELECT ` + wfActionCols + ` FROM wf_actions WHERE task_id = ?`
	if acceptedOnly {
		q += ` AND accepted = TRUE`
	}
	return list(ctx, t, scanWFAction, q+` ORDER BY item_index, created_at, id`, task)
}

// DeleteWFAction removes an action execution (with its jobs).
func (t *Tx) DeleteWFAction(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE action_id = ?`, id); err != nil {
		return err
	}
	res, err := t.exec(ctx, `DELETE FROM wf_actions WHERE id = ?`, id)
	return affected(res, err)
}

var wfActionFilterCols = map[string]bool{"id": true, "project_id": true, "execution_id": true, "task_id": true, "name": true, "state": true,
	"state_info": true, "description": true, "workflow_name": true, "task_name": true, "created_at": true, "updated_at": true, "accepted": true,
	"input": true, "output": true}

// ListWFActions pages action executions.
func (t *Tx) ListWFActions(ctx context.Context, q WFList) ([]WFAction, error) {
	return pageWF(ctx, t, "wf_actions", wfActionCols, wfActionFilterCols, scanWFAction, q)
}

// WFJob is a unit of engine work due at a time.
type WFJob struct {
	ID, Kind, ExecutionID, TaskID, ActionID string
	DueAt                                   time.Time
	Owner                                   string
	Claims                                  int64
	Payload                                 string
	CreatedAt                               time.Time
}

const wfJobCols = `id, kind, execution_id, task_id, action_id, due_at, owner, claims, payload, created_at`

func scanWFJob(s scanner) (WFJob, error) {
	var j WFJob
	var d, c int64
	err := s.Scan(&j.ID, &j.Kind, &j.ExecutionID, &j.TaskID, &j.ActionID, &d, &j.Owner, &j.Claims, &j.Payload, &c)
	j.DueAt, j.CreatedAt = fromMicros(d), fromMicros(c)
	return j, err
}

// CreateWFJob inserts j.
func (t *Tx) CreateWFJob(ctx context.Context, j WFJob) error {
	_, err := t.execHot(ctx, sqlCreateWFJob,
		j.ID, j.Kind, j.ExecutionID, j.TaskID, j.ActionID, micros(j.DueAt), j.Owner, j.Claims, j.Payload, micros(j.CreatedAt))
	return t.mapErr(err)
}

// DueWFJobs lists up to limit jobs due at now, earliest first.
func (t *Tx) DueWFJobs(ctx context.Context, now time.Time, limit int) ([]WFJob, error) {
	return list(ctx, t, scanWFJob, `SELECT `+wfJobCols+` FROM wf_jobs WHERE due_at <= ? ORDER BY due_at LIMIT ?`, micros(now), limit)
}

// NextWFJobDue is when the earliest job is due (nil when there is none).
func (t *Tx) NextWFJobDue(ctx context.Context) (*time.Time, error) {
	var v sql.NullInt64
	if err := t.queryRow(ctx, `SELECT MIN(due_at) FROM wf_jobs`).Scan(&v); err != nil {
		return nil, err
	}
	return fromNullMicros(v), nil
}

// ClaimWFJob leases a due job to owner until until: false when another
// controller claimed it first (or it is gone).
func (t *Tx) ClaimWFJob(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE wf_jobs SET due_at = ?, owner = ?, claims = claims + 1 WHERE id = ? AND due_at <= ?`,
		micros(until), owner, id, micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RenewWFJobs extends owner's leases on the jobs ids until until.
func (t *Tx) RenewWFJobs(ctx context.Context, owner string, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{micros(until), owner}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := t.exec(ctx, `UPDATE wf_jobs SET due_at = ? WHERE owner = ? AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	return err
}

// FinishWFJob deletes a job owner holds: false when the lease was lost
// (another controller took the job over).
func (t *Tx) FinishWFJob(ctx context.Context, id, owner string) (bool, error) {
	res, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE id = ? AND owner = ?`, id, owner)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteWFJobs removes the jobs of a task (kind "" for every kind).
func (t *Tx) DeleteWFJobs(ctx context.Context, task, kind string) error {
	if kind == "" {
		_, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE task_id = ?`, task)
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE task_id = ? AND kind = ?`, task, kind)
	return err
}

// DeleteWFJob removes a job whoever holds it.
func (t *Tx) DeleteWFJob(ctx context.Context, id string) error {
	_, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE id = ?`, id)
	return err
}

// ExecutionWFJobs lists an execution's jobs.
func (t *Tx) ExecutionWFJobs(ctx context.Context, execution string) ([]WFJob, error) {
	return list(ctx, t, scanWFJob, `SELECT `+wfJobCols+` FROM wf_jobs WHERE execution_id = ? ORDER BY due_at`, execution)
}

// CountWFJobs counts the jobs (for tests and the doctor).
func (t *Tx) CountWFJobs(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM wf_jobs`).Scan(&n)
	return n, err
}

// WFCronTrigger is a cron trigger.
type WFCronTrigger struct {
	ID, Name, ProjectID, UserID, Scope, Pattern string
	WorkflowID, WorkflowName, Namespace         string
	WorkflowInput, WorkflowParams, Auth         string
	FirstExecutionTime                          *time.Time
	NextExecutionTime                           time.Time
	RemainingExecutions                         *int64
	// Signature identifies what the trigger starts and when (unique in a
	// project when set).
	Signature            string
	CreatedAt, UpdatedAt time.Time
}

const wfCronCols = `id, name, project_id, user_id, scope, pattern, workflow_id, workflow_name, workflow_namespace, workflow_input,
	workflow_params, first_execution_time, next_execution_time, remaining_executions, auth, signature, created_at, updated_at`

func scanWFCron(s scanner) (WFCronTrigger, error) {
	var c WFCronTrigger
	var first, rem sql.NullInt64
	var next, cr, up int64
	err := s.Scan(&c.ID, &c.Name, &c.ProjectID, &c.UserID, &c.Scope, &c.Pattern, &c.WorkflowID, &c.WorkflowName, &c.Namespace,
		&c.WorkflowInput, &c.WorkflowParams, &first, &next, &rem, &c.Auth, &c.Signature, &cr, &up)
	c.FirstExecutionTime = fromNullMicros(first)
	c.NextExecutionTime, c.CreatedAt, c.UpdatedAt = fromMicros(next), fromMicros(cr), fromMicros(up)
	if rem.Valid {
		v := rem.Int64
		c.RemainingExecutions = &v
	}
	return c, err
}

func nullInt64p(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

// CreateWFCronTrigger inserts c; ErrConflict when the name is taken in
// the project.
func (t *Tx) CreateWFCronTrigger(ctx context.Context, c WFCronTrigger) error {
	_, err := t.exec(ctx, `INSERT INTO wf_cron_triggers (`+wfCronCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.ProjectID, c.UserID, c.Scope, c.Pattern, c.WorkflowID, c.WorkflowName, c.Namespace, c.WorkflowInput, c.WorkflowParams,
		nullMicros(c.FirstExecutionTime), micros(c.NextExecutionTime), nullInt64p(c.RemainingExecutions), c.Auth, c.Signature,
		micros(c.CreatedAt), micros(c.UpdatedAt))
	return t.mapErr(err)
}

// AdvanceWFCronTrigger moves a trigger from the tick at prev to next with
// remaining executions left (compare-and-set on prev): false when another
// controller fired the tick first.
func (t *Tx) AdvanceWFCronTrigger(ctx context.Context, id string, prev, next time.Time, remaining *int64, now time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE wf_cron_triggers SET next_execution_time = ?, remaining_executions = ?, updated_at = ?
		WHERE id = ? AND next_execution_time = ?`, micros(next), nullInt64p(remaining), micros(now), id, micros(prev))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// GetWFCronTrigger reads a trigger by id.
func (t *Tx) GetWFCronTrigger(ctx context.Context, id string) (WFCronTrigger, error) {
	return one(ctx, t, scanWFCron, `SELECT `+wfCronCols+` FROM wf_cron_triggers WHERE id = ?`, id)
}

// FindWFCronTrigger reads a trigger by name visible to project.
func (t *Tx) FindWFCronTrigger(ctx context.Context, name, project string) ([]WFCronTrigger, error) {
	q, args := `SELECT `+wfCronCols+` FROM wf_cron_triggers WHERE name = ?`, []any{name}
	if project != "" {
		q += ` AND (project_id = ? OR scope = 'public')`
		args = append(args, project)
	}
	return list(ctx, t, scanWFCron, q+` ORDER BY created_at, id`, args...)
}

// CountWFCronTriggersFor counts the triggers (of any project) that start
// workflow id.
func (t *Tx) CountWFCronTriggersFor(ctx context.Context, workflowID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM wf_cron_triggers WHERE workflow_id = ?`, workflowID).Scan(&n)
	return n, err
}

// DeleteWFCronTrigger removes a trigger.
func (t *Tx) DeleteWFCronTrigger(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM wf_cron_triggers WHERE id = ?`, id)
	return affected(res, err)
}

// DueWFCronTriggers lists up to limit triggers due at now.
func (t *Tx) DueWFCronTriggers(ctx context.Context, now time.Time, limit int) ([]WFCronTrigger, error) {
	return list(ctx, t, scanWFCron, `SELECT `+wfCronCols+` FROM wf_cron_triggers WHERE next_execution_time <= ? ORDER BY next_execution_time LIMIT ?`,
		micros(now), limit)
}

// NextWFCronDue is when the earliest trigger is due (nil when none).
func (t *Tx) NextWFCronDue(ctx context.Context) (*time.Time, error) {
	var v sql.NullInt64
	if err := t.queryRow(ctx, `SELECT MIN(next_execution_time) FROM wf_cron_triggers`).Scan(&v); err != nil {
		return nil, err
	}
	return fromNullMicros(v), nil
}

var wfCronFilterCols = map[string]bool{"id": true, "name": true, "project_id": true, "scope": true, "pattern": true, "workflow_id": true,
	"workflow_name": true, "workflow_namespace": true, "created_at": true, "updated_at": true, "next_execution_time": true,
	"first_execution_time": true, "remaining_executions": true, "workflow_input": true, "workflow_params": true}

// ListWFCronTriggers pages triggers.
func (t *Tx) ListWFCronTriggers(ctx context.Context, q WFList) ([]WFCronTrigger, error) {
	return pageWF(ctx, t, "wf_cron_triggers", wfCronCols, wfCronFilterCols, scanWFCron, q)
}

// WFEnvironment is a named set of variables.
type WFEnvironment struct {
	ID, Name, ProjectID, Scope, Description, Variables string
	CreatedAt, UpdatedAt                               time.Time
}

const wfEnvCols = `id, name, project_id, scope, description, variables, created_at, updated_at`

func scanWFEnv(s scanner) (WFEnvironment, error) {
	var e WFEnvironment
	var c, u int64
	err := s.Scan(&e.ID, &e.Name, &e.ProjectID, &e.Scope, &e.Description, &e.Variables, &c, &u)
	e.CreatedAt, e.UpdatedAt = fromMicros(c), fromMicros(u)
	return e, err
}

// CreateWFEnvironment inserts e; ErrConflict when the name is taken.
func (t *Tx) CreateWFEnvironment(ctx context.Context, e WFEnvironment) error {
	_, err := t.exec(ctx, `INSERT INTO wf_environments (`+wfEnvCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, e.ProjectID, e.Scope, e.Description, e.Variables, micros(e.CreatedAt), micros(e.UpdatedAt))
	return t.mapErr(err)
}

// UpdateWFEnvironment rewrites e's scope, description and variables.
func (t *Tx) UpdateWFEnvironment(ctx context.Context, e WFEnvironment) error {
	res, err := t.exec(ctx, `UPDATE wf_environments SET scope = ?, description = ?, variables = ?, updated_at = ? WHERE id = ?`,
		e.Scope, e.Description, e.Variables, micros(e.UpdatedAt), e.ID)
	return affected(res, err)
}

// FindWFEnvironment reads environments by name visible to project.
func (t *Tx) FindWFEnvironment(ctx context.Context, name, project string) ([]WFEnvironment, error) {
	q, args := `SELECT `+wfEnvCols+` FROM wf_environments WHERE (name = ? OR id = ?)`, []any{name, name}
	if project != "" {
		q += ` AND (project_id = ? OR scope = 'public')`
		args = append(args, project)
	}
	return list(ctx, t, scanWFEnv, q+` ORDER BY created_at, id`, args...)
}

// DeleteWFEnvironment removes an environment.
func (t *Tx) DeleteWFEnvironment(ctx context.Context, id string) error {
	res, err := t.exec(ctx, `DELETE FROM wf_environments WHERE id = ?`, id)
	return affected(res, err)
}

var wfEnvFilterCols = map[string]bool{"id": true, "name": true, "project_id": true, "scope": true, "description": true, "created_at": true,
	"updated_at": true, "variables": true}

// ListWFEnvironments pages environments.
func (t *Tx) ListWFEnvironments(ctx context.Context, q WFList) ([]WFEnvironment, error) {
	return pageWF(ctx, t, "wf_environments", wfEnvCols, wfEnvFilterCols, scanWFEnv, q)
}

// DeleteExecutionWFJobs removes every job of an execution.
func (t *Tx) DeleteExecutionWFJobs(ctx context.Context, execution string) error {
	_, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE execution_id = ?`, execution)
	return err
}

// CancelTaskWFActions marks a task's running actions CANCELLED.
func (t *Tx) CancelTaskWFActions(ctx context.Context, task string, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE wf_actions SET state = 'CANCELLED', updated_at = ? WHERE task_id = ? AND state = 'RUNNING'`, micros(now), task)
	return err
}

// UnacceptTaskWFActions marks a task's finished actions as results of an
// earlier attempt (a retry or a rerun runs the task again).
func (t *Tx) UnacceptTaskWFActions(ctx context.Context, task string) error {
	_, err := t.exec(ctx, `UPDATE wf_actions SET accepted = FALSE WHERE task_id = ? AND accepted = TRUE`, task)
	return err
}

// UnacceptWFActions marks the given actions as results of an earlier
// attempt.
func (t *Tx) UnacceptWFActions(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	_, err := t.exec(ctx, `UPDATE wf_actions SET accepted = FALSE WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	return err
}

// DropTaskWFResults forgets the results of a task's actions (keep-result:
// false).
func (t *Tx) DropTaskWFResults(ctx context.Context, task string) error {
	_, err := t.exec(ctx, `UPDATE wf_actions SET output = '{}' WHERE task_id = ?`, task)
	return err
}

// SetWFExecutionParams rewrites an execution's params (its environment
// changed on a resume or a rerun).
func (t *Tx) SetWFExecutionParams(ctx context.Context, id, params string) error {
	res, err := t.exec(ctx, `UPDATE wf_executions SET params = ? WHERE id = ?`, params, id)
	return affected(res, err)
}

// DeleteWFJobsOfAction removes the jobs of an action execution.
func (t *Tx) DeleteWFJobsOfAction(ctx context.Context, action string) error {
	_, err := t.exec(ctx, `DELETE FROM wf_jobs WHERE action_id = ?`, action)
	return err
}

// TasksWFActions lists the accepted action executions of several tasks,
// by task, item index and creation.
func (t *Tx) TasksWFActions(ctx context.Context, tasks []string) ([]WFAction, error) {
	if len(tasks) == 0 {
		return nil, nil
	}
	args := make([]any, len(tasks))
	for i, id := range tasks {
		args[i] = id
	}
	return list(ctx, t, scanWFAction, `SELECT `+wfActionCols+` FROM wf_actions WHERE accepted = TRUE AND task_id IN (?`+
		strings.Repeat(", ?", len(tasks)-1)+`) ORDER BY task_id, item_index, created_at, id`, args...)
}
