package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// FindDefinition finds the workflow or ad-hoc action named name as an
// execution of project in namespace sees it: a workbook's own entries by
// their short names first, then the namespace, then the default
// namespace; the project's own definitions before public and shared ones.
func FindDefinition(ctx context.Context, tx *store.Tx, kind, name, namespace, project, workbook string) (store.WFDefinition, error) {
	var names []string
	if workbook != "" && !strings.HasPrefix(name, workbook+".") {
		names = append(names, workbook+"."+name)
	}
	names = append(names, name)
	spaces := []string{namespace}
	if namespace != "" {
		spaces = append(spaces, "")
	}
	for _, ns := range spaces {
		for _, n := range names {
			defs, err := tx.FindWFDefinitions(ctx, kind, n, ns, project)
			if err != nil {
				return store.WFDefinition{}, err
			}
			if len(defs) == 0 {
				continue
			}
			for _, d := range defs {
				if d.ProjectID == project {
					return d, nil
				}
			}
			return defs[0], nil
		}
	}
	return store.WFDefinition{}, store.ErrNotFound
}

// ResolveAction finds the built-in action name runs: itself, or the base
// of the ad-hoc action(s) it names (outermost first in the layers).
func (e *Engine) ResolveAction(ctx context.Context, tx *store.Tx, name, namespace, project, workbook string) (*Action, []*spec.Action, error) {
	var layers []*spec.Action
	for depth := 0; depth < 10; depth++ {
		if a := e.actions.Get(name); a != nil {
			return a, layers, nil
		}
		def, err := FindDefinition(ctx, tx, store.WFKindAction, name, namespace, project, workbook)
		if errors.Is(err, store.ErrNotFound) {
			if e.cfg.Unavailable != nil {
				if why := e.cfg.Unavailable(name); why != "" {
					return nil, nil, errors.New(why)
				}
			}
			return nil, nil, fmt.Errorf("unknown action %q: no built-in or ad-hoc action has that name; list them with 'openstack action definition list'", name)
		}
		if err != nil {
			return nil, nil, err
		}
		sa, err := spec.ParseAction(def.Definition, def.Name, def.Workbook)
		if err != nil {
			return nil, nil, fmt.Errorf("ad-hoc action %s does not parse: %v", def.Name, err)
		}
		layers = append(layers, sa)
		name, workbook = sa.Base, sa.Workbook
	}
	return nil, nil, fmt.Errorf("ad-hoc action %q wraps more than 10 levels of ad-hoc actions", name)
}

// expandAdhoc turns the input of an ad-hoc action into its base action's
// input and lists the outputs to apply to the base's result.
func (e *Engine) expandAdhoc(ctx context.Context, layers []*spec.Action, input map[string]any) (map[string]any, []any, error) {
	outputs := make([]any, 0, len(layers))
	for _, l := range layers {
		data := map[string]any{}
		for _, p := range l.Input {
			if p.HasDefault {
				data[p.Name] = p.Default
			}
		}
		for k, v := range input {
			data[k] = v
		}
		v, err := e.ev.EvalRecursive(ctx, l.BaseInput, data, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot evaluate the base-input of ad-hoc action %s: %v", l.Name, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("the base-input of ad-hoc action %s is a %s, not a mapping", l.Name, exprvalue.Kind(v))
		}
		input = m
		if l.HasOutput {
			outputs = append(outputs, l.Output)
		} else {
			outputs = append(outputs, nil)
		}
	}
	return input, outputs, nil
}

// prepareAction resolves the action a task calls and its input; it
// records in the action's runtime what the call needs later (the base
// action and its input, the ad-hoc outputs).
func (t *txc) prepareAction(es *execState, name string, input map[string]any, a *store.WFAction) (*Action, Call, error) {
	act, layers, err := t.e.ResolveAction(t.ctx, t.tx, name, lookupNamespace(es), es.row.ProjectID, es.row.Workbook)
	if err != nil {
		return nil, Call{}, err
	}
	base, outputs, err := t.e.expandAdhoc(t.ctx, layers, input)
	if err != nil {
		return nil, Call{}, err
	}
	checked, err := checkInput(act, base)
	if err != nil {
		return nil, Call{}, err
	}
	rt := map[string]any{"base": act.Name}
	if es.row.Namespace != "" {
		rt["namespace"] = es.row.Namespace
	}
	if len(layers) > 0 {
		rt["base_input"] = checked
		rt["outputs"] = outputs
	}
	a.Runtime = encode(rt)
	return act, t.e.call(a, es.row.WorkflowName, es.auth, checked), nil
}

// call is the Call of action row a.
func (e *Engine) call(a *store.WFAction, workflow string, authDoc map[string]any, input map[string]any) Call {
	return Call{Input: input, ActionID: a.ID, ExecutionID: a.ExecutionID, TaskID: a.TaskID, WorkflowName: workflow, TaskName: a.TaskName,
		ProjectID: a.ProjectID, Credentials: func(ctx context.Context) (*auth.Credentials, error) {
			if e.cfg.Credentials == nil {
				return nil, fmt.Errorf("this engine has no credentials to act with")
			}
			return e.cfg.Credentials(ctx, authDoc)
		}}
}

// runSubworkflow starts the sub-workflow of a workflow task (item idx).
func (t *txc) runSubworkflow(es *execState, ts *taskState, data, input map[string]any, idx int) error {
	name := ts.spec.Workflow
	if spec.IsExpression(name) {
		v, err := t.e.ev.Eval(t.ctx, name, data, &host{t: t, es: es, ts: ts})
		if err != nil {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Cannot evaluate the workflow name of task %s: %v", ts.row.Name, err), nil, false)
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("The workflow name of task %s evaluates to %s, not a workflow name", ts.row.Name, exprvalue.Repr(v)), nil, false)
		}
		name = s
	}
	depth, _ := exprvalue.Int(es.params["depth"])
	if depth+1 > MaxDepth {
		return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Sub-workflows nest more than %d levels deep (task %s starts %s); does a workflow call itself without end?", MaxDepth, ts.row.Name, name), nil, false)
	}
	// As Mistral, sub-workflows are looked up in the namespace the root
	// execution was started in (then the default one), whatever namespace
	// their parents were found in.
	ns := lookupNamespace(es)
	def, err := FindDefinition(t.ctx, t.tx, store.WFKindWorkflow, name, ns, es.row.ProjectID, es.row.Workbook)
	if errors.Is(err, store.ErrNotFound) {
		return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Task %s: unknown workflow %q; create it first or fix the name", ts.row.Name, name), nil, false)
	}
	if err != nil {
		return err
	}
	params := map[string]any{"env": env(es), "index": int64(idx), "task_execution_id": ts.row.ID, "namespace": ns}
	var osctx map[string]any
	if m, ok := es.context["openstack"].(map[string]any); ok {
		osctx = m
	}
	req := StartRequest{WorkflowID: def.ID, WorkflowName: def.Name, Namespace: def.Namespace, Workbook: def.Workbook, Definition: def.Definition,
		Input: input, Params: params, ProjectID: es.row.ProjectID, UserID: es.row.UserID, Auth: es.auth, OpenStack: osctx,
		ParentTaskID: ts.row.ID, RootID: rootOf(es)}
	if _, err := t.startExecution(req, int(depth)+1); err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return t.unitDone(es, ts, idx, Error, fmt.Sprintf("Task %s cannot start workflow %s: %s", ts.row.Name, def.Name, ie.Msg), nil, false)
		}
		return err
	}
	return nil
}

// lookupNamespace is the namespace an execution finds workflows and
// actions in: the one its root was started in.
func lookupNamespace(es *execState) string {
	if ns, ok := es.params["namespace"].(string); ok {
		return ns
	}
	return es.row.Namespace
}

// TaskResults computes the results of several task executions (a page
// of a list) with one query for their actions.
func TaskResults(ctx context.Context, tx *store.Tx, rows []store.WFTask) ([]any, error) {
	var ids []string
	for _, r := range rows {
		if r.Type == TypeAction {
			ids = append(ids, r.ID)
		}
	}
	acts, err := tx.TasksWFActions(ctx, ids)
	if err != nil {
		return nil, err
	}
	byTask := map[string][]store.WFAction{}
	for _, a := range acts {
		byTask[a.TaskID] = append(byTask[a.TaskID], a)
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		withItems, count := itemsOf(r)
		if r.Type == TypeWorkflow {
			if out[i], err = TaskResult(ctx, tx, r, withItems, count); err != nil {
				return nil, err
			}
			continue
		}
		out[i] = actionResults(byTask[r.ID], withItems, count)
	}
	return out, nil
}

// itemsOf reads a task row's with-items count.
func itemsOf(r store.WFTask) (bool, int) {
	items, ok := DecodeMap(r.Runtime)["with_items"].(map[string]any)
	if !ok {
		return false, 0
	}
	n, _ := exprvalue.Int(items["count"])
	return true, int(n)
}

func actionResults(acts []store.WFAction, withItems bool, count int) any {
	byIdx := map[int]any{}
	maxIdx := -1
	for _, a := range acts {
		if !Terminal(a.State) {
			continue
		}
		byIdx[int(a.ItemIndex)] = DecodeMap(a.Output)["result"]
		maxIdx = max(maxIdx, int(a.ItemIndex))
	}
	if !withItems {
		return byIdx[0]
	}
	out := make([]any, max(count, maxIdx+1))
	for i := range out {
		out[i] = byIdx[i]
	}
	return out
}

// TaskResult is the result of a task execution: its action's (or
// sub-workflow's) result, or, for a with-items task, the list of them by
// item.
func TaskResult(ctx context.Context, tx *store.Tx, row store.WFTask, withItems bool, count int) (any, error) {
	byIdx := map[int]any{}
	maxIdx := -1
	if row.Type == TypeWorkflow {
		subs, err := tx.ChildWFExecutions(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		for _, s := range subs {
			if !Terminal(s.State) {
				continue
			}
			idx, _ := exprvalue.Int(DecodeMap(s.Params)["index"])
			var out any = DecodeMap(s.Output)
			if s.State != Success {
				out = s.StateInfo
			}
			byIdx[int(idx)] = out
			maxIdx = max(maxIdx, int(idx))
		}
	} else {
		acts, err := tx.TaskWFActions(ctx, row.ID, true)
		if err != nil {
			return nil, err
		}
		for _, a := range acts {
			if !Terminal(a.State) {
				continue
			}
			byIdx[int(a.ItemIndex)] = DecodeMap(a.Output)["result"]
			maxIdx = max(maxIdx, int(a.ItemIndex))
		}
	}
	if !withItems {
		return byIdx[0], nil
	}
	n := max(count, maxIdx+1)
	out := make([]any, n)
	for i := range out {
		out[i] = byIdx[i]
	}
	return out, nil
}
