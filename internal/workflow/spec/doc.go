// Package spec parses and validates documents of the Mistral workflow
// language v2: workflow files (one or more workflows), workbooks
// (workflows and ad-hoc actions under one name) and ad-hoc action files.
//
// It reads YAML with go.yaml.in/yaml/v3's node API so that every error
// names its line, the workflow and the task and what to change ("line 14:
// workflow 'deploy', task 'boot': unknown action 'nova.server_create'").
// Values are the trees the expression layer (internal/exprvalue) works
// on: integers as int64, floats as float64, maps as map[string]any.
//
// Parsing resolves what the language leaves implicit, so the engine reads
// each task's effective settings: task-defaults are applied (policies
// when the task does not set them, transitions when the task has none,
// requires as a union), "cmd k=v" shorthands are split into the action or
// workflow name and its input, with-items clauses into variables and
// their lists, and on-* clauses into transitions with their conditions
// and parameters.
//
// It is a leaf of the workflow layer: it imports only the YAML library;
// expressions are validated through a function the caller passes (the
// engine's evaluator, which knows the host functions).
package spec
