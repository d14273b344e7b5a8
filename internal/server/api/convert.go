package api

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
)

// This file translates between model and API types. It holds no rules: an
// unknown enum value becomes the zero value and is refused by the handler.

// enumFrom maps a model enum string to the API enum by its prefixed name.
func enumFrom[E ~int32](values map[string]int32, prefix, s string) E {
	if s == "" {
		return 0
	}
	return E(values[prefix+s])
}

// enumTo maps an API enum to the model's string by trimming its prefix; the
// unspecified value becomes "".
func enumTo(name, prefix string) string {
	s := strings.TrimPrefix(name, prefix)
	if s == "UNSPECIFIED" {
		return ""
	}
	return s
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime().UTC()
}

func toRole(r model.Role) ferryv1.Role {
	return enumFrom[ferryv1.Role](ferryv1.Role_value, "ROLE_", strings.ToUpper(string(r)))
}

func fromRole(r ferryv1.Role) model.Role {
	return model.Role(strings.ToLower(enumTo(r.String(), "ROLE_")))
}

func toKind(k model.AppKind) ferryv1.ApplicationKind {
	return enumFrom[ferryv1.ApplicationKind](ferryv1.ApplicationKind_value, "APPLICATION_KIND_", string(k))
}

func fromKind(k ferryv1.ApplicationKind) model.AppKind {
	return model.AppKind(enumTo(k.String(), "APPLICATION_KIND_"))
}

func toSyncStatus(s model.SyncStatus) ferryv1.SyncStatus {
	return enumFrom[ferryv1.SyncStatus](ferryv1.SyncStatus_value, "SYNC_STATUS_", string(s))
}

func fromSyncStatus(s ferryv1.SyncStatus) model.SyncStatus {
	return model.SyncStatus(enumTo(s.String(), "SYNC_STATUS_"))
}

func toDeploymentStatus(s model.DeploymentStatus) ferryv1.DeploymentStatus {
	return enumFrom[ferryv1.DeploymentStatus](ferryv1.DeploymentStatus_value, "DEPLOYMENT_STATUS_", string(s))
}

func fromDeploymentStatus(s ferryv1.DeploymentStatus) model.DeploymentStatus {
	return model.DeploymentStatus(enumTo(s.String(), "DEPLOYMENT_STATUS_"))
}

func toStageStatus(s model.StageStatus) ferryv1.StageStatus {
	return enumFrom[ferryv1.StageStatus](ferryv1.StageStatus_value, "STAGE_STATUS_", string(s))
}

func fromStageStatus(s ferryv1.StageStatus) model.StageStatus {
	return model.StageStatus(enumTo(s.String(), "STAGE_STATUS_"))
}

func toStrategy(s model.SyncStrategy) ferryv1.SyncStrategy {
	return enumFrom[ferryv1.SyncStrategy](ferryv1.SyncStrategy_value, "SYNC_STRATEGY_", string(s))
}

func fromStrategy(s ferryv1.SyncStrategy) model.SyncStrategy {
	return model.SyncStrategy(enumTo(s.String(), "SYNC_STRATEGY_"))
}

func toHealth(h model.HealthStatus) ferryv1.HealthStatus {
	return enumFrom[ferryv1.HealthStatus](ferryv1.HealthStatus_value, "HEALTH_STATUS_", string(h))
}

func fromHealth(h ferryv1.HealthStatus) model.HealthStatus {
	return model.HealthStatus(enumTo(h.String(), "HEALTH_STATUS_"))
}

func toProject(p *model.Project) *ferryv1.Project {
	out := &ferryv1.Project{
		Id:                  p.ID,
		Description:         p.Description,
		StaticAdminUsername: p.StaticAdmin.Username,
		StaticAdminDisabled: p.StaticAdmin.Disabled,
		Revision:            p.Revision,
		CreatedAt:           ts(p.CreatedAt),
		UpdatedAt:           ts(p.UpdatedAt),
	}
	for _, g := range p.UserGroups {
		out.UserGroups = append(out.UserGroups, &ferryv1.UserGroup{SsoGroup: g.SSOGroup, Role: toRole(g.Role)})
	}
	return out
}

func toAgent(a *model.Agent, now time.Time) *ferryv1.Agent {
	out := &ferryv1.Agent{
		Id:          a.ID,
		ProjectId:   a.ProjectID,
		Name:        a.Name,
		Description: a.Description,
		Version:     a.Version,
		Status:      enumFrom[ferryv1.ConnectionStatus](ferryv1.ConnectionStatus_value, "CONNECTION_STATUS_", string(a.Status(now))),
		Disabled:    a.Disabled,
		KeyCount:    int32(len(a.Keys)),
		StartedAt:   ts(a.StartedAt),
		LastSeenAt:  ts(a.LastSeenAt),
		CreatedAt:   ts(a.CreatedAt),
		UpdatedAt:   ts(a.UpdatedAt),
	}
	for _, r := range a.Repositories {
		out.Repositories = append(out.Repositories, &ferryv1.Repository{Id: r.ID, Remote: model.RedactRemote(r.Remote), Branch: r.Branch})
	}
	for _, p := range a.PlatformProviders {
		out.PlatformProviders = append(out.PlatformProviders, &ferryv1.PlatformProvider{Name: p.Name, Type: toKind(p.Type)})
	}
	return out
}

func toGitPath(g model.GitPath) *ferryv1.GitPath {
	return &ferryv1.GitPath{RepoId: g.RepoID, Remote: model.RedactRemote(g.Remote), Branch: g.Branch, Path: g.Path, ConfigFilename: g.ConfigFilename}
}

func fromGitPath(g *ferryv1.GitPath) model.GitPath {
	if g == nil {
		return model.GitPath{}
	}
	return model.GitPath{RepoID: g.RepoId, Remote: model.RedactRemote(g.Remote), Branch: g.Branch, Path: g.Path, ConfigFilename: g.ConfigFilename}
}

func toSyncState(s model.SyncState) *ferryv1.SyncState {
	return &ferryv1.SyncState{
		Status:           toSyncStatus(s.Status),
		ShortReason:      s.ShortReason,
		Reason:           s.Reason,
		HeadDeploymentId: s.HeadDeploymentID,
		Timestamp:        ts(s.Timestamp),
	}
}

func fromSyncState(s *ferryv1.SyncState) model.SyncState {
	if s == nil {
		return model.SyncState{}
	}
	return model.SyncState{
		Status:           fromSyncStatus(s.Status),
		ShortReason:      s.ShortReason,
		Reason:           s.Reason,
		HeadDeploymentID: s.HeadDeploymentId,
		Timestamp:        fromTS(s.Timestamp),
	}
}

func toDeploymentRef(r *model.DeploymentRef) *ferryv1.DeploymentRef {
	if r == nil {
		return nil
	}
	return &ferryv1.DeploymentRef{
		DeploymentId: r.DeploymentID,
		Status:       toDeploymentStatus(r.Status),
		CommitHash:   r.CommitHash,
		Summary:      r.Summary,
		StartedAt:    ts(r.StartedAt),
		CompletedAt:  ts(r.CompletedAt),
	}
}

func toApplication(a *model.Application, health model.HealthStatus) *ferryv1.Application {
	return &ferryv1.Application{
		Id:                             a.ID,
		ProjectId:                      a.ProjectID,
		Name:                           a.Name,
		Kind:                           toKind(a.Kind),
		AgentId:                        a.AgentID,
		PlatformProvider:               a.PlatformProvider,
		GitPath:                        toGitPath(a.GitPath),
		Labels:                         a.Labels,
		Description:                    a.Description,
		SyncState:                      toSyncState(a.SyncState),
		Deploying:                      a.Deploying,
		MostRecentDeployment:           toDeploymentRef(a.MostRecentDeployment),
		MostRecentSuccessfulDeployment: toDeploymentRef(a.MostRecentSuccessfulDeployment),
		Disabled:                       a.Disabled,
		Health:                         toHealth(health),
		CreatedAt:                      ts(a.CreatedAt),
		UpdatedAt:                      ts(a.UpdatedAt),
		ConfigWarnings:                 toConfigWarnings(a.ConfigWarnings),
	}
}

func toConfigWarnings(ws []model.ConfigWarning) []*ferryv1.ConfigWarning {
	var out []*ferryv1.ConfigWarning
	for _, w := range ws {
		out = append(out, &ferryv1.ConfigWarning{Field: w.Field, File: w.File, Line: int32(w.Line), Message: w.Message})
	}
	return out
}

func fromConfigWarnings(ws []*ferryv1.ConfigWarning) []model.ConfigWarning {
	var out []model.ConfigWarning
	for _, w := range ws {
		out = append(out, model.ConfigWarning{Field: w.GetField(), File: w.GetFile(), Line: int(w.GetLine()), Message: w.GetMessage()})
	}
	return out
}

func toCommit(c model.Commit) *ferryv1.Commit {
	return &ferryv1.Commit{Hash: c.Hash, Message: c.Message, Author: c.Author, Branch: c.Branch, Timestamp: ts(c.Timestamp)}
}

func fromCommit(c *ferryv1.Commit) model.Commit {
	if c == nil {
		return model.Commit{}
	}
	return model.Commit{Hash: c.Hash, Message: c.Message, Author: c.Author, Branch: c.Branch, Timestamp: fromTS(c.Timestamp)}
}

func toTrigger(t model.Trigger) *ferryv1.Trigger {
	return &ferryv1.Trigger{
		Kind:            enumFrom[ferryv1.TriggerKind](ferryv1.TriggerKind_value, "TRIGGER_KIND_", string(t.Kind)),
		Commit:          toCommit(t.Commit),
		Commander:       t.Commander,
		Strategy:        toStrategy(t.Strategy),
		StrategySummary: t.StrategySummary,
		Timestamp:       ts(t.Timestamp),
	}
}

func fromTrigger(t *ferryv1.Trigger) model.Trigger {
	if t == nil {
		return model.Trigger{}
	}
	return model.Trigger{
		Kind:            model.TriggerKind(enumTo(t.Kind.String(), "TRIGGER_KIND_")),
		Commit:          fromCommit(t.Commit),
		Commander:       t.Commander,
		Strategy:        fromStrategy(t.Strategy),
		StrategySummary: t.StrategySummary,
		Timestamp:       fromTS(t.Timestamp),
	}
}

func toStage(s *model.Stage) *ferryv1.Stage {
	return &ferryv1.Stage{
		Id:           s.ID,
		Name:         s.Name,
		Description:  s.Description,
		Index:        int32(s.Index),
		Requires:     s.Requires,
		Visible:      s.Visible,
		Rollback:     s.Rollback,
		Status:       toStageStatus(s.Status),
		StatusReason: s.StatusReason,
		Metadata:     s.Metadata,
		RetriedCount: int32(s.RetriedCount),
		CreatedAt:    ts(s.CreatedAt),
		StartedAt:    ts(s.StartedAt),
		CompletedAt:  ts(s.CompletedAt),
		UpdatedAt:    ts(s.UpdatedAt),
	}
}

func fromStage(s *ferryv1.Stage) *model.Stage {
	return &model.Stage{
		ID:           s.Id,
		Name:         s.Name,
		Description:  s.Description,
		Index:        int(s.Index),
		Requires:     s.Requires,
		Visible:      s.Visible,
		Rollback:     s.Rollback,
		Status:       fromStageStatus(s.Status),
		StatusReason: s.StatusReason,
		Metadata:     s.Metadata,
		RetriedCount: int(s.RetriedCount),
	}
}

func toDeployment(d *model.Deployment) *ferryv1.Deployment {
	out := &ferryv1.Deployment{
		Id:                d.ID,
		ProjectId:         d.ProjectID,
		ApplicationId:     d.ApplicationID,
		ApplicationName:   d.ApplicationName,
		AgentId:           d.AgentID,
		Kind:              toKind(d.Kind),
		PlatformProvider:  d.PlatformProvider,
		GitPath:           toGitPath(d.GitPath),
		Labels:            d.Labels,
		Trigger:           toTrigger(d.Trigger),
		RunningCommitHash: d.RunningCommitHash,
		Summary:           d.Summary,
		Status:            toDeploymentStatus(d.Status),
		StatusReason:      d.StatusReason,
		Metadata:          d.Metadata,
		CreatedAt:         ts(d.CreatedAt),
		UpdatedAt:         ts(d.UpdatedAt),
		CompletedAt:       ts(d.CompletedAt),
	}
	for _, s := range d.Stages {
		out.Stages = append(out.Stages, toStage(s))
	}
	for _, o := range d.Operations {
		out.Operations = append(out.Operations, &ferryv1.Operation{
			Kind:    enumFrom[ferryv1.OperationKind](ferryv1.OperationKind_value, "OPERATION_KIND_", string(o.Kind)),
			StageId: o.StageID,
			Actor:   o.Actor,
			Note:    o.Note,
			At:      ts(o.At),
		})
	}
	return out
}

func toLogBlock(b model.LogBlock) *ferryv1.LogBlock {
	return &ferryv1.LogBlock{
		Index:     b.Index,
		Log:       b.Log,
		Severity:  enumFrom[ferryv1.LogSeverity](ferryv1.LogSeverity_value, "LOG_SEVERITY_", string(b.Severity)),
		CreatedAt: ts(b.CreatedAt),
	}
}

func fromLogBlock(b *ferryv1.LogBlock) model.LogBlock {
	sev := model.LogSeverity(enumTo(b.Severity.String(), "LOG_SEVERITY_"))
	if sev == "" {
		sev = model.LogInfo
	}
	return model.LogBlock{Index: b.Index, Log: b.Log, Severity: sev, CreatedAt: fromTS(b.CreatedAt)}
}

func toCommand(c *model.Command) *ferryv1.Command {
	return &ferryv1.Command{
		Id:            c.ID,
		ProjectId:     c.ProjectID,
		AgentId:       c.AgentID,
		Kind:          enumFrom[ferryv1.CommandKind](ferryv1.CommandKind_value, "COMMAND_KIND_", string(c.Kind)),
		ApplicationId: c.ApplicationID,
		DeploymentId:  c.DeploymentID,
		StageId:       c.StageID,
		Commander:     c.Commander,
		Args: &ferryv1.CommandArgs{
			SyncStrategy:       toStrategy(c.Args.SyncStrategy),
			ForceRollback:      c.Args.ForceRollback,
			ForceNoRollback:    c.Args.ForceNoRollback,
			TargetDeploymentId: c.Args.TargetDeploymentID,
		},
		Status:    enumFrom[ferryv1.CommandStatus](ferryv1.CommandStatus_value, "COMMAND_STATUS_", string(c.Status)),
		Output:    c.Output,
		Metadata:  c.Metadata,
		HandledAt: ts(c.HandledAt),
		CreatedAt: ts(c.CreatedAt),
		UpdatedAt: ts(c.UpdatedAt),
	}
}

func toEvent(e *model.Event) *ferryv1.Event {
	return &ferryv1.Event{
		Id:                e.ID,
		ProjectId:         e.ProjectID,
		Name:              e.Name,
		Data:              e.Data,
		Labels:            e.Labels,
		Status:            enumFrom[ferryv1.EventStatus](ferryv1.EventStatus_value, "EVENT_STATUS_", string(e.Status)),
		StatusDescription: e.StatusDescription,
		Contexts:          e.Contexts,
		HandledAt:         ts(e.HandledAt),
		CreatedAt:         ts(e.CreatedAt),
		UpdatedAt:         ts(e.UpdatedAt),
	}
}

func fromEventStatus(s ferryv1.EventStatus) model.EventStatus {
	return model.EventStatus(enumTo(s.String(), "EVENT_STATUS_"))
}

func toAPIKey(k *model.APIKey) *ferryv1.APIKey {
	return &ferryv1.APIKey{
		Id:         k.ID,
		ProjectId:  k.ProjectID,
		Name:       k.Name,
		Role:       toRole(k.Role),
		Creator:    k.Creator,
		Revoked:    k.Revoked,
		LastUsedAt: ts(k.LastUsedAt),
		CreatedAt:  ts(k.CreatedAt),
		UpdatedAt:  ts(k.UpdatedAt),
	}
}

func toResourceState(r model.ResourceState) *ferryv1.ResourceState {
	return &ferryv1.ResourceState{
		Id:                r.ID,
		OwnerIds:          r.OwnerIDs,
		ParentIds:         r.ParentIDs,
		ApiVersion:        r.APIVersion,
		Kind:              r.Kind,
		Namespace:         r.Namespace,
		Name:              r.Name,
		Health:            toHealth(r.Health),
		HealthDescription: r.HealthDescription,
		CreatedAt:         ts(r.CreatedAt),
		UpdatedAt:         ts(r.UpdatedAt),
	}
}

func fromResourceState(r *ferryv1.ResourceState) model.ResourceState {
	h := fromHealth(r.Health)
	if h == "" {
		h = model.HealthUnknown
	}
	return model.ResourceState{
		ID:                r.Id,
		OwnerIDs:          r.OwnerIds,
		ParentIDs:         r.ParentIds,
		APIVersion:        r.ApiVersion,
		Kind:              r.Kind,
		Namespace:         r.Namespace,
		Name:              r.Name,
		Health:            h,
		HealthDescription: r.HealthDescription,
		CreatedAt:         fromTS(r.CreatedAt),
		UpdatedAt:         fromTS(r.UpdatedAt),
	}
}

func toLiveState(l *model.LiveState) *ferryv1.LiveState {
	out := &ferryv1.LiveState{
		ApplicationId: l.ApplicationID,
		AgentId:       l.AgentID,
		Kind:          toKind(l.Kind),
		Health:        toHealth(l.Health),
		Version:       l.Version,
		UpdatedAt:     ts(l.UpdatedAt),
	}
	for _, r := range l.Resources {
		out.Resources = append(out.Resources, toResourceState(r))
	}
	return out
}
