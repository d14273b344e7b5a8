-- Applications keep their health (from the agents' live-state reports) in
-- a column, so the console's list can filter on it in the database.

-- +goose Up
ALTER TABLE applications ADD COLUMN health TEXT NOT NULL DEFAULT '';
CREATE INDEX applications_project_health ON applications (project_id, health, name, id);

-- +goose Down
DROP INDEX applications_project_health;
ALTER TABLE applications DROP COLUMN health;
