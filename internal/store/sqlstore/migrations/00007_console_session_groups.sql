-- A single sign-on session keeps the person's groups as the provider gave
-- them at sign-in, so the console derives its role from them and the
-- project's current user groups on every request: a changed group mapping
-- counts at once instead of when the session ends. Sessions from single
-- sign-on started before this have no groups to derive a role from and
-- end here (their subject is "user:<provider>:<subject>"; the static
-- admin's is "user:<name>"); those people sign in again.

-- +goose Up
ALTER TABLE console_sessions ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE console_sessions ADD COLUMN sso_groups TEXT NOT NULL DEFAULT 'null';
DELETE FROM console_sessions WHERE subject LIKE 'user:%:%';

-- +goose Down
ALTER TABLE console_sessions DROP COLUMN sso_groups;
ALTER TABLE console_sessions DROP COLUMN provider;
