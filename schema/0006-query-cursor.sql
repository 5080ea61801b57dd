-- The key that signs ExecQueryPage cursors (HMAC-SHA256), made once per site database by the
-- daemon (from getrandom()), so that a cursor stays good across restarts and no caller can forge
-- one.
CREATE TABLE query_cursor_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        secret BLOB NOT NULL CHECK (length(secret) = 32)
);
