package model

import (
	"path"
	"regexp"
)

// ConfigRemovedReason is the short sync reason of an application whose
// config left its repository (moved to another folder, or deleted): its
// agent disabled it, so it no longer deploys, and its history stays. A
// config that comes back at the same place enables it again.
const ConfigRemovedReason = "application config removed from Git"

// ConfigRemoved reports whether a was disabled because its config left its
// repository.
func (a *Application) ConfigRemoved() bool {
	return a.Disabled && a.SyncState.Status == SyncInvalidConfig && a.SyncState.ShortReason == ConfigRemovedReason
}

// ConfigPath is the config file's path from the repository root.
func (g GitPath) ConfigPath() string { return path.Join(g.Path, g.ConfigFilename) }

// Ref is how people name an application unambiguously without its id:
// REPO:PATH, the repository id and the application's directory (with the
// config file when it is not the usual app.ferry.yaml or app.pipecd.yaml,
// since a directory may hold several).
func (g GitPath) Ref() string {
	switch g.ConfigFilename {
	case "", "app.ferry.yaml", "app.pipecd.yaml":
		return g.RepoID + ":" + g.Path
	}
	return g.RepoID + ":" + g.ConfigPath()
}

// urlUserinfo matches the user information of a URL up to its last "@"
// before the host: the user, and the password or token after a colon.
var urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s'"]*@`)

// RedactRemote returns remote without the user information of its URL
// (https://user:token@host/org/repo.git becomes https://host/org/repo.git).
// A remote is stored with every application and deployment and shown to
// every viewer; credentials belong in the agent's config (spec.git), not
// in what it reports. An scp-like address (git@host:org/repo.git) holds no
// secret and is left as it is.
func RedactRemote(remote string) string {
	return urlUserinfo.ReplaceAllString(remote, "${1}")
}

// Redacted returns g with its remote redacted (see RedactRemote).
func (g GitPath) Redacted() GitPath {
	g.Remote = RedactRemote(g.Remote)
	return g
}
