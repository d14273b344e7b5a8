package platform

import (
	"context"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
)

// The observe abilities: a provider that implements them lets the agent
// show what runs for an application (live state) and whether it still
// matches Git (drift). Both start from the desired state of the commit the
// application last deployed successfully, loaded once per commit and shared.

// DesiredStateLoader is a provider that can load an application's desired
// state from a checkout. It is embedded in both observe abilities.
type DesiredStateLoader interface {
	// LoadDesired renders the desired state of one application at one
	// commit (for Kubernetes: its manifests, rendered as K8S_SYNC would).
	// It reads in.RepoDir and blocks on that work; the checkout may be
	// removed once it returns. Errors say what is wrong with the
	// application's files or config (an invalid driftDetection.ignoreFields
	// entry, a manifest that does not parse). Safe for concurrent use.
	LoadDesired(ctx context.Context, in DesiredInput) (DesiredState, error)
}

// DesiredInput is what LoadDesired reads.
type DesiredInput struct {
	// AppID is the application's id, the ownership label its objects carry.
	AppID string
	// AppName is the application's name (the default Helm release name).
	AppName string
	// App is the application config at Commit.
	App *config.AppConfig
	// RepoDir is the checkout of Commit; AppDir the application's directory
	// inside it; ConfigFile the base name of its config file.
	RepoDir, AppDir, ConfigFile string
	// Commit is the commit RepoDir holds.
	Commit string
}

// DesiredState is a provider's rendering of one application at one
// commit. It is opaque to the agent, which caches it per application and
// commit and passes it back to the same provider. Implementations are safe
// for concurrent use.
type DesiredState interface {
	// AppID is the application the state belongs to.
	AppID() string
	// Commit is the commit it was loaded from.
	Commit() string
}

// LiveStateWatcher is a provider that can watch the live resources of an
// application, pushed to it as they change (Kubernetes informers), not
// polled.
type LiveStateWatcher interface {
	DesiredStateLoader
	// StartLiveState starts watching the live resources that belong to
	// the application of desired, and the resources they own, so a tree
	// forms (Deployment → ReplicaSet → Pod), and returns at once: a watch
	// holds no goroutine of its own, so thousands cost little. It returns
	// an error only when the watch cannot start. stop ends the watch; once
	// it returns, emit is not called again.
	//
	// emit receives first one LiveUpdate with Full set, holding every
	// resource once the initial listing is complete, then an update per
	// change; an update with Err set says the watch is stuck (the initial
	// listing takes long) and keeps trying. emit is called from one
	// goroutine at a time and must return quickly (buffer, do not report
	// from inside it). Calls for different applications may run
	// concurrently.
	StartLiveState(ctx context.Context, desired DesiredState, emit func(LiveUpdate)) (stop func(), err error)
}

// LiveUpdate is a change to an application's live resources.
type LiveUpdate struct {
	// Full says Changes is the complete set of live resources, replacing
	// whatever was known before (the first update of a watch).
	Full bool
	// Changes lists resources added, updated or deleted.
	Changes []LiveChange
	// Err, when set, is all the update says: the watch has a problem it
	// keeps trying to get past.
	Err error
}

// LiveChange is one resource added, updated or deleted.
type LiveChange struct {
	// Resource is the resource as it is now, or as last seen when Deleted.
	// Its ID is stable for the resource's lifetime; OwnerIDs and ParentIDs
	// name the resources that own it.
	Resource model.ResourceState
	// Deleted says the resource is gone (or no longer belongs to the
	// application).
	Deleted bool
	// Declared says the resource is one the application declares in Git,
	// rather than one a controller made for it (a ReplicaSet, a Pod): only
	// changes to declared resources can change drift.
	Declared bool
}

// DriftDetector is a provider that can compare an application's live state
// with its desired state.
type DriftDetector interface {
	DesiredStateLoader
	// DetectDrift compares what runs with desired and returns the
	// differences, reading the live state from the platform (it blocks on
	// those reads, and honours ctx). Provider-made defaults do not count as
	// drift, nor do fields the desired state does not set, nor anything the
	// application config or the resources themselves say to ignore. An
	// error means the comparison could not be made (the platform could not
	// be read), never that there is drift. Safe for concurrent use.
	DetectDrift(ctx context.Context, desired DesiredState) (*Drift, error)
}
