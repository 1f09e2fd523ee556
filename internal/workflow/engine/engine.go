package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/expr"
	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// States of executions, tasks and actions, as Mistral names them.
const (
	Idle           = "IDLE"
	Running        = "RUNNING"
	RunningDelayed = "RUNNING_DELAYED"
	Waiting        = "WAITING"
	Paused         = "PAUSED"
	Success        = "SUCCESS"
	Error          = "ERROR"
	Cancelled      = "CANCELLED"
	Skipped        = "SKIPPED"
)

// Terminal reports whether state is final.
func Terminal(state string) bool {
	return state == Success || state == Error || state == Cancelled || state == Skipped
}

// Task types.
const (
	TypeAction   = "ACTION"
	TypeWorkflow = "WORKFLOW"
)

// Config tunes an engine; zero fields take the defaults.
type Config struct {
	// Owner names this controller in job leases; a random id when empty.
	Owner string
	// Workers is how many actions with effects run at once (16).
	Workers int
	// Lease is how long a claimed job stays with its controller without a
	// renewal (30 s); a crashed controller's jobs are taken over after it.
	Lease time.Duration
	// Poll is how often the engine looks for jobs other controllers made
	// due (250 ms); its own are picked up at once.
	Poll time.Duration
	// ShutdownGrace is how long calls in progress may go on when the
	// engine stops (15 s; less than two thirds of Lease).
	ShutdownGrace time.Duration
	// InlineBudget bounds the tasks and pure actions one transaction runs
	// (500); the rest continue in the next.
	InlineBudget int
	// MaxItems bounds a with-items list (100,000).
	MaxItems int
	// MaxValueBytes bounds an input, a result, a published variable or an
	// output as JSON (1 MiB, Mistral's execution_field_size_limit_kb).
	MaxValueBytes int
	// Credentials turns an execution's delegation (the auth document
	// StartRequest carried) into the credentials actions act with.
	Credentials func(ctx context.Context, authDoc map[string]any) (*auth.Credentials, error)
	// Finished, when set, is told (after commit) that a top-level
	// execution ended in state with the delegation it carried, so the
	// delegation can be ended.
	Finished func(ctx context.Context, executionID, state string, authDoc map[string]any)
	// Unavailable explains why an action that is not registered cannot
	// run (an OpenStack action of a service the cloud does not run); ""
	// for an unknown name.
	Unavailable func(name string) string
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Engine runs workflows. It is safe for concurrent use.
type Engine struct {
	db      *store.DB
	log     *slog.Logger
	cfg     Config
	ev      *expr.Evaluator
	actions *Registry

	specMu sync.Mutex
	specs  map[string]*spec.Workflow

	wake chan struct{}

	heldMu sync.Mutex
	held   map[string]bool
}

// New returns an engine over db running the actions of reg.
func New(db *store.DB, reg *Registry, log *slog.Logger, cfg Config) *Engine {
	if cfg.Owner == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = min(15*time.Second, cfg.Lease/2)
	}
	if cfg.InlineBudget <= 0 {
		cfg.InlineBudget = 500
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = 100000
	}
	if cfg.MaxValueBytes <= 0 {
		cfg.MaxValueBytes = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	e := &Engine{db: db, log: log, cfg: cfg, actions: reg, specs: map[string]*spec.Workflow{},
		wake: make(chan struct{}, 1), held: map[string]bool{}}
	funcs := expr.PureFuncs()
	for name, f := range hostFuncs() {
		funcs[name] = f
	}
	e.ev = expr.New(expr.Options{Funcs: funcs, Now: cfg.Now})
	return e
}

// Evaluator is the engine's expression evaluator (with task(), tasks(),
// execution(), executions() and global()): use it to validate
// definitions.
func (e *Engine) Evaluator() *expr.Evaluator { return e.ev }

// Actions is the registry of built-in actions.
func (e *Engine) Actions() *Registry { return e.actions }

// Owner is the name this engine's leases carry.
func (e *Engine) Owner() string { return e.cfg.Owner }

// Wake makes the engine look for due jobs now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// workflowSpec parses (once per definition text) a stored workflow.
func (e *Engine) workflowSpec(def, name, workbook string) (*spec.Workflow, error) {
	h := sha256.Sum256([]byte(def + "\x00" + name + "\x00" + workbook))
	key := string(h[:])
	e.specMu.Lock()
	wf, ok := e.specs[key]
	e.specMu.Unlock()
	if ok {
		return wf, nil
	}
	wf, err := spec.ParseWorkflow(def, name, workbook)
	if err != nil {
		return nil, err
	}
	e.specMu.Lock()
	if len(e.specs) > 1024 {
		e.specs = map[string]*spec.Workflow{}
	}
	e.specs[key] = wf
	e.specMu.Unlock()
	return wf, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// encode writes v as JSON (without HTML escaping).
func encode(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// Decode reads JSON with integers as int64 (the expression layer's
// numbers); a damaged value reads as nil.
func Decode(s string) any {
	if s == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return numbers(v)
}

// DecodeMap reads a JSON object; anything else reads as an empty map.
func DecodeMap(s string) map[string]any {
	m, ok := Decode(s).(map[string]any)
	if !ok || m == nil {
		return map[string]any{}
	}
	return m
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, ok := exprvalue.Number(x)
		if !ok {
			return x.String()
		}
		return n.Value()
	case map[string]any:
		for k, it := range x {
			x[k] = numbers(it)
		}
	case []any:
		for i, it := range x {
			x[i] = numbers(it)
		}
	}
	return v
}

// Normalize turns a value decoded without UseNumber (float64 integers)
// into the engine's (int64 integers), recursively.
func Normalize(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x < 1e18 && x > -1e18 {
			return int64(x)
		}
	case int:
		return int64(x)
	case map[string]any:
		for k, it := range x {
			x[k] = Normalize(it)
		}
	case []any:
		for i, it := range x {
			x[i] = Normalize(it)
		}
	}
	return v
}

// deepCopy copies a value tree (maps and lists).
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = deepCopy(it)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = deepCopy(it)
		}
		return out
	}
	return v
}

// mergeDicts merges right into left recursively (Mistral's merge_dicts):
// nested maps merge, other values of right replace left's.
func mergeDicts(left, right map[string]any) map[string]any {
	if left == nil {
		left = map[string]any{}
	}
	for k, v := range right {
		if lv, ok := left[k].(map[string]any); ok {
			if rv, ok := v.(map[string]any); ok {
				left[k] = mergeDicts(lv, rv)
				continue
			}
		}
		left[k] = v
	}
	return left
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }
