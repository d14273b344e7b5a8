-- A deployment remembers the id of the request that created it, unique per
-- application, so a create retried after a timeout returns the first
-- deployment instead of making a second. Each stage's log keeps running
-- totals, so its limits are checked without counting its rows, and what
-- was cut past them is counted once.

-- +goose Up
ALTER TABLE deployments ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX deployments_request ON deployments (application_id, request_id) WHERE request_id <> '';

CREATE TABLE stage_log_totals (
    deployment_id TEXT NOT NULL,
    stage_id      TEXT NOT NULL,
    blocks        BIGINT NOT NULL DEFAULT 0,
    bytes         BIGINT NOT NULL DEFAULT 0,
    cut_blocks    BIGINT NOT NULL DEFAULT 0,
    cut_bytes     BIGINT NOT NULL DEFAULT 0,
    -- the greatest index counted as cut: a resent block is not counted twice
    cut_last      BIGINT NOT NULL DEFAULT -1,
    PRIMARY KEY (deployment_id, stage_id)
);

-- +goose Down
DROP TABLE stage_log_totals;
DROP INDEX deployments_request;
ALTER TABLE deployments DROP COLUMN request_id;
