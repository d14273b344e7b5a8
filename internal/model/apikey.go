package model

import "time"

// APIKey is a credential for the CLI and CI, carrying a role. The key is
// "<id>.<secret>"; only a hash of it is stored.
type APIKey struct {
	ID         string
	ProjectID  string
	Name       string
	KeyHash    string
	Role       Role
	Creator    string
	LastUsedAt time.Time
	// Revoked keys are refused but kept for the audit trail.
	Revoked   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Revision  int64
}
