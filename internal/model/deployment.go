package model

import (
	"fmt"
	"time"
)

// DeploymentStatus is where a deployment is in its life.
type DeploymentStatus string

// The deployment statuses. SUCCESS, FAILURE and CANCELLED are terminal.
const (
	DeploymentPending     DeploymentStatus = "PENDING"
	DeploymentPlanned     DeploymentStatus = "PLANNED"
	DeploymentRunning     DeploymentStatus = "RUNNING"
	DeploymentRollingBack DeploymentStatus = "ROLLING_BACK"
	DeploymentSuccess     DeploymentStatus = "SUCCESS"
	DeploymentFailure     DeploymentStatus = "FAILURE"
	DeploymentCancelled   DeploymentStatus = "CANCELLED"
)

// DeploymentStatuses lists every deployment status in life order.
var DeploymentStatuses = []DeploymentStatus{
	DeploymentPending, DeploymentPlanned, DeploymentRunning, DeploymentRollingBack,
	DeploymentSuccess, DeploymentFailure, DeploymentCancelled,
}

// Valid reports whether s is a known status.
func (s DeploymentStatus) Valid() bool {
	for _, v := range DeploymentStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Completed reports whether s is terminal.
func (s DeploymentStatus) Completed() bool {
	return s == DeploymentSuccess || s == DeploymentFailure || s == DeploymentCancelled
}

// CanMoveTo reports whether a deployment in s may move to next. Statuses
// only move forward; a terminal status never changes.
func (s DeploymentStatus) CanMoveTo(next DeploymentStatus) bool {
	if s.Completed() || !next.Valid() {
		return false
	}
	switch next {
	case DeploymentPending:
		return false
	case DeploymentPlanned:
		return s == DeploymentPending
	case DeploymentRunning:
		return s == DeploymentPlanned || s == DeploymentRunning
	case DeploymentRollingBack:
		return s == DeploymentRunning || s == DeploymentPlanned || s == DeploymentRollingBack
	default: // terminal statuses are reachable from any live one
		return true
	}
}

// SyncStrategy is how a deployment applies its change.
type SyncStrategy string

// The sync strategies. AUTO lets the planner choose.
const (
	SyncStrategyAuto      SyncStrategy = "AUTO"
	SyncStrategyQuickSync SyncStrategy = "QUICK_SYNC"
	SyncStrategyPipeline  SyncStrategy = "PIPELINE"
)

// Valid reports whether s is a known strategy.
func (s SyncStrategy) Valid() bool {
	return s == SyncStrategyAuto || s == SyncStrategyQuickSync || s == SyncStrategyPipeline
}

// TriggerKind is what started a deployment.
type TriggerKind string

// The trigger kinds.
const (
	TriggerOnCommit    TriggerKind = "ON_COMMIT"
	TriggerOnCommand   TriggerKind = "ON_COMMAND"
	TriggerOnOutOfSync TriggerKind = "ON_OUT_OF_SYNC"
	TriggerOnChain     TriggerKind = "ON_CHAIN"
)

// Deployment is one attempt to bring an application to a commit.
type Deployment struct {
	ID               string
	ProjectID        string
	ApplicationID    string
	ApplicationName  string
	AgentID          string
	Kind             AppKind
	PlatformProvider string
	GitPath          GitPath
	Labels           map[string]string
	Trigger          Trigger
	// RunningCommitHash is the commit the app ran when this one started; the
	// target of a rollback.
	RunningCommitHash string
	Summary           string
	Status            DeploymentStatus
	StatusReason      string
	Stages            []*Stage
	// Metadata is shared key/value state the agent keeps across restarts.
	Metadata map[string]string
	// Operations records every manual action taken on the deployment.
	Operations []Operation
	// RequestID, when set, is the id of the request that created the
	// deployment, unique per application: a retried create finds this
	// deployment by it instead of creating another.
	RequestID   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time
	Revision    int64
}

// Trigger says why and for which commit a deployment was created.
type Trigger struct {
	Kind            TriggerKind
	Commit          Commit
	Commander       string
	Strategy        SyncStrategy
	StrategySummary string
	Timestamp       time.Time
}

// Commit is the Git commit a deployment brings its application to.
type Commit struct {
	Hash      string
	Message   string
	Author    string
	Branch    string
	Timestamp time.Time
}

// Stage returns the stage with the given id, or nil.
func (d *Deployment) Stage(id string) *Stage {
	for _, s := range d.Stages {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// OperationKind names a manual action on a deployment.
type OperationKind string

// The manual operations.
const (
	OperationCancel  OperationKind = "CANCEL"
	OperationApprove OperationKind = "APPROVE"
	OperationSkip    OperationKind = "SKIP"
)

// Operation records who did a manual action, when, and to which stage.
type Operation struct {
	Kind    OperationKind
	StageID string
	Actor   string
	Note    string
	At      time.Time
}

// StageStatus is where a stage is in its life.
type StageStatus string

// The stage statuses. EXITED ends the deployment successfully early.
const (
	StageNotStartedYet StageStatus = "NOT_STARTED_YET"
	StageRunning       StageStatus = "RUNNING"
	StageSuccess       StageStatus = "SUCCESS"
	StageFailure       StageStatus = "FAILURE"
	StageCancelled     StageStatus = "CANCELLED"
	StageSkipped       StageStatus = "SKIPPED"
	StageExited        StageStatus = "EXITED"
)

// StageStatuses lists every stage status.
var StageStatuses = []StageStatus{
	StageNotStartedYet, StageRunning, StageSuccess, StageFailure, StageCancelled, StageSkipped, StageExited,
}

// Valid reports whether s is a known status.
func (s StageStatus) Valid() bool {
	for _, v := range StageStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Completed reports whether s is terminal.
func (s StageStatus) Completed() bool {
	return s != StageNotStartedYet && s != StageRunning && s.Valid()
}

// Stage is one step of a deployment's plan.
type Stage struct {
	ID          string
	Name        string
	Description string
	Index       int
	// Requires lists the ids of the stages that must finish first.
	Requires []string
	Visible  bool
	// Rollback marks stages that only run when the deployment rolls back.
	Rollback     bool
	Status       StageStatus
	StatusReason string
	Metadata     map[string]string
	RetriedCount int
	CreatedAt    time.Time
	StartedAt    time.Time
	CompletedAt  time.Time
	UpdatedAt    time.Time
	Revision     int64
}

// LogSeverity grades one block of a stage log.
type LogSeverity string

// The log severities.
const (
	LogInfo    LogSeverity = "INFO"
	LogSuccess LogSeverity = "SUCCESS"
	LogError   LogSeverity = "ERROR"
)

// MaxLogBlockBytes bounds one log block; larger blocks are refused with a
// clear error rather than stored truncated without notice. The agent splits
// longer lines into blocks of this size.
const MaxLogBlockBytes = 64 << 10

// The limits of one stage's log: blocks past either are not stored but
// counted, and the log ends with a block saying how much was cut
// (LogCut.Marker). They keep one noisy stage from filling the datastore
// and every reader of its log.
const (
	MaxStageLogBlocks = 50_000
	MaxStageLogBytes  = 8 << 20
)

// LogCutIndex is the index of the block that says a log was cut: after
// every other block.
const LogCutIndex = int64(1<<63 - 1)

// LogCut counts what a stage's log did not keep past its limits.
type LogCut struct {
	Blocks int64
	Bytes  int64
}

// Marker is the block that ends a cut log, saying how much was cut.
func (c LogCut) Marker(at time.Time) LogBlock {
	return LogBlock{
		Index: LogCutIndex, Severity: LogError, CreatedAt: at,
		Log: fmt.Sprintf("[log cut] %d more line(s), %s, were not kept: a stage keeps at most %d lines and %s of log",
			c.Blocks, byteSize(c.Bytes), MaxStageLogBlocks, byteSize(MaxStageLogBytes)),
	}
}

// byteSize writes n bytes for people: 812 B, 4.0 KiB, 8.0 MiB.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// LogBlock is one chunk of a stage's log.
type LogBlock struct {
	Index     int64
	Log       string
	Severity  LogSeverity
	CreatedAt time.Time
}
