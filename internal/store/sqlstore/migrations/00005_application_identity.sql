-- An application is who deploys it and where its config lives: its agent,
-- repository, directory and config file, as in PipeCD, where names repeat
-- (an example repository has a "simple" and a "canary" for every
-- platform). Names stop being unique in a project.
--
-- Neither engine can drop the old UNIQUE (project_id, name) the same way
-- (SQLite cannot drop a table constraint at all), so the constrained
-- column is renamed to identity_key and keeps the uniqueness, now over the
-- identity; name becomes a plain column. identity_key is written by the
-- store from agent_id and git_path on every write; rows from before this
-- migration get a placeholder that the store fills in when it opens.

-- +goose Up
ALTER TABLE applications RENAME COLUMN name TO identity_key;
ALTER TABLE applications ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE applications SET name = identity_key, identity_key = 'legacy:' || id;
DROP INDEX applications_agent;
DROP INDEX applications_project_health;
CREATE INDEX applications_agent ON applications (agent_id, name, id);
CREATE INDEX applications_project_health ON applications (project_id, health, name, id);
CREATE INDEX applications_project_name ON applications (project_id, name, id);

-- +goose Down
DROP INDEX applications_project_name;
DROP INDEX applications_project_health;
DROP INDEX applications_agent;
UPDATE applications SET identity_key = name;
ALTER TABLE applications DROP COLUMN name;
ALTER TABLE applications RENAME COLUMN identity_key TO name;
CREATE INDEX applications_agent ON applications (agent_id, name, id);
CREATE INDEX applications_project_health ON applications (project_id, health, name, id);
