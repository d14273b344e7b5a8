package model

import "time"

// ConsoleSession is a person signed in to the web console. The browser
// holds a random token; the datastore keeps only its hash, so a copy of the
// database does not let anyone in. Deleting the session signs the person
// out on every replica.
type ConsoleSession struct {
	// ID names the session in lists and revocations; it is not a secret.
	ID string
	// TokenHash is the SHA-256 of the token in the session cookie.
	TokenHash string
	ProjectID string
	// Subject is who signed in: "user:<name>" for the static admin,
	// "user:<provider>:<subject>" for single sign-on.
	Subject string
	// Name is shown in the console; approvals match Subject, not it.
	Name string
	// Role is the session's role. The console derives a single sign-on
	// session's role again on every request, from Groups and the
	// project's current user groups, and stores it when it changed.
	Role Role
	// Provider is the single sign-on provider the person signed in
	// through; empty for the static admin.
	Provider string
	// Groups are the person's teams or groups as the provider gave them
	// at sign-in.
	Groups []string
	// CSRFToken must accompany every form the session posts.
	CSRFToken string
	// UserAgent is the browser's, shown so a person can tell sessions
	// apart.
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
}
