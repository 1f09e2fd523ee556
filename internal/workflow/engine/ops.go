package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/store"
)

// StateError is a state change an execution, task or action cannot make
// now (resuming one that is not paused, rerunning a task that did not
// fail).
type StateError struct{ Msg string }

func (e *StateError) Error() string { return e.Msg }

// SetState changes an execution's state as PUT /v2/executions/{id} asks:
// PAUSED pauses it, RUNNING resumes it (env, when given, updates its
// environment), CANCELLED cancels it, SUCCESS and ERROR end it.
func (e *Engine) SetState(ctx context.Context, id, state, info string, env map[string]any) error {
	return e.run(ctx, func(t *txc) error {
		es, err := t.exec(id)
		if err != nil {
			return err
		}
		cur := es.row.State
		if env != nil {
			if err := t.updateEnv(es, env); err != nil {
				return err
			}
		}
		switch state {
		case Paused:
			if cur == Paused {
				return nil
			}
			if cur != Running {
				return &StateError{Msg: fmt.Sprintf("Execution %s is %s; only a RUNNING execution can be paused.", id, cur)}
			}
			if info == "" {
				info = "Paused by the user; resume it with 'openstack workflow execution update --resume'."
			}
			return t.pauseExec(es, info)
		case Running:
			if cur == Running {
				return nil
			}
			if cur != Paused {
				return &StateError{Msg: fmt.Sprintf("Execution %s is %s; only a PAUSED execution can be resumed (rerun a failed task to run a failed execution again).", id, cur)}
			}
			return t.resumeExec(es)
		case Cancelled, Success, Error:
			if Terminal(cur) {
				if cur == state {
					return nil
				}
				return &StateError{Msg: fmt.Sprintf("Execution %s already ended (%s); it cannot become %s.", id, cur, state)}
			}
			if info == "" {
				info = fmt.Sprintf("Set to %s by the user.", state)
			}
			if state == Success {
				info = ""
			}
			if err := t.finishExec(es, state, info); err != nil {
				return err
			}
			if state == Success {
				es.row.StateInfo = info
			}
			return nil
		}
		return &StateError{Msg: fmt.Sprintf("An execution cannot be set to %q; use RUNNING, PAUSED, SUCCESS, ERROR or CANCELLED.", state)}
	})
}

func (t *txc) updateEnv(es *execState, env map[string]any) error {
	cur := env
	if old, ok := es.params["env"].(map[string]any); ok {
		cur = mergeDicts(deepCopy(old).(map[string]any), env)
	}
	es.params["env"] = cur
	t.dirtyExec(es)
	return t.tx.SetWFExecutionParams(t.ctx, es.row.ID, encode(es.params))
}

// RerunTask runs a failed task again: reset runs all of a with-items
// task's items again, otherwise only the failed ones; env, when given,
// updates the execution's environment. The execution (and the parents of
// a sub-workflow) run again.
func (e *Engine) RerunTask(ctx context.Context, taskID string, reset bool, env map[string]any) error {
	return e.run(ctx, func(t *txc) error {
		row, err := t.tx.GetWFTask(t.ctx, taskID)
		if err != nil {
			return err
		}
		es, err := t.exec(row.ExecutionID)
		if err != nil {
			return err
		}
		ts, err := t.task(es, taskID)
		if err != nil {
			return err
		}
		if ts.row.State != Error {
			return &StateError{Msg: fmt.Sprintf("Task %s is %s; only a task in ERROR can be rerun.", ts.row.Name, ts.row.State)}
		}
		if es.row.State != Error && es.row.State != Paused && es.row.State != Running {
			return &StateError{Msg: fmt.Sprintf("Execution %s is %s; a task can be rerun only in a failed (or paused) execution.", es.row.ID, es.row.State)}
		}
		if env != nil {
			if err := t.updateEnv(es, env); err != nil {
				return err
			}
		}
		if err := t.reopen(es, ts); err != nil {
			return err
		}
		if ts.rt.Items != nil && !reset {
			acts, err := t.tx.TaskWFActions(t.ctx, ts.row.ID, true)
			if err != nil {
				return err
			}
			var failed []string
			it := ts.rt.Items
			it.Rerun = nil
			for _, a := range acts {
				if a.State != Success {
					failed = append(failed, a.ID)
					it.Rerun = append(it.Rerun, int(a.ItemIndex))
				}
			}
			if ts.row.Type == TypeWorkflow {
				subs, err := t.tx.ChildWFExecutions(t.ctx, ts.row.ID)
				if err != nil {
					return err
				}
				seen := map[int64]bool{}
				for i := len(subs) - 1; i >= 0; i-- {
					idx := DecodeMap(subs[i].Params)["index"]
					n, _ := idx.(int64)
					if seen[n] {
						continue
					}
					seen[n] = true
					if subs[i].State != Success {
						it.Rerun = append(it.Rerun, int(n))
					}
				}
			}
			if err := t.tx.UnacceptWFActions(t.ctx, failed); err != nil {
				return err
			}
			it.Failed = len(it.Rerun)
			it.Next = it.Count - len(it.Rerun)
			t.dirtyTask(ts)
			return t.scheduleItems(es, ts, t.data(es, ts))
		}
		if err := t.tx.UnacceptTaskWFActions(t.ctx, ts.row.ID); err != nil {
			return err
		}
		ts.result, ts.hasResult, ts.lists = nil, false, nil
		return t.runTask(es, ts, t.data(es, ts), false)
	})
}

// reopen makes a failed task (and its execution, and the parents of a
// sub-workflow) run again.
func (t *txc) reopen(es *execState, ts *taskState) error {
	if ts.row.State == Error && !ts.row.ErrorHandled {
		es.row.Errors--
	}
	if Terminal(es.row.State) {
		es.row.State, es.row.StateInfo, es.row.Output = Running, "", "{}"
	}
	ts.row.StateInfo, ts.row.NextTasks, ts.row.ErrorHandled = "", "[]", false
	ts.pub = map[string]any{}
	ts.rt.Retry, ts.rt.WaitedAfter, ts.rt.TimedOut, ts.rt.Resume, ts.rt.Deferred = 0, false, false, "", nil
	t.setTaskState(es, ts, Running)
	t.dirtyExec(es)
	if es.row.ParentTaskID == "" {
		return nil
	}
	prow, err := t.tx.GetWFTask(t.ctx, es.row.ParentTaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pes, err := t.exec(prow.ExecutionID)
	if err != nil {
		return err
	}
	pts, err := t.task(pes, prow.ID)
	if err != nil {
		return err
	}
	if pts.row.State != Error {
		return nil
	}
	if err := t.reopen(pes, pts); err != nil {
		return err
	}
	if it := pts.rt.Items; it != nil {
		it.Failed-- // the item this sub-workflow is reports again
		t.dirtyTask(pts)
	}
	return nil
}

// CompleteAction records the result of a running action (an async one,
// or one an operator ends): PUT /v2/action_executions/{id}.
func (e *Engine) CompleteAction(ctx context.Context, id, state string, output any, info string) error {
	return e.run(ctx, func(t *txc) error {
		a, err := t.tx.GetWFAction(t.ctx, id)
		if err != nil {
			return err
		}
		if a.State != Running {
			return &StateError{Msg: fmt.Sprintf("Action execution %s is %s; only a RUNNING action execution takes a result.", id, a.State)}
		}
		var rerr error
		switch state {
		case Success:
		case Error:
			msg := info
			if msg == "" {
				msg = "set to ERROR through the API"
			}
			rerr = &Failure{Msg: msg, Data: output}
		case Cancelled:
			a.State, a.StateInfo, a.UpdatedAt = Cancelled, info, t.now
			if err := t.tx.UpdateWFAction(t.ctx, a); err != nil {
				return err
			}
			if a.TaskID == "" {
				return nil
			}
			es, err := t.exec(a.ExecutionID)
			if err != nil {
				return err
			}
			ts, err := t.task(es, a.TaskID)
			if err != nil {
				return err
			}
			return t.unitDone(es, ts, int(a.ItemIndex), Error, fmt.Sprintf("Action %s was cancelled.", a.Name), nil, false)
		default:
			return &StateError{Msg: fmt.Sprintf("An action execution cannot be set to %q; use SUCCESS, ERROR or CANCELLED.", state)}
		}
		if err := t.tx.DeleteWFJobsOfAction(t.ctx, a.ID); err != nil {
			return err
		}
		if a.TaskID == "" {
			return t.actionFinished(nil, nil, &a, false, output, rerr)
		}
		es, err := t.exec(a.ExecutionID)
		if err != nil {
			return err
		}
		ts, err := t.task(es, a.TaskID)
		if err != nil {
			return err
		}
		return t.actionFinished(es, ts, &a, false, output, rerr)
	})
}

// RunRequest runs an action outside any workflow (POST
// /v2/action_executions).
type RunRequest struct {
	Name, Namespace, Description string
	Input                        map[string]any
	ProjectID                    string
	Auth                         map[string]any
	// Save keeps the action execution (Mistral's save_result); Async
	// returns at once with the action running (run_sync false).
	Save, Async bool
}

// RunAction runs an action outside any workflow. An unsaved run calls the
// action and returns its result without keeping a row; a saved one is a
// row, marked started before the call, so a crash leaves it explained.
func (e *Engine) RunAction(ctx context.Context, req RunRequest) (store.WFAction, error) {
	a := store.WFAction{ID: newID(), ProjectID: req.ProjectID, Name: req.Name, State: Running, Description: req.Description,
		Input: encode(req.Input), Output: "{}", CreatedAt: e.now(), UpdatedAt: e.now(), Accepted: true}
	var act *Action
	var input map[string]any
	err := e.db.Read(ctx, func(tx *store.Tx) error {
		a2, layers, err := e.ResolveAction(ctx, tx, req.Name, req.Namespace, req.ProjectID, "")
		if err != nil {
			return &InputError{Msg: err.Error()}
		}
		base, outputs, err := e.expandAdhoc(ctx, layers, req.Input)
		if err != nil {
			return &InputError{Msg: err.Error()}
		}
		if input, err = checkInput(a2, base); err != nil {
			return &InputError{Msg: err.Error()}
		}
		act = a2
		rt := map[string]any{"base": a2.Name, "auth": req.Auth}
		if len(layers) > 0 {
			rt["base_input"] = input
			rt["outputs"] = outputs
		}
		a.Runtime = encode(rt)
		return nil
	})
	if err != nil {
		return store.WFAction{}, err
	}
	call := e.call(&a, "", req.Auth, input)
	if !req.Save && !req.Async {
		res, rerr := e.safeRun(ctx, act, call)
		if _, ok := res.(Sleep); ok {
			res, rerr = nil, fmt.Errorf("%s sleeps; run it with save_result true (its result is recorded when it wakes)", act.Name)
		}
		if _, ok := res.(Async); ok {
			res, rerr = nil, fmt.Errorf("%s completes asynchronously; run it with save_result true", act.Name)
		}
		t := &txc{e: e, ctx: ctx, now: e.now()}
		a.State, a.StateInfo, res = t.actionOutcome(&a, res, rerr)
		a.Output = encode(map[string]any{"result": res})
		return a, nil
	}
	jobID := newID()
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		a.Started = !act.Pure
		if err := tx.CreateWFAction(ctx, a); err != nil {
			return err
		}
		j := store.WFJob{ID: jobID, Kind: jobAction, ActionID: a.ID, DueAt: e.now(), Payload: "{}", CreatedAt: e.now()}
		if !req.Async || a.Started {
			// This controller calls it now; the job is the lease that
			// lets another controller find it if this one dies.
			j.Owner, j.DueAt = e.cfg.Owner, e.now().Add(e.cfg.Lease)
		}
		return tx.CreateWFJob(ctx, j)
	})
	if err != nil {
		return store.WFAction{}, err
	}
	c := claimed{job: store.WFJob{ID: jobID, Kind: jobAction, ActionID: a.ID, Owner: e.cfg.Owner}, mode: "call", act: act, row: a}
	if act.Pure {
		c.mode = "pure"
	}
	if req.Async {
		if c.mode == "call" {
			e.heldMu.Lock()
			e.held[jobID] = true
			e.heldMu.Unlock()
			go func() {
				ctx := context.WithoutCancel(ctx)
				res, rerr := e.safeRun(ctx, act, call)
				fault.Point(fault.WorkflowActionReturned)
				_ = e.applyResults(ctx, []outcome{{c: c, res: res, err: rerr}})
				e.heldMu.Lock()
				delete(e.held, jobID)
				e.heldMu.Unlock()
			}()
		} else {
			e.Wake()
		}
		return a, nil
	}
	res, rerr := e.safeRun(ctx, act, call)
	if err := e.applyResults(context.WithoutCancel(ctx), []outcome{{c: c, res: res, err: rerr}}); err != nil {
		return store.WFAction{}, err
	}
	var out store.WFAction
	err = e.db.Read(ctx, func(tx *store.Tx) error {
		out, err = tx.GetWFAction(ctx, a.ID)
		return err
	})
	return out, err
}

func (e *Engine) safeRun(ctx context.Context, act *Action, c Call) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the action crashed: %v", p)
		}
	}()
	return act.Run(ctx, c)
}
