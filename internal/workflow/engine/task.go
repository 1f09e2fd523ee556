package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/expr"
	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// scheduleTask creates a task execution and starts it (a join waits for
// its inbound tasks first).
func (t *txc) scheduleTask(es *execState, sp *spec.Task, in map[string]any, trig *trigger, params map[string]any) error {
	if Terminal(es.row.State) {
		return nil
	}
	if sp.Join != 0 {
		return t.scheduleJoin(es, sp, trig, params)
	}
	ts, err := t.newTask(es, sp, in, trig, params, Idle, "")
	if err != nil {
		return err
	}
	return t.startTask(es, ts)
}

func (t *txc) newTask(es *execState, sp *spec.Task, in map[string]any, trig *trigger, params map[string]any, state, key string) (*taskState, error) {
	typ := TypeAction
	if sp.Workflow != "" {
		typ = TypeWorkflow
	}
	if in == nil {
		in = map[string]any{}
	}
	ts := &taskState{spec: sp, in: in, pub: map[string]any{}, rt: &taskRuntime{Params: params}}
	if trig != nil {
		ts.rt.TriggeredBy = []trigger{*trig}
	}
	ts.row = store.WFTask{ID: newID(), ExecutionID: es.row.ID, ProjectID: es.row.ProjectID, Name: sp.Name, Type: typ, State: state,
		UniqueKey: key, WorkflowName: es.row.WorkflowName, WorkflowID: es.row.WorkflowID, Namespace: es.row.Namespace,
		NextTasks: "[]", CreatedAt: t.now, UpdatedAt: t.now}
	t.encodeTask(ts)
	if err := t.tx.CreateWFTask(t.ctx, ts.row); err != nil {
		return nil, err
	}
	if !Terminal(state) {
		es.row.Active++
		t.dirtyExec(es)
	}
	t.tasks[ts.row.ID] = ts
	return ts, nil
}

// startTask runs a task's pre-policies (pause-before, wait-before), then
// the task.
func (t *txc) startTask(es *execState, ts *taskState) error {
	if es.row.State != Running {
		ts.rt.Resume = "start"
		t.setTaskState(es, ts, Idle)
		t.dirtyTask(ts)
		return nil
	}
	if t.budget <= 0 {
		// Enough for one transaction: the next one goes on.
		ts.rt.Resume = "start"
		t.setTaskState(es, ts, Idle)
		t.dirtyTask(ts)
		return t.job(jobContinue, es, ts.row.ID, "", t.now, nil)
	}
	t.budget--
	ts.rt.Resume = ""
	t.dirtyTask(ts)
	data := t.data(es, ts)
	if !ts.rt.PauseDone && ts.spec.PauseBefore != nil {
		ts.rt.PauseDone = true
		pause, err := t.evalBool(es, ts, data, ts.spec.PauseBefore)
		if err != nil {
			return t.failTask(es, ts, fmt.Sprintf("Cannot evaluate pause-before of task %s: %v", ts.row.Name, err))
		}
		if pause {
			ts.rt.Resume = "start"
			t.setTaskState(es, ts, Idle)
			return t.pauseExec(es, fmt.Sprintf("Paused before task %s (pause-before); resume the execution to run it.", ts.row.Name))
		}
	}
	if !ts.rt.Waited && ts.spec.WaitBefore != nil {
		ts.rt.Waited = true
		secs, err := t.evalInt(es, ts, data, ts.spec.WaitBefore, "wait-before")
		if err != nil {
			return t.failTask(es, ts, err.Error())
		}
		if secs > 0 {
			ts.rt.Resume = "run"
			t.setTaskState(es, ts, RunningDelayed)
			return t.job(jobContinue, es, ts.row.ID, "", t.after(secs), nil)
		}
	}
	return t.runTask(es, ts, data, true)
}

// continueTask goes on with a task from the step it stopped at.
func (t *txc) continueTask(es *execState, ts *taskState) error {
	if Terminal(ts.row.State) {
		return nil
	}
	switch ts.rt.Resume {
	case "start":
		return t.startTask(es, ts)
	case "run":
		if es.row.State != Running {
			t.setTaskState(es, ts, Idle)
			return nil
		}
		ts.rt.Resume = ""
		t.dirtyTask(ts)
		return t.runTask(es, ts, t.data(es, ts), !ts.rtStarted())
	case "complete":
		ts.rt.Resume = ""
		t.dirtyTask(ts)
		return t.completeTask(es, ts, ts.rt.Pending, ts.rt.PendingInfo)
	case "items":
		ts.rt.Resume = ""
		t.dirtyTask(ts)
		return t.scheduleItems(es, ts, t.data(es, ts))
	}
	return nil
}

func (ts *taskState) rtStarted() bool { return ts.row.StartedAt != nil }

// runTask starts the task's action or workflow calls (one, or one per
// with-items item).
func (t *txc) runTask(es *execState, ts *taskState, data map[string]any, first bool) error {
	t.setTaskState(es, ts, Running)
	if first && ts.spec.Timeout != nil {
		secs, err := t.evalInt(es, ts, data, ts.spec.Timeout, "timeout")
		if err != nil {
			return t.failTask(es, ts, err.Error())
		}
		if secs > 0 {
			if err := t.job(jobTimeout, es, ts.row.ID, "", t.after(secs), map[string]any{"seconds": secs}); err != nil {
				return err
			}
		}
	}
	if len(ts.spec.WithItems) == 0 {
		ts.result, ts.hasResult = nil, false
		return t.runUnit(es, ts, data, 0)
	}
	lists, err := t.itemLists(es, ts, data)
	if err != nil {
		return t.failTask(es, ts, err.Error())
	}
	n := 0
	if len(lists) > 0 {
		n = len(lists[0])
	}
	conc := int64(0)
	if ts.spec.Concurrency != nil {
		if conc, err = t.evalInt(es, ts, data, ts.spec.Concurrency, "concurrency"); err != nil {
			return t.failTask(es, ts, err.Error())
		}
	}
	ts.rt.Items = &items{Count: n, Concurrency: int(conc)}
	t.dirtyTask(ts)
	if n == 0 {
		return t.actionsDone(es, ts, Success, "")
	}
	return t.scheduleItems(es, ts, data)
}

// itemLists evaluates a task's with-items lists (of equal length).
func (t *txc) itemLists(es *execState, ts *taskState, data map[string]any) ([][]any, error) {
	if ts.lists != nil {
		return ts.lists, nil
	}
	var lists [][]any
	for _, wi := range ts.spec.WithItems {
		v := wi.List
		if s, ok := v.(string); ok {
			r, err := t.e.ev.Eval(t.ctx, s, data, &host{t: t, es: es, ts: ts})
			if err != nil {
				return nil, fmt.Errorf("Cannot evaluate the with-items list %q of task %s: %v", wi.Var, ts.row.Name, err)
			}
			v = r
		}
		l, ok := v.([]any)
		if !ok {
			if v == nil {
				l = []any{}
			} else {
				return nil, fmt.Errorf("The with-items list %q of task %s is a %s, not a list", wi.Var, ts.row.Name, exprvalue.Kind(v))
			}
		}
		if len(lists) > 0 && len(l) != len(lists[0]) {
			return nil, fmt.Errorf("The with-items lists of task %s have different lengths (%d and %d); with several lists, each must have as many items", ts.row.Name, len(lists[0]), len(l))
		}
		if len(l) > t.e.cfg.MaxItems {
			return nil, fmt.Errorf("The with-items list %q of task %s has %d items, more than the limit of %d; split the work", wi.Var, ts.row.Name, len(l), t.e.cfg.MaxItems)
		}
		lists = append(lists, l)
	}
	ts.lists = lists
	return lists, nil
}

// scheduleItems schedules with-items items while the concurrency and the
// transaction's budget allow.
func (t *txc) scheduleItems(es *execState, ts *taskState, data map[string]any) error {
	if ts.scheduling {
		return nil
	}
	ts.scheduling = true
	defer func() { ts.scheduling = false }()
	it := ts.rt.Items
	lists, err := t.itemLists(es, ts, data)
	if err != nil {
		return t.failTask(es, ts, err.Error())
	}
	for !Terminal(ts.row.State) {
		running := it.Next - it.Done - it.Failed
		if len(it.Rerun) == 0 && it.Next >= it.Count {
			return nil
		}
		if it.Concurrency > 0 && running >= it.Concurrency {
			return nil
		}
		if t.budget <= 0 {
			ts.rt.Resume = "items"
			t.dirtyTask(ts)
			return t.job(jobContinue, es, ts.row.ID, "", t.now, nil)
		}
		t.budget--
		var idx int
		if len(it.Rerun) > 0 {
			idx, it.Rerun = it.Rerun[0], it.Rerun[1:]
			it.Failed--
			it.Next++
		} else {
			idx = it.Next
			it.Next++
		}
		t.dirtyTask(ts)
		item := make(map[string]any, len(data)+len(lists))
		for k, v := range data {
			item[k] = v
		}
		for i, wi := range ts.spec.WithItems {
			if idx < len(lists[i]) {
				item[wi.Var] = lists[i][idx]
			}
		}
		if err := t.runUnit(es, ts, item, idx); err != nil {
			return err
		}
	}
	return nil
}

// runUnit calls the task's action or workflow once (item idx).
func (t *txc) runUnit(es *execState, ts *taskState, data map[string]any, idx int) error {
	h := &host{t: t, es: es, ts: ts}
	input, err := t.taskInput(es, ts, data, h)
	if err != nil {
		return t.unitDone(es, ts, idx, Error, err.Error(), nil, false)
	}
	if ts.spec.Workflow != "" {
		return t.runSubworkflow(es, ts, data, input, idx)
	}
	name := ts.spec.Action
	if spec.IsExpression(name) {
		v, err := t.e.ev.Eval(t.ctx, name, data, h)
		if err != nil {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Cannot evaluate the action name of task %s: %v", ts.row.Name, err), nil, false)
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("The action name of task %s evaluates to %s, not an action name", ts.row.Name, exprvalue.Repr(v)), nil, false)
		}
		name = s
	}
	safe := false
	if ts.spec.SafeRerun != nil {
		if safe, err = t.evalBool(es, ts, data, ts.spec.SafeRerun); err != nil {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Cannot evaluate safe-rerun of task %s: %v", ts.row.Name, err), nil, false)
		}
	}
	a := store.WFAction{ID: newID(), ProjectID: es.row.ProjectID, ExecutionID: es.row.ID, TaskID: ts.row.ID, Name: name, State: Running,
		WorkflowName: es.row.WorkflowName, TaskName: ts.row.Name, Input: encode(input), Output: "{}", ItemIndex: int64(idx),
		Attempt: int64(ts.rt.Retry), SafeRerun: safe, CreatedAt: t.now, UpdatedAt: t.now}
	act, call, err := t.prepareAction(es, name, input, &a)
	if err != nil {
		a.State, a.StateInfo, a.Output = Error, err.Error(), encode(map[string]any{"result": err.Error()})
		a.Accepted = true
		if err := t.tx.CreateWFAction(t.ctx, a); err != nil {
			return err
		}
		return t.unitDone(es, ts, idx, Error, err.Error(), nil, false)
	}
	if act.Pure {
		res, rerr := act.Run(t.ctx, call)
		return t.actionFinished(es, ts, &a, true, res, rerr)
	}
	if err := t.tx.CreateWFAction(t.ctx, a); err != nil {
		return err
	}
	return t.job(jobAction, es, ts.row.ID, a.ID, t.now, nil)
}

// taskInput evaluates a task's input (its input mapping, or the
// expression that gives it) with the transition's parameters below it.
func (t *txc) taskInput(es *execState, ts *taskState, data map[string]any, h *host) (map[string]any, error) {
	var input map[string]any
	switch {
	case ts.spec.InputExpr != "":
		v, err := t.e.ev.Eval(t.ctx, ts.spec.InputExpr, data, h)
		if err != nil {
			return nil, fmt.Errorf("Cannot evaluate the input of task %s: %v", ts.row.Name, err)
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, fmt.Errorf("The input of task %s evaluates to a %s, not a mapping", ts.row.Name, exprvalue.Kind(v))
		}
		input = m
	case ts.spec.Input != nil:
		v, err := t.e.ev.EvalRecursive(t.ctx, ts.spec.Input, data, h)
		if err != nil {
			return nil, fmt.Errorf("Cannot evaluate the input of task %s: %v", ts.row.Name, err)
		}
		input = v.(map[string]any)
	}
	if input == nil {
		input = map[string]any{}
	}
	if n := len(encode(input)); n > t.e.cfg.MaxValueBytes {
		return nil, fmt.Errorf("The input of task %s is %d bytes as JSON, more than the limit of %d; pass less", ts.row.Name, n, t.e.cfg.MaxValueBytes)
	}
	return input, nil
}

// actionFinished records an action's result (a created action is
// inserted; one that ran outside is updated) and tells its task.
func (t *txc) actionFinished(es *execState, ts *taskState, a *store.WFAction, create bool, res any, rerr error) error {
	switch r := res.(type) {
	case Async:
		if create {
			return t.tx.CreateWFAction(t.ctx, *a)
		}
		return nil
	case Sleep:
		if create {
			if err := t.tx.CreateWFAction(t.ctx, *a); err != nil {
				return err
			}
		}
		taskID := ""
		if ts != nil {
			taskID = ts.row.ID
		}
		return t.job(jobSleep, es, taskID, a.ID, t.now.Add(r.Delay), map[string]any{"result": r.Result})
	}
	state, info, out := t.actionOutcome(a, res, rerr)
	a.State, a.StateInfo, a.Output, a.Accepted, a.UpdatedAt = state, info, encode(map[string]any{"result": out}), true, t.now
	if create {
		if err := t.tx.CreateWFAction(t.ctx, *a); err != nil {
			return err
		}
	} else if err := t.tx.UpdateWFAction(t.ctx, *a); err != nil {
		return err
	}
	if ts == nil {
		return nil
	}
	return t.unitDone(es, ts, int(a.ItemIndex), state, info, out, true)
}

// actionOutcome turns an action's result or error into its state, the
// explanation of a failure and its output (ad-hoc outputs applied).
func (t *txc) actionOutcome(a *store.WFAction, res any, rerr error) (string, string, any) {
	if rerr != nil {
		var f *Failure
		msg := rerr.Error()
		var out any = msg
		if errors.As(rerr, &f) && f.Data != nil {
			out = f.Data
		}
		return Error, fmt.Sprintf("Action %s failed (input: %s): %s", a.Name, RedactedInput(a.Input), msg), out
	}
	rt := DecodeMap(a.Runtime)
	if outs, ok := rt["outputs"].([]any); ok {
		for i := len(outs) - 1; i >= 0; i-- {
			if outs[i] == nil {
				continue
			}
			v, err := t.e.ev.EvalRecursive(t.ctx, outs[i], res, nil)
			if err != nil {
				msg := fmt.Sprintf("cannot evaluate the output of ad-hoc action %s: %v", a.Name, err)
				return Error, fmt.Sprintf("Action %s failed: %s", a.Name, msg), msg
			}
			res = v
		}
	}
	res = Normalize(res)
	if n := len(encode(res)); n > t.e.cfg.MaxValueBytes {
		msg := fmt.Sprintf("the result is %d bytes as JSON, more than the limit of %d; make the action return less", n, t.e.cfg.MaxValueBytes)
		return Error, fmt.Sprintf("Action %s failed: %s", a.Name, msg), msg
	}
	return Success, "", res
}

// secretKey matches input names whose values never go into state_info.
var secretKey = regexp.MustCompile(`(?i)pass|token|secret|private|key_data|credential|auth|cookie`)

// RedactedInput prints an action's input (JSON) for an explanation: the
// values of secret-looking keys masked, the whole clipped to 500 bytes.
func RedactedInput(input string) string {
	m := DecodeMap(input)
	var redact func(v any, depth int) any
	redact = func(v any, depth int) any {
		switch x := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, it := range x {
				if secretKey.MatchString(k) && it != nil {
					out[k] = "***"
				} else if depth < 20 {
					out[k] = redact(it, depth+1)
				}
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, it := range x {
				out[i] = redact(it, depth+1)
			}
			return out
		}
		return v
	}
	s := encode(redact(m, 0))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// unitDone records that one call of a task (item idx) ended.
func (t *txc) unitDone(es *execState, ts *taskState, idx int, state, info string, out any, hasOut bool) error {
	if Terminal(ts.row.State) || ts.row.State == RunningDelayed && ts.rt.Resume == "complete" {
		return nil // a late result (the task timed out)
	}
	if it := ts.rt.Items; it != nil {
		if state == Success {
			it.Done++
		} else {
			it.Failed++
			if ts.row.StateInfo == "" || !strings.HasPrefix(ts.row.StateInfo, "Action") {
				ts.row.StateInfo = fmt.Sprintf("%s (item %d)", info, idx)
			}
		}
		t.dirtyTask(ts)
		if it.Done+it.Failed < it.Count || len(it.Rerun) > 0 {
			if es.row.State != Running {
				ts.rt.Resume = "items"
				return nil
			}
			return t.scheduleItems(es, ts, t.data(es, ts))
		}
		if it.Failed > 0 {
			return t.actionsDone(es, ts, Error, ts.row.StateInfo)
		}
		return t.actionsDone(es, ts, Success, "")
	}
	if hasOut {
		ts.result, ts.hasResult = out, true
	}
	return t.actionsDone(es, ts, state, info)
}

// actionsDone applies fail-on, retry and wait-after to a task whose
// calls ended, then completes it.
func (t *txc) actionsDone(es *execState, ts *taskState, state, info string) error {
	data := t.data(es, ts)
	if state == Success && ts.spec.FailOn != nil {
		fail, err := t.evalBool(es, ts, data, ts.spec.FailOn)
		if err != nil {
			state, info = Error, fmt.Sprintf("Cannot evaluate fail-on of task %s: %v", ts.row.Name, err)
		} else if fail {
			state, info = Error, fmt.Sprintf("Task %s failed by its fail-on condition %s.", ts.row.Name, exprvalue.Str(ts.spec.FailOn))
		}
	}
	if r := ts.spec.Retry; r != nil && !ts.rt.TimedOut {
		retry, err := t.shouldRetry(es, ts, data, r, state)
		if err != nil {
			return t.completeTask(es, ts, Error, err.Error())
		}
		if retry {
			ts.rt.Retry++
			ts.row.StateInfo = ""
			t.dirtyTask(ts)
			if err := t.tx.UnacceptTaskWFActions(t.ctx, ts.row.ID); err != nil {
				return err
			}
			ts.result, ts.hasResult, ts.lists = nil, false, nil
			delay, err := t.evalInt(es, ts, data, r.Delay, "retry delay")
			if err != nil {
				return t.completeTask(es, ts, Error, err.Error())
			}
			if delay > 0 {
				ts.rt.Resume = "run"
				t.setTaskState(es, ts, RunningDelayed)
				return t.job(jobContinue, es, ts.row.ID, "", t.after(delay), nil)
			}
			ts.rt.Resume = "run"
			t.dirtyTask(ts)
			return t.job(jobContinue, es, ts.row.ID, "", t.now, nil)
		}
	}
	if !ts.rt.WaitedAfter && ts.spec.WaitAfter != nil {
		ts.rt.WaitedAfter = true
		secs, err := t.evalInt(es, ts, data, ts.spec.WaitAfter, "wait-after")
		if err != nil {
			return t.completeTask(es, ts, Error, err.Error())
		}
		if secs > 0 {
			ts.rt.Resume, ts.rt.Pending, ts.rt.PendingInfo = "complete", state, info
			t.setTaskState(es, ts, RunningDelayed)
			return t.job(jobContinue, es, ts.row.ID, "", t.after(secs), nil)
		}
	}
	return t.completeTask(es, ts, state, info)
}

func (t *txc) shouldRetry(es *execState, ts *taskState, data map[string]any, r *spec.Retry, state string) (bool, error) {
	count, err := t.evalInt(es, ts, data, r.Count, "retry count")
	if err != nil {
		return false, err
	}
	if int64(ts.rt.Retry) >= count {
		return false, nil
	}
	if state == Error {
		if r.BreakOn != "" {
			stop, err := t.evalBool(es, ts, data, r.BreakOn)
			if err != nil {
				return false, fmt.Errorf("Cannot evaluate break-on of task %s: %v", ts.row.Name, err)
			}
			if stop {
				return false, nil
			}
		}
		return true, nil
	}
	if r.ContinueOn != "" {
		goOn, err := t.evalBool(es, ts, data, r.ContinueOn)
		if err != nil {
			return false, fmt.Errorf("Cannot evaluate continue-on of task %s: %v", ts.row.Name, err)
		}
		return goOn, nil
	}
	return false, nil
}

// failTask fails a task before or instead of its calls.
func (t *txc) failTask(es *execState, ts *taskState, info string) error {
	return t.completeTask(es, ts, Error, info)
}

// completeTask ends a task: it publishes, takes its transitions and may
// end the execution.
func (t *txc) completeTask(es *execState, ts *taskState, state, info string) error {
	if Terminal(ts.row.State) {
		return nil
	}
	if ts.spec.Timeout != nil {
		if err := t.tx.DeleteWFJobs(t.ctx, ts.row.ID, jobTimeout); err != nil {
			return err
		}
	}
	if state == Error {
		ts.row.StateInfo = info
	} else {
		ts.row.StateInfo = ""
	}
	if err := t.publish(es, ts, state); err != nil {
		state, ts.row.StateInfo = Error, err.Error()
		_ = t.publish(es, ts, Error)
	}
	t.setTaskState(es, ts, state)
	if ts.spec.KeepResult != nil {
		keep, err := t.evalBool(es, ts, t.data(es, ts), ts.spec.KeepResult)
		if err == nil && !keep {
			if err := t.tx.DropTaskWFResults(t.ctx, ts.row.ID); err != nil {
				return err
			}
			ts.result, ts.hasResult = nil, true
		}
	}
	var nexts []next
	handled := false
	if es.wf.Type == spec.Direct {
		var err error
		nexts, handled, err = t.findNext(es, ts, state)
		if err != nil {
			ts.row.StateInfo = strings.TrimSpace(ts.row.StateInfo + "\n" + err.Error())
			t.dirtyTask(ts)
			es.row.Errors++
			return t.finishExec(es, Error, fmt.Sprintf("Failure caused by error in tasks: %s\n\n  %s [task_ex_id=%s] -> %v", ts.row.Name, ts.row.Name, ts.row.ID, err))
		}
	}
	ts.row.ErrorHandled = handled
	ns := make([][2]string, len(nexts))
	for i, n := range nexts {
		ns[i] = [2]string{n.Task, n.Event}
	}
	b, _ := json.Marshal(ns)
	ts.row.NextTasks = string(b)
	t.dirtyTask(ts)
	if state == Error && !handled {
		es.row.Errors++
		t.dirtyExec(es)
	}
	if err := t.takeNext(es, ts, nexts); err != nil {
		return err
	}
	if es.wf.Type == spec.Reverse && state == Success {
		if err := t.reverseNext(es); err != nil {
			return err
		}
	}
	if err := t.reevalJoins(es); err != nil {
		return err
	}
	return t.maybeFinish(es)
}

// publish evaluates the task's publish block for state: branch variables
// into the task's published, global ones into the workflow's context.
// on-complete's publish is the default, the task's own publish over it,
// on-success's or on-error's over both.
func (t *txc) publish(es *execState, ts *taskState, state string) error {
	sp := ts.spec
	var branch, global map[string]any
	add := func(p *spec.Publish) {
		if p == nil {
			return
		}
		if p.Branch != nil {
			branch = mergeDicts(branch, deepCopy(p.Branch).(map[string]any))
		}
		if p.Global != nil {
			global = mergeDicts(global, deepCopy(p.Global).(map[string]any))
		}
		if p.Atomic != nil {
			global = mergeDicts(global, deepCopy(p.Atomic).(map[string]any))
		}
	}
	if sp.OnComplete != nil {
		add(sp.OnComplete.Publish)
	}
	switch state {
	case Success:
		add(sp.Publish)
		if sp.OnSuccess != nil {
			add(sp.OnSuccess.Publish)
		}
	case Error:
		add(sp.PublishOnError)
		if sp.OnError != nil {
			add(sp.OnError.Publish)
		}
	default:
		return nil
	}
	if branch == nil && global == nil {
		return nil
	}
	// The task's state is visible to task() while publishing.
	was := ts.row.State
	ts.row.State = state
	defer func() { ts.row.State = was }()
	data := t.data(es, ts)
	h := &host{t: t, es: es, ts: ts}
	if branch != nil {
		v, err := t.e.ev.EvalRecursive(t.ctx, branch, data, h)
		if err != nil {
			return fmt.Errorf("Failed to evaluate the published variables of task %s: %v", ts.row.Name, err)
		}
		if n := len(encode(v)); n > t.e.cfg.MaxValueBytes {
			return fmt.Errorf("The variables task %s publishes are %d bytes as JSON, more than the limit of %d; publish less", ts.row.Name, n, t.e.cfg.MaxValueBytes)
		}
		ts.pub = v.(map[string]any)
	}
	if global != nil {
		v, err := t.e.ev.EvalRecursive(t.ctx, global, data, h)
		if err != nil {
			return fmt.Errorf("Failed to evaluate the global variables task %s publishes: %v", ts.row.Name, err)
		}
		mergeDicts(es.context, v.(map[string]any))
		t.dirtyExec(es)
	}
	t.dirtyTask(ts)
	return nil
}

// findNext evaluates a finished task's transitions: on-error or
// on-success, then on-complete.
func (t *txc) findNext(es *execState, ts *taskState, state string) ([]next, bool, error) {
	data := t.dataWith(es, ts, outbound(ts))
	h := &host{t: t, es: es, ts: ts}
	var out []next
	add := func(on *spec.On, event string) error {
		if on == nil {
			return nil
		}
		for _, tr := range on.Next {
			if tr.Cond != "" {
				v, err := t.e.ev.Eval(t.ctx, tr.Cond, data, h)
				if err != nil {
					return fmt.Errorf("cannot evaluate the %s condition of %s: %v", event, tr.Task, err)
				}
				if !exprvalue.Truthy(v) {
					continue
				}
			}
			var params map[string]any
			if len(tr.Params) > 0 {
				v, err := t.e.ev.EvalRecursive(t.ctx, tr.Params, data, h)
				if err != nil {
					return fmt.Errorf("cannot evaluate the %s parameters of %s: %v", event, tr.Task, err)
				}
				params = v.(map[string]any)
			}
			out = append(out, next{Task: tr.Task, Event: event, Params: params})
		}
		return nil
	}
	handled := false
	switch state {
	case Error:
		if err := add(ts.spec.OnError, "on-error"); err != nil {
			return nil, false, err
		}
		handled = len(out) > 0
	case Success:
		if err := add(ts.spec.OnSuccess, "on-success"); err != nil {
			return nil, false, err
		}
	}
	if state == Error || state == Success {
		if err := add(ts.spec.OnComplete, "on-complete"); err != nil {
			return nil, false, err
		}
	}
	return out, handled, nil
}

// takeNext schedules the next tasks and runs engine commands, in order,
// until the execution ends or pauses (the rest waits for a resume).
func (t *txc) takeNext(es *execState, ts *taskState, nexts []next) error {
	out := outbound(ts)
	for i, n := range nexts {
		if Terminal(es.row.State) {
			return nil
		}
		if es.row.State == Paused {
			for _, r := range nexts[i:] {
				ts.rt.Deferred = append(ts.rt.Deferred, deferred{Task: r.Task, Event: r.Event, Params: r.Params})
			}
			t.dirtyTask(ts)
			return nil
		}
		sp := es.wf.Task(n.Task)
		if sp == nil {
			if err := t.command(es, ts, n); err != nil {
				return err
			}
			continue
		}
		in := make(map[string]any, len(out))
		for k, v := range out {
			in[k] = v
		}
		if err := t.scheduleTask(es, sp, in, &trigger{TaskID: ts.row.ID, Event: n.Event}, n.Params); err != nil {
			return err
		}
	}
	return nil
}

// command runs an engine command of a transition.
func (t *txc) command(es *execState, ts *taskState, n next) error {
	msg, _ := n.Params["msg"].(string)
	switch n.Task {
	case spec.CmdNoop:
		return nil
	case spec.CmdSucceed:
		if msg == "" {
			msg = fmt.Sprintf("Workflow succeeded by the succeed command of task %s.", ts.row.Name)
		}
		if err := t.finishExec(es, Success, ""); err != nil {
			return err
		}
		if es.row.State == Success {
			es.row.StateInfo = msg
		}
		return nil
	case spec.CmdFail:
		info := msg
		if info == "" {
			info = fmt.Sprintf("Workflow failed by the fail command of task %s.", ts.row.Name)
		}
		if ts.row.State == Error {
			info += fmt.Sprintf("\n\n  %s [task_ex_id=%s] -> %s", ts.row.Name, ts.row.ID, ts.row.StateInfo)
		}
		return t.finishExec(es, Error, info)
	case spec.CmdPause:
		if msg == "" {
			msg = fmt.Sprintf("Paused by the pause command of task %s; resume the execution to go on.", ts.row.Name)
		}
		return t.pauseExec(es, msg)
	}
	return fmt.Errorf("unknown engine command %q", n.Task)
}

// scheduleJoin creates or updates a join task and starts it when enough
// inbound tasks arrived.
func (t *txc) scheduleJoin(es *execState, sp *spec.Task, trig *trigger, params map[string]any) error {
	key := "join-" + sp.Name
	if err := t.flushTasks(); err != nil {
		return err
	}
	var ts *taskState
	row, err := t.tx.WFTaskByKey(t.ctx, es.row.ID, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if ts, err = t.newTask(es, sp, map[string]any{}, trig, params, Waiting, key); err != nil {
			return err
		}
		trig = nil
	case err != nil:
		return err
	default:
		if ts, err = t.adopt(es, row); err != nil {
			return err
		}
		if ts.row.State != Waiting {
			return nil // the join ran already
		}
	}
	if trig != nil {
		ts.rt.TriggeredBy = append(ts.rt.TriggeredBy, *trig)
		t.dirtyTask(ts)
	}
	return t.evalJoin(es, ts)
}

// evalJoin starts a waiting join whose inbound tasks arrived, fails one
// that can never get enough of them, and leaves it waiting otherwise.
func (t *txc) evalJoin(es *execState, ts *taskState) error {
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	latest := map[string]store.WFTask{}
	for _, r := range rows {
		latest[r.Name] = r
	}
	inbound := es.wf.Inbound(ts.spec)
	need := ts.spec.Join
	if need < 0 {
		need = len(inbound)
	}
	var yes, no []string
	var blocked []string
	ctx := map[string]any{}
	for _, in := range inbound {
		switch t.reach(es, latest, in, ts.spec.Name, map[string]bool{}) {
		case "yes":
			yes = append(yes, in)
			src, err := t.adopt(es, latest[in])
			if err != nil {
				return err
			}
			mergeDicts(ctx, outbound(src))
		case "no":
			no = append(no, in)
		default:
			blocked = append(blocked, in)
		}
	}
	switch {
	case len(yes) >= need:
		ts.in = ctx
		ts.row.StateInfo = ""
		return t.startTask(es, ts)
	case len(no) > len(inbound)-need:
		return t.completeTask(es, ts, Error, fmt.Sprintf("Failed by tasks: %s (join %s cannot get %d of its inbound tasks)", strings.Join(no, ", "), ts.row.Name, need))
	default:
		info := "Blocked by tasks: " + strings.Join(blocked, ", ")
		if ts.row.StateInfo != info {
			ts.row.StateInfo = info
			t.dirtyTask(ts)
		}
	}
	return nil
}

// reach tells whether task name led to target ("yes"), never will
// ("no"), or still may ("maybe").
func (t *txc) reach(es *execState, latest map[string]store.WFTask, name, target string, seen map[string]bool) string {
	if seen[name] {
		return "no"
	}
	seen[name] = true
	if r, ok := latest[name]; ok {
		if !Terminal(r.State) {
			return "maybe"
		}
		var ns [][2]string
		_ = json.Unmarshal([]byte(r.NextTasks), &ns)
		for _, n := range ns {
			if n[0] == target {
				return "yes"
			}
		}
		return "no"
	}
	sp := es.wf.Task(name)
	if sp == nil {
		return "no"
	}
	for _, p := range es.wf.Inbound(sp) {
		if r := t.reach(es, latest, p, name, seen); r != "no" {
			return "maybe"
		}
	}
	return "no"
}

// reevalJoins re-checks the waiting joins of an execution after a task
// ended: a branch that ended elsewhere may make a join impossible.
func (t *txc) reevalJoins(es *execState) error {
	if Terminal(es.row.State) || !slices.ContainsFunc(es.wf.Tasks, func(x *spec.Task) bool { return x.Join != 0 }) {
		return nil
	}
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.UniqueKey == "" || r.State != Waiting {
			continue
		}
		ts, err := t.adopt(es, r)
		if err != nil {
			return err
		}
		if ts.row.State != Waiting {
			continue
		}
		if err := t.evalJoin(es, ts); err != nil {
			return err
		}
	}
	return nil
}

// reverseNext schedules the tasks of a reverse workflow whose required
// tasks all succeeded.
func (t *txc) reverseNext(es *execState) error {
	target, _ := es.params["task_name"].(string)
	reqs, err := es.wf.Requirements(target)
	if err != nil {
		return err
	}
	if err := t.flushTasks(); err != nil {
		return err
	}
	rows, err := t.tx.ExecutionWFTasks(t.ctx, es.row.ID, "")
	if err != nil {
		return err
	}
	latest := map[string]store.WFTask{}
	for _, r := range rows {
		latest[r.Name] = r
	}
	for _, sp := range reqs {
		if _, ok := latest[sp.Name]; ok || len(sp.Requires) == 0 {
			continue
		}
		ready := true
		ctx := map[string]any{}
		for _, r := range sp.Requires {
			row, ok := latest[r]
			if !ok || row.State != Success {
				ready = false
				break
			}
			src, err := t.adopt(es, row)
			if err != nil {
				return err
			}
			mergeDicts(ctx, outbound(src))
		}
		if !ready {
			continue
		}
		if err := t.scheduleTask(es, sp, ctx, nil, nil); err != nil {
			return err
		}
		latest[sp.Name] = store.WFTask{Name: sp.Name, State: Running}
	}
	return nil
}

// taskResult is a task's result: its action's (or sub-workflow's) result,
// or the list of them for with-items.
func (t *txc) taskResult(ts *taskState) (any, error) {
	if ts.hasResult && ts.rt.Items == nil {
		return ts.result, nil
	}
	if err := t.flushTasks(); err != nil {
		return nil, err
	}
	return TaskResult(t.ctx, t.tx, ts.row, ts.rt.Items != nil || len(ts.spec.WithItems) > 0, countOf(ts))
}

func countOf(ts *taskState) int {
	if ts.rt.Items != nil {
		return ts.rt.Items.Count
	}
	return 0
}

// evalBool evaluates a boolean policy (a bool or an expression).
func (t *txc) evalBool(es *execState, ts *taskState, data map[string]any, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		r, err := t.e.ev.Eval(t.ctx, x, data, &host{t: t, es: es, ts: ts})
		if err != nil {
			return false, err
		}
		return exprvalue.Truthy(r), nil
	}
	return exprvalue.Truthy(v), nil
}

// evalInt evaluates a number policy (an integer or an expression).
func (t *txc) evalInt(es *execState, ts *taskState, data map[string]any, v any, what string) (int64, error) {
	if s, ok := v.(string); ok {
		r, err := t.e.ev.Eval(t.ctx, s, data, &host{t: t, es: es, ts: ts})
		if err != nil {
			var ee *expr.Error
			if errors.As(err, &ee) {
				return 0, fmt.Errorf("Cannot evaluate %s of task %s: %v", what, ts.row.Name, err)
			}
			return 0, err
		}
		v = r
	}
	if n, ok := exprvalue.Number(v); ok {
		f := n.Float()
		if f < 0 {
			return 0, fmt.Errorf("%s of task %s is %v; it must be 0 or more", what, ts.row.Name, f)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("%s of task %s is a %s, not a number", what, ts.row.Name, exprvalue.Kind(v))
}
