-- Keystone trusts (OS-TRUST): a trustor delegates some of its roles on a
-- project to a trustee, who can then get tokens scoped to the trust.
-- A deleted trust is removed (its tokens stop validating, since every
-- validation of a trust-scoped token reads the trust again after a write).
--
-- project_id and expires_at are NULL when absent, so the duplicate rule
-- below (Keystone's duplicate_trust_constraint) treats two trusts without an
-- expiry, or without a project, as distinct, as Keystone's database does.
-- remaining_uses is NULL for an unlimited trust. roles is a JSON list of role
-- ids; a role deleted later stays listed, so the trust stops working, as in
-- Keystone, rather than silently delegating less.
CREATE TABLE trusts (
    id                   TEXT PRIMARY KEY,
    trustor_user_id      TEXT NOT NULL,
    trustee_user_id      TEXT NOT NULL,
    project_id           TEXT,
    impersonation        BOOLEAN NOT NULL,
    expires_at           BIGINT,
    remaining_uses       INTEGER,
    redelegated_trust_id TEXT NOT NULL DEFAULT '',
    redelegation_count   INTEGER NOT NULL DEFAULT 0,
    roles                TEXT NOT NULL DEFAULT '[]',
    extra                TEXT NOT NULL DEFAULT '{}',
    created_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX trusts_duplicate ON trusts (trustor_user_id, trustee_user_id, project_id, impersonation, expires_at);
CREATE INDEX trusts_trustee ON trusts (trustee_user_id);
CREATE INDEX trusts_project ON trusts (project_id);
CREATE INDEX trusts_redelegated ON trusts (redelegated_trust_id);
