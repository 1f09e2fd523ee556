package action

import (
	"context"
	"fmt"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

func p(name string) spec.Param { return spec.Param{Name: name} }

func d(name string, def any) spec.Param {
	return spec.Param{Name: name, Default: def, HasDefault: true}
}

// Std returns the standard actions; cfg shapes std.http's and std.ssh's
// reach.
func Std(cfg Config) []*engine.Action {
	return []*engine.Action{
		{Name: "std.noop", Description: "Does nothing; returns null.", Pure: true,
			Run: func(context.Context, engine.Call) (any, error) { return nil, nil }},
		{Name: "std.async_noop", Description: "Does nothing and completes when its result is posted through the API.",
			Run: func(context.Context, engine.Call) (any, error) { return engine.Async{}, nil }},
		{Name: "std.echo", Description: "Returns its output, after delay seconds.", Pure: true, Params: []spec.Param{p("output"), d("delay", int64(0))},
			Run: func(_ context.Context, c engine.Call) (any, error) {
				delay := seconds(c.Input["delay"])
				if delay > 0 {
					return engine.Sleep{Delay: delay, Result: c.Input["output"]}, nil
				}
				return c.Input["output"], nil
			}},
		{Name: "std.fail", Description: "Always fails; error_data, when given, is its result.", Pure: true, Params: []spec.Param{d("error_data", nil)},
			Run: func(_ context.Context, c engine.Call) (any, error) {
				return nil, &engine.Failure{Msg: "Fail action expected exception.", Data: c.Input["error_data"]}
			}},
		{Name: "std.sleep", Description: "Sleeps seconds seconds (a persisted timer); returns null.", Pure: true, Params: []spec.Param{d("seconds", int64(1))},
			Run: func(_ context.Context, c engine.Call) (any, error) {
				return engine.Sleep{Delay: seconds(c.Input["seconds"])}, nil
			}},
		{Name: "std.test_dict", Description: "Returns a dict of size keys key_prefix0... with the value val.", Pure: true,
			Params: []spec.Param{d("size", int64(0)), d("key_prefix", ""), d("val", "")},
			Run: func(_ context.Context, c engine.Call) (any, error) {
				n, _ := exprvalue.Int(c.Input["size"])
				if n < 0 || n > 100000 {
					return nil, fmt.Errorf("size must be between 0 and 100000, not %d", n)
				}
				res := make(map[string]any, n)
				prefix := exprvalue.Str(c.Input["key_prefix"])
				for i := int64(0); i < n; i++ {
					res[fmt.Sprintf("%s%d", prefix, i)] = c.Input["val"]
				}
				return res, nil
			}},
		httpAction(cfg, "std.http", false),
		httpAction(cfg, "std.mistral_http", true),
		sshAction(cfg),
		jsAction(cfg),
	}
}

// seconds reads a number of seconds (Mistral accepts strings too); a
// negative or unreadable value is 0.
func seconds(v any) time.Duration {
	if s, ok := v.(string); ok {
		var f float64
		if _, err := fmt.Sscan(s, &f); err == nil {
			v = f
		}
	}
	n, ok := exprvalue.Number(v)
	if !ok || n.Float() <= 0 {
		return 0
	}
	return time.Duration(n.Float() * float64(time.Second))
}
