package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// MaxDepth bounds how deep sub-workflows nest.
const MaxDepth = 50

// StartRequest starts a workflow execution.
type StartRequest struct {
	// ID is the execution's id; a new one when empty.
	ID                       string
	WorkflowID, WorkflowName string
	Namespace, Workbook      string
	Definition               string
	Description              string
	Tags                     []string
	Input                    map[string]any
	// Params are the start parameters: env (a map), task_name (the target
	// of a reverse workflow) and anything else Mistral keeps.
	Params            map[string]any
	ProjectID, UserID string
	// Auth is the delegation actions act with (see Config.Credentials);
	// it is never shown.
	Auth map[string]any
	// OpenStack is the context's openstack entry (project, user, roles).
	OpenStack map[string]any
	// ParentTaskID and RootID place a sub-workflow.
	ParentTaskID, RootID string
}

// InputError is a start refused for its input or parameters.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Start starts a workflow execution: it commits the execution RUNNING with
// its start tasks scheduled (the engine's workers run them at once), and
// returns it as committed, as Mistral answers a create.
func (e *Engine) Start(ctx context.Context, req StartRequest) (store.WFExecution, error) {
	var row store.WFExecution
	err := e.run(ctx, func(t *txc) error {
		t.budget = 0
		es, err := t.startExecution(req, 0)
		if err != nil {
			return err
		}
		if err := t.flush(); err != nil {
			return err
		}
		// The row as this transaction commits it: the workers may finish
		// the execution before the caller reads it again.
		row = es.row
		row.Definition, row.Auth = "", "{}"
		return nil
	})
	if err != nil {
		return store.WFExecution{}, err
	}
	return row, nil
}

// StartTx starts a workflow execution inside the caller's transaction
// (a cron trigger fires its tick and starts its execution atomically).
func (e *Engine) StartTx(ctx context.Context, tx *store.Tx, req StartRequest) (string, error) {
	t := &txc{e: e, ctx: ctx, tx: tx, now: e.now(), execs: map[string]*execState{}, tasks: map[string]*taskState{}}
	es, err := t.startExecution(req, 0)
	if err != nil {
		return "", err
	}
	if err := t.flush(); err != nil {
		return "", err
	}
	if t.woke {
		tx.AfterCommit(e.Wake)
	}
	return es.row.ID, nil
}

// CheckInput checks a workflow's input as Start does and fills defaults.
func CheckInput(wf *spec.Workflow, in map[string]any) (map[string]any, error) {
	out := map[string]any{}
	var missing, unexpected []string
	declared := map[string]bool{}
	for _, p := range wf.Input {
		declared[p.Name] = true
		if v, ok := in[p.Name]; ok {
			out[p.Name] = v
		} else if p.HasDefault {
			out[p.Name] = deepCopy(p.Default)
		} else {
			missing = append(missing, p.Name)
		}
	}
	for k := range in {
		if !declared[k] {
			unexpected = append(unexpected, k)
		}
	}
	if len(missing) > 0 || len(unexpected) > 0 {
		sort.Strings(unexpected)
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing "+strings.Join(missing, ", "))
		}
		if len(unexpected) > 0 {
			parts = append(parts, "unexpected "+strings.Join(unexpected, ", "))
		}
		return nil, &InputError{Msg: fmt.Sprintf("Invalid input for workflow %s: %s; its input is (%s)", wf.Name, strings.Join(parts, "; "), spec.WorkflowInput(wf.Input))}
	}
	return out, nil
}

func (t *txc) startExecution(req StartRequest, depth int) (*execState, error) {
	wf, err := t.e.workflowSpec(req.Definition, req.WorkflowName, req.Workbook)
	if err != nil {
		return nil, &InputError{Msg: fmt.Sprintf("The definition of workflow %s does not parse: %v", req.WorkflowName, err)}
	}
	input, err := CheckInput(wf, req.Input)
	if err != nil {
		return nil, err
	}
	params := map[string]any{}
	for k, v := range req.Params {
		params[k] = v
	}
	if env, ok := params["env"]; ok && env != nil {
		if _, ok := env.(map[string]any); !ok {
			return nil, &InputError{Msg: "params.env must be a mapping of variables (or the name of an environment)."}
		}
	}
	if wf.Type == spec.Reverse {
		target, _ := params["task_name"].(string)
		if target == "" {
			return nil, &InputError{Msg: fmt.Sprintf("Workflow %s is a reverse workflow: give the task to reach in params.task_name.", wf.Name)}
		}
		if wf.Task(target) == nil {
			return nil, &InputError{Msg: fmt.Sprintf("Workflow %s has no task %q (params.task_name).", wf.Name, target)}
		}
	}
	if n := len(encode(input)); n > t.e.cfg.MaxValueBytes {
		return nil, &InputError{Msg: fmt.Sprintf("The workflow input is %d bytes as JSON, more than the limit of %d; pass less.", n, t.e.cfg.MaxValueBytes)}
	}
	id := req.ID
	if id == "" {
		id = newID()
	}
	params["depth"] = int64(depth)
	context := map[string]any{"__execution": map[string]any{"id": id}}
	if req.OpenStack != nil {
		context["openstack"] = req.OpenStack
	}
	tags := req.Tags
	if tags == nil {
		tags = wf.Tags
	}
	if tags == nil {
		tags = []string{}
	}
	row := store.WFExecution{ID: id, ProjectID: req.ProjectID, UserID: req.UserID, WorkflowID: req.WorkflowID, WorkflowName: wf.Name,
		Namespace: req.Namespace, Workbook: req.Workbook, Description: req.Description, State: Running, RootID: req.RootID,
		ParentTaskID: req.ParentTaskID, Definition: req.Definition, Input: encode(input), Params: encode(params), Output: "{}",
		Tags: encode(tags), Auth: encode(req.Auth), CreatedAt: t.now, UpdatedAt: t.now}
	es := &execState{row: row, wf: wf, input: input, params: params, context: context, auth: req.Auth}
	if es.auth == nil {
		es.auth = map[string]any{}
	}
	if len(wf.Vars) > 0 {
		v, err := t.e.ev.EvalRecursive(t.ctx, wf.Vars, t.data(es, nil), &host{t: t, es: es})
		if err != nil {
			return nil, &InputError{Msg: fmt.Sprintf("Cannot evaluate the vars of workflow %s: %v", wf.Name, err)}
		}
		if m, ok := v.(map[string]any); ok {
			mergeDicts(es.context, m)
		}
	}
	row.Context = encode(es.context)
	es.row.Context = row.Context
	if err := t.tx.CreateWFExecution(t.ctx, es.row); err != nil {
		return nil, err
	}
	t.execs[id] = es
	t.dirtyExec(es)
	if wf.Type == spec.Direct {
		for _, sp := range wf.StartTasks() {
			if err := t.scheduleTask(es, sp, map[string]any{}, nil, nil); err != nil {
				return nil, err
			}
		}
	} else {
		reqs, _ := wf.Requirements(params["task_name"].(string))
		for _, sp := range reqs {
			if len(sp.Requires) == 0 {
				if err := t.scheduleTask(es, sp, map[string]any{}, nil, nil); err != nil {
					return nil, err
				}
			}
		}
	}
	return es, t.maybeFinish(es)
}

// data is the expression context of a task: its task entry over its
// inbound context, over the environment, the workflow's context (vars and
// globals) and its input, as Mistral's ContextView orders them.
func (t *txc) data(es *execState, ts *taskState) map[string]any {
	var in map[string]any
	if ts != nil {
		in = ts.in
	}
	return t.dataWith(es, ts, in)
}

func (t *txc) dataWith(es *execState, ts *taskState, in map[string]any) map[string]any {
	d := make(map[string]any, len(es.input)+len(es.context)+len(in)+2)
	for k, v := range es.input {
		d[k] = v
	}
	for k, v := range es.context {
		d[k] = v
	}
	d["__env"] = env(es)
	for k, v := range in {
		d[k] = v
	}
	if ts != nil {
		d["__task_execution"] = map[string]any{"id": ts.row.ID, "name": ts.row.Name}
	}
	return d
}

func env(es *execState) map[string]any {
	if m, ok := es.params["env"].(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// maybeFinish ends an execution that has nothing left to run.
func (t *txc) maybeFinish(es *execState) error {
	if es.row.State != Running || es.row.Active > 0 {
		return nil
	}
	if es.row.Errors > 0 {
		info, err := t.failureInfo(es)
		if err != nil {
			return err
		}
		return t.finishExec(es, Error, info)
	}
	return t.finishExec(es, Success, "")
}

// failureInfo explains why an execution failed: each failed task with
// the action that failed, the input it was called with (secrets
// removed) and the error the action returned.
func (t *txc) failureInfo(es *execState) (string, error) {
	if err := t.flushTasks(); err != nil {
		return "", err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return "", err
	}
	var names []string
	var b strings.Builder
	for _, r := range rows {
		if r.State != Error || r.ErrorHandled {
			continue
		}
		names = append(names, r.Name)
		fmt.Fprintf(&b, "\n  %s [task_ex_id=%s] -> %s", r.Name, r.ID, r.StateInfo)
	}
	if len(names) == 0 {
		return "Failure caused by an error in the workflow.", nil
	}
	return fmt.Sprintf("Failure caused by error in tasks: %s\n%s", strings.Join(names, ", "), b.String()), nil
}

// finishExec ends an execution in state (SUCCESS, ERROR or CANCELLED):
// its output, what it leaves running cancelled, its parent told.
func (t *txc) finishExec(es *execState, state, info string) error {
	if Terminal(es.row.State) {
		return nil
	}
	var output any = map[string]any{}
	switch state {
	case Success:
		ctx, err := t.finalContext(es)
		if err != nil {
			return err
		}
		if es.wf.Output != nil {
			v, err := t.e.ev.EvalRecursive(t.ctx, es.wf.Output, ctx, &host{t: t, es: es})
			if err != nil {
				state, info = Error, fmt.Sprintf("Failed to evaluate the output of workflow %s: %v", es.wf.Name, err)
			} else {
				output = v
			}
		} else {
			out := map[string]any{}
			for k, v := range ctx {
				if !internalKey(k) && !isInputOnly(es, k, v) {
					out[k] = v
				}
			}
			output = out
		}
		if state == Success {
			if n := len(encode(output)); n > t.e.cfg.MaxValueBytes {
				state, info, output = Error, fmt.Sprintf("The output of workflow %s is %d bytes as JSON, more than the limit of %d; output less.", es.wf.Name, n, t.e.cfg.MaxValueBytes), map[string]any{}
			}
		}
	}
	if state == Error && es.wf.OutputOnError != nil {
		ctx, err := t.finalContext(es)
		if err != nil {
			return err
		}
		if v, err := t.e.ev.EvalRecursive(t.ctx, es.wf.OutputOnError, ctx, &host{t: t, es: es}); err == nil {
			output = v
		}
	}
	es.row.State, es.row.StateInfo, es.row.Output = state, info, encode(output)
	t.dirtyExec(es)
	// Nothing of the execution runs on: tasks still running are
	// cancelled, their pending jobs dropped (an action being called has
	// its late result ignored), sub-workflows cancelled.
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		if Terminal(r.State) {
			continue
		}
		ts, err := t.adopt(es, r)
		if err != nil {
			return err
		}
		if err := t.cancelTask(es, ts, "The workflow execution ended ("+state+") while the task was "+ts.row.State+"."); err != nil {
			return err
		}
	}
	if err := t.tx.DeleteExecutionWFJobs(t.ctx, es.row.ID); err != nil {
		return err
	}
	if es.row.ParentTaskID != "" {
		return t.childDone(es)
	}
	if fin := t.e.cfg.Finished; fin != nil && es.row.RootID == "" {
		id, doc, ctx := es.row.ID, es.auth, t.ctx
		t.tx.AfterCommit(func() { fin(context.WithoutCancel(ctx), id, state, doc) })
	}
	return nil
}

func internalKey(k string) bool {
	return strings.HasPrefix(k, "__") || k == "openstack"
}

// isInputOnly: the final context of a workflow without output holds what
// tasks published; the input is not repeated there.
func isInputOnly(es *execState, k string, v any) bool {
	iv, ok := es.input[k]
	return ok && exprvalue.Equal(iv, v)
}

// cancelTask ends a task that had not finished: CANCELLED, its running
// actions cancelled, its sub-workflows cancelled.
func (t *txc) cancelTask(es *execState, ts *taskState, info string) error {
	if Terminal(ts.row.State) {
		return nil
	}
	ts.row.StateInfo = info
	t.setTaskState(es, ts, Cancelled)
	if err := t.tx.CancelTaskWFActions(t.ctx, ts.row.ID, t.now); err != nil {
		return err
	}
	if err := t.tx.DeleteWFJobs(t.ctx, ts.row.ID, ""); err != nil {
		return err
	}
	if ts.row.Type == TypeWorkflow {
		subs, err := t.tx.ChildWFExecutions(t.ctx, ts.row.ID)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if Terminal(s.State) {
				continue
			}
			child, err := t.exec(s.ID)
			if err != nil {
				return err
			}
			child.row.ParentTaskID = "" // the parent task is ending already
			if err := t.finishExec(child, Cancelled, "The parent task "+ts.row.Name+" was cancelled."); err != nil {
				return err
			}
			child.row.ParentTaskID = ts.row.ID
		}
	}
	return nil
}

// finalContext is the context a finished workflow's output is evaluated
// in: the outbound contexts of the tasks that ended their branches, over
// the environment, the workflow's context and its input.
func (t *txc) finalContext(es *execState) (map[string]any, error) {
	if err := t.flushTasks(); err != nil {
		return nil, err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return nil, err
	}
	ctx := map[string]any{}
	for _, r := range rows {
		if !Terminal(r.State) {
			continue
		}
		if es.wf.Type == spec.Direct && r.NextTasks != "[]" && r.NextTasks != "" && r.NextTasks != "null" {
			continue
		}
		ts, err := t.adopt(es, r)
		if err != nil {
			return nil, err
		}
		mergeDicts(ctx, outbound(ts))
	}
	return t.dataWith(es, nil, ctx), nil
}

// outbound is what a task passes to the tasks after it: its inbound
// context updated with what it published.
func outbound(ts *taskState) map[string]any {
	out := make(map[string]any, len(ts.in)+len(ts.pub))
	for k, v := range ts.in {
		out[k] = v
	}
	for k, v := range ts.pub {
		out[k] = v
	}
	return out
}

// childDone tells a sub-workflow's parent task that it ended.
func (t *txc) childDone(child *execState) error {
	row, err := t.tx.GetWFTask(t.ctx, child.row.ParentTaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	es, err := t.exec(row.ExecutionID)
	if err != nil {
		return err
	}
	ts, err := t.task(es, row.ID)
	if err != nil {
		return err
	}
	idx, _ := exprvalue.Int(child.params["index"])
	state, info := child.row.State, child.row.StateInfo
	switch state {
	case Error:
		info = fmt.Sprintf("Failure caused by error in sub-workflow %s [execution_id=%s]: %s", child.row.WorkflowName, child.row.ID, info)
	case Cancelled:
		state, info = Error, fmt.Sprintf("Sub-workflow %s [execution_id=%s] was cancelled: %s", child.row.WorkflowName, child.row.ID, info)
	}
	return t.unitDone(es, ts, int(idx), state, info, DecodeMap(child.row.Output), true)
}

// setTaskState moves a task to state, keeping the execution's count of
// unfinished tasks.
func (t *txc) setTaskState(es *execState, ts *taskState, state string) {
	was := ts.row.State
	if was == state {
		return
	}
	switch {
	case !Terminal(was) && Terminal(state):
		es.row.Active--
		now := t.now
		ts.row.FinishedAt = &now
	case Terminal(was) && !Terminal(state):
		es.row.Active++
		ts.row.FinishedAt = nil
	}
	if state == Running && ts.row.StartedAt == nil {
		now := t.now
		ts.row.StartedAt = &now
	}
	ts.row.State = state
	t.dirtyTask(ts)
	t.dirtyExec(es)
}

// pauseExec pauses an execution and its running sub-workflows.
func (t *txc) pauseExec(es *execState, info string) error {
	if es.row.State != Running {
		return nil
	}
	es.row.State, es.row.StateInfo = Paused, info
	t.dirtyExec(es)
	return t.eachChild(es, func(child *execState) error { return t.pauseExec(child, info) })
}

// eachChild runs fn on the running sub-workflows of es's running tasks.
func (t *txc) eachChild(es *execState, fn func(*execState) error) error {
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Type != TypeWorkflow || Terminal(r.State) {
			continue
		}
		subs, err := t.tx.ChildWFExecutions(t.ctx, r.ID)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if Terminal(s.State) {
				continue
			}
			child, err := t.exec(s.ID)
			if err != nil {
				return err
			}
			if err := fn(child); err != nil {
				return err
			}
		}
	}
	return nil
}

// resumeExec resumes a paused execution: the tasks a pause held go on,
// deferred transitions are taken, sub-workflows resume.
func (t *txc) resumeExec(es *execState) error {
	if es.row.State != Paused {
		return nil
	}
	es.row.State, es.row.StateInfo = Running, ""
	t.dirtyExec(es)
	if err := t.eachChildAny(es, func(child *execState) error { return t.resumeExec(child) }); err != nil {
		return err
	}
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		ts, err := t.adopt(es, r)
		if err != nil {
			return err
		}
		if len(ts.rt.Deferred) > 0 {
			d := ts.rt.Deferred
			ts.rt.Deferred = nil
			t.dirtyTask(ts)
			var ns []next
			for _, x := range d {
				ns = append(ns, next{Task: x.Task, Event: x.Event, Params: x.Params})
			}
			if err := t.takeNext(es, ts, ns); err != nil {
				return err
			}
		}
		if !Terminal(ts.row.State) && ts.rt.Resume != "" && ts.row.State != RunningDelayed {
			if err := t.continueTask(es, ts); err != nil {
				return err
			}
		}
		if es.row.State != Running {
			break
		}
	}
	return t.maybeFinish(es)
}

func (t *txc) eachChildAny(es *execState, fn func(*execState) error) error {
	subs, err := t.tx.ListWFExecutions(t.ctx, store.WFList{Conds: []store.WFCond{{Col: "root_execution_id", Op: "eq", Vals: []any{rootOf(es)}}, {Col: "state", Op: "eq", Vals: []any{Paused}}}})
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.ID == es.row.ID {
			continue
		}
		child, err := t.exec(s.ID)
		if err != nil {
			return err
		}
		if err := fn(child); err != nil {
			return err
		}
	}
	return nil
}

func rootOf(es *execState) string {
	if es.row.RootID != "" {
		return es.row.RootID
	}
	return es.row.ID
}

// timeUntil is d seconds from now.
func (t *txc) after(seconds int64) time.Time { return t.now.Add(time.Duration(seconds) * time.Second) }
