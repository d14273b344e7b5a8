-- Applications keep the warnings of their config (fields Ferry accepts and
-- does not act on), as reported by their agent's discovery, so the CLI and
-- the console can show them.

-- +goose Up
ALTER TABLE applications ADD COLUMN config_warnings TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE applications DROP COLUMN config_warnings;
