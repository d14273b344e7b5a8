package hub

import (
	"slices"
	"sync"
)

// Change says that the control plane stored something a console page
// shows, so the pages showing it re-read it. It names what changed by ids
// alone: the page reads the data from the datastore, where it was stored
// before the change was published.
type Change struct {
	ProjectID string
	// ApplicationID and DeploymentID name the application and the
	// deployment concerned, when there is one.
	ApplicationID string
	DeploymentID  string
	// What is what changed: one kind or several.
	What ChangeKind
}

// ChangeKind is a set of kinds of change, one bit each.
type ChangeKind uint16

// The kinds of change.
const (
	// ChangeApplication: an application was added, registered, updated,
	// disabled, enabled or deleted, or its sync state, health or most
	// recent deployment changed.
	ChangeApplication ChangeKind = 1 << iota
	// ChangeLiveState: an agent reported an application's live state.
	ChangeLiveState
	// ChangeDeployment: a deployment was created, planned, changed status,
	// ended, or was given metadata or an operation.
	ChangeDeployment
	// ChangeStage: a stage changed status or metadata.
	ChangeStage
	// ChangeLog: log blocks were appended to a stage.
	ChangeLog
	// ChangeAgent: an agent was registered, disabled, enabled or started.
	ChangeAgent
)

// changeNames names each ChangeKind on the wire, so that replicas built with
// a different numbering still agree.
var changeNames = []struct {
	kind ChangeKind
	name string
}{
	{ChangeApplication, "application"},
	{ChangeLiveState, "live_state"},
	{ChangeDeployment, "deployment"},
	{ChangeStage, "stage"},
	{ChangeLog, "log"},
	{ChangeAgent, "agent"},
}

// names returns the wire names of the kinds in k.
func (k ChangeKind) names() []string {
	var out []string
	for _, n := range changeNames {
		if k&n.kind != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// changeKindOf returns the kinds the wire names name, ignoring names this
// replica does not know: its pages show nothing of those.
func changeKindOf(names []string) ChangeKind {
	var k ChangeKind
	for _, n := range changeNames {
		if slices.Contains(names, n.name) {
			k |= n.kind
		}
	}
	return k
}

// ChangeFilter selects the changes a console stream re-reads for: those of
// its project, of any of the kinds What (any kind when zero), and of its
// application or deployment when it names one. A change that names no
// application (or no deployment) concerns them all: a relay that has more
// changes waiting than it keeps sends one for the whole project.
type ChangeFilter struct {
	ProjectID     string
	ApplicationID string
	DeploymentID  string
	What          ChangeKind
}

// Selects reports whether c is a change f selects.
func (f ChangeFilter) Selects(c Change) bool {
	return c.ProjectID == f.ProjectID &&
		(f.What == 0 || c.What&f.What != 0) &&
		(f.ApplicationID == "" || c.ApplicationID == "" || c.ApplicationID == f.ApplicationID) &&
		(f.DeploymentID == "" || c.DeploymentID == "" || c.DeploymentID == f.DeploymentID)
}

// watcher is one console stream's subscription to changes.
type watcher struct {
	filter ChangeFilter
	// wake holds at most one signal: a burst of changes while the stream
	// is busy re-reading comes out as one more re-read.
	wake chan struct{}
}

// changeWatchers holds the console streams of this replica, by project.
type changeWatchers struct {
	mu sync.Mutex
	m  map[string]map[*watcher]struct{}
}

// WatchChanges returns a channel that receives a signal whenever a change
// f selects is published on this hub, and when the replica may have missed
// changes (PublishResync); signals coalesce, so a stream that re-reads on
// each one re-reads once for a burst. The function returned ends the
// subscription; it does not close the channel.
func (h *Hub) WatchChanges(f ChangeFilter) (<-chan struct{}, func()) {
	w := &watcher{filter: f, wake: make(chan struct{}, 1)}
	cw := &h.changes
	cw.mu.Lock()
	if cw.m == nil {
		cw.m = map[string]map[*watcher]struct{}{}
	}
	if cw.m[f.ProjectID] == nil {
		cw.m[f.ProjectID] = map[*watcher]struct{}{}
	}
	cw.m[f.ProjectID][w] = struct{}{}
	cw.mu.Unlock()
	var once sync.Once
	return w.wake, func() {
		once.Do(func() {
			cw.mu.Lock()
			defer cw.mu.Unlock()
			delete(cw.m[f.ProjectID], w)
			if len(cw.m[f.ProjectID]) == 0 {
				delete(cw.m, f.ProjectID)
			}
		})
	}
}

// PublishChange wakes the streams of this replica that c concerns, without
// blocking; it reports how many it concerned.
func (h *Hub) PublishChange(c Change) int {
	cw := &h.changes
	cw.mu.Lock()
	defer cw.mu.Unlock()
	n := 0
	for w := range cw.m[c.ProjectID] {
		if w.filter.Selects(c) {
			n++
			signal(w.wake)
		}
	}
	return n
}

// PublishResync wakes every console stream of this replica, for changes it
// may have missed; it reports how many it woke.
func (h *Hub) PublishResync() int {
	cw := &h.changes
	cw.mu.Lock()
	defer cw.mu.Unlock()
	n := 0
	for _, ws := range cw.m {
		for w := range ws {
			n++
			signal(w.wake)
		}
	}
	return n
}

// signal leaves a signal in ch unless one waits there already.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
