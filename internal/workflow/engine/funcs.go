package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/store"
)

// host is what an expression evaluated by the engine may reach through
// Mistral's functions: the transaction, the execution and the task.
type host struct {
	t  *txc
	es *execState
	ts *taskState
}

// hostFuncs are Mistral's functions over engine state: task(), tasks(),
// execution(), executions() and global().
func hostFuncs() exprvalue.Funcs {
	return exprvalue.Funcs{
		"task": {Params: []string{"task_name"}, Call: func(c exprvalue.Call, args []any) (any, error) {
			h, ok := c.Host.(*host)
			if !ok {
				return nil, fmt.Errorf("task() is only available while a workflow runs")
			}
			if args[0] == nil {
				if h.ts == nil {
					return nil, fmt.Errorf("task() without a name needs a current task; name one: task(my_task)")
				}
				return h.t.taskDict(h.es, h.ts, true)
			}
			name, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("task() needs a task name, not a %s", exprvalue.Kind(args[0]))
			}
			if err := h.t.flushTasks(); err != nil {
				return nil, err
			}
			rows, err := h.t.tx.ExecutionWFTasks(h.t.ctx, h.es.row.ID, name)
			if err != nil {
				return nil, err
			}
			if len(rows) == 0 {
				return nil, nil
			}
			ts, err := h.t.adopt(h.es, rows[len(rows)-1])
			if err != nil {
				return nil, err
			}
			return h.t.taskDict(h.es, ts, true)
		}},
		"tasks": {Params: []string{"workflow_execution_id", "recursive", "state", "flat"}, Call: func(c exprvalue.Call, args []any) (any, error) {
			h, ok := c.Host.(*host)
			if !ok {
				return nil, fmt.Errorf("tasks() is only available while a workflow runs")
			}
			return h.t.tasksFunc(h.es, args)
		}},
		"execution": {Call: func(c exprvalue.Call, _ []any) (any, error) {
			h, ok := c.Host.(*host)
			if !ok {
				return nil, fmt.Errorf("execution() is only available while a workflow runs")
			}
			return h.t.execDict(h.es.row, h.es), nil
		}},
		"executions": {Params: []string{"id", "root_execution_id", "state", "from_time", "to_time"}, Call: func(c exprvalue.Call, args []any) (any, error) {
			h, ok := c.Host.(*host)
			if !ok {
				return nil, fmt.Errorf("executions() is only available while a workflow runs")
			}
			return h.t.executionsFunc(h.es, args)
		}},
		"global": {Params: []string{"var_name"}, Required: 1, Call: func(c exprvalue.Call, args []any) (any, error) {
			h, ok := c.Host.(*host)
			if !ok {
				return nil, fmt.Errorf("global() is only available while a workflow runs")
			}
			name, _ := args[0].(string)
			return h.es.context[name], nil
		}},
	}
}

// taskDict is a task as task() shows it.
func (t *txc) taskDict(es *execState, ts *taskState, withSpec bool) (map[string]any, error) {
	res, err := t.taskResult(ts)
	if err != nil {
		return nil, err
	}
	d := map[string]any{
		"id": ts.row.ID, "name": ts.row.Name, "type": ts.row.Type, "state": ts.row.State, "state_info": nullable(ts.row.StateInfo),
		"result": res, "published": ts.pub, "workflow_execution_id": ts.row.ExecutionID,
		"created_at": pyTime(ts.row.CreatedAt), "updated_at": pyTime(ts.row.UpdatedAt),
	}
	if withSpec && ts.spec != nil {
		d["spec"] = ts.spec.Raw
	}
	return d, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func pyTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// execDict is an execution as execution() shows it.
func (t *txc) execDict(row store.WFExecution, es *execState) map[string]any {
	d := map[string]any{
		"id": row.ID, "name": row.WorkflowName, "state": row.State, "state_info": nullable(row.StateInfo),
		"created_at": pyTime(row.CreatedAt), "updated_at": pyTime(row.UpdatedAt),
		"root_execution_id": nullable(row.RootID), "workflow_id": row.WorkflowID,
		"input": DecodeMap(row.Input), "params": DecodeMap(row.Params), "start_params": DecodeMap(row.Params),
	}
	if es != nil {
		d["spec"] = map[string]any{"name": es.wf.Name, "type": es.wf.Type, "version": "2.0"}
		d["input"] = es.input
	}
	return d
}

func (t *txc) tasksFunc(es *execState, args []any) (any, error) {
	if err := t.flushTasks(); err != nil {
		return nil, err
	}
	execID, _ := args[0].(string)
	recursive := exprvalue.Truthy(args[1])
	state, _ := args[2].(string)
	flat := exprvalue.Truthy(args[3])
	var ids []string
	if execID != "" {
		ids = []string{execID}
	}
	q := store.WFList{Visible: es.row.ProjectID, Limit: t.e.cfg.MaxItems}
	if execID != "" {
		if recursive {
			subs, err := t.tx.ListWFExecutions(t.ctx, store.WFList{Visible: es.row.ProjectID, Conds: []store.WFCond{{Col: "root_execution_id", Op: "eq", Vals: []any{execID}}}})
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				ids = append(ids, s.ID)
			}
		}
		vals := make([]any, len(ids))
		for i, id := range ids {
			vals[i] = id
		}
		q.Conds = append(q.Conds, store.WFCond{Col: "execution_id", Op: "in", Vals: vals})
	}
	if state != "" {
		q.Conds = append(q.Conds, store.WFCond{Col: "state", Op: "eq", Vals: []any{state}})
	}
	rows, err := t.tx.ListWFTasks(t.ctx, q)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, r := range rows {
		if flat && r.Type == TypeWorkflow {
			subs, err := t.tx.ChildWFExecutions(t.ctx, r.ID)
			if err != nil {
				return nil, err
			}
			same := len(subs) > 0
			for _, s := range subs {
				if s.State != r.State {
					same = false
				}
			}
			if same {
				continue
			}
		}
		owner := es
		if r.ExecutionID != es.row.ID {
			o, err := t.exec(r.ExecutionID)
			if err != nil {
				return nil, err
			}
			owner = o
		}
		ts, err := t.adopt(owner, r)
		if err != nil {
			return nil, err
		}
		d, err := t.taskDict(owner, ts, true)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (t *txc) executionsFunc(es *execState, args []any) (any, error) {
	q := store.WFList{Visible: es.row.ProjectID, Limit: t.e.cfg.MaxItems}
	if id, ok := args[0].(string); ok && id != "" {
		q.Conds = append(q.Conds, store.WFCond{Col: "id", Op: "eq", Vals: []any{id}})
	}
	if id, ok := args[1].(string); ok && id != "" {
		q.Conds = append(q.Conds, store.WFCond{Col: "root_execution_id", Op: "eq", Vals: []any{id}})
	}
	if s, ok := args[2].(string); ok && s != "" {
		q.Conds = append(q.Conds, store.WFCond{Col: "state", Op: "eq", Vals: []any{s}})
	}
	for i, op := range []string{"gte", "lt"} {
		s, ok := args[3+i].(string)
		if !ok || s == "" {
			continue
		}
		tm, err := parseTime(s)
		if err != nil {
			return nil, fmt.Errorf("executions(): %v", err)
		}
		q.Conds = append(q.Conds, store.WFCond{Col: "created_at", Op: op, Vals: []any{tm.UnixMicro()}})
	}
	rows, err := t.tx.ListWFExecutions(t.ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(rows))
	for _, r := range rows {
		out = append(out, t.execDict(r, nil))
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if tm, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read the time %q; write YYYY-MM-DD hh:mm:ss", s)
}
