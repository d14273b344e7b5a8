-- The first schema. It uses only types both SQLite and PostgreSQL read the
-- same way: TEXT, BIGINT and INTEGER. Times are Unix microseconds (UTC),
-- booleans are 0/1, nested values that are never filtered on are JSON text.

-- +goose Up
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    static_admin TEXT NOT NULL DEFAULT '{}',
    user_groups TEXT NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    revision    BIGINT NOT NULL
);

CREATE TABLE agents (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    keys               TEXT NOT NULL DEFAULT '[]',
    version            TEXT NOT NULL DEFAULT '',
    started_at         BIGINT NOT NULL DEFAULT 0,
    last_seen_at       BIGINT NOT NULL DEFAULT 0,
    repositories       TEXT NOT NULL DEFAULT '[]',
    platform_providers TEXT NOT NULL DEFAULT '[]',
    disabled           INTEGER NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    revision           BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE applications (
    id                      TEXT PRIMARY KEY,
    project_id              TEXT NOT NULL,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    agent_id                TEXT NOT NULL,
    platform_provider       TEXT NOT NULL DEFAULT '',
    git_path                TEXT NOT NULL DEFAULT '{}',
    labels                  TEXT NOT NULL DEFAULT '{}',
    description             TEXT NOT NULL DEFAULT '',
    sync_status             TEXT NOT NULL DEFAULT '',
    sync_state              TEXT NOT NULL DEFAULT '{}',
    deploying               INTEGER NOT NULL DEFAULT 0,
    most_recent             TEXT NOT NULL DEFAULT 'null',
    most_recent_successful  TEXT NOT NULL DEFAULT 'null',
    disabled                INTEGER NOT NULL DEFAULT 0,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    revision                BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX applications_agent ON applications (agent_id, name, id);

CREATE TABLE application_labels (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (application_id, key)
);
CREATE INDEX application_labels_kv ON application_labels (key, value);

CREATE TABLE deployments (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    application_id      TEXT NOT NULL,
    application_name    TEXT NOT NULL,
    agent_id            TEXT NOT NULL,
    kind                TEXT NOT NULL,
    platform_provider   TEXT NOT NULL DEFAULT '',
    git_path            TEXT NOT NULL DEFAULT '{}',
    labels              TEXT NOT NULL DEFAULT '{}',
    trigger_info        TEXT NOT NULL DEFAULT '{}',
    running_commit_hash TEXT NOT NULL DEFAULT '',
    summary             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL,
    status_reason       TEXT NOT NULL DEFAULT '',
    metadata            TEXT NOT NULL DEFAULT '{}',
    operations          TEXT NOT NULL DEFAULT '[]',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    completed_at        BIGINT NOT NULL DEFAULT 0,
    revision            BIGINT NOT NULL
);
CREATE INDEX deployments_project ON deployments (project_id, created_at, id);
CREATE INDEX deployments_application ON deployments (application_id, created_at, id);
CREATE INDEX deployments_agent_status ON deployments (agent_id, status);

CREATE TABLE deployment_labels (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (deployment_id, key)
);
CREATE INDEX deployment_labels_kv ON deployment_labels (key, value);

CREATE TABLE stages (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    idx           INTEGER NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    requires      TEXT NOT NULL DEFAULT '[]',
    visible       INTEGER NOT NULL DEFAULT 0,
    rollback      INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL,
    status_reason TEXT NOT NULL DEFAULT '',
    metadata      TEXT NOT NULL DEFAULT '{}',
    retried_count INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT NOT NULL DEFAULT 0,
    completed_at  BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, id)
);

CREATE TABLE stage_logs (
    deployment_id TEXT NOT NULL,
    stage_id      TEXT NOT NULL,
    idx           BIGINT NOT NULL,
    severity      TEXT NOT NULL,
    log           TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, stage_id, idx)
);

CREATE TABLE commands (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL,
    agent_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    application_id TEXT NOT NULL DEFAULT '',
    deployment_id  TEXT NOT NULL DEFAULT '',
    stage_id       TEXT NOT NULL DEFAULT '',
    commander      TEXT NOT NULL DEFAULT '',
    args           TEXT NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL,
    output         TEXT NOT NULL DEFAULT '',
    metadata       TEXT NOT NULL DEFAULT '{}',
    handled_at     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    revision       BIGINT NOT NULL
);
CREATE INDEX commands_agent_status ON commands (agent_id, status, created_at, id);
CREATE INDEX commands_project ON commands (project_id, created_at, id);

CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    data               TEXT NOT NULL,
    labels             TEXT NOT NULL DEFAULT '{}',
    event_key          TEXT NOT NULL,
    status             TEXT NOT NULL,
    status_description TEXT NOT NULL DEFAULT '',
    contexts           TEXT NOT NULL DEFAULT '{}',
    handled_at         BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    revision           BIGINT NOT NULL
);
CREATE INDEX events_project ON events (project_id, created_at, id);
CREATE INDEX events_key ON events (project_id, event_key, status);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    role         TEXT NOT NULL,
    creator      TEXT NOT NULL DEFAULT '',
    last_used_at BIGINT NOT NULL DEFAULT 0,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    revision     BIGINT NOT NULL
);
CREATE INDEX api_keys_project ON api_keys (project_id, created_at, id);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE events;
DROP TABLE commands;
DROP TABLE stage_logs;
DROP TABLE stages;
DROP TABLE deployment_labels;
DROP TABLE deployments;
DROP TABLE application_labels;
DROP TABLE applications;
DROP TABLE agents;
DROP TABLE projects;
