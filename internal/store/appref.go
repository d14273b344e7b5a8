package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
)

// maxCandidates bounds the applications an ambiguous reference lists.
const maxCandidates = 10

// FindApplication resolves what a person calls an application in project:
// its id; REPO:PATH, the repository id and the directory (or config file)
// of its config; or its name. Names repeat (two agents discover "web", one
// repository has a "simple" per platform), so a name that several
// applications share is refused with KindInvalid, listing them by id,
// kind, agent and REPO:PATH to pick from. An application disabled because
// its config left Git does not count against a name when exactly one other
// has it: after a move, the name means the application at the new place.
func FindApplication(ctx context.Context, s Store, project, ref string) (*model.Application, error) {
	if ref == "" {
		return nil, model.Invalid("an application (id, REPO:PATH or name) is required")
	}
	a, err := s.GetApplication(ctx, ref)
	if err == nil && a.ProjectID == project {
		return a, nil
	}
	if err != nil && !model.IsKind(err, model.KindNotFound) {
		return nil, err
	}
	if repo, at, ok := strings.Cut(ref, ":"); ok && repo != "" {
		apps, _, err := s.ListApplications(ctx, ApplicationFilter{ProjectID: project, RepoID: repo, ConfigPath: at}, Page{Limit: maxCandidates + 1})
		if err != nil {
			return nil, err
		}
		if len(apps) > 0 { // else it may be a name with a colon
			return one(ctx, s, ref, "the config at", apps)
		}
	}
	apps, _, err := s.ListApplications(ctx, ApplicationFilter{ProjectID: project, Name: ref}, Page{Limit: maxCandidates + 1})
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		return nil, model.NotFound("application", ref)
	}
	if len(apps) > 1 {
		var live []*model.Application
		for _, a := range apps {
			if !a.ConfigRemoved() {
				live = append(live, a)
			}
		}
		if len(live) == 1 {
			return live[0], nil
		}
	}
	return one(ctx, s, ref, "the name", apps)
}

// one returns the only application of apps, or the error that lists them.
func one(ctx context.Context, s Store, ref, what string, apps []*model.Application) (*model.Application, error) {
	if len(apps) == 1 {
		return apps[0], nil
	}
	agents := map[string]string{}
	var b strings.Builder
	count := fmt.Sprint(len(apps))
	if len(apps) > maxCandidates {
		apps, count = apps[:maxCandidates], fmt.Sprintf("more than %d", maxCandidates)
	}
	fmt.Fprintf(&b, "%s %q is ambiguous: %s applications match; name one by id or REPO:PATH:", what, ref, count)
	for i, a := range apps {
		name, ok := agents[a.AgentID]
		if !ok {
			name = a.AgentID
			if ag, err := s.GetAgent(ctx, a.AgentID); err == nil {
				name = ag.Name
			}
			agents[a.AgentID] = name
		}
		sep := ";"
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %s (%s, agent %s, %s", sep, a.ID, a.Kind, name, a.GitPath.Ref())
		if a.ConfigRemoved() {
			b.WriteString(", config removed")
		} else if a.Disabled {
			b.WriteString(", disabled")
		}
		b.WriteString(")")
	}
	return nil, model.Errorf(model.KindInvalid, "%s", b.String())
}
