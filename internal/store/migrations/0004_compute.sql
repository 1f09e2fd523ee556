-- Nova: flavors, keypairs, compute hosts, servers and their actions,
-- server groups, aggregates, quotas. Timestamps are unix microseconds.

INSERT INTO epochs (name, value) VALUES ('compute', 1);

CREATE TABLE flavors (
    id          TEXT PRIMARY KEY,  -- Nova's flavorid, chosen by the admin or a UUID
    name        TEXT NOT NULL,
    ram_mb      INTEGER NOT NULL,
    vcpus       INTEGER NOT NULL,
    disk_gb     INTEGER NOT NULL,
    ephemeral_gb INTEGER NOT NULL DEFAULT 0,
    swap_mb     INTEGER NOT NULL DEFAULT 0,
    rxtx_factor DOUBLE PRECISION NOT NULL DEFAULT 1,
    is_public   BOOLEAN NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    description TEXT NOT NULL DEFAULT '',
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX flavors_name ON flavors (name);

CREATE TABLE flavor_access (
    flavor_id  TEXT NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);

CREATE TABLE keypairs (
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- One row per compute host: its nova-compute service, hypervisor and the
-- heartbeat that says whether it is up.
CREATE TABLE compute_hosts (
    id              TEXT PRIMARY KEY,  -- UUID, also its resource provider's
    seq             INTEGER NOT NULL,  -- small integer id for os-services/os-hypervisors before 2.53
    host            TEXT NOT NULL,
    zone            TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    status_changed_at BIGINT NOT NULL,
    forced_down     BOOLEAN NOT NULL DEFAULT FALSE,
    heartbeat_at    BIGINT NOT NULL,
    hypervisor_type TEXT NOT NULL,
    hypervisor_version INTEGER NOT NULL DEFAULT 0,
    host_ip         TEXT NOT NULL DEFAULT '',
    vcpus           INTEGER NOT NULL,
    memory_mb       INTEGER NOT NULL,
    disk_gb         INTEGER NOT NULL,
    cpu_info        TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX compute_hosts_host ON compute_hosts (host);
CREATE UNIQUE INDEX compute_hosts_seq ON compute_hosts (seq);

-- Servers. Desired state (desired_power, task_state, deleted) is written by
-- the API; observed state (power_state, vm_state after a task) by the
-- reconcilers. revision orders every change for the agents' watch.
CREATE TABLE servers (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT,
    hostname          TEXT NOT NULL DEFAULT '',
    image_id          TEXT NOT NULL DEFAULT '',
    flavor            TEXT NOT NULL,      -- JSON snapshot of the flavor at boot/resize
    vcpus             INTEGER NOT NULL,   -- the flavor's, as columns so quota usage is a SUM
    ram_mb            INTEGER NOT NULL,
    key_name          TEXT NOT NULL DEFAULT '',
    key_data          TEXT NOT NULL DEFAULT '',
    user_data         TEXT NOT NULL DEFAULT '',
    config_drive      BOOLEAN NOT NULL DEFAULT FALSE,
    metadata          TEXT NOT NULL DEFAULT '{}',
    tags              TEXT NOT NULL DEFAULT '[]',
    requested_zone    TEXT NOT NULL DEFAULT '',
    requested_host    TEXT NOT NULL DEFAULT '',
    zone              TEXT NOT NULL DEFAULT '',
    host              TEXT NOT NULL DEFAULT '',
    source_host       TEXT NOT NULL DEFAULT '',  -- a resize/migration's source until confirmed or reverted
    group_id          TEXT NOT NULL DEFAULT '',
    reservation_id    TEXT NOT NULL DEFAULT '',
    launch_index      INTEGER NOT NULL DEFAULT 0,
    vm_state          TEXT NOT NULL,
    task_state        TEXT NOT NULL DEFAULT '',
    task_arg          TEXT NOT NULL DEFAULT '',  -- the running task's argument, e.g. a snapshot's image id
    power_state       INTEGER NOT NULL DEFAULT 0,
    desired_power     TEXT NOT NULL DEFAULT 'running',
    locked            BOOLEAN NOT NULL DEFAULT FALSE,
    locked_reason     TEXT NOT NULL DEFAULT '',
    locked_by         TEXT NOT NULL DEFAULT '',
    fault             TEXT NOT NULL DEFAULT '',  -- JSON {code, message, details, created} or ''
    migration         TEXT NOT NULL DEFAULT '',  -- JSON of an in-flight resize/migration, or ''
    access_ipv4       TEXT NOT NULL DEFAULT '',
    access_ipv6       TEXT NOT NULL DEFAULT '',
    progress          INTEGER NOT NULL DEFAULT 0,
    launched_at       BIGINT,
    terminated_at     BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at        BIGINT,
    revision          BIGINT NOT NULL
);
CREATE INDEX servers_project ON servers (project_id, deleted, created_at, id);
CREATE INDEX servers_list ON servers (deleted, created_at, id);
CREATE INDEX servers_updated ON servers (updated_at, id);
CREATE INDEX servers_host ON servers (host, deleted);
CREATE INDEX servers_source_host ON servers (source_host);
CREATE INDEX servers_revision ON servers (revision);
CREATE INDEX servers_pending ON servers (vm_state, host);

CREATE TABLE instance_actions (
    id          TEXT PRIMARY KEY,
    server_id   TEXT NOT NULL,
    action      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    start_time  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX instance_actions_server ON instance_actions (server_id, start_time);

CREATE TABLE instance_action_events (
    id          TEXT PRIMARY KEY,
    action_id   TEXT NOT NULL REFERENCES instance_actions (id) ON DELETE CASCADE,
    event       TEXT NOT NULL,
    start_time  BIGINT NOT NULL,
    finish_time BIGINT,
    result      TEXT NOT NULL DEFAULT '',
    traceback   TEXT NOT NULL DEFAULT '',
    host        TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX instance_action_events_action ON instance_action_events (action_id, start_time);

CREATE TABLE server_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    policy      TEXT NOT NULL,
    rules       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE INDEX server_groups_project ON server_groups (project_id);

CREATE TABLE aggregates (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL,
    name        TEXT NOT NULL,
    zone        TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX aggregates_name ON aggregates (name);

CREATE TABLE aggregate_hosts (
    aggregate_id INTEGER NOT NULL REFERENCES aggregates (id) ON DELETE CASCADE,
    host         TEXT NOT NULL,
    PRIMARY KEY (aggregate_id, host)
);

-- Quota limits per project (absent: the defaults). Usage is counted from
-- the resources themselves, as Nova does since Pike, inside the
-- transaction that creates them.
CREATE TABLE quotas (
    project_id  TEXT NOT NULL,
    resource    TEXT NOT NULL,
    hard_limit  BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

-- A row per project whose boots are being counted; creating servers locks
-- it (UPDATE) so two racing boots in one project serialise on PostgreSQL.
CREATE TABLE quota_locks (
    project_id TEXT PRIMARY KEY,
    counter    BIGINT NOT NULL
);
