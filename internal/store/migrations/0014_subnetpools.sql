-- Neutron subnet pools: sets of prefixes subnets are allocated from. As
-- the other Neutron tables, the whole record is JSON in body; the columns
-- are copies to filter on or keep unique.
CREATE TABLE subnetpools (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    ip_version  INTEGER NOT NULL,
    shared      BOOLEAN NOT NULL,
    is_default  BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX subnetpools_project ON subnetpools (project_id);
-- At most one default pool per IP version (the service says so first, in
-- Neutron's words; the index makes it hold whatever races).
CREATE UNIQUE INDEX subnetpools_default ON subnetpools (ip_version) WHERE is_default;

-- The pool a subnet's cidr was allocated from ('' for none): a pool's
-- allocations are its subnets' cidrs.
ALTER TABLE subnets ADD COLUMN subnetpool_id TEXT NOT NULL DEFAULT '';
CREATE INDEX subnets_subnetpool ON subnets (subnetpool_id);
