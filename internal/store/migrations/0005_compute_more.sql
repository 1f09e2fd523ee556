-- Compute, continued: a server's disk config (Nova's OS-DCF:diskConfig,
-- AUTO or MANUAL), kept from create, rebuild and resize.
ALTER TABLE servers ADD COLUMN disk_config TEXT NOT NULL DEFAULT 'MANUAL';

-- Every resize and migration of a server, for os-migrations. Ids are
-- integers as Nova shows them (assigned MAX(id)+1 in the writing
-- transaction, as aggregates are); in-progress status is refined when read
-- from the server's own migration (internal/service/compute/migrations.go).
CREATE TABLE migrations (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    server_id       TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    migration_type  TEXT NOT NULL,             -- resize | migration | live-migration
    source_compute  TEXT NOT NULL DEFAULT '',
    dest_compute    TEXT NOT NULL DEFAULT '',
    old_flavor_id   TEXT NOT NULL DEFAULT '',
    new_flavor_id   TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX migrations_server ON migrations (server_id);
CREATE INDEX migrations_created ON migrations (created_at, id);
