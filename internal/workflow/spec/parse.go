package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// MaxTaskName is the longest task name (Mistral's limit; 208 for joins).
const (
	MaxTaskName     = 255
	MaxJoinTaskName = 208
)

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

type parser struct {
	o     Options
	lines []string
	// local actions of the workbook being parsed (short and full names).
	local map[string]bool
	wb    string
	// budget bounds the values the whole document expands to (aliases
	// make a short document huge).
	budget int
}

func newParser(text string, o Options) *parser {
	return &parser{o: o, lines: strings.Split(text, "\n"), local: map[string]bool{}, budget: maxNodes}
}

// ParseWorkflows parses a workflow file: version, then one or more
// workflows by name.
func ParseWorkflows(text string, o Options) (*File, error) {
	p := newParser(text, o)
	root, err := parseDoc(text)
	if err != nil {
		return nil, err
	}
	ps, err := pairs(root)
	if err != nil {
		return nil, err
	}
	if err := p.version(root, ps, true); err != nil {
		return nil, err
	}
	f := &File{}
	var wfPairs []pair
	for _, kv := range ps {
		if kv.key != "version" {
			wfPairs = append(wfPairs, kv)
		}
	}
	if len(wfPairs) == 0 {
		return nil, &Error{Line: root.Line, Msg: "the definition has no workflow; add one as a key beside version (my_workflow: {tasks: ...})"}
	}
	for _, kv := range wfPairs {
		wf, err := p.workflow(kv)
		if err != nil {
			return nil, err
		}
		if len(wfPairs) == 1 {
			wf.Definition = text
		} else {
			wf.Definition = "---\nversion: '2.0'\n\n" + p.cut(kv.k)
		}
		f.Workflows = append(f.Workflows, wf)
	}
	return f, nil
}

// ParseWorkflow parses the stored definition of one workflow (as
// Workflow.Definition holds it) and names it name; workbook is the
// workbook it came from, or "". Expressions and actions are not checked
// again.
func ParseWorkflow(text, name, workbook string) (*Workflow, error) {
	p := newParser(text, Options{})
	p.wb = workbook
	root, err := parseDoc(text)
	if err != nil {
		return nil, err
	}
	ps, err := pairs(root)
	if err != nil {
		return nil, err
	}
	if err := p.version(root, ps, false); err != nil {
		return nil, err
	}
	short := name
	if workbook != "" {
		short = strings.TrimPrefix(name, workbook+".")
	}
	var first *pair
	for i, kv := range ps {
		if kv.key == "version" {
			continue
		}
		if first == nil {
			first = &ps[i]
		}
		if kv.key == name || kv.key == short {
			first = &ps[i]
			break
		}
	}
	if first == nil {
		return nil, &Error{Msg: fmt.Sprintf("the definition has no workflow %q", name)}
	}
	wf, err := p.workflow(*first)
	if err != nil {
		return nil, err
	}
	wf.Name = name
	wf.Workbook = workbook
	wf.Definition = text
	return wf, nil
}

// ParseWorkbook parses a workbook: version, name, description, tags,
// workflows and actions. Workflow and action names are prefixed with the
// workbook's name ("wb.wf"), as Mistral stores them.
func ParseWorkbook(text string, o Options) (*Workbook, error) {
	p := newParser(text, o)
	root, err := parseDoc(text)
	if err != nil {
		return nil, err
	}
	ps, err := pairs(root)
	if err != nil {
		return nil, err
	}
	if err := p.version(root, ps, true); err != nil {
		return nil, err
	}
	wb := &Workbook{}
	var wfs, acts *pair
	for i, kv := range ps {
		switch kv.key {
		case "version":
		case "name":
			s, ok := str(kv.v)
			if !ok || s == "" {
				return nil, &Error{Line: kv.v.Line, Msg: "the workbook's name must be a non-empty string"}
			}
			wb.Name = s
		case "description":
			wb.Description, _ = str(kv.v)
		case "tags":
			t, err := p.tags(kv.v)
			if err != nil {
				return nil, err
			}
			wb.Tags = t
		case "workflows":
			wfs = &ps[i]
		case "actions":
			acts = &ps[i]
		default:
			return nil, &Error{Line: kv.k.Line, Msg: fmt.Sprintf("unknown workbook key %q; a workbook has version, name, description, tags, workflows and actions", kv.key)}
		}
	}
	if wb.Name == "" {
		return nil, &Error{Line: root.Line, Msg: "the workbook has no name; add name: my_workbook"}
	}
	p.wb = wb.Name
	if acts != nil {
		aps, err := p.section(acts, "actions")
		if err != nil {
			return nil, err
		}
		for _, kv := range aps {
			p.local[kv.key] = true
			p.local[wb.Name+"."+kv.key] = true
		}
		for _, kv := range aps {
			a, err := p.action(kv)
			if err != nil {
				return nil, err
			}
			a.Name = wb.Name + "." + a.Name
			a.Workbook = wb.Name
			a.Definition = p.cut(kv.k)
			wb.Actions = append(wb.Actions, a)
		}
	}
	if wfs != nil {
		wps, err := p.section(wfs, "workflows")
		if err != nil {
			return nil, err
		}
		for _, kv := range wps {
			wf, err := p.workflow(kv)
			if err != nil {
				return nil, err
			}
			wf.Name = wb.Name + "." + wf.Name
			wf.Workbook = wb.Name
			wf.Definition = p.cut(kv.k)
			wb.Workflows = append(wb.Workflows, wf)
		}
	}
	return wb, nil
}

// ParseActions parses a file of ad-hoc actions: version, then actions by
// name.
func ParseActions(text string, o Options) ([]*Action, error) {
	p := newParser(text, o)
	root, err := parseDoc(text)
	if err != nil {
		return nil, err
	}
	ps, err := pairs(root)
	if err != nil {
		return nil, err
	}
	if err := p.version(root, ps, true); err != nil {
		return nil, err
	}
	var out []*Action
	var aps []pair
	for _, kv := range ps {
		if kv.key != "version" {
			aps = append(aps, kv)
		}
	}
	if len(aps) == 0 {
		return nil, &Error{Line: root.Line, Msg: "the definition has no action; add one as a key beside version (my_action: {base: std.echo, ...})"}
	}
	for _, kv := range aps {
		p.local[kv.key] = true
	}
	for _, kv := range aps {
		a, err := p.action(kv)
		if err != nil {
			return nil, err
		}
		if len(aps) == 1 {
			a.Definition = strings.Join(p.lines, "\n")
		} else {
			a.Definition = "---\nversion: '2.0'\n\n" + p.cut(kv.k)
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseAction parses the stored definition of one ad-hoc action and
// names it name.
func ParseAction(text, name, workbook string) (*Action, error) {
	p := newParser(text, Options{})
	p.wb = workbook
	root, err := parseDoc(text)
	if err != nil {
		return nil, err
	}
	ps, err := pairs(root)
	if err != nil {
		return nil, err
	}
	for _, kv := range ps {
		if kv.key == "version" {
			continue
		}
		a, err := p.action(kv)
		if err != nil {
			return nil, err
		}
		a.Name, a.Workbook, a.Definition = name, workbook, text
		return a, nil
	}
	return nil, &Error{Msg: fmt.Sprintf("the definition has no action %q", name)}
}

func (p *parser) version(root *yaml.Node, ps []pair, required bool) error {
	for _, kv := range ps {
		if kv.key != "version" {
			continue
		}
		s, _ := str(kv.v)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != 2.0 {
			return &Error{Line: kv.v.Line, Msg: fmt.Sprintf("unsupported version %q; this is the workflow language v2: write version: '2.0'", s)}
		}
		return nil
	}
	if required {
		return &Error{Line: root.Line, Msg: "the definition has no version; start it with version: '2.0'"}
	}
	return nil
}

// section reads workflows: or actions: of a workbook.
func (p *parser) section(kv *pair, what string) ([]pair, error) {
	n := deref(kv.v)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return nil, &Error{Line: kv.v.Line, Msg: fmt.Sprintf("%s must be a non-empty mapping of %s by name", what, what)}
	}
	ps, err := pairs(n)
	if err != nil {
		return nil, err
	}
	var out []pair
	for _, x := range ps {
		if x.key == "version" {
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// cut returns the text of the entry whose key is k: its key line and the
// lines indented deeper, dedented to the key's column.
func (p *parser) cut(k *yaml.Node) string {
	start := k.Line - 1
	if start < 0 || start >= len(p.lines) {
		return ""
	}
	col := k.Column - 1
	out := []string{dedent(p.lines[start], col)}
	for _, l := range p.lines[start+1:] {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			out = append(out, dedent(l, col))
			continue
		}
		ind := len(l) - len(strings.TrimLeft(l, " \t"))
		if ind <= col {
			break
		}
		out = append(out, dedent(l, col))
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}

func dedent(l string, n int) string {
	i := 0
	for i < n && i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	return l[i:]
}

func (p *parser) tags(n *yaml.Node) ([]string, error) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		// Mistral's documentation allows a comma-separated string.
		var out []string
		for _, t := range strings.Split(n.Value, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
		return out, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &Error{Line: n.Line, Msg: "tags must be a list of strings"}
	}
	var out []string
	for _, c := range n.Content {
		s, ok := str(c)
		if !ok || s == "" {
			return nil, &Error{Line: c.Line, Msg: "tags must be non-empty strings"}
		}
		if slices.Contains(out, s) {
			return nil, &Error{Line: c.Line, Msg: fmt.Sprintf("tag %q is listed twice", s)}
		}
		out = append(out, s)
	}
	return out, nil
}

// params reads an input list: names, or one-key mappings of a name to its
// default.
func (p *parser) params(n *yaml.Node) ([]Param, error) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return nil, &Error{Line: n.Line, Msg: "input must be a list of names, or of name: default (- vm_name, - count: 1)"}
	}
	var out []Param
	seen := map[string]bool{}
	for _, c := range n.Content {
		c = deref(c)
		var prm Param
		switch c.Kind {
		case yaml.ScalarNode:
			s, ok := str(c)
			if !ok || s == "" {
				return nil, &Error{Line: c.Line, Msg: "an input name must be a non-empty string"}
			}
			prm = Param{Name: s}
		case yaml.MappingNode:
			ps, err := pairs(c)
			if err != nil {
				return nil, err
			}
			if len(ps) != 1 {
				return nil, &Error{Line: c.Line, Msg: "an input with a default is a mapping of one name to its default (- count: 1)"}
			}
			v, err := value(ps[0].v, &p.budget)
			if err != nil {
				return nil, err
			}
			if err := p.exprs(ps[0].v); err != nil {
				return nil, err
			}
			prm = Param{Name: ps[0].key, Default: v, HasDefault: true}
		default:
			return nil, &Error{Line: c.Line, Msg: "input must be a list of names, or of name: default"}
		}
		if seen[prm.Name] {
			return nil, &Error{Line: c.Line, Msg: fmt.Sprintf("input %q is declared twice", prm.Name)}
		}
		seen[prm.Name] = true
		out = append(out, prm)
	}
	return out, nil
}

// dict reads a non-empty mapping as a value and checks its expressions.
func (p *parser) dict(n *yaml.Node, what string) (map[string]any, error) {
	d := deref(n)
	if d.Kind != yaml.MappingNode {
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s must be a mapping, not %s", what, kindName(d))}
	}
	if err := p.exprs(d); err != nil {
		return nil, err
	}
	v, err := value(d, &p.budget)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// exprs validates every expression string below n.
func (p *parser) exprs(n *yaml.Node) error {
	if p.o.Validate == nil {
		return nil
	}
	return p.exprsB(n, &p.budget)
}

func (p *parser) exprsB(n *yaml.Node, budget *int) error {
	n = deref(n)
	*budget--
	if *budget < 0 {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("the document expands to more than %d values (through aliases?); make it smaller", maxNodes)}
	}
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" && IsExpression(n.Value) {
			return p.expr(n.Value, n.Line)
		}
	case yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			if err := p.exprsB(c, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) expr(s string, line int) error {
	if p.o.Validate == nil || !IsExpression(s) {
		return nil
	}
	if err := p.o.Validate(s); err != nil {
		return &Error{Line: line, Msg: err.Error()}
	}
	return nil
}

// valueExprs validates the expressions inside an already converted value.
func (p *parser) valueExprs(v any, line int) error {
	switch x := v.(type) {
	case string:
		return p.expr(x, line)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if err := p.valueExprs(x[k], line); err != nil {
				return err
			}
		}
	case []any:
		for _, it := range x {
			if err := p.valueExprs(it, line); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// action reads one ad-hoc action.
func (p *parser) action(kv pair) (*Action, error) {
	a := &Action{Name: kv.key, Line: kv.k.Line, Workbook: p.wb}
	wrap := func(err error) error {
		if e, ok := err.(*Error); ok && e.Action == "" {
			e.Action = a.Name
		}
		return err
	}
	n := deref(kv.v)
	if n.Kind != yaml.MappingNode {
		return nil, wrap(&Error{Line: kv.v.Line, Msg: "an action must be a mapping with at least base: (the action it wraps)"})
	}
	ps, err := pairs(n)
	if err != nil {
		return nil, wrap(err)
	}
	var base *pair
	for i, x := range ps {
		switch x.key {
		case "base":
			base = &ps[i]
		case "base-input":
			d, err := p.dict(x.v, "base-input")
			if err != nil {
				return nil, wrap(err)
			}
			a.BaseInput = d
		case "input":
			prms, err := p.params(x.v)
			if err != nil {
				return nil, wrap(err)
			}
			a.Input = prms
		case "output":
			if err := p.exprs(x.v); err != nil {
				return nil, wrap(err)
			}
			v, err := value(x.v, &p.budget)
			if err != nil {
				return nil, wrap(err)
			}
			a.Output, a.HasOutput = v, true
		case "description":
			a.Description, _ = str(x.v)
		case "tags":
			t, err := p.tags(x.v)
			if err != nil {
				return nil, wrap(err)
			}
			a.Tags = t
		case "name", "version":
		default:
			return nil, wrap(&Error{Line: x.k.Line, Msg: fmt.Sprintf("unknown key %q; an ad-hoc action has base, base-input, input, output, description and tags", x.key)})
		}
	}
	if base == nil {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: "the action has no base; add base: the action it wraps (base: std.echo)"})
	}
	s, ok := str(base.v)
	if !ok || s == "" {
		return nil, wrap(&Error{Line: base.v.Line, Msg: "base must be an action name (base: std.http url=...)"})
	}
	name, inline, ok := parseCmd(s)
	if !ok {
		return nil, wrap(&Error{Line: base.v.Line, Msg: fmt.Sprintf("cannot read %q; write base: name k=v ... with quoted strings (k=\"text\"), numbers, true, false, null, [lists] or expressions", s)})
	}
	if err := p.valueExprs(inline, base.v.Line); err != nil {
		return nil, wrap(err)
	}
	if a.BaseInput == nil {
		a.BaseInput = map[string]any{}
	}
	for k, v := range inline {
		if _, set := a.BaseInput[k]; !set {
			a.BaseInput[k] = v
		}
	}
	a.Base = name
	if name == a.Name || (p.wb != "" && name == p.wb+"."+a.Name) {
		return nil, wrap(&Error{Line: base.v.Line, Msg: "an action cannot be its own base"})
	}
	if !IsExpression(name) && !p.actionKnown(name) {
		return nil, wrap(&Error{Line: base.v.Line, Msg: fmt.Sprintf("unknown base action %q; list the actions with 'openstack action definition list'", name)})
	}
	return a, nil
}

func (p *parser) actionKnown(name string) bool {
	if p.local[name] {
		return true
	}
	if p.o.ActionKnown == nil {
		return true
	}
	if p.wb != "" && p.o.ActionKnown(p.wb+"."+name) {
		return true
	}
	return p.o.ActionKnown(name)
}

var (
	workflowKeys = []string{"type", "description", "input", "output", "output-on-error", "vars", "task-defaults", "tasks", "tags", "name", "version"}
	taskKeys     = []string{"name", "description", "action", "workflow", "input", "with-items", "publish", "publish-on-error", "publish-on-skip", "retry",
		"wait-before", "wait-after", "timeout", "pause-before", "concurrency", "fail-on", "target", "keep-result", "safe-rerun", "tags", "type", "version"}
	directTaskKeys  = []string{"join", "on-complete", "on-success", "on-error", "on-skip"}
	reverseTaskKeys = []string{"requires"}
	defaultsKeys    = []string{"retry", "wait-before", "wait-after", "timeout", "pause-before", "concurrency", "fail-on", "on-complete",
		"on-success", "on-error", "on-skip", "safe-rerun", "requires", "keep-result"}
)

// defaults is a workflow's task-defaults.
type defaults struct {
	policies                               map[string]any
	onSuccess, onError, onComplete, onSkip *On
	requires                               []string
}

// workflow reads one workflow and checks its graph.
func (p *parser) workflow(kv pair) (*Workflow, error) {
	wf := &Workflow{Name: kv.key, Type: Direct, Line: kv.k.Line, Workbook: p.wb, byName: map[string]*Task{}}
	wrap := func(err error) error {
		if e, ok := err.(*Error); ok && e.Workflow == "" {
			e.Workflow = wf.Name
		}
		return err
	}
	if uuidRe.MatchString(wf.Name) {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: "a workflow name cannot look like a UUID (ids are UUIDs); choose another name"})
	}
	n := deref(kv.v)
	if n.Kind != yaml.MappingNode {
		return nil, wrap(&Error{Line: kv.v.Line, Msg: fmt.Sprintf("a workflow must be a mapping with tasks:, not %s", kindName(n))})
	}
	ps, err := pairs(n)
	if err != nil {
		return nil, wrap(err)
	}
	var tasksNode, defaultsNode *pair
	for i, x := range ps {
		if !slices.Contains(workflowKeys, x.key) {
			return nil, wrap(&Error{Line: x.k.Line, Msg: fmt.Sprintf("unknown key %q; a workflow has %s", x.key, strings.Join(workflowKeys[:9], ", "))})
		}
		switch x.key {
		case "type":
			s, _ := str(x.v)
			if s != Direct && s != Reverse {
				return nil, wrap(&Error{Line: x.v.Line, Msg: fmt.Sprintf("type must be direct or reverse, not %q", s)})
			}
			wf.Type = s
		case "description":
			wf.Description, _ = str(x.v)
		case "tags":
			t, err := p.tags(x.v)
			if err != nil {
				return nil, wrap(err)
			}
			wf.Tags = t
		case "input":
			prms, err := p.params(x.v)
			if err != nil {
				return nil, wrap(err)
			}
			wf.Input = prms
		case "output", "output-on-error":
			if err := p.exprs(x.v); err != nil {
				return nil, wrap(err)
			}
			v, err := value(x.v, &p.budget)
			if err != nil {
				return nil, wrap(err)
			}
			if x.key == "output" {
				wf.Output = v
			} else {
				wf.OutputOnError = v
			}
		case "vars":
			d, err := p.dict(x.v, "vars")
			if err != nil {
				return nil, wrap(err)
			}
			wf.Vars = d
		case "task-defaults":
			defaultsNode = &ps[i]
		case "tasks":
			tasksNode = &ps[i]
		}
	}
	if tasksNode == nil {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: "the workflow has no tasks; add tasks: with at least one task"})
	}
	var defs defaults
	if defaultsNode != nil {
		if defs, err = p.taskDefaults(defaultsNode.v, wf.Type); err != nil {
			return nil, wrap(err)
		}
	}
	tn := deref(tasksNode.v)
	if tn.Kind != yaml.MappingNode || len(tn.Content) == 0 {
		return nil, wrap(&Error{Line: tasksNode.v.Line, Msg: "tasks must be a non-empty mapping of tasks by name"})
	}
	tps, err := pairs(tn)
	if err != nil {
		return nil, wrap(err)
	}
	for _, x := range tps {
		t, err := p.task(x, wf.Type, defs)
		if err != nil {
			return nil, wrap(err)
		}
		wf.Tasks = append(wf.Tasks, t)
		wf.byName[t.Name] = t
	}
	if wf.Type == Direct {
		err = p.checkDirect(wf)
	} else {
		err = p.checkReverse(wf)
	}
	if err != nil {
		return nil, wrap(err)
	}
	return wf, nil
}

func (p *parser) taskDefaults(n *yaml.Node, typ string) (defaults, error) {
	d := defaults{policies: map[string]any{}}
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		return d, &Error{Line: n.Line, Msg: "task-defaults must be a mapping"}
	}
	ps, err := pairs(m)
	if err != nil {
		return d, err
	}
	for _, x := range ps {
		if !slices.Contains(defaultsKeys, x.key) {
			return d, &Error{Line: x.k.Line, Msg: fmt.Sprintf("unknown key %q in task-defaults; it may set %s", x.key, strings.Join(defaultsKeys, ", "))}
		}
		switch x.key {
		case "on-success", "on-error", "on-complete", "on-skip":
			if typ == Reverse {
				return d, &Error{Line: x.k.Line, Msg: fmt.Sprintf("%s is for direct workflows; a reverse workflow's tasks use requires", x.key)}
			}
			on, err := p.on(x.v, x.key)
			if err != nil {
				return d, err
			}
			switch x.key {
			case "on-success":
				d.onSuccess = on
			case "on-error":
				d.onError = on
			case "on-complete":
				d.onComplete = on
			case "on-skip":
				d.onSkip = on
			}
		case "requires":
			r, err := p.nameList(x.v, "requires")
			if err != nil {
				return d, err
			}
			d.requires = r
		default:
			v, err := p.policy(x)
			if err != nil {
				return d, err
			}
			d.policies[x.key] = v
		}
	}
	return d, nil
}

// policy reads a policy value: retry, or an integer, a boolean or an
// expression.
func (p *parser) policy(x pair) (any, error) {
	n := deref(x.v)
	switch x.key {
	case "retry":
		return p.retry(x.v)
	case "wait-before", "wait-after", "timeout", "concurrency":
		v, err := value(n, &p.budget)
		if err != nil {
			return nil, err
		}
		switch t := v.(type) {
		case int64:
			if t < 0 {
				return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s must be 0 or more seconds, not %d", x.key, t)}
			}
			return t, nil
		case string:
			if exprOnly.MatchString(t) {
				return t, p.expr(t, n.Line)
			}
		}
		what := "a number of seconds"
		if x.key == "concurrency" {
			what = "a number of actions"
		}
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s must be %s or an expression, not %s", x.key, what, kindName(n))}
	case "pause-before", "fail-on", "keep-result", "safe-rerun":
		v, err := value(n, &p.budget)
		if err != nil {
			return nil, err
		}
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			if exprOnly.MatchString(t) {
				return t, p.expr(t, n.Line)
			}
		}
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s must be true, false or an expression, not %s", x.key, kindName(n))}
	}
	return nil, &Error{Line: x.k.Line, Msg: fmt.Sprintf("unknown policy %q", x.key)}
}

func (p *parser) retry(n *yaml.Node) (*Retry, error) {
	m := deref(n)
	var fields map[string]any
	line := m.Line
	switch m.Kind {
	case yaml.ScalarNode:
		s, _ := str(m)
		if s == "" {
			return nil, &Error{Line: line, Msg: "retry must be a mapping (count, delay, break-on, continue-on) or one line count=N delay=S"}
		}
		params, ok := parseParams(s)
		if !ok {
			return nil, &Error{Line: line, Msg: fmt.Sprintf("cannot read retry %q; write count=N delay=S (break-on=<%% ... %%>)", s)}
		}
		fields = params
	case yaml.MappingNode:
		if err := p.exprs(m); err != nil {
			return nil, err
		}
		v, err := value(m, &p.budget)
		if err != nil {
			return nil, err
		}
		fields = v.(map[string]any)
	default:
		return nil, &Error{Line: line, Msg: "retry must be a mapping (count, delay, break-on, continue-on) or one line count=N delay=S"}
	}
	r := &Retry{}
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		switch k {
		case "count", "delay":
			switch t := v.(type) {
			case int64:
				if t < 0 {
					return nil, &Error{Line: line, Msg: fmt.Sprintf("retry %s must be 0 or more, not %d", k, t)}
				}
			case string:
				if !exprOnly.MatchString(t) {
					return nil, &Error{Line: line, Msg: fmt.Sprintf("retry %s must be a number or an expression, not %q", k, t)}
				}
				if err := p.expr(t, line); err != nil {
					return nil, err
				}
			default:
				return nil, &Error{Line: line, Msg: fmt.Sprintf("retry %s must be a number or an expression", k)}
			}
			if k == "count" {
				r.Count = v
			} else {
				r.Delay = v
			}
		case "break-on", "continue-on":
			s, ok := v.(string)
			if !ok || !exprOnly.MatchString(s) {
				return nil, &Error{Line: line, Msg: fmt.Sprintf("retry %s must be an expression (<%% ... %%>)", k)}
			}
			if err := p.expr(s, line); err != nil {
				return nil, err
			}
			if k == "break-on" {
				r.BreakOn = s
			} else {
				r.ContinueOn = s
			}
		default:
			return nil, &Error{Line: line, Msg: fmt.Sprintf("unknown retry setting %q; retry has count, delay, break-on and continue-on", k)}
		}
	}
	if r.Count == nil || r.Delay == nil {
		return nil, &Error{Line: line, Msg: "retry needs both count and delay (retry: {count: 3, delay: 5})"}
	}
	return r, nil
}

func (p *parser) nameList(n *yaml.Node, what string) ([]string, error) {
	m := deref(n)
	switch m.Kind {
	case yaml.ScalarNode:
		s, ok := str(m)
		if !ok || s == "" {
			return nil, &Error{Line: m.Line, Msg: what + " must be a task name or a list of task names"}
		}
		return []string{s}, nil
	case yaml.SequenceNode:
		var out []string
		for _, c := range m.Content {
			s, ok := str(c)
			if !ok || s == "" {
				return nil, &Error{Line: c.Line, Msg: what + " must list task names"}
			}
			if slices.Contains(out, s) {
				return nil, &Error{Line: c.Line, Msg: fmt.Sprintf("%s lists %q twice", what, s)}
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, &Error{Line: m.Line, Msg: what + " must be a task name or a list of task names"}
}

// on reads a transition clause.
func (p *parser) on(n *yaml.Node, what string) (*On, error) {
	m := deref(n)
	on := &On{}
	switch m.Kind {
	case yaml.ScalarNode, yaml.SequenceNode:
		next, err := p.next(m, what)
		if err != nil {
			return nil, err
		}
		on.Next = next
		return on, nil
	case yaml.MappingNode:
		ps, err := pairs(m)
		if err != nil {
			return nil, err
		}
		advanced := len(ps) > 0
		for _, x := range ps {
			if x.key != "publish" && x.key != "next" {
				advanced = false
			}
		}
		if len(ps) == 1 && ps[0].key == "next" {
			if s, ok := str(ps[0].v); ok && exprOnly.MatchString(s) {
				advanced = false // a task named "next" with a condition
			}
		}
		if !advanced {
			next, err := p.next(m, what)
			if err != nil {
				return nil, err
			}
			on.Next = next
			return on, nil
		}
		for _, x := range ps {
			if x.key == "publish" {
				pub, err := p.publish(x.v, true)
				if err != nil {
					return nil, err
				}
				on.Publish = pub
			} else {
				next, err := p.next(deref(x.v), what)
				if err != nil {
					return nil, err
				}
				on.Next = next
			}
		}
		return on, nil
	}
	return nil, &Error{Line: m.Line, Msg: what + " must be a task name, a list of tasks, or a mapping with publish and next"}
}

// next reads the tasks of a clause: a name, a {name: condition} mapping,
// or a list of those.
func (p *parser) next(n *yaml.Node, what string) ([]Transition, error) {
	var items []*yaml.Node
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			return nil, &Error{Line: n.Line, Msg: what + " lists no task"}
		}
	} else {
		items = []*yaml.Node{n}
	}
	var out []Transition
	for _, it := range items {
		it = deref(it)
		var name, cond string
		line := it.Line
		switch it.Kind {
		case yaml.ScalarNode:
			s, ok := str(it)
			if !ok || s == "" {
				return nil, &Error{Line: line, Msg: what + " must name a task"}
			}
			name = s
		case yaml.MappingNode:
			ps, err := pairs(it)
			if err != nil {
				return nil, err
			}
			if len(ps) != 1 {
				return nil, &Error{Line: line, Msg: what + ": a task with a condition is one mapping entry (- next_task: <% $.ok %>)"}
			}
			name = ps[0].key
			c, ok := str(ps[0].v)
			if !ok || !exprOnly.MatchString(c) {
				return nil, &Error{Line: ps[0].v.Line, Msg: fmt.Sprintf("%s: the condition of %q must be an expression (<%% ... %%> or {{ ... }})", what, name)}
			}
			if err := p.expr(c, ps[0].v.Line); err != nil {
				return nil, err
			}
			cond = c
		default:
			return nil, &Error{Line: line, Msg: what + " must name tasks"}
		}
		task, params, ok := parseCmd(name)
		if !ok || task == "" {
			return nil, &Error{Line: line, Msg: fmt.Sprintf("%s: cannot read %q; write task_name k=v ... with quoted strings (msg=\"text\"), numbers, true, false, null, [lists] or expressions", what, name)}
		}
		if err := p.valueExprs(params, line); err != nil {
			return nil, err
		}
		for _, t := range out {
			if t.Task == task && t.Cond == cond && len(params) == 0 {
				return nil, &Error{Line: line, Msg: fmt.Sprintf("%s lists %q twice", what, task)}
			}
		}
		out = append(out, Transition{Task: task, Cond: cond, Params: params})
	}
	return out, nil
}

// publish reads a publish block; scoped is true for on-clauses, whose
// publish has branch, global and atomic.
func (p *parser) publish(n *yaml.Node, scoped bool) (*Publish, error) {
	d, err := p.dict(n, "publish")
	if err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, &Error{Line: n.Line, Msg: "publish must not be empty"}
	}
	if !scoped {
		return &Publish{Branch: d}, nil
	}
	pub := &Publish{}
	for _, k := range sortedKeys(d) {
		m, ok := d[k].(map[string]any)
		if !ok && d[k] != nil {
			return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("publish.%s must be a mapping of variables", k)}
		}
		switch k {
		case "branch":
			pub.Branch = m
		case "global":
			pub.Global = m
		case "atomic":
			pub.Atomic = m
		default:
			return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("unknown publish scope %q; a transition's publish has branch, global and atomic", k)}
		}
	}
	if pub.Branch == nil && pub.Global == nil && pub.Atomic == nil {
		return nil, &Error{Line: n.Line, Msg: "publish needs branch, global or atomic"}
	}
	return pub, nil
}

// task reads one task and applies the workflow's task-defaults.
func (p *parser) task(kv pair, typ string, defs defaults) (*Task, error) {
	t := &Task{Name: kv.key, Line: kv.k.Line}
	wrap := func(err error) error {
		if e, ok := err.(*Error); ok && e.Task == "" {
			e.Task = t.Name
		}
		return err
	}
	if len(t.Name) > MaxTaskName {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: fmt.Sprintf("a task name must not be longer than %d characters", MaxTaskName)})
	}
	n := deref(kv.v)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line}
	}
	if n.Kind != yaml.MappingNode {
		return nil, wrap(&Error{Line: kv.v.Line, Msg: fmt.Sprintf("a task must be a mapping (action:, workflow:, input: ...), not %s", kindName(n))})
	}
	ps, err := pairs(n)
	if err != nil {
		return nil, wrap(err)
	}
	allowed := slices.Concat(taskKeys, directTaskKeys)
	other := reverseTaskKeys
	if typ == Reverse {
		allowed, other = slices.Concat(taskKeys, reverseTaskKeys), directTaskKeys
	}
	raw, err := value(n, &p.budget)
	if err != nil {
		return nil, wrap(err)
	}
	t.Raw = raw.(map[string]any)
	t.Raw["name"], t.Raw["type"], t.Raw["version"] = t.Name, typ, "2.0"
	var inline map[string]any
	var actionLine int
	set := map[string]bool{}
	for _, x := range ps {
		if !slices.Contains(allowed, x.key) {
			if slices.Contains(other, x.key) {
				return nil, wrap(&Error{Line: x.k.Line, Msg: fmt.Sprintf("%s is not for %s workflows", x.key, typ)})
			}
			return nil, wrap(&Error{Line: x.k.Line, Msg: fmt.Sprintf("unknown task key %q", x.key)})
		}
		set[x.key] = true
		switch x.key {
		case "description":
			t.Description, _ = str(x.v)
		case "tags":
			if t.Tags, err = p.tags(x.v); err != nil {
				return nil, wrap(err)
			}
		case "action", "workflow":
			s, ok := str(x.v)
			if !ok || s == "" {
				return nil, wrap(&Error{Line: x.v.Line, Msg: x.key + " must name an " + x.key})
			}
			name, params, ok := parseCmd(s)
			if !ok || name == "" {
				return nil, wrap(&Error{Line: x.v.Line, Msg: fmt.Sprintf("cannot read %q; write %s: name k=v ... with quoted strings (k=\"text\"), numbers, true, false, null, [lists] or expressions", s, x.key)})
			}
			if err := p.expr(name, x.v.Line); err != nil {
				return nil, wrap(err)
			}
			if err := p.valueExprs(params, x.v.Line); err != nil {
				return nil, wrap(err)
			}
			inline, actionLine = params, x.v.Line
			if x.key == "action" {
				t.Action = name
			} else {
				t.Workflow = name
			}
		case "input":
			in := deref(x.v)
			if in.Kind == yaml.ScalarNode {
				s, _ := str(in)
				if !IsExpression(s) {
					return nil, wrap(&Error{Line: in.Line, Msg: "input must be a mapping, or an expression that gives one"})
				}
				if err := p.expr(s, in.Line); err != nil {
					return nil, wrap(err)
				}
				t.InputExpr = s
			} else {
				d, err := p.dict(in, "input")
				if err != nil {
					return nil, wrap(err)
				}
				t.Input = d
			}
		case "with-items":
			if t.WithItems, err = p.withItems(x.v); err != nil {
				return nil, wrap(err)
			}
		case "publish", "publish-on-error", "publish-on-skip":
			pub, err := p.publish(x.v, false)
			if err != nil {
				return nil, wrap(err)
			}
			switch x.key {
			case "publish":
				t.Publish = pub
			case "publish-on-error":
				t.PublishOnError = pub
			}
		case "retry", "wait-before", "wait-after", "timeout", "pause-before", "concurrency", "fail-on", "keep-result", "safe-rerun":
			v, err := p.policy(x)
			if err != nil {
				return nil, wrap(err)
			}
			t.setPolicy(x.key, v)
		case "target":
			t.Target, _ = str(x.v)
		case "join":
			j := deref(x.v)
			s, _ := str(j)
			switch s {
			case "all":
				t.Join = -1
			case "one":
				t.Join = 1
			default:
				v, err := strconv.Atoi(s)
				if err != nil || v < 1 {
					return nil, wrap(&Error{Line: j.Line, Msg: fmt.Sprintf("join must be all, one or a number of inbound tasks (1 or more), not %q", s)})
				}
				t.Join = v
			}
		case "on-success", "on-error", "on-complete", "on-skip":
			on, err := p.on(x.v, x.key)
			if err != nil {
				return nil, wrap(err)
			}
			switch x.key {
			case "on-success":
				t.OnSuccess = on
			case "on-error":
				t.OnError = on
			case "on-complete":
				t.OnComplete = on
			case "on-skip":
				t.OnSkip = on
			}
		case "requires":
			if t.Requires, err = p.nameList(x.v, "requires"); err != nil {
				return nil, wrap(err)
			}
		}
	}
	if set["action"] && set["workflow"] {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: "a task runs an action or a workflow, not both; remove one"})
	}
	if t.Action == "" && t.Workflow == "" {
		t.Action = "std.noop"
	}
	if len(inline) > 0 {
		if t.InputExpr != "" {
			return nil, wrap(&Error{Line: actionLine, Msg: "inline parameters cannot be combined with an input expression; put them under input:"})
		}
		if t.Input == nil {
			t.Input = map[string]any{}
		}
		for k, v := range inline {
			if _, ok := t.Input[k]; !ok {
				t.Input[k] = v
			}
		}
	}
	if t.Action != "" && set["action"] && !IsExpression(t.Action) && !p.actionKnown(t.Action) {
		return nil, wrap(&Error{Line: actionLine, Msg: fmt.Sprintf("unknown action %q; list the actions with 'openstack action definition list'", t.Action)})
	}
	if t.Join != 0 && len(t.Name) > MaxJoinTaskName {
		return nil, wrap(&Error{Line: kv.k.Line, Msg: fmt.Sprintf("a join task's name must not be longer than %d characters", MaxJoinTaskName)})
	}
	// task-defaults: policies the task does not set, transitions when the
	// task has none (never to itself), requires as a union.
	for k, v := range defs.policies {
		if !set[k] {
			t.setPolicy(k, v)
		}
	}
	if t.OnSuccess == nil {
		t.OnSuccess = without(defs.onSuccess, t.Name)
	}
	if t.OnError == nil {
		t.OnError = without(defs.onError, t.Name)
	}
	if t.OnComplete == nil {
		t.OnComplete = without(defs.onComplete, t.Name)
	}
	if t.OnSkip == nil {
		t.OnSkip = without(defs.onSkip, t.Name)
	}
	for _, r := range defs.requires {
		if r != t.Name && !slices.Contains(t.Requires, r) {
			t.Requires = append(t.Requires, r)
		}
	}
	return t, nil
}

func without(on *On, name string) *On {
	if on == nil {
		return nil
	}
	out := &On{Publish: on.Publish}
	for _, n := range on.Next {
		if n.Task != name {
			out.Next = append(out.Next, n)
		}
	}
	return out
}

func (t *Task) setPolicy(k string, v any) {
	switch k {
	case "retry":
		t.Retry, _ = v.(*Retry)
	case "wait-before":
		t.WaitBefore = v
	case "wait-after":
		t.WaitAfter = v
	case "timeout":
		t.Timeout = v
	case "concurrency":
		t.Concurrency = v
	case "pause-before":
		t.PauseBefore = v
	case "fail-on":
		t.FailOn = v
	case "keep-result":
		t.KeepResult = v
	case "safe-rerun":
		t.SafeRerun = v
	}
}

func (p *parser) withItems(n *yaml.Node) ([]WithItem, error) {
	m := deref(n)
	var items []*yaml.Node
	switch m.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{m}
	case yaml.SequenceNode:
		items = m.Content
	default:
		return nil, &Error{Line: m.Line, Msg: "with-items must be \"var in <% $.list %>\" or a list of them"}
	}
	if len(items) == 0 {
		return nil, &Error{Line: m.Line, Msg: "with-items lists nothing"}
	}
	var out []WithItem
	for _, it := range items {
		s, ok := str(it)
		if !ok {
			return nil, &Error{Line: it.Line, Msg: "with-items entries must be strings \"var in <% $.list %>\""}
		}
		g := withItemsRe.FindStringSubmatch(s)
		if g == nil {
			return nil, &Error{Line: it.Line, Msg: fmt.Sprintf("cannot read %q; write with-items as \"var in <%% $.list %%>\" or \"var in [1, 2]\"", s)}
		}
		wi := WithItem{Var: g[1]}
		if strings.HasPrefix(g[2], "[") {
			var v any
			if err := decodeJSON(g[2], &v); err != nil {
				return nil, &Error{Line: it.Line, Msg: fmt.Sprintf("the list in %q is not valid JSON: %v", s, err)}
			}
			wi.List = v
		} else {
			if err := p.expr(g[2], it.Line); err != nil {
				return nil, err
			}
			wi.List = g[2]
		}
		for _, o := range out {
			if o.Var == wi.Var {
				return nil, &Error{Line: it.Line, Msg: fmt.Sprintf("with-items names %q twice", wi.Var)}
			}
		}
		out = append(out, wi)
	}
	return out, nil
}

// Clauses returns a task's transitions of a direct workflow, by event.
func (t *Task) clauses() []*On {
	return []*On{t.OnSuccess, t.OnError, t.OnComplete, t.OnSkip}
}

// Outbound lists the tasks (not engine commands) a direct workflow's task
// may lead to, in any clause and whatever the conditions.
func (w *Workflow) Outbound(t *Task) []string {
	var out []string
	for _, on := range t.clauses() {
		if on == nil {
			continue
		}
		for _, n := range on.Next {
			if w.byName[n.Task] != nil && !slices.Contains(out, n.Task) {
				out = append(out, n.Task)
			}
		}
	}
	return out
}

// Inbound lists the tasks of a direct workflow that may lead to t.
func (w *Workflow) Inbound(t *Task) []string {
	var in []string
	for _, o := range w.Tasks {
		if slices.Contains(w.Outbound(o), t.Name) {
			in = append(in, o.Name)
		}
	}
	return in
}

// StartTasks lists the tasks of a direct workflow that no task leads to.
func (w *Workflow) StartTasks() []*Task {
	inbound := map[string]bool{}
	for _, t := range w.Tasks {
		for _, o := range w.Outbound(t) {
			inbound[o] = true
		}
	}
	var out []*Task
	for _, t := range w.Tasks {
		if !inbound[t.Name] {
			out = append(out, t)
		}
	}
	return out
}

func (p *parser) checkDirect(wf *Workflow) error {
	for _, t := range wf.Tasks {
		for _, on := range t.clauses() {
			if on == nil {
				continue
			}
			for _, n := range on.Next {
				if wf.byName[n.Task] == nil && !IsCommand(n.Task) {
					return &Error{Line: t.Line, Task: t.Name, Msg: fmt.Sprintf("transition to unknown task %q; the tasks are %s (or the engine commands fail, succeed, pause, noop)", n.Task, taskNames(wf))}
				}
			}
		}
	}
	if len(wf.StartTasks()) == 0 {
		return &Error{Line: wf.Line, Msg: "no start task: every task has an inbound transition, so none can start; leave at least one task that no on-* clause names"}
	}
	for _, t := range wf.Tasks {
		if t.Join == 0 {
			continue
		}
		in := len(wf.Inbound(t))
		if t.Join == -1 && in == 0 {
			return &Error{Line: t.Line, Task: t.Name, Msg: "join: all, but no task leads to this task"}
		}
		if t.Join > 0 && in < t.Join {
			return &Error{Line: t.Line, Task: t.Name, Msg: fmt.Sprintf("join: %d, but only %d tasks lead to this task", t.Join, in)}
		}
	}
	return nil
}

func taskNames(wf *Workflow) string {
	var ns []string
	for _, t := range wf.Tasks {
		ns = append(ns, t.Name)
	}
	if len(ns) > 10 {
		ns = append(ns[:10], "...")
	}
	return strings.Join(ns, ", ")
}

func (p *parser) checkReverse(wf *Workflow) error {
	for _, t := range wf.Tasks {
		for _, r := range t.Requires {
			if wf.byName[r] == nil {
				return &Error{Line: t.Line, Task: t.Name, Msg: fmt.Sprintf("requires unknown task %q; the tasks are %s", r, taskNames(wf))}
			}
			if r == t.Name {
				return &Error{Line: t.Line, Task: t.Name, Msg: "a task cannot require itself"}
			}
		}
	}
	// Cycles: depth-first search with colours; report the cycle's path.
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		colour[name] = grey
		stack = append(stack, name)
		t := wf.byName[name]
		for _, r := range t.Requires {
			switch colour[r] {
			case grey:
				i := slices.Index(stack, r)
				cycle := append(slices.Clone(stack[i:]), r)
				return &Error{Line: t.Line, Task: name, Msg: fmt.Sprintf("requires form a cycle: %s; a reverse workflow's requires must not loop", strings.Join(cycle, " -> "))}
			case white:
				if err := visit(r); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		colour[name] = black
		return nil
	}
	for _, t := range wf.Tasks {
		if colour[t.Name] == white {
			if err := visit(t.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Requirements returns the tasks a reverse workflow must run to reach
// target, target included, dependencies before dependants.
func (w *Workflow) Requirements(target string) ([]*Task, error) {
	if w.byName[target] == nil {
		return nil, fmt.Errorf("the workflow has no task %q", target)
	}
	var out []*Task
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		for _, r := range w.byName[name].Requires {
			visit(r)
		}
		out = append(out, w.byName[name])
	}
	visit(target)
	return out, nil
}
