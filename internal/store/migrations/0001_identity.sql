-- Keystone v3: domains, projects, users, groups, roles, assignments,
-- application credentials, catalog, token revocations.
-- Timestamps are unix microseconds (BIGINT) in every table.

CREATE TABLE epochs (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO epochs (name, value) VALUES ('identity', 1);

CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX domains_name ON domains (name);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains (id),
    parent_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_domain_name ON projects (domain_id, name);
CREATE INDEX projects_parent ON projects (parent_id);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    domain_id           TEXT NOT NULL REFERENCES domains (id),
    name                TEXT NOT NULL,
    enabled             BOOLEAN NOT NULL,
    password_hash       TEXT NOT NULL DEFAULT '',
    password_expires_at BIGINT,
    default_project_id  TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    extra               TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_domain_name ON users (domain_id, name);

CREATE TABLE user_groups (
    id          TEXT PRIMARY KEY,
    domain_id   TEXT NOT NULL REFERENCES domains (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX user_groups_domain_name ON user_groups (domain_id, name);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- domain_id is '' for global roles.
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_domain_name ON roles (domain_id, name);

CREATE TABLE implied_roles (
    prior_role_id   TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- actor_type: user | group; target_type: project | domain | system
-- (target_id 'all' for the system).
CREATE TABLE assignments (
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    role_id     TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    inherited   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX assignments_target ON assignments (target_type, target_id);
CREATE INDEX assignments_role ON assignments (role_id);

CREATE TABLE app_creds (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    expires_at   BIGINT,
    unrestricted BOOLEAN NOT NULL,
    roles        TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX app_creds_user_name ON app_creds (user_id, name);

CREATE TABLE regions (
    id               TEXT PRIMARY KEY,
    description      TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT NOT NULL DEFAULT '',
    extra            TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL
);

CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    interface  TEXT NOT NULL,
    region_id  TEXT NOT NULL DEFAULT '',
    url        TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    extra      TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX endpoints_service ON endpoints (service_id);

-- A token is revoked when a row matches one of its attributes and the token
-- was issued at or before issued_before. kind: audit | user | project |
-- domain | app_cred.
CREATE TABLE revocations (
    kind          TEXT NOT NULL,
    value         TEXT NOT NULL,
    issued_before BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
