-- Cinder v3: volume types, volumes, snapshots, attachments and quotas.
-- Timestamps are unix microseconds (BIGINT), as in every table.
-- metadata, image_metadata and extra_specs are JSON objects of strings,
-- read and written whole (Cinder's metadata calls replace or merge a map).

CREATE TABLE volume_types (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    is_public   BOOLEAN NOT NULL DEFAULT TRUE,
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE volume_type_access (
    type_id    TEXT NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (type_id, project_id)
);

-- status is Cinder's (creating, available, reserved, attaching, in-use,
-- detaching, extending, deleting, error, error_deleting, ...); task says
-- what the worker still owes a transitional status (the create's source,
-- the size to extend to) so a restart can finish it. Deleted volumes
-- keep their row (deleted = TRUE) so an id is never reused.
CREATE TABLE volumes (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    size_gb           BIGINT NOT NULL,
    status            TEXT NOT NULL,
    attach_status     TEXT NOT NULL DEFAULT 'detached',
    type_id           TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    bootable          BOOLEAN NOT NULL DEFAULT FALSE,
    readonly          BOOLEAN NOT NULL DEFAULT FALSE,
    multiattach       BOOLEAN NOT NULL DEFAULT FALSE,
    source_volid      TEXT NOT NULL DEFAULT '',
    snapshot_id       TEXT NOT NULL DEFAULT '',
    image_id          TEXT NOT NULL DEFAULT '',
    host              TEXT NOT NULL DEFAULT '',
    task              TEXT NOT NULL DEFAULT '',
    error_message     TEXT NOT NULL DEFAULT '',
    metadata          TEXT NOT NULL DEFAULT '{}',
    image_metadata    TEXT NOT NULL DEFAULT '{}',
    revision          BIGINT NOT NULL DEFAULT 1,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at        BIGINT
);
CREATE INDEX volumes_project ON volumes (project_id, deleted, created_at, id);
CREATE INDEX volumes_live ON volumes (deleted, created_at, id);
CREATE INDEX volumes_status ON volumes (status);

CREATE TABLE volume_snapshots (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    volume_id   TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    size_gb     BIGINT NOT NULL,
    status      TEXT NOT NULL,
    error_message TEXT NOT NULL DEFAULT '',
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at  BIGINT
);
CREATE INDEX volume_snapshots_project ON volume_snapshots (project_id, deleted, created_at, id);
CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id, deleted);
CREATE INDEX volume_snapshots_status ON volume_snapshots (status);

-- An attachment joins a volume to a server: reserved, attaching, attached,
-- detaching. connector is the JSON the client sent (Cinder's attachments API).
CREATE TABLE volume_attachments (
    id            TEXT PRIMARY KEY,
    volume_id     TEXT NOT NULL,
    instance_uuid TEXT NOT NULL DEFAULT '',
    host          TEXT NOT NULL DEFAULT '',
    device        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    attach_mode   TEXT NOT NULL DEFAULT 'rw',
    connector     TEXT NOT NULL DEFAULT '{}',
    address       TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);

-- A project's own limits (resource: volumes, snapshots, gigabytes,
-- volumes_<type>, ..., backups, per_volume_gigabytes); project_id '' holds
-- the default quota class.
CREATE TABLE volume_quotas (
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);
