package web

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// appPageSize is how many applications one page of the list shows.
const appPageSize = 50

type appFilter struct {
	Kind, Sync, Health, Agent, Labels, Name, Disabled string
}

type appRow struct {
	App    *model.Application
	Agent  string
	Health string
}

type appsData struct {
	Filter  appFilter
	Rows    []appRow
	Kinds   []model.AppKind
	Syncs   []model.SyncStatus
	Healths []model.HealthStatus
	Agents  []*model.Agent
	Next    string
	LiveURL string
	Error   string
}

var healthStatuses = []model.HealthStatus{model.HealthHealthy, model.HealthProgress, model.HealthUnhealthy, model.HealthUnknown}

var syncStatuses = []model.SyncStatus{model.SyncSynced, model.SyncOutOfSync, model.SyncDeploying, model.SyncInvalidConfig, model.SyncUnknown}

// parseLabels reads "k=v, k2=v2".
func parseLabels(s string) (map[string]string, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, false
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, true
}

func (h *Handler) agentNames(r *http.Request, s *session) ([]*model.Agent, map[string]string) {
	ags, err := h.store.ListAgents(r.Context(), store.AgentFilter{ProjectID: s.ProjectID})
	names := map[string]string{}
	if err != nil {
		h.logger.WarnContext(r.Context(), "list agents for console", "error", err)
		return nil, names
	}
	for _, a := range ags {
		names[a.ID] = a.Name
	}
	return ags, names
}

// applications lists the project's applications, filtered and paged in the
// datastore.
func (h *Handler) applications(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.appsData(r, s)
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "applications", h.view(r, s, "Applications", "applications", d))
}

// applicationsLive streams the same page of the same list as it changes:
// any application of the project, or an agent (the rows name theirs).
func (h *Handler) applicationsLive(w http.ResponseWriter, r *http.Request, s *session) {
	f := hub.ChangeFilter{ProjectID: s.ProjectID, What: hub.ChangeApplication | hub.ChangeAgent}
	h.stream(w, r, f, func() ([]event, bool) {
		d, err := h.appsData(r, s)
		if err != nil {
			return nil, true
		}
		evs, ok := h.fragments(r, "applications", h.view(r, s, "", "", d), "apps")
		return evs, !ok
	})
}

func (h *Handler) appsData(r *http.Request, s *session) (*appsData, error) {
	q := r.URL.Query()
	d := &appsData{
		Filter: appFilter{Kind: q.Get("kind"), Sync: q.Get("sync"), Health: q.Get("health"), Agent: q.Get("agent"), Labels: q.Get("labels"), Name: strings.TrimSpace(q.Get("name")), Disabled: q.Get("disabled")},
		Kinds:  model.AppKinds, Syncs: syncStatuses, Healths: healthStatuses,
		LiveURL: "/applications/live?" + q.Encode(),
	}
	f := store.ApplicationFilter{ProjectID: s.ProjectID, NameContains: d.Filter.Name, AgentID: d.Filter.Agent}
	if k := model.AppKind(d.Filter.Kind); k.Valid() {
		f.Kind = k
	}
	if st := model.SyncStatus(d.Filter.Sync); st.Valid() {
		f.SyncStatus = st
	}
	for _, hs := range healthStatuses {
		if string(hs) == d.Filter.Health {
			f.Health = hs
		}
	}
	switch d.Filter.Disabled {
	case "yes":
		t := true
		f.Disabled = &t
	case "", "no":
		no := false
		f.Disabled = &no
	}
	labels, ok := parseLabels(d.Filter.Labels)
	if !ok {
		d.Error = "Labels must be written as key=value, separated by commas (env=prod, team=payments)."
		return d, nil
	}
	f.Labels = labels
	var names map[string]string
	d.Agents, names = h.agentNames(r, s)
	apps, next, err := h.store.ListApplications(r.Context(), f, store.Page{Limit: appPageSize, Cursor: q.Get("cursor")})
	if model.IsKind(err, model.KindInvalid) {
		d.Error = "That page link is out of date for these filters; showing the first page."
		apps, next, err = h.store.ListApplications(r.Context(), f, store.Page{Limit: appPageSize})
	}
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		health := string(a.Health)
		if health == "" {
			health = string(model.HealthUnknown)
		}
		d.Rows = append(d.Rows, appRow{App: a, Agent: names[a.AgentID], Health: health})
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		d.Next = "/applications?" + nq.Encode()
	}
	return d, nil
}

func enumName(s, prefix string) string {
	s = strings.TrimPrefix(s, prefix)
	if s == "UNSPECIFIED" || s == "" {
		return "UNKNOWN"
	}
	return s
}

// getApp reads an application of the session's project.
func (h *Handler) getApp(r *http.Request, s *session) (*model.Application, error) {
	a, err := h.store.GetApplication(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if a.ProjectID != s.ProjectID {
		return nil, model.NotFound("application", r.PathValue("id"))
	}
	return a, nil
}

type resNode struct {
	R        *ferryv1.ResourceState
	Health   string
	Children []*resNode
}

type liveData struct {
	AppID   string
	Health  string
	Version int64
	Roots   []*resNode
	Error   string
	Updated string
}

type appData struct {
	App         *model.Application
	Agent       string
	Live        *liveData
	Deployments []*model.Deployment
	// Rollbacks are the earlier successful deployments one can roll back to.
	Rollbacks []*model.Deployment
}

// application shows one application: sync state, live resources, history.
func (h *Handler) application(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := h.getApp(r, s)
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	_, names := h.agentNames(r, s)
	d := &appData{App: a, Agent: names[a.AgentID], Live: h.live(r, s, a.ID)}
	ds, _, err := h.store.ListDeployments(r.Context(), store.DeploymentFilter{ProjectID: s.ProjectID, ApplicationID: a.ID}, store.Page{Limit: 20})
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	d.Deployments = ds
	for _, dep := range ds {
		if dep.Status == model.DeploymentSuccess && (a.MostRecentSuccessfulDeployment == nil || dep.ID != a.MostRecentSuccessfulDeployment.DeploymentID) {
			d.Rollbacks = append(d.Rollbacks, dep)
		}
	}
	h.render(w, r, http.StatusOK, "application", h.view(r, s, a.Name, "applications", d))
}

// live reads an application's live state through the API and builds the
// resource tree by owner references.
func (h *Handler) live(r *http.Request, s *session, appID string) *liveData {
	out := &liveData{AppID: appID, Health: "UNKNOWN"}
	if !h.can(s, "GetApplicationLiveState") {
		out.Error = "Your role may not see live state."
		return out
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.GetApplicationLiveState(ctx, connect.NewRequest(&ferryv1.GetApplicationLiveStateRequest{Application: appID}))
	if err != nil {
		out.Error = "The live state could not be read: " + err.Error()
		return out
	}
	ls := res.Msg.GetLiveState()
	out.Health = enumName(ls.GetHealth().String(), "HEALTH_STATUS_")
	out.Version = ls.GetVersion()
	if ls.GetUpdatedAt() != nil {
		out.Updated = ago(ls.GetUpdatedAt().AsTime())
	}
	nodes := map[string]*resNode{}
	for _, rs := range ls.GetResources() {
		nodes[rs.GetId()] = &resNode{R: rs, Health: enumName(rs.GetHealth().String(), "HEALTH_STATUS_")}
	}
	for _, rs := range ls.GetResources() {
		n := nodes[rs.GetId()]
		var parent *resNode
		for _, o := range rs.GetOwnerIds() {
			if p, ok := nodes[o]; ok && p != n {
				parent = p
				break
			}
		}
		if parent != nil {
			parent.Children = append(parent.Children, n)
		} else {
			out.Roots = append(out.Roots, n)
		}
	}
	var sortNodes func([]*resNode)
	sortNodes = func(ns []*resNode) {
		sort.Slice(ns, func(i, j int) bool {
			if ns[i].R.GetKind() != ns[j].R.GetKind() {
				return ns[i].R.GetKind() < ns[j].R.GetKind()
			}
			return ns[i].R.GetName() < ns[j].R.GetName()
		})
		for _, n := range ns {
			sortNodes(n.Children)
		}
	}
	sortNodes(out.Roots)
	return out
}

// applicationLive streams the application's live resource tree and sync
// state as they change.
func (h *Handler) applicationLive(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := h.getApp(r, s)
	if err != nil {
		http.Error(w, "application not found", http.StatusNotFound)
		return
	}
	f := hub.ChangeFilter{ProjectID: s.ProjectID, ApplicationID: a.ID, What: hub.ChangeApplication | hub.ChangeLiveState}
	h.stream(w, r, f, func() ([]event, bool) {
		a, err := h.getApp(r, s)
		if err != nil {
			return nil, true
		}
		evs, ok := h.fragments(r, "application", h.view(r, s, "", "", &appData{App: a, Live: h.live(r, s, a.ID)}), "live", "sync")
		return evs, !ok
	})
}

func (h *Handler) syncApplication(w http.ResponseWriter, r *http.Request, s *session) {
	strategy := ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO
	switch r.PostFormValue("strategy") {
	case "quick":
		strategy = ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC
	case "pipeline":
		strategy = ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	id := r.PathValue("id")
	if _, err := h.users.SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: id, Strategy: strategy})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/applications/"+id, "Sync requested: the agent starts a deployment shortly.")
}

func (h *Handler) rollbackApplication(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	id := r.PathValue("id")
	res, err := h.users.RollbackApplication(ctx, connect.NewRequest(&ferryv1.RollbackApplicationRequest{Application: id, ToDeploymentId: r.PostFormValue("to")}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/applications/"+id, "Rollback requested to commit "+short(res.Msg.GetCommitHash())+".")
}

func (h *Handler) disableApplication(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	id := r.PathValue("id")
	if _, err := h.users.DisableApplication(ctx, connect.NewRequest(&ferryv1.DisableApplicationRequest{Application: id})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/applications/"+id, "Application disabled: it is no longer deployed.")
}

func (h *Handler) enableApplication(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	id := r.PathValue("id")
	if _, err := h.users.EnableApplication(ctx, connect.NewRequest(&ferryv1.EnableApplicationRequest{Application: id})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/applications/"+id, "Application enabled.")
}
