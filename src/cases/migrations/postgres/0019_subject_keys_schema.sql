-- The subject keys and their search digests move to a schema of their own
-- (ADR 0067), so the operator can give it to a role of its own and refuse the
-- application's role every right there: a dump of the event schema then holds
-- no key. The rows move with their tables (their indexes too); nothing is copied.
CREATE SCHEMA IF NOT EXISTS cases_keys;
ALTER TABLE subject_keys SET SCHEMA cases_keys;
ALTER TABLE subject_index SET SCHEMA cases_keys;
