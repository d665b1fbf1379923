-- apex-idp on PostgreSQL, schema 1: one table per table of the store, the faces'
-- state, the id sequence and the change feed. Applied once, under an advisory lock,
-- by the first node that starts (src/store/pg_engine.rs).
--
-- Every record and index table is (key, value) under a primary key on the key:
-- ordered bytea keys answer the store's point reads, prefix walks and ranges through
-- the primary key index. The rules the database can hold are held here too:
--   * a login maps to one account and a SIRET to one structure (primary keys of
--     apex_account_by_login and apex_structure_by_siret);
--   * a login or a SIRET maps to an account or a structure that exists (foreign keys,
--     checked at commit, so that one transaction may write both in any order).

CREATE TABLE apex_meta (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_structures (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_structure_by_siret (
    key bytea PRIMARY KEY,
    value bytea NOT NULL REFERENCES apex_structures (key) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE apex_services (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_services_by_structure (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_account_by_login (
    key bytea PRIMARY KEY,
    value bytea NOT NULL REFERENCES apex_accounts (key) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE apex_logins_used (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts_by_email (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts_by_structure (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts_by_service (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts_by_profile (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_delegations_by_profile (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_accounts_by_state (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_tokens (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_audit (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_audit_by_structure (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_mail_queue (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE apex_sessions (key bytea PRIMARY KEY, value bytea NOT NULL);

-- The faces' own state (OIDC codes, refresh families, SSO sessions, signing keys...),
-- one row per key of each named table.
CREATE TABLE apex_face_state (
    tbl text NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (tbl, key)
);

-- Unique increasing ids (audit sequence, mail queue), across every node.
CREATE SEQUENCE apex_ids;

-- The change feed: one row per commit of the directory, in commit order (commits are
-- made under one advisory lock), with the keys it wrote. A node reads the rows past the
-- last one it saw before it answers, and drops what its caches hold of those keys.
CREATE TABLE apex_changes (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    tables smallint[] NOT NULL,
    keys bytea[] NOT NULL
);
