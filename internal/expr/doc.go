// Package expr is the front door of the workflow expression languages:
// it tells YAQL (<% ... %>) from Jinja ({{ ... }}, {% ... %}) and plain
// strings, evaluates a string value as Mistral does, evaluates the strings
// inside maps and lists (Mistral's evaluate_recursively), and validates
// expressions at create time without evaluating them.
//
// It imports internal/yaql, internal/jinja and internal/exprvalue only;
// the workflow engine imports it and adds its own functions (task(),
// execution(), tasks(), executions(), global()) through Options.Funcs.
// PureFuncs provides the Mistral functions that need no engine state
// (env, json_parse, json_dump, json_pp, yaml_parse, yaml_dump, uuid).
//
// # Mistral's rules
//
// A string is Jinja when it holds {{...}} or {%...%} on one line, else
// YAQL when it holds <%...%> on one line, else plain (a string with both
// is evaluated as Jinja and refused by Validate, as Mistral does). A
// string that is exactly one <% expr %> evaluates to the expression's
// typed value; otherwise each <% %> is replaced by the value printed as
// Python's str() prints it ("ids: ['a', 'b']", "flag: True"). A string
// whose first {{ }} is the whole string evaluates to the expression's
// typed value; otherwise the string is rendered as a template. (Mistral
// fails a string with {% %} blocks and no {{ }}; here it is rendered.)
// The data context is $ in YAQL and _ in Jinja; when it is a map, its
// __env, __execution and __task_execution entries are also the variables
// $__env ... and the Jinja names __env ....
//
// # Compiled forms
//
// Evaluator.Compile turns a string into a *Compiled that evaluates without
// parsing again; Evaluator.Eval and EvalRecursive keep compiled forms in a
// bounded cache, so a workflow's expressions are parsed once per process.
package expr
