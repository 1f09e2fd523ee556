-- Mistral (workflow v2) and the durable step engine under it.
-- Timestamps are unix microseconds (BIGINT), as in every table. JSON
-- values (inputs, outputs, contexts) are TEXT, read and written whole.

-- Definitions: workflows, workbooks and ad-hoc actions (kind). doc holds
-- what lists show and nothing selects on (tags, description, input
-- signature, checksum).
CREATE TABLE wf_definitions (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    namespace  TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL,
    scope      TEXT NOT NULL,
    workbook   TEXT NOT NULL DEFAULT '',
    definition TEXT NOT NULL,
    doc        TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX wf_definitions_name ON wf_definitions (kind, name, namespace, project_id);
CREATE INDEX wf_definitions_list ON wf_definitions (kind, created_at, id);
CREATE INDEX wf_definitions_workbook ON wf_definitions (workbook, project_id);

-- Sharing of workflows with other projects (/workflows/{id}/members).
CREATE TABLE wf_members (
    id            TEXT PRIMARY KEY,
    resource_id   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX wf_members_resource ON wf_members (resource_id, resource_type, member_id);
CREATE INDEX wf_members_member ON wf_members (member_id);

-- Workflow executions. definition is the workflow's text when the
-- execution started (a later update of the workflow does not change a
-- running execution); input and params never change; active counts the
-- tasks not finished and the transitions not taken, errors the failed
-- tasks no on-error handled: the execution ends when active reaches 0.
CREATE TABLE wf_executions (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL,
    user_id            TEXT NOT NULL DEFAULT '',
    workflow_id        TEXT NOT NULL DEFAULT '',
    workflow_name      TEXT NOT NULL,
    workflow_namespace TEXT NOT NULL DEFAULT '',
    workbook           TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    state              TEXT NOT NULL,
    state_info         TEXT NOT NULL DEFAULT '',
    root_execution_id  TEXT NOT NULL DEFAULT '',
    parent_task_id     TEXT NOT NULL DEFAULT '',
    definition         TEXT NOT NULL,
    input              TEXT NOT NULL DEFAULT '{}',
    params             TEXT NOT NULL DEFAULT '{}',
    output             TEXT NOT NULL DEFAULT '{}',
    context            TEXT NOT NULL DEFAULT '{}',
    tags               TEXT NOT NULL DEFAULT '[]',
    auth               TEXT NOT NULL DEFAULT '{}',
    active             BIGINT NOT NULL DEFAULT 0,
    errors             BIGINT NOT NULL DEFAULT 0,
    revision           BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX wf_executions_list ON wf_executions (created_at, id);
CREATE INDEX wf_executions_project ON wf_executions (project_id, created_at, id);
CREATE INDEX wf_executions_root ON wf_executions (root_execution_id);
CREATE INDEX wf_executions_parent ON wf_executions (parent_task_id);
CREATE INDEX wf_executions_state ON wf_executions (state);

-- Task executions. unique_key makes a join task one row per execution.
-- runtime holds the engine's bookkeeping (with-items counters, the retry
-- number, the parameters a transition passed, what triggered the task).
CREATE TABLE wf_tasks (
    id                 TEXT PRIMARY KEY,
    execution_id       TEXT NOT NULL,
    project_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    type               TEXT NOT NULL,
    state              TEXT NOT NULL,
    state_info         TEXT NOT NULL DEFAULT '',
    unique_key         TEXT NOT NULL DEFAULT '',
    workflow_name      TEXT NOT NULL DEFAULT '',
    workflow_id        TEXT NOT NULL DEFAULT '',
    workflow_namespace TEXT NOT NULL DEFAULT '',
    in_context         TEXT NOT NULL DEFAULT '{}',
    published          TEXT NOT NULL DEFAULT '{}',
    runtime            TEXT NOT NULL DEFAULT '{}',
    next_tasks         TEXT NOT NULL DEFAULT '[]',
    error_handled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    started_at         BIGINT,
    finished_at        BIGINT
);
CREATE INDEX wf_tasks_execution ON wf_tasks (execution_id, name);
CREATE UNIQUE INDEX wf_tasks_unique ON wf_tasks (execution_id, unique_key) WHERE unique_key <> '';
CREATE INDEX wf_tasks_list ON wf_tasks (created_at, id);
CREATE INDEX wf_tasks_project ON wf_tasks (project_id, created_at, id);

-- Action executions: the calls of a task (one, or one per with-items
-- item and retry), and ad-hoc runs (task_id ''). started is set, and
-- committed, before the action is called: a started action that has no
-- result after a crash is not called again unless it is safe to rerun.
CREATE TABLE wf_actions (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    execution_id  TEXT NOT NULL DEFAULT '',
    task_id       TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL,
    state         TEXT NOT NULL,
    state_info    TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    workflow_name TEXT NOT NULL DEFAULT '',
    task_name     TEXT NOT NULL DEFAULT '',
    input         TEXT NOT NULL DEFAULT '{}',
    output        TEXT NOT NULL DEFAULT '{}',
    runtime       TEXT NOT NULL DEFAULT '{}',
    accepted      BOOLEAN NOT NULL DEFAULT FALSE,
    item_index    BIGINT NOT NULL DEFAULT 0,
    attempt       BIGINT NOT NULL DEFAULT 0,
    safe_rerun    BOOLEAN NOT NULL DEFAULT FALSE,
    started       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX wf_actions_task ON wf_actions (task_id, item_index);
CREATE INDEX wf_actions_list ON wf_actions (created_at, id);
CREATE INDEX wf_actions_project ON wf_actions (project_id, created_at, id);

-- The engine's work: jobs due at a time (an action to call, a timer of
-- wait-before, wait-after, retry delay, timeout or std.sleep, a task to
-- continue). A controller claims a job by moving due_at to the end of its
-- lease (and naming itself owner); a job whose owner died becomes due
-- again when the lease ends. A finished job is deleted in the transaction
-- that records what it did.
CREATE TABLE wf_jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    execution_id TEXT NOT NULL DEFAULT '',
    task_id      TEXT NOT NULL DEFAULT '',
    action_id    TEXT NOT NULL DEFAULT '',
    due_at       BIGINT NOT NULL,
    owner        TEXT NOT NULL DEFAULT '',
    claims       BIGINT NOT NULL DEFAULT 0,
    payload      TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL
);
CREATE INDEX wf_jobs_due ON wf_jobs (due_at);
CREATE INDEX wf_jobs_task ON wf_jobs (task_id);
CREATE INDEX wf_jobs_execution ON wf_jobs (execution_id);

-- Cron triggers. A controller fires a trigger by moving
-- next_execution_time on (compare-and-set) in the transaction that
-- creates the execution, so a tick fires once across controllers.
CREATE TABLE wf_cron_triggers (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    project_id           TEXT NOT NULL,
    user_id              TEXT NOT NULL DEFAULT '',
    scope                TEXT NOT NULL DEFAULT 'private',
    pattern              TEXT NOT NULL DEFAULT '',
    workflow_id          TEXT NOT NULL,
    workflow_name        TEXT NOT NULL,
    workflow_namespace   TEXT NOT NULL DEFAULT '',
    workflow_input       TEXT NOT NULL DEFAULT '{}',
    workflow_params      TEXT NOT NULL DEFAULT '{}',
    first_execution_time BIGINT,
    next_execution_time  BIGINT NOT NULL,
    remaining_executions BIGINT,
    auth                 TEXT NOT NULL DEFAULT '{}',
    signature            TEXT NOT NULL DEFAULT '',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX wf_cron_triggers_name ON wf_cron_triggers (name, project_id);
-- Two triggers of a project that would start the same workflow with the
-- same input and parameters at the same times are one too many (Mistral's
-- unique constraint): signature hashes what they start and when.
CREATE UNIQUE INDEX wf_cron_triggers_signature ON wf_cron_triggers (project_id, signature) WHERE signature <> '';
CREATE INDEX wf_cron_triggers_next ON wf_cron_triggers (next_execution_time);

-- Environments: variables an execution may start with (params.env).
CREATE TABLE wf_environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    scope       TEXT NOT NULL DEFAULT 'private',
    description TEXT NOT NULL DEFAULT '',
    variables   TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX wf_environments_name ON wf_environments (name, project_id);
