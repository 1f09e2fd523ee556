-- Placement: resource providers (trees), inventories with their running
-- usage, resource classes, traits, provider aggregates, consumers and their
-- allocations. Timestamps are unix microseconds (BIGINT).
--
-- placement_inventories.used is the sum of placement_allocations.used for
-- its (provider, class), kept in the same transaction as every allocation
-- write: a capacity check and the scheduler's snapshot read one row per
-- inventory instead of summing allocations.

CREATE TABLE placement_resource_classes (
    name       TEXT PRIMARY KEY,
    standard   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE placement_traits (
    name       TEXT PRIMARY KEY,
    standard   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

-- parent_uuid is NULL for a root; root_uuid is the provider's own uuid then.
CREATE TABLE placement_providers (
    uuid        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    generation  BIGINT NOT NULL,
    parent_uuid TEXT REFERENCES placement_providers (uuid),
    root_uuid   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX placement_providers_name ON placement_providers (name);
CREATE INDEX placement_providers_root ON placement_providers (root_uuid);
CREATE INDEX placement_providers_parent ON placement_providers (parent_uuid);

CREATE TABLE placement_inventories (
    provider_uuid    TEXT NOT NULL REFERENCES placement_providers (uuid) ON DELETE CASCADE,
    resource_class   TEXT NOT NULL REFERENCES placement_resource_classes (name),
    total            BIGINT NOT NULL,
    reserved         BIGINT NOT NULL,
    min_unit         BIGINT NOT NULL,
    max_unit         BIGINT NOT NULL,
    step_size        BIGINT NOT NULL,
    allocation_ratio DOUBLE PRECISION NOT NULL,
    used             BIGINT NOT NULL DEFAULT 0,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (provider_uuid, resource_class)
);
CREATE INDEX placement_inventories_class ON placement_inventories (resource_class);

CREATE TABLE placement_provider_traits (
    provider_uuid TEXT NOT NULL REFERENCES placement_providers (uuid) ON DELETE CASCADE,
    trait         TEXT NOT NULL REFERENCES placement_traits (name),
    PRIMARY KEY (provider_uuid, trait)
);
CREATE INDEX placement_provider_traits_trait ON placement_provider_traits (trait);

CREATE TABLE placement_provider_aggregates (
    provider_uuid  TEXT NOT NULL REFERENCES placement_providers (uuid) ON DELETE CASCADE,
    aggregate_uuid TEXT NOT NULL,
    PRIMARY KEY (provider_uuid, aggregate_uuid)
);
CREATE INDEX placement_provider_aggregates_aggregate ON placement_provider_aggregates (aggregate_uuid);

-- consumer_type is '' for consumers written before microversion 1.38
-- (shown as "unknown"). A consumer exists only while it holds allocations.
CREATE TABLE placement_consumers (
    uuid          TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    consumer_type TEXT NOT NULL DEFAULT '',
    generation    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX placement_consumers_project_user ON placement_consumers (project_id, user_id);

CREATE TABLE placement_allocations (
    consumer_uuid  TEXT NOT NULL REFERENCES placement_consumers (uuid) ON DELETE CASCADE,
    provider_uuid  TEXT NOT NULL REFERENCES placement_providers (uuid),
    resource_class TEXT NOT NULL,
    used           BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class)
);
CREATE INDEX placement_allocations_provider ON placement_allocations (provider_uuid, resource_class);
