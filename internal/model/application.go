package model

import "time"

// AppKind is the platform an application deploys to.
type AppKind string

// The application kinds.
const (
	AppKindKubernetes AppKind = "KUBERNETES"
	AppKindTerraform  AppKind = "TERRAFORM"
	AppKindCloudRun   AppKind = "CLOUDRUN"
	AppKindLambda     AppKind = "LAMBDA"
	AppKindECS        AppKind = "ECS"
)

// AppKinds lists every application kind, in display order.
var AppKinds = []AppKind{AppKindKubernetes, AppKindTerraform, AppKindCloudRun, AppKindLambda, AppKindECS}

// Valid reports whether k is a known kind.
func (k AppKind) Valid() bool {
	for _, v := range AppKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Application is one deployable unit described by one application config
// file in a Git repository.
type Application struct {
	ID               string
	ProjectID        string
	Name             string
	Kind             AppKind
	AgentID          string
	PlatformProvider string
	GitPath          GitPath
	Labels           map[string]string
	Description      string
	SyncState        SyncState
	// Health is the application's health from its agent's last live-state
	// report, kept here so lists can filter on it; empty before the first.
	Health HealthStatus
	// Deploying is set while a deployment of the app is not completed.
	Deploying bool
	// MostRecentDeployment is the latest deployment triggered for the app.
	MostRecentDeployment *DeploymentRef
	// MostRecentSuccessfulDeployment is the latest one that succeeded; its
	// commit is what the app is expected to run.
	MostRecentSuccessfulDeployment *DeploymentRef
	Disabled                       bool
	// ConfigWarnings are the fields of the application's config that Ferry
	// accepts and does not act on, from its agent's last discovery, so
	// people see that what they wrote has no effect.
	ConfigWarnings []ConfigWarning
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Revision       int64
}

// ConfigWarning is one field of an application config that has no effect:
// an unknown field of a PipeCD file, or one Ferry does not implement yet.
type ConfigWarning struct {
	// Field is the dotted path of the field, such as spec.encryption.
	Field string
	// File and Line locate it; Line is 0 when unknown.
	File    string
	Line    int
	Message string
}

// GitPath locates an application's config inside a repository.
type GitPath struct {
	RepoID string
	Remote string
	Branch string
	// Path is the application directory relative to the repository root.
	Path string
	// ConfigFilename is the config file's name inside Path.
	ConfigFilename string
}

// DeploymentRef is a short reference to a deployment kept on its application.
type DeploymentRef struct {
	DeploymentID string
	Status       DeploymentStatus
	CommitHash   string
	Summary      string
	StartedAt    time.Time
	CompletedAt  time.Time
}

// SyncStatus says whether the live state matches what Git wants.
type SyncStatus string

// The sync statuses.
const (
	SyncUnknown       SyncStatus = "UNKNOWN"
	SyncSynced        SyncStatus = "SYNCED"
	SyncOutOfSync     SyncStatus = "OUT_OF_SYNC"
	SyncDeploying     SyncStatus = "DEPLOYING"
	SyncInvalidConfig SyncStatus = "INVALID_CONFIG"
)

// Valid reports whether s is a known sync status.
func (s SyncStatus) Valid() bool {
	switch s {
	case SyncUnknown, SyncSynced, SyncOutOfSync, SyncDeploying, SyncInvalidConfig:
		return true
	}
	return false
}

// SyncState is the latest drift result for an application.
type SyncState struct {
	Status SyncStatus
	// ShortReason is one line for lists.
	ShortReason string
	// Reason is the full explanation: the per-object diff when out of sync,
	// or file, line and message when the config is invalid.
	Reason           string
	HeadDeploymentID string
	Timestamp        time.Time
}
