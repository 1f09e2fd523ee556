-- Glance v2: images, their properties, tags and members, import tasks, and
-- per-project usage counters for image quotas.
-- Timestamps are unix microseconds (BIGINT), as in every table.

-- name, disk_format, container_format, size, virtual_size, checksum and
-- the os_hash_* columns are NULL until set: Glance reports them as JSON null.
-- owner is a project id, or '' for an image without one.
-- revision advances on every write; updates compare it so that two writers
-- racing on one image cannot lose each other's change.
-- transfer names data in flight ('' | 'upload' | 'stage' | 'import'),
-- written by worker, alive while heartbeat_at is fresh; reserved_bytes is
-- what that transfer holds of the owner's byte quota.
-- staged_size is the size of data staged for import (0: none).
-- Deleted images keep their row (deleted = TRUE) so an id is never reused.
CREATE TABLE images (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    owner            TEXT NOT NULL,
    status           TEXT NOT NULL,
    visibility       TEXT NOT NULL,
    disk_format      TEXT,
    container_format TEXT,
    size             BIGINT,
    virtual_size     BIGINT,
    checksum         TEXT,
    os_hash_algo     TEXT,
    os_hash_value    TEXT,
    min_disk         BIGINT NOT NULL DEFAULT 0,
    min_ram          BIGINT NOT NULL DEFAULT 0,
    protected        BOOLEAN NOT NULL DEFAULT FALSE,
    os_hidden        BOOLEAN NOT NULL DEFAULT FALSE,
    revision         BIGINT NOT NULL DEFAULT 1,
    transfer         TEXT NOT NULL DEFAULT '',
    worker           TEXT NOT NULL DEFAULT '',
    heartbeat_at     BIGINT NOT NULL DEFAULT 0,
    reserved_bytes   BIGINT NOT NULL DEFAULT 0,
    staged_size      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted          BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at       BIGINT
);
-- Lists read live images in (sort key, id) order; created_at is the default key.
CREATE INDEX images_created ON images (deleted, created_at, id);
CREATE INDEX images_updated ON images (deleted, updated_at, id);
CREATE INDEX images_owner ON images (owner, deleted, created_at, id);
CREATE INDEX images_visibility ON images (visibility, deleted, created_at, id);
CREATE INDEX images_transfer ON images (transfer);

-- Extra (user-defined) properties; values are strings, as Glance's schema says.
CREATE TABLE image_properties (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE INDEX image_properties_name_value ON image_properties (name, value);

-- pos keeps tags in the order they were added.
CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    pos      BIGINT NOT NULL,
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_tag ON image_tags (tag);

-- status: pending | accepted | rejected.
CREATE TABLE image_members (
    image_id   TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
CREATE INDEX image_members_member ON image_members (member_id, status);

-- One row per import request (Glance's api_image_import task).
-- status: pending | processing | success | failure.
CREATE TABLE image_tasks (
    id         TEXT PRIMARY KEY,
    image_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    input      TEXT NOT NULL DEFAULT '{}',
    result     TEXT NOT NULL DEFAULT '{}',
    message    TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX image_tasks_image ON image_tasks (image_id, created_at);

-- Per-project usage the quotas are checked against, changed in the same
-- transaction as the images it counts: images counts live images; bytes
-- counts stored data plus what uploads in flight have reserved.
CREATE TABLE image_usage (
    project_id TEXT PRIMARY KEY,
    images     BIGINT NOT NULL DEFAULT 0,
    bytes      BIGINT NOT NULL DEFAULT 0
);
