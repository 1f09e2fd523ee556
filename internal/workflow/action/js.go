package action

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/dop251/goja"

	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// jsHeapLimit is how much a script may grow the heap before it is
// stopped: goja has no memory limit of its own.
const jsHeapLimit = 256 << 20

// jsAction evaluates JavaScript (ECMAScript 5.1 with most of ES6, by
// github.com/dop251/goja) as Mistral's std.js does: the script is the
// body of a function whose return value is the result, context is $. A
// script runs at most JSTimeout and is stopped if the heap grows by more
// than 256 MiB while it runs.
func jsAction(cfg Config) *engine.Action {
	return &engine.Action{Name: "std.js", Description: "Evaluates script (a function body; its return value is the result) with context as $.",
		Params: []spec.Param{p("script"), d("context", nil)}, Pure: false,
		Run: func(ctx context.Context, c engine.Call) (any, error) {
			script, _ := c.Input["script"].(string)
			timeout := cfg.JSTimeout
			if timeout <= 0 {
				timeout = 5 * time.Second
			}
			return runJS(ctx, script, c.Input["context"], timeout)
		}}
}

func runJS(ctx context.Context, script string, data any, timeout time.Duration) (any, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(1000)
	if err := vm.Set("$", data); err != nil {
		return nil, fmt.Errorf("JavaScriptAction failed: %v", err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		base := sample[0].Value.Uint64()
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				vm.Interrupt("the workflow engine is stopping")
				return
			case <-deadline.C:
				vm.Interrupt(fmt.Sprintf("the script ran longer than %v", timeout))
				return
			case <-tick.C:
				metrics.Read(sample)
				if sample[0].Value.Uint64() > base+jsHeapLimit {
					vm.Interrupt("the script used more than 256 MiB of memory")
					return
				}
			}
		}
	}()
	v, err := vm.RunString("(function f() {\n" + script + "\n})()")
	if err != nil {
		return nil, fmt.Errorf("JavaScriptAction failed: %v", err)
	}
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	// Through JSON, as a JavaScript engine hands values to Python.
	j, err := json.Marshal(v.Export())
	if err != nil {
		return v.String(), nil
	}
	return engine.Decode(string(j)), nil
}
