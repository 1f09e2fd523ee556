package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// Action is something a task can run.
type Action struct {
	Name        string
	Description string
	// Params is the input signature; Kwargs accepts input beyond it
	// (Python's **kwargs in Mistral's OpenStack actions).
	Params []spec.Param
	Kwargs bool
	// Pure actions have no effect outside the engine's store (they compute
	// their result from their input): they run inside the transaction that
	// schedules them and may run again after a crash.
	Pure bool
	// Run calls the action. It returns the result, or an error: *Failure
	// carries data as the result of the failed action; other errors fail
	// it with their message. A result of type Async keeps the action
	// running until its result is posted through the API; Sleep delays its
	// completion by a persisted timer.
	Run func(ctx context.Context, c Call) (any, error)
}

// Input is Params printed as Mistral lists an action's input.
func (a *Action) Input() string {
	s := spec.ActionInput(a.Params)
	if a.Kwargs {
		if s != "" {
			s += ", "
		}
		s += "**kwargs"
	}
	return s
}

// Call is what an action is called with.
type Call struct {
	Input        map[string]any
	ActionID     string
	ExecutionID  string
	TaskID       string
	WorkflowName string
	TaskName     string
	ProjectID    string
	// Credentials returns the credentials of the workflow's user (from the
	// execution's delegation): actions that call APIs act with them.
	Credentials func(ctx context.Context) (*auth.Credentials, error)
}

// Failure is an action's failure with data as its result (std.fail's
// error_data, an HTTP error's body).
type Failure struct {
	Msg  string
	Data any
}

func (f *Failure) Error() string { return f.Msg }

// Async is the result of an action whose result arrives later through
// the API (PUT /v2/action_executions/{id}).
type Async struct{}

// Sleep is the result of an action that completes with Result after Delay,
// as a persisted timer.
type Sleep struct {
	Delay  time.Duration
	Result any
}

// Registry holds the built-in actions by name.
type Registry struct{ m map[string]*Action }

// NewRegistry returns a registry of actions.
func NewRegistry(actions ...*Action) *Registry {
	r := &Registry{m: map[string]*Action{}}
	for _, a := range actions {
		r.Add(a)
	}
	return r
}

// Add registers a (replacing one of the same name).
func (r *Registry) Add(a *Action) { r.m[a.Name] = a }

// Get returns the action named name, or nil.
func (r *Registry) Get(name string) *Action { return r.m[name] }

// All lists the actions by name.
func (r *Registry) All() []*Action {
	out := make([]*Action, 0, len(r.m))
	for _, a := range r.m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// checkInput checks input against the action's signature and fills
// defaults, as Mistral does before calling an action.
func checkInput(a *Action, in map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(in)+len(a.Params))
	var missing, unexpected []string
	for _, p := range a.Params {
		v, ok := in[p.Name]
		switch {
		case ok:
			out[p.Name] = v
		case p.HasDefault:
			out[p.Name] = p.Default
		default:
			missing = append(missing, p.Name)
		}
	}
	for k, v := range in {
		if !slices.ContainsFunc(a.Params, func(p spec.Param) bool { return p.Name == k }) {
			if a.Kwargs {
				out[k] = v
			} else {
				unexpected = append(unexpected, k)
			}
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
		return nil, fmt.Errorf("invalid input for action %s: %s; its input is (%s)", a.Name, strings.Join(parts, "; "), a.Input())
	}
	return out, nil
}
