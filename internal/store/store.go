// Package store defines how the control plane keeps its objects: one
// interface, typed per aggregate, implemented over relational tables by
// store/sqlite and store/postgres and checked by one conformance suite,
// storetest.Run.
//
// Every aggregate carries a Revision. Updates go through a mutate function
// applied to the freshly read object and are written only if nobody wrote in
// between; on a clash the store reads again and reapplies, so concurrent
// writers never lose each other's changes. A mutate function must therefore
// be safe to call more than once and must not have side effects.
//
// Errors are model.Error kinds: KindNotFound, KindAlreadyExists (a unique
// name taken), KindInvalid (a bad filter or cursor), KindConflict (a write
// that kept clashing), KindUnavailable (the database cannot be reached or is
// locked; safe to retry).
package store

import (
	"context"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

// Store is the control plane's datastore. All methods are safe for
// concurrent use.
type Store interface {
	ProjectStore
	AgentStore
	ApplicationStore
	DeploymentStore
	CommandStore
	EventStore
	APIKeyStore
	ConsoleSessionStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// Page asks for one page of a list. A zero Limit means DefaultLimit; Limit
// is capped at MaxLimit. Cursor is the NextCursor of the previous page of the
// same query; a cursor from another query is refused with KindInvalid.
type Page struct {
	Limit  int
	Cursor string
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ProjectStore keeps projects.
type ProjectStore interface {
	// CreateProject stores p; KindAlreadyExists if its id is taken.
	CreateProject(ctx context.Context, p *model.Project) error
	GetProject(ctx context.Context, id string) (*model.Project, error)
	ListProjects(ctx context.Context) ([]*model.Project, error)
	UpdateProject(ctx context.Context, id string, mutate func(*model.Project) error) (*model.Project, error)
}

// AgentFilter selects agents. Zero fields match everything.
type AgentFilter struct {
	ProjectID string
	Disabled  *bool
}

// AgentStore keeps agents.
type AgentStore interface {
	// CreateAgent stores a; KindAlreadyExists if its name is taken in its
	// project.
	CreateAgent(ctx context.Context, a *model.Agent) error
	GetAgent(ctx context.Context, id string) (*model.Agent, error)
	ListAgents(ctx context.Context, f AgentFilter) ([]*model.Agent, error)
	UpdateAgent(ctx context.Context, id string, mutate func(*model.Agent) error) (*model.Agent, error)
	// TouchAgent records a heartbeat without a read-modify-write cycle.
	TouchAgent(ctx context.Context, id string, seenAt time.Time) error
}

// ApplicationFilter selects applications. Zero fields match everything;
// Labels must all match.
type ApplicationFilter struct {
	ProjectID string
	AgentID   string
	Name      string
	// NameContains keeps applications whose name contains it, ignoring
	// case; "%" and "_" in it match themselves.
	NameContains string
	Kind         model.AppKind
	SyncStatus   model.SyncStatus
	// Health keeps applications of this health; HealthUnknown does not
	// match those never reported (empty).
	Health   model.HealthStatus
	Labels   map[string]string
	Disabled *bool
	// IDs, when not empty, limits the result to these applications.
	IDs []string
	// RepoID, when set, keeps the applications whose config is in this
	// repository at ConfigPath: the config file's path from the repository
	// root, or the directory that holds it.
	RepoID     string
	ConfigPath string
}

// ApplicationStore keeps applications. Lists are ordered by name, then id.
type ApplicationStore interface {
	// CreateApplication stores a; KindAlreadyExists if its agent already
	// has an application with the same repository, path and config file
	// (its identity). Names may repeat.
	CreateApplication(ctx context.Context, a *model.Application) error
	GetApplication(ctx context.Context, id string) (*model.Application, error)
	ListApplications(ctx context.Context, f ApplicationFilter, p Page) (apps []*model.Application, next string, err error)
	UpdateApplication(ctx context.Context, id string, mutate func(*model.Application) error) (*model.Application, error)
	// DeleteApplication removes the application; its deployments stay.
	DeleteApplication(ctx context.Context, id string) error
}

// DeploymentFilter selects deployments. Zero fields match everything.
type DeploymentFilter struct {
	ProjectID     string
	ApplicationID string
	AgentID       string
	Kind          model.AppKind
	Statuses      []model.DeploymentStatus
	Labels        map[string]string
	// CreatedAfter, when set, keeps deployments created at or after it.
	CreatedAfter time.Time
	// RequestID, when set, keeps the deployment created by that request
	// (with ApplicationID: at most one).
	RequestID string
}

// DeploymentStore keeps deployments with their stages and the log blocks of
// running stages. Lists are ordered newest first.
type DeploymentStore interface {
	// CreateDeployment stores d and its stages. When d.RequestID is set and
	// a deployment of the same application was created with it already,
	// nothing is written and the error is KindAlreadyExists.
	CreateDeployment(ctx context.Context, d *model.Deployment) error
	// CreateDeploymentWithApp is CreateDeployment that also applies app to
	// d's application in the same transaction, so an application never
	// points at a deployment that was not stored nor misses one that was.
	// A missing application is KindNotFound, and nothing is written.
	CreateDeploymentWithApp(ctx context.Context, d *model.Deployment, app func(*model.Application) error) error
	// GetDeployment returns d with its stages ordered by index.
	GetDeployment(ctx context.Context, id string) (*model.Deployment, error)
	ListDeployments(ctx context.Context, f DeploymentFilter, p Page) (ds []*model.Deployment, next string, err error)
	// UpdateDeployment applies mutate to the deployment and its stages and
	// writes what changed: the deployment row, changed stages, and stages
	// appended by mutate (a plan may add stages).
	UpdateDeployment(ctx context.Context, id string, mutate func(*model.Deployment) error) (*model.Deployment, error)
	// UpdateDeploymentWithApp is UpdateDeployment that then applies app to
	// the deployment's application (given the updated deployment) and
	// writes both in one transaction: both changes are stored or neither.
	// An application deleted meanwhile is skipped, not an error.
	UpdateDeploymentWithApp(ctx context.Context, id string, mutate func(*model.Deployment) error, app func(*model.Application, *model.Deployment) error) (*model.Deployment, error)
	// UpdateStage applies mutate to one stage only: the hot path for stage
	// status and metadata, which must not contend with the deployment row.
	UpdateStage(ctx context.Context, deploymentID, stageID string, mutate func(*model.Stage) error) (*model.Stage, error)
	// AppendLogBlocks adds blocks to a stage's log. Blocks whose index is
	// already stored are ignored, so an agent may resend after a timeout.
	// A stage keeps at most model.MaxStageLogBlocks blocks and
	// model.MaxStageLogBytes of text: blocks past either, and every block
	// after the first one cut, are not stored but counted (StageLogCut),
	// each index once. A block over model.MaxLogBlockBytes is KindInvalid.
	AppendLogBlocks(ctx context.Context, deploymentID, stageID string, blocks []model.LogBlock) error
	// StageLogCut returns what AppendLogBlocks did not keep of a stage's
	// log; zero when nothing was cut.
	StageLogCut(ctx context.Context, deploymentID, stageID string) (model.LogCut, error)
	// ListLogBlocks returns a stage's blocks with an index greater than
	// after, oldest first, at most limit (0: no limit).
	ListLogBlocks(ctx context.Context, deploymentID, stageID string, after int64, limit int) ([]model.LogBlock, error)
	// DeleteLogBlocks removes a stage's stored blocks and totals, once they
	// have been archived to the filestore.
	DeleteLogBlocks(ctx context.Context, deploymentID, stageID string) error
}

// CommandFilter selects commands. Zero fields match everything.
type CommandFilter struct {
	ProjectID    string
	AgentID      string
	DeploymentID string
	Statuses     []model.CommandStatus
	// CreatedBefore, when set, keeps commands created before it.
	CreatedBefore time.Time
}

// CommandStore keeps commands. Lists are ordered oldest first, the order
// agents handle them in.
type CommandStore interface {
	CreateCommand(ctx context.Context, c *model.Command) error
	GetCommand(ctx context.Context, id string) (*model.Command, error)
	ListCommands(ctx context.Context, f CommandFilter, p Page) (cs []*model.Command, next string, err error)
	UpdateCommand(ctx context.Context, id string, mutate func(*model.Command) error) (*model.Command, error)
}

// EventFilter selects events. Zero fields match everything.
type EventFilter struct {
	ProjectID string
	Name      string
	Key       string
	Statuses  []model.EventStatus
}

// EventStore keeps events raised for the event watcher. Lists are ordered
// newest first.
type EventStore interface {
	CreateEvent(ctx context.Context, e *model.Event) error
	GetEvent(ctx context.Context, id string) (*model.Event, error)
	ListEvents(ctx context.Context, f EventFilter, p Page) (es []*model.Event, next string, err error)
	UpdateEvent(ctx context.Context, id string, mutate func(*model.Event) error) (*model.Event, error)
}

// APIKeyFilter selects API keys.
type APIKeyFilter struct {
	ProjectID string
	Revoked   *bool
}

// APIKeyStore keeps API keys. Lists are ordered by creation time.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *model.APIKey) error
	GetAPIKey(ctx context.Context, id string) (*model.APIKey, error)
	ListAPIKeys(ctx context.Context, f APIKeyFilter) ([]*model.APIKey, error)
	UpdateAPIKey(ctx context.Context, id string, mutate func(*model.APIKey) error) (*model.APIKey, error)
	// TouchAPIKey records when the key was last used.
	TouchAPIKey(ctx context.Context, id string, usedAt time.Time) error
}

// ConsoleSessionFilter selects console sessions. Expired sessions are never
// listed.
type ConsoleSessionFilter struct {
	ProjectID string
	// Subject, when set, keeps only that person's sessions.
	Subject string
	// IDs, when set, keeps only these sessions.
	IDs []string
}

// ConsoleSessionStore keeps the web console's sessions.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores a new session; it also deletes sessions
	// that have expired.
	CreateConsoleSession(ctx context.Context, s *model.ConsoleSession) error
	// GetConsoleSessionByToken returns the unexpired session whose token
	// hashes to tokenHash; KindNotFound if there is none.
	GetConsoleSessionByToken(ctx context.Context, tokenHash string, now time.Time) (*model.ConsoleSession, error)
	// ListConsoleSessions returns the matching unexpired sessions, newest
	// first.
	ListConsoleSessions(ctx context.Context, f ConsoleSessionFilter, now time.Time) ([]*model.ConsoleSession, error)
	// SetConsoleSessionRole changes a session's role: the console does so
	// when a single sign-on session's groups give another role than
	// before. KindNotFound if there is no such session.
	SetConsoleSessionRole(ctx context.Context, id string, role model.Role) error
	// DeleteConsoleSessions deletes the matching sessions and returns how
	// many there were. A filter without a project is refused.
	DeleteConsoleSessions(ctx context.Context, f ConsoleSessionFilter) (int, error)
}
