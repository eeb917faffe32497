-- PostgreSQL moves the subject keys to a schema of their own here (ADR 0067).
-- A SQLite store keeps them in its own file: a second file beside it is read by
-- whoever reads the first (one user, one directory), so it would separate
-- nothing. This step only keeps the numbers of both dialects alike.
DROP TABLE IF EXISTS cases_no_such_table_0019;
