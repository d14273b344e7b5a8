package model

import "time"

// HealthStatus says whether a live resource, or a whole application, works.
type HealthStatus string

// The health statuses.
const (
	HealthUnknown   HealthStatus = "UNKNOWN"
	HealthHealthy   HealthStatus = "HEALTHY"
	HealthProgress  HealthStatus = "PROGRESSING"
	HealthUnhealthy HealthStatus = "UNHEALTHY"
)

// LiveState is what runs for an application, as its agent last saw it.
type LiveState struct {
	ApplicationID string
	ProjectID     string
	AgentID       string
	Kind          AppKind
	Health        HealthStatus
	Resources     []ResourceState
	// Version increases with every report so readers can tell fresh from stale.
	Version   int64
	UpdatedAt time.Time
}

// ResourceState is one live object, linked to its owners to form a tree
// (Deployment → ReplicaSet → Pod).
type ResourceState struct {
	ID                string
	OwnerIDs          []string
	ParentIDs         []string
	APIVersion        string
	Kind              string
	Namespace         string
	Name              string
	Health            HealthStatus
	HealthDescription string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// AppHealth is the application's health from its resources: healthy only if
// every resource is.
func AppHealth(rs []ResourceState) HealthStatus {
	if len(rs) == 0 {
		return HealthUnknown
	}
	out := HealthHealthy
	for _, r := range rs {
		switch r.Health {
		case HealthUnhealthy:
			return HealthUnhealthy
		case HealthProgress:
			out = HealthProgress
		case HealthUnknown:
			if out == HealthHealthy {
				out = HealthUnknown
			}
		}
	}
	return out
}
