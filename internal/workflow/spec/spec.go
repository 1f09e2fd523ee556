package spec

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
)

// Error is a definition that cannot be used: where it is wrong and what to
// change. Line is 1-based (0 when the whole document is wrong).
type Error struct {
	Line     int
	Workflow string
	Action   string
	Task     string
	Msg      string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Workflow != "" {
		fmt.Fprintf(&b, "workflow '%s': ", e.Workflow)
	}
	if e.Action != "" {
		fmt.Fprintf(&b, "action '%s': ", e.Action)
	}
	if e.Task != "" {
		fmt.Fprintf(&b, "task '%s': ", e.Task)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Options tell the parser what it cannot know by itself.
type Options struct {
	// Validate parses an expression string without evaluating it (the
	// engine's evaluator, which knows the host functions); nil skips
	// expression checks.
	Validate func(s string) error
	// ActionKnown reports whether an action exists (built in or ad hoc);
	// nil skips the check. Actions of the same workbook are known.
	ActionKnown func(name string) bool
}

// Engine commands of direct workflows' transitions.
const (
	CmdNoop    = "noop"
	CmdFail    = "fail"
	CmdSucceed = "succeed"
	CmdPause   = "pause"
)

// IsCommand reports whether name is an engine command.
func IsCommand(name string) bool {
	switch name {
	case CmdNoop, CmdFail, CmdSucceed, CmdPause:
		return true
	}
	return false
}

// Workflow types.
const (
	Direct  = "direct"
	Reverse = "reverse"
)

// Param is one declared input of a workflow or an ad-hoc action.
type Param struct {
	Name       string
	Default    any
	HasDefault bool
}

// WorkflowInput prints a workflow's params as Mistral's API lists them:
// defaults printed by Python's str() in double quotes (a, b="1").
func WorkflowInput(ps []Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.HasDefault {
			parts[i] = p.Name + `="` + exprvalue.Str(p.Default) + `"`
		} else {
			parts[i] = p.Name
		}
	}
	return strings.Join(parts, ", ")
}

// ActionInput prints an action's params as Mistral's API lists them:
// defaults as JSON (a, b=1, c=null).
func ActionInput(ps []Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		if p.HasDefault {
			b, err := json.Marshal(p.Default)
			if err != nil {
				b = []byte("null")
			}
			parts[i] = p.Name + "=" + string(b)
		} else {
			parts[i] = p.Name
		}
	}
	return strings.Join(parts, ", ")
}

// File is a parsed workflow file: one or more workflows.
type File struct {
	Workflows []*Workflow
}

// Workbook is a parsed workbook.
type Workbook struct {
	Name        string
	Description string
	Tags        []string
	Workflows   []*Workflow
	Actions     []*Action
}

// Workflow is one workflow with its effective settings.
type Workflow struct {
	Name        string
	Description string
	Tags        []string
	Type        string // Direct or Reverse
	Input       []Param
	Output      any
	// OutputOnError is evaluated instead of Output when the workflow fails.
	OutputOnError any
	Vars          map[string]any
	Tasks         []*Task
	// Definition is the workflow's own text (version line first), as the
	// API shows it.
	Definition string
	// Workbook names the workbook the workflow came from ("" for none);
	// its workflows and actions are found by their short names first.
	Workbook string
	Line     int
	byName   map[string]*Task
}

// Task returns the task named name, or nil.
func (w *Workflow) Task(name string) *Task { return w.byName[name] }

// Task is one task with its effective settings (task-defaults applied).
type Task struct {
	Name        string
	Description string
	Tags        []string
	Line        int
	// Action or Workflow names what the task runs (possibly an
	// expression); Action is "std.noop" when neither is given.
	Action   string
	Workflow string
	// Input is the action's or workflow's input (the inline "k=v" pairs
	// merged under the input mapping), or nil when InputExpr is set.
	Input map[string]any
	// InputExpr is an expression that evaluates to the whole input map.
	InputExpr string
	WithItems []WithItem
	// Publish, PublishOnError and PublishOnSkip are the publish blocks
	// of the task itself (branch only: tasks publish into their branch).
	Publish        *Publish
	PublishOnError *Publish
	Retry          *Retry
	// Policies: an int64, or an expression string; nil when unset.
	WaitBefore, WaitAfter, Timeout, Concurrency any
	// PauseBefore, FailOn, KeepResult, SafeRerun: a bool, an expression
	// string, or nil when unset.
	PauseBefore, FailOn, KeepResult, SafeRerun any
	Target                                     string
	// Direct workflows: the transitions and the join.
	OnSuccess, OnError, OnComplete, OnSkip *On
	// Join is 0 for no join, -1 for "all", N for a partial join.
	Join int
	// Reverse workflows: the tasks this one requires.
	Requires []string
	// Raw is the task as written, for task().spec.
	Raw map[string]any
}

// WithItem is one "var in list" clause of with-items: List is an
// expression string or a literal []any.
type WithItem struct {
	Var  string
	List any
}

// Publish is a publish block: variables to publish into the branch and
// into the workflow's global context.
type Publish struct {
	Branch map[string]any
	Global map[string]any
	Atomic map[string]any
}

// On is an on-success, on-error, on-complete or on-skip clause.
type On struct {
	Publish *Publish
	Next    []Transition
}

// Transition is one next task (or engine command) of a clause, with its
// guard expression and its parameters (the command's msg, say).
type Transition struct {
	Task   string
	Cond   string
	Params map[string]any
}

// Retry is a task's retry policy: Count and Delay are int64 or expression
// strings; BreakOn and ContinueOn are expressions or "".
type Retry struct {
	Count, Delay        any
	BreakOn, ContinueOn string
}

// Action is an ad-hoc action: a base action with input expressions.
type Action struct {
	Name        string
	Description string
	Tags        []string
	// Base is the base action; BaseInput its input (expressions over the
	// ad-hoc action's input).
	Base      string
	BaseInput map[string]any
	Input     []Param
	// Output transforms the base action's result (expressions over it);
	// nil keeps the result.
	Output     any
	HasOutput  bool
	Definition string
	Workbook   string
	Line       int
}
