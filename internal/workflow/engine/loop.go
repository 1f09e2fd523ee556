package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/store"
)

// claimed is a job this controller holds, with what to do with it.
type claimed struct {
	job store.WFJob
	// mode for action jobs: "pure" (run in a transaction), "call" (call
	// outside a transaction), "interrupted" (started before, by a
	// controller that died: fail it).
	mode string
	act  *Action
	row  store.WFAction
}

// outcome is the result of an action called outside a transaction.
type outcome struct {
	c   claimed
	res any
	err error
}

// errInterrupted explains a started action found without its result.
var errInterrupted = errors.New("the controller calling this action stopped (crash or kill) before its result was recorded; " +
	"it is not called again because it may have had its effect. Check its effect, then rerun the task, " +
	"or mark the task safe-rerun: true if calling the action twice is harmless")

// Run works on due jobs until ctx ends: a dispatcher claims them in
// batches, a bounded pool of workers runs them, a committer records the
// results of called actions in batches, and a heartbeat renews the leases
// of the actions being called.
func (e *Engine) Run(ctx context.Context) error {
	work := make(chan claimed)
	results := make(chan outcome, e.cfg.Workers*2)
	slots := make(chan struct{}, e.cfg.Workers)
	freed := make(chan struct{}, 1)
	// Calls in progress when the engine stops get a grace period to
	// finish and have their results recorded: a call abandoned halfway
	// fails its task after the restart (it may have had its effect).
	callCtx, callCancel := context.WithCancel(context.WithoutCancel(ctx))
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(e.cfg.ShutdownGrace, callCancel) })
	defer stopGrace()
	defer callCancel()
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				e.process(ctx, callCtx, c, results)
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			}
		}()
	}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		e.commitLoop(ctx, results)
	}()
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		e.heartbeat(ctx)
	}()
	defer func() {
		close(work)
		wg.Wait()
		close(results)
		<-commitDone
		<-hbDone
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		free := cap(slots) - len(slots)
		got := 0
		if free > 0 {
			cs, err := e.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim workflow jobs", "error", err)
			}
			for _, c := range cs {
				slots <- struct{}{}
				select {
				case work <- c:
				case <-ctx.Done():
					return nil
				}
			}
			got = len(cs)
		}
		if ctx.Err() != nil {
			return nil
		}
		if got > 0 && got == free {
			continue
		}
		wait := e.cfg.Poll
		if got == 0 || free > got {
			if due, err := e.nextDue(ctx); err == nil && due != nil {
				if d := time.Until(*due); d < wait {
					wait = max(d, time.Millisecond)
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-freed:
		case <-timer.C:
		}
	}
}

func (e *Engine) nextDue(ctx context.Context) (*time.Time, error) {
	var due *time.Time
	err := e.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.NextWFJobDue(ctx)
		return err
	})
	return due, err
}

// claim leases up to n due jobs to this controller. Actions with effects
// are marked started in the same transaction, before anyone calls them.
func (e *Engine) claim(ctx context.Context, n int) ([]claimed, error) {
	var out []claimed
	started := false
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		out, started = out[:0], false
		now := e.now()
		jobs, err := tx.DueWFJobs(ctx, now, n)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			ok, err := tx.ClaimWFJob(ctx, j.ID, e.cfg.Owner, now, now.Add(e.cfg.Lease))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			j.Owner = e.cfg.Owner
			c := claimed{job: j}
			if j.Kind == jobAction {
				a, err := tx.GetWFAction(ctx, j.ActionID)
				if errors.Is(err, store.ErrNotFound) || err == nil && a.State != Running {
					if err := tx.DeleteWFJob(ctx, j.ID); err != nil {
						return err
					}
					continue
				}
				if err != nil {
					return err
				}
				c.row = a
				base, _ := DecodeMap(a.Runtime)["base"].(string)
				c.act = e.actions.Get(base)
				switch {
				case c.act == nil || c.act.Pure:
					c.mode = "pure"
				case a.Started && !a.SafeRerun:
					c.mode = "interrupted"
				default:
					a.Started = true
					a.UpdatedAt = now
					if err := tx.UpdateWFAction(ctx, a); err != nil {
						return err
					}
					c.row, c.mode, started = a, "call", true
				}
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if started {
		fault.Point(fault.WorkflowActionStarted)
	}
	e.heldMu.Lock()
	for _, c := range out {
		if c.mode == "call" {
			e.held[c.job.ID] = true
		}
	}
	e.heldMu.Unlock()
	return out, nil
}

// process does one claimed job.
func (e *Engine) process(ctx, callCtx context.Context, c claimed, results chan<- outcome) {
	if c.mode == "call" {
		res, err := e.callAction(callCtx, c)
		if callCtx.Err() != nil {
			return // stopped past the grace: the lease runs out, the job is taken over
		}
		fault.Point(fault.WorkflowActionReturned)
		results <- outcome{c: c, res: res, err: err}
		return
	}
	err := e.run(ctx, func(t *txc) error {
		ok, err := t.tx.FinishWFJob(t.ctx, c.job.ID, e.cfg.Owner)
		if err != nil || !ok {
			return err
		}
		if err := t.doJob(c); err != nil {
			return err
		}
		fault.Point(fault.WorkflowTimerApplying)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		e.log.Error("workflow job failed", "job", c.job.ID, "kind", c.job.Kind, "task_id", c.job.TaskID, "error", err)
	}
}

// callAction calls an action with effects, outside any transaction.
func (e *Engine) callAction(ctx context.Context, c claimed) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the action crashed: %v", p)
		}
	}()
	var authDoc map[string]any
	var workflow string
	if c.row.ExecutionID != "" {
		err := e.db.Read(ctx, func(tx *store.Tx) error {
			x, err := tx.GetWFExecution(ctx, c.row.ExecutionID)
			authDoc, workflow = DecodeMap(x.Auth), x.WorkflowName
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		authDoc, _ = DecodeMap(c.row.Runtime)["auth"].(map[string]any)
	}
	input, err := e.callInput(c.act, c.row)
	if err != nil {
		return nil, err
	}
	return c.act.Run(ctx, e.call(&c.row, workflow, authDoc, input))
}

// callInput is the input an action row is called with.
func (e *Engine) callInput(act *Action, a store.WFAction) (map[string]any, error) {
	if m, ok := DecodeMap(a.Runtime)["base_input"].(map[string]any); ok {
		return m, nil
	}
	return checkInput(act, DecodeMap(a.Input))
}

// doJob does a job inside the transaction that deletes it.
func (t *txc) doJob(c claimed) error {
	j := c.job
	switch j.Kind {
	case jobAction:
		a, err := t.tx.GetWFAction(t.ctx, j.ActionID)
		if errors.Is(err, store.ErrNotFound) || err == nil && a.State != Running {
			return nil
		}
		if err != nil {
			return err
		}
		var es *execState
		var ts *taskState
		if a.TaskID != "" {
			if es, err = t.exec(a.ExecutionID); err != nil {
				return err
			}
			if ts, err = t.task(es, a.TaskID); err != nil {
				return err
			}
		}
		if c.mode == "interrupted" {
			return t.actionFinished(es, ts, &a, false, nil, errInterrupted)
		}
		if c.act == nil {
			return t.actionFinished(es, ts, &a, false, nil, fmt.Errorf("the action %s is not available in this controller", a.Name))
		}
		input, err := t.e.callInput(c.act, a)
		if err != nil {
			return t.actionFinished(es, ts, &a, false, nil, err)
		}
		var authDoc map[string]any
		wf := ""
		if es != nil {
			authDoc, wf = es.auth, es.row.WorkflowName
		}
		res, rerr := c.act.Run(t.ctx, t.e.call(&a, wf, authDoc, input))
		return t.actionFinished(es, ts, &a, false, res, rerr)
	case jobSleep:
		a, err := t.tx.GetWFAction(t.ctx, j.ActionID)
		if errors.Is(err, store.ErrNotFound) || err == nil && a.State != Running {
			return nil
		}
		if err != nil {
			return err
		}
		res := DecodeMap(j.Payload)["result"]
		if a.TaskID == "" {
			return t.actionFinished(nil, nil, &a, false, res, nil)
		}
		es, err := t.exec(a.ExecutionID)
		if err != nil {
			return err
		}
		ts, err := t.task(es, a.TaskID)
		if err != nil {
			return err
		}
		return t.actionFinished(es, ts, &a, false, res, nil)
	case jobContinue, jobTimeout:
		es, err := t.exec(j.ExecutionID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ts, err := t.task(es, j.TaskID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if Terminal(es.row.State) || Terminal(ts.row.State) {
			return nil
		}
		if j.Kind == jobTimeout {
			return t.timeout(es, ts, DecodeMap(j.Payload)["seconds"])
		}
		if es.row.State == Paused {
			t.setTaskState(es, ts, Idle) // the resume continues it
			return nil
		}
		return t.continueTask(es, ts)
	}
	return fmt.Errorf("unknown job kind %q", j.Kind)
}

// timeout fails a task that did not finish in time: its calls not yet
// made are dropped, the ones being made have their results ignored.
func (t *txc) timeout(es *execState, ts *taskState, seconds any) error {
	ts.rt.TimedOut = true
	t.dirtyTask(ts)
	if err := t.tx.DeleteWFJobs(t.ctx, ts.row.ID, ""); err != nil {
		return err
	}
	if err := t.tx.CancelTaskWFActions(t.ctx, ts.row.ID, t.now); err != nil {
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
			child.row.ParentTaskID = ""
			if err := t.finishExec(child, Cancelled, fmt.Sprintf("Task %s of the parent workflow timed out.", ts.row.Name)); err != nil {
				return err
			}
			child.row.ParentTaskID = ts.row.ID
		}
	}
	return t.completeTask(es, ts, Error, fmt.Sprintf("Task %s timed out: it did not finish within its timeout of %v seconds.", ts.row.Name, seconds))
}

// commitLoop records the results of called actions, in batches.
func (e *Engine) commitLoop(ctx context.Context, results <-chan outcome) {
	for first := range results {
		batch := []outcome{first}
	more:
		for len(batch) < 256 {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		// Results are recorded even while shutting down: the calls are
		// done and their effects happened.
		rctx := context.WithoutCancel(ctx)
		if err := e.applyResults(rctx, batch); err != nil {
			e.log.Warn("record workflow action results as a batch; recording one by one", "error", err, "count", len(batch))
			for _, r := range batch {
				if err := e.applyResults(rctx, []outcome{r}); err != nil {
					e.log.Error("record workflow action result", "action_id", r.c.row.ID, "error", err)
				}
			}
		}
		e.heldMu.Lock()
		for _, r := range batch {
			delete(e.held, r.c.job.ID)
		}
		e.heldMu.Unlock()
	}
}

func (e *Engine) applyResults(ctx context.Context, batch []outcome) error {
	err := e.run(ctx, func(t *txc) error {
		for _, r := range batch {
			ok, err := t.tx.FinishWFJob(t.ctx, r.c.job.ID, e.cfg.Owner)
			if err != nil {
				return err
			}
			if !ok {
				continue // the lease was lost: another controller took the job over
			}
			a, err := t.tx.GetWFAction(t.ctx, r.c.row.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if a.State != Running {
				continue
			}
			if a.TaskID == "" {
				if err := t.actionFinished(nil, nil, &a, false, r.res, r.err); err != nil {
					return err
				}
				continue
			}
			es, err := t.exec(a.ExecutionID)
			if err != nil {
				return err
			}
			ts, err := t.task(es, a.TaskID)
			if err != nil {
				return err
			}
			if err := t.actionFinished(es, ts, &a, false, r.res, r.err); err != nil {
				return err
			}
		}
		fault.Point(fault.WorkflowResultApplying)
		return nil
	})
	if err == nil {
		fault.Point(fault.WorkflowResultApplied)
	}
	return err
}

// heartbeat renews the leases of the actions being called.
func (e *Engine) heartbeat(ctx context.Context) {
	tick := time.NewTicker(e.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.heldMu.Lock()
		ids := make([]string, 0, len(e.held))
		for id := range e.held {
			ids = append(ids, id)
		}
		e.heldMu.Unlock()
		if len(ids) == 0 {
			continue
		}
		err := e.db.Write(ctx, func(tx *store.Tx) error {
			return tx.RenewWFJobs(ctx, e.cfg.Owner, ids, e.now().Add(e.cfg.Lease))
		})
		if err != nil && ctx.Err() == nil {
			e.log.Warn("renew workflow job leases", "error", err)
		}
	}
}
