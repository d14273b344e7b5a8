package model

import "time"

// AgentOfflineAfter is how long an agent may stay silent before it is shown
// OFFLINE: two missed one-minute heartbeats.
const AgentOfflineAfter = 2 * time.Minute

// MaxAgentKeys is how many keys an agent holds at once, so a key can be
// rotated without downtime: the new one is added, the old one dropped later.
const MaxAgentKeys = 2

// Agent is a registered deploy agent that runs next to one environment.
type Agent struct {
	ID          string
	ProjectID   string
	Name        string
	Description string
	// Keys holds the hashes of the agent's keys, newest last.
	Keys []AgentKey
	// Version is the agent binary's version as it last reported it.
	Version           string
	StartedAt         time.Time
	LastSeenAt        time.Time
	Repositories      []Repository
	PlatformProviders []PlatformProvider
	Disabled          bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Revision          int64
}

// AgentKey is the hash of one agent key. The key itself is shown once, at
// registration or rotation, and never stored.
type AgentKey struct {
	Hash      string
	Creator   string
	CreatedAt time.Time
}

// Status reports whether the agent was heard from recently, as of now.
func (a *Agent) Status(now time.Time) ConnectionStatus {
	if a.LastSeenAt.IsZero() {
		return ConnectionUnknown
	}
	if now.Sub(a.LastSeenAt) > AgentOfflineAfter {
		return ConnectionOffline
	}
	return ConnectionOnline
}

// ConnectionStatus is whether an agent is heard from.
type ConnectionStatus string

// The connection statuses.
const (
	ConnectionUnknown ConnectionStatus = "UNKNOWN"
	ConnectionOnline  ConnectionStatus = "ONLINE"
	ConnectionOffline ConnectionStatus = "OFFLINE"
)

// Repository is a Git repository an agent mirrors.
type Repository struct {
	ID     string
	Remote string
	Branch string
}

// PlatformProvider is a deploy target an agent offers, such as a cluster.
type PlatformProvider struct {
	Name string
	Type AppKind
}
