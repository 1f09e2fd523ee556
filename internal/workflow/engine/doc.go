// Package engine is onestack's durable step engine: it runs workflows of
// the Mistral language (internal/workflow/spec) over the store, so that a
// crash at any point loses nothing and repeats no side effect.
//
// # Durability
//
// Every state change of an execution, a task and an action is committed
// before it is acted on. Work that is due (an action to call, a timer of
// wait-before, wait-after, a retry delay, a timeout or std.sleep, a
// with-items batch to continue) is a row of wf_jobs with a due time. A
// controller claims a due job by moving its due time to the end of a lease
// and naming itself its owner, in a transaction; a job whose controller
// died becomes due again when the lease ends, and any controller takes it
// over. The result of a job is recorded, and the job deleted, in one
// transaction that first checks the lease is still held.
//
// An action with effects outside the store is marked started, and the
// mark committed, before it is called. A started action found without a
// result (its controller died while calling it) is not called again: its
// task fails with an explanation, unless the task is safe-rerun, when it
// is called again. So a side effect happens at most once, or, with
// safe-rerun, at least once.
//
// Pure actions (std.noop, std.echo, std.fail, std.test_dict and ad-hoc
// actions over them) have no effect outside the store: they run inside
// the transaction that schedules them, with the task's completion and the
// next tasks, so a chain of them costs one transaction per few hundred
// tasks rather than several per task.
//
// # Concurrency
//
// Transactions that change an execution's tasks take the execution's
// row lock first (SQLite's single writer already serialises them), so two
// controllers never both start a join or finish an execution. Thousands of
// tasks may be in flight: each is rows and due times, not a goroutine; a
// bounded pool of workers calls the actions that are due.
//
// # Layers
//
// The engine imports the store, the expression layer (internal/expr) and
// the workflow language (internal/workflow/spec). Actions are values the
// caller registers (internal/workflow/action has the standard ones), so
// other services can run their multi-step operations on the engine with
// actions of their own.
package engine
