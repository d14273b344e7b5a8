package api

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/ferrycd/ferry/internal/model"
)

// Live-state snapshots live in the filestore, one JSON document per
// application, since they can hold thousands of resources and change often.

// liveStateLocks serialises read-modify-write of one app's snapshot within a
// replica. Across replicas an agent reports to one stream at a time, and a
// full snapshot follows any reconnect, so a lost increment heals itself.
var liveStateLocks sync.Map // app id → *sync.Mutex

func liveStateKey(appID string) string { return "livestate/" + appID + ".json" }

// getLiveState returns the stored snapshot, or an empty UNKNOWN one.
func getLiveState(ctx context.Context, b Blobs, a *model.Application) (*model.LiveState, error) {
	data, err := b.Get(ctx, liveStateKey(a.ID))
	if model.IsKind(err, model.KindNotFound) {
		return &model.LiveState{ApplicationID: a.ID, ProjectID: a.ProjectID, AgentID: a.AgentID, Kind: a.Kind, Health: model.HealthUnknown}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read live state of %s: %w", a.ID, err)
	}
	var ls model.LiveState
	if err := json.Unmarshal(data, &ls); err != nil {
		return nil, fmt.Errorf("decode live state of %s: %w", a.ID, err)
	}
	return &ls, nil
}

func updateLiveState(ctx context.Context, b Blobs, a *model.Application, mutate func(*model.LiveState)) error {
	mu, _ := liveStateLocks.LoadOrStore(a.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	ls, err := getLiveState(ctx, b, a)
	if err != nil {
		return err
	}
	ls.ApplicationID, ls.ProjectID = a.ID, a.ProjectID
	mutate(ls)
	data, err := json.Marshal(ls)
	if err != nil {
		return fmt.Errorf("encode live state of %s: %w", a.ID, err)
	}
	if err := b.Put(ctx, liveStateKey(a.ID), data); err != nil {
		return fmt.Errorf("write live state of %s: %w", a.ID, err)
	}
	return nil
}

// mergeResources applies changed and deleted resources to a snapshot and
// returns it sorted by id, so snapshots compare stably.
func mergeResources(have, changed []model.ResourceState, deleted []string) []model.ResourceState {
	byID := make(map[string]model.ResourceState, len(have)+len(changed))
	for _, r := range have {
		byID[r.ID] = r
	}
	for _, r := range changed {
		byID[r.ID] = r
	}
	for _, id := range deleted {
		delete(byID, id)
	}
	out := make([]model.ResourceState, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
