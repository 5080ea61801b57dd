-- schema/0006-query-cursor.sql for PostgreSQL: quoted columns, BIGINT, BYTEA, COLLATE nocase (0001-site.sql).
-- The key that signs ExecQueryPage cursors (HMAC-SHA256), made once per site database by the
-- daemon (from getrandom()), so that a cursor stays good across restarts and no caller can forge
-- one.
CREATE TABLE query_cursor_key (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        secret BYTEA NOT NULL CHECK (octet_length(secret) = 32)
);
