package model

import "time"

// CommandKind names an action queued for an agent.
type CommandKind string

// The command kinds.
const (
	CommandSyncApplication         CommandKind = "SYNC_APPLICATION"
	CommandCancelDeployment        CommandKind = "CANCEL_DEPLOYMENT"
	CommandApproveStage            CommandKind = "APPROVE_STAGE"
	CommandSkipStage               CommandKind = "SKIP_STAGE"
	CommandBuildPlanPreview        CommandKind = "BUILD_PLAN_PREVIEW"
	CommandChainSyncApplication    CommandKind = "CHAIN_SYNC_APPLICATION"
	CommandUpdateApplicationConfig CommandKind = "UPDATE_APPLICATION_CONFIG"
	CommandRestartAgent            CommandKind = "RESTART_AGENT"
)

// CommandStatus is whether an agent has handled a command.
type CommandStatus string

// The command statuses.
const (
	CommandNotHandledYet CommandStatus = "NOT_HANDLED_YET"
	CommandSucceeded     CommandStatus = "SUCCEEDED"
	CommandFailed        CommandStatus = "FAILED"
	CommandTimeout       CommandStatus = "TIMEOUT"
)

// Completed reports whether s is terminal.
func (s CommandStatus) Completed() bool { return s != CommandNotHandledYet && s != "" }

// Command is an action a person or CI queued for an agent.
type Command struct {
	ID            string
	ProjectID     string
	AgentID       string
	Kind          CommandKind
	ApplicationID string
	DeploymentID  string
	StageID       string
	// Commander is the user or API key that queued the command.
	Commander string
	Args      CommandArgs
	Status    CommandStatus
	// Output is what the agent reported, for people to read.
	Output string
	// Metadata is what the agent reported for programs, such as the id of
	// the deployment a sync created.
	Metadata  map[string]string
	HandledAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	Revision  int64
}

// CommandArgs carries the arguments of the command kinds that take any.
type CommandArgs struct {
	SyncStrategy    SyncStrategy `json:",omitempty"`
	ForceRollback   bool         `json:",omitempty"`
	ForceNoRollback bool         `json:",omitempty"`
	// TargetDeploymentID is the earlier deployment a rollback returns to.
	TargetDeploymentID string `json:",omitempty"`
	ChainID            string `json:",omitempty"`
	ChainBlockIndex    int    `json:",omitempty"`
	RepositoryID       string `json:",omitempty"`
	HeadBranch         string `json:",omitempty"`
	HeadCommit         string `json:",omitempty"`
	BaseBranch         string `json:",omitempty"`
}

// MetadataTriggeredDeploymentID is the command metadata key an agent sets to
// the deployment a sync command created.
const MetadataTriggeredDeploymentID = "TriggeredDeploymentID"
