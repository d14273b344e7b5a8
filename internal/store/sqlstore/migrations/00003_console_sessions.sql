-- Console sessions live in the datastore, so signing out, a password change
-- or an admin's revocation ends a session on every replica at once. The
-- browser holds a random token; only its SHA-256 is kept here.

-- +goose Up
CREATE TABLE console_sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    project_id  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    csrf_token  TEXT NOT NULL,
    user_agent  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_project ON console_sessions (project_id, subject, created_at);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
