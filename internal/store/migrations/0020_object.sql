-- Swift v1 object storage: accounts, containers and objects. An object's
-- data is a file under DATA/objects named by its row's id (written before
-- the row, removed after it); these tables hold everything else, so a
-- listing is a keyset query on (account, container, name), never a walk
-- of directories. Names compare byte by byte, Swift's listing order:
-- COLLATE BINARY here, rewritten to COLLATE "C" for PostgreSQL.
-- metadata columns are JSON objects of lower-case header names to values
-- (x-account-meta-*, x-container-read, x-object-meta-*, content-encoding…),
-- read and written whole. Timestamps are unix microseconds.

CREATE TABLE object_accounts (
    name       TEXT PRIMARY KEY,
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- object_count and bytes_used change in the transaction that writes or
-- removes an object, so they always match the container's rows.
CREATE TABLE object_containers (
    account      TEXT NOT NULL,
    name         TEXT COLLATE BINARY NOT NULL,
    object_count BIGINT NOT NULL DEFAULT 0,
    bytes_used   BIGINT NOT NULL DEFAULT 0,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account, name)
);

-- size is what the object stores (an SLO's manifest), list_size what a
-- listing shows (an SLO's total); slo_etag is an SLO's own etag.
-- delete_at is X-Delete-At in unix seconds; the reaper removes the object
-- then (reads hide it from that second on).
CREATE TABLE object_objects (
    id           TEXT PRIMARY KEY,
    account      TEXT NOT NULL,
    container    TEXT COLLATE BINARY NOT NULL,
    name         TEXT COLLATE BINARY NOT NULL,
    size         BIGINT NOT NULL,
    list_size    BIGINT NOT NULL,
    etag         TEXT NOT NULL,
    slo_etag     TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL,
    modified     BIGINT NOT NULL,
    delete_at    BIGINT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    UNIQUE (account, container, name)
);
CREATE INDEX object_objects_expiry ON object_objects (delete_at) WHERE delete_at IS NOT NULL;
-- Listings read every column they show from this index alone, in name
-- order, instead of looking up each row: the JSON page of 10,000 objects
-- clients ask for is one index range scan.
CREATE INDEX object_objects_listing ON object_objects (account, container, name, list_size, etag, slo_etag, content_type, modified);
