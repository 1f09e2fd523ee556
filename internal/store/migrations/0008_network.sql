-- Neutron: networks, subnets, ports and their IP allocations, security
-- groups and rules, routers, floating IPs, quotas. Each resource keeps its
-- whole record as JSON in body; the other columns exist to be indexed,
-- filtered on or made unique. Timestamps are unix microseconds.

-- The network epoch is the data plane's revision: every transaction that
-- changes networking takes it first (its row lock makes networking writes
-- take turns, which keeps IP, MAC, VNI and quota checks exact on
-- PostgreSQL) and bumps it.
INSERT INTO epochs (name, value) VALUES ('network', 1);

CREATE TABLE networks (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    shared      BOOLEAN NOT NULL,
    external    BOOLEAN NOT NULL,
    -- "vxlan:VNI" or "flat:PHYSNET": one network per segment.
    segment     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE UNIQUE INDEX networks_segment ON networks (segment);
CREATE INDEX networks_project ON networks (project_id);

CREATE TABLE subnets (
    id          TEXT PRIMARY KEY,
    network_id  TEXT NOT NULL REFERENCES networks (id),
    project_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX subnets_network ON subnets (network_id);
CREATE INDEX subnets_project ON subnets (project_id);

CREATE TABLE ports (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks (id),
    project_id   TEXT NOT NULL,
    mac_address  TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    device_owner TEXT NOT NULL,
    host         TEXT NOT NULL,
    seq          BIGINT NOT NULL,  -- creation order (a server's NICs)
    created_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX ports_mac ON ports (network_id, mac_address);
CREATE INDEX ports_project ON ports (project_id);
CREATE INDEX ports_device ON ports (device_id);
CREATE INDEX ports_host ON ports (host);

-- One row per address a port holds: the primary key makes handing one
-- address to two ports impossible, whatever races.
CREATE TABLE ip_allocations (
    subnet_id   TEXT NOT NULL REFERENCES subnets (id),
    ip_address  TEXT NOT NULL,
    network_id  TEXT NOT NULL,
    port_id     TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX ip_allocations_port ON ip_allocations (port_id);

CREATE TABLE security_groups (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);

CREATE TABLE security_group_rules (
    id                TEXT PRIMARY KEY,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    project_id        TEXT NOT NULL,
    remote_group_id   TEXT NOT NULL,
    -- direction, ethertype, protocol, ports and remotes: a duplicate is refused.
    fingerprint       TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    body              TEXT NOT NULL
);
CREATE UNIQUE INDEX security_group_rules_fingerprint ON security_group_rules (security_group_id, fingerprint);
CREATE INDEX security_group_rules_project ON security_group_rules (project_id);

-- A port's security groups, for the groups' members and "in use".
CREATE TABLE port_security_groups (
    port_id           TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    security_group_id TEXT NOT NULL,
    PRIMARY KEY (port_id, security_group_id)
);
CREATE INDEX port_security_groups_group ON port_security_groups (security_group_id);

CREATE TABLE routers (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    host        TEXT NOT NULL,  -- the compute host that runs it; '' until placed
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX routers_project ON routers (project_id);
CREATE INDEX routers_host ON routers (host);

CREATE TABLE floating_ips (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_ip_address TEXT NOT NULL,
    port_id             TEXT NOT NULL,  -- '' when not associated
    router_id           TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    body                TEXT NOT NULL
);
CREATE UNIQUE INDEX floating_ips_address ON floating_ips (floating_network_id, floating_ip_address);
CREATE INDEX floating_ips_project ON floating_ips (project_id);
CREATE INDEX floating_ips_port ON floating_ips (port_id);
CREATE INDEX floating_ips_router ON floating_ips (router_id);

-- Per-project limits that differ from the defaults.
CREATE TABLE network_quotas (
    project_id  TEXT NOT NULL,
    resource    TEXT NOT NULL,
    hard_limit  INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
