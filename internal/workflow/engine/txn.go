package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// txc is one engine transaction: the executions it locked and the tasks it
// read or changed, written back when it ends.
type txc struct {
	e     *Engine
	ctx   context.Context
	tx    *store.Tx
	now   time.Time
	execs map[string]*execState
	tasks map[string]*taskState
	// order keeps the dirty objects' first-change order for flushing.
	order  []any
	budget int
	// woke: a job due now was created; wake the engine after commit.
	woke bool
}

// execState is a locked execution with its decoded columns.
type execState struct {
	row     store.WFExecution
	wf      *spec.Workflow
	input   map[string]any
	params  map[string]any
	context map[string]any
	auth    map[string]any
	dirty   bool
	queued  bool
}

// taskState is a task execution with its decoded columns.
type taskState struct {
	row    store.WFTask
	spec   *spec.Task
	in     map[string]any
	pub    map[string]any
	rt     *taskRuntime
	dirty  bool
	queued bool
	// result is the task's result when this transaction computed it;
	// lists are its with-items lists, evaluated once per transaction.
	result    any
	hasResult bool
	lists     [][]any
	// scheduling is set while scheduleItems runs for the task: a call
	// that completes inline leaves the scheduling to that loop.
	scheduling bool
}

// taskRuntime is the engine's bookkeeping of a task (wf_tasks.runtime).
type taskRuntime struct {
	// Params are what the transition that started the task passed.
	Params      map[string]any `json:"params,omitempty"`
	TriggeredBy []trigger      `json:"triggered_by,omitempty"`
	// Retry is how many times the task was retried.
	Retry int    `json:"retry_no,omitempty"`
	Items *items `json:"with_items,omitempty"`
	// Resume is the step a task held by a pause continues with: start,
	// run, complete or next.
	Resume string `json:"resume,omitempty"`
	// Pending is the state a task in wait-after ends in.
	Pending     string `json:"pending_state,omitempty"`
	PendingInfo string `json:"pending_info,omitempty"`
	PauseDone   bool   `json:"pause_done,omitempty"`
	WaitedAfter bool   `json:"waited_after,omitempty"`
	Waited      bool   `json:"waited_before,omitempty"`
	// Deferred are transitions left after a pause command.
	Deferred []deferred `json:"deferred,omitempty"`
	// Env is an environment update from a rerun.
	TimedOut bool `json:"timed_out,omitempty"`
}

type trigger struct {
	TaskID string `json:"task_id"`
	Event  string `json:"event"`
}

// items tracks a with-items task: how many items, the next to schedule,
// how many finished and failed, how many may run at once, and the
// indexes a rerun without reset runs again.
type items struct {
	Count       int   `json:"count"`
	Next        int   `json:"next"`
	Done        int   `json:"done"`
	Failed      int   `json:"failed"`
	Concurrency int   `json:"concurrency,omitempty"`
	Rerun       []int `json:"rerun,omitempty"`
}

type deferred struct {
	Task   string         `json:"task"`
	Event  string         `json:"event"`
	Params map[string]any `json:"params,omitempty"`
}

// next is one transition taken.
type next struct {
	Task   string
	Event  string
	Params map[string]any
}

// run runs fn in one write transaction and flushes what it changed.
func (e *Engine) run(ctx context.Context, fn func(t *txc) error) error {
	woke := false
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		t := &txc{e: e, ctx: ctx, tx: tx, now: e.now(), execs: map[string]*execState{}, tasks: map[string]*taskState{},
			budget: e.cfg.InlineBudget}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.flush(); err != nil {
			return err
		}
		woke = t.woke
		return nil
	})
	if err == nil && woke {
		e.Wake()
	}
	return err
}

// exec loads and locks an execution (once per transaction).
func (t *txc) exec(id string) (*execState, error) {
	if es, ok := t.execs[id]; ok {
		return es, nil
	}
	if err := t.tx.LockWFExecution(t.ctx, id); err != nil {
		return nil, err
	}
	row, err := t.tx.GetWFExecution(t.ctx, id)
	if err != nil {
		return nil, err
	}
	wf, err := t.e.workflowSpec(row.Definition, row.WorkflowName, row.Workbook)
	if err != nil {
		return nil, fmt.Errorf("execution %s: its workflow definition does not parse any more: %w", id, err)
	}
	es := &execState{row: row, wf: wf, input: DecodeMap(row.Input), params: DecodeMap(row.Params), context: DecodeMap(row.Context),
		auth: DecodeMap(row.Auth)}
	t.execs[id] = es
	return es, nil
}

// task loads a task execution (once per transaction).
func (t *txc) task(es *execState, id string) (*taskState, error) {
	if ts, ok := t.tasks[id]; ok {
		return ts, nil
	}
	row, err := t.tx.GetWFTask(t.ctx, id)
	if err != nil {
		return nil, err
	}
	return t.adopt(es, row)
}

// adopt wraps a task row read from the store.
func (t *txc) adopt(es *execState, row store.WFTask) (*taskState, error) {
	if ts, ok := t.tasks[row.ID]; ok {
		return ts, nil
	}
	ts := &taskState{row: row, spec: es.wf.Task(row.Name), in: DecodeMap(row.InContext), pub: DecodeMap(row.Published), rt: &taskRuntime{}}
	if ts.spec == nil {
		return nil, fmt.Errorf("task %s: the workflow has no task %q", row.ID, row.Name)
	}
	_ = json.Unmarshal([]byte(row.Runtime), ts.rt)
	if ts.rt.Params != nil {
		ts.rt.Params = Normalize(ts.rt.Params).(map[string]any)
	}
	t.tasks[row.ID] = ts
	return ts, nil
}

func (t *txc) dirtyExec(es *execState) {
	es.dirty = true
	if !es.queued {
		es.queued = true
		t.order = append(t.order, es)
	}
}

func (t *txc) dirtyTask(ts *taskState) {
	ts.dirty = true
	if !ts.queued {
		ts.queued = true
		t.order = append(t.order, ts)
	}
}

// flush writes every changed execution and task.
func (t *txc) flush() error {
	for _, o := range t.order {
		switch x := o.(type) {
		case *execState:
			if !x.dirty {
				continue
			}
			x.row.Context = encode(x.context)
			x.row.UpdatedAt = t.now
			if err := t.tx.UpdateWFExecution(t.ctx, x.row); err != nil {
				return fmt.Errorf("update execution %s: %w", x.row.ID, err)
			}
			x.dirty = false
		case *taskState:
			if !x.dirty {
				continue
			}
			t.encodeTask(x)
			if err := t.tx.UpdateWFTask(t.ctx, x.row); err != nil {
				return fmt.Errorf("update task %s: %w", x.row.ID, err)
			}
			x.dirty = false
		}
	}
	return nil
}

func (t *txc) encodeTask(ts *taskState) {
	ts.row.InContext = encode(ts.in)
	ts.row.Published = encode(ts.pub)
	b, _ := json.Marshal(ts.rt)
	ts.row.Runtime = string(b)
	ts.row.UpdatedAt = t.now
}

// flushTasks writes changed tasks and executions before a query reads
// them.
func (t *txc) flushTasks() error { return t.flush() }

// job schedules work at due (now or later).
func (t *txc) job(kind string, es *execState, taskID, actionID string, due time.Time, payload any) error {
	p := "{}"
	if payload != nil {
		p = encode(payload)
	}
	if !due.After(t.now) {
		t.woke = true
	}
	execID := ""
	if es != nil {
		execID = es.row.ID
	}
	return t.tx.CreateWFJob(t.ctx, store.WFJob{ID: newID(), Kind: kind, ExecutionID: execID, TaskID: taskID, ActionID: actionID,
		DueAt: due, Payload: p, CreatedAt: t.now})
}

// Job kinds.
const (
	// jobAction calls an action (action_id).
	jobAction = "action"
	// jobContinue continues a task at the step its runtime names (after a
	// wait-before, a retry delay or a wait-after, or when a transaction's
	// budget ran out).
	jobContinue = "continue"
	// jobTimeout fails a task that is not done.
	jobTimeout = "timeout"
	// jobSleep completes an action that sleeps (payload: its result).
	jobSleep = "sleep"
)
