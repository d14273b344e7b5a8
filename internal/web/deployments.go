package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const deploymentPageSize = 50

type deploymentsFilter struct {
	Status, Kind, App, Labels string
}

type deploymentsData struct {
	Filter   deploymentsFilter
	Rows     []*model.Deployment
	Statuses []model.DeploymentStatus
	Kinds    []model.AppKind
	Next     string
	LiveURL  string
	Error    string
}

// deployments lists the project's deployments, newest first.
func (h *Handler) deployments(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.deploymentsData(r, s)
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "deployments", h.view(r, s, "Deployments", "deployments", d))
}

// deploymentsLive streams the same page of the same list as it changes:
// any deployment of the project.
func (h *Handler) deploymentsLive(w http.ResponseWriter, r *http.Request, s *session) {
	f := hub.ChangeFilter{ProjectID: s.ProjectID, What: hub.ChangeDeployment}
	h.stream(w, r, f, func() ([]event, bool) {
		d, err := h.deploymentsData(r, s)
		if err != nil {
			return nil, true
		}
		evs, ok := h.fragments(r, "deployments", h.view(r, s, "", "", d), "deps")
		return evs, !ok
	})
}

func (h *Handler) deploymentsData(r *http.Request, s *session) (*deploymentsData, error) {
	q := r.URL.Query()
	d := &deploymentsData{
		Filter:   deploymentsFilter{Status: q.Get("status"), Kind: q.Get("kind"), App: q.Get("app"), Labels: q.Get("labels")},
		Statuses: model.DeploymentStatuses, Kinds: model.AppKinds,
		LiveURL: "/deployments/live?" + q.Encode(),
	}
	appID, problem := h.appRef(r, s, strings.TrimSpace(d.Filter.App))
	d.Error = problem
	f := store.DeploymentFilter{ProjectID: s.ProjectID, ApplicationID: appID}
	if st := model.DeploymentStatus(d.Filter.Status); st.Valid() {
		f.Statuses = []model.DeploymentStatus{st}
	}
	if k := model.AppKind(d.Filter.Kind); k.Valid() {
		f.Kind = k
	}
	labels, ok := parseLabels(d.Filter.Labels)
	if !ok {
		d.Error = "Labels must be written as key=value, separated by commas (env=prod, team=payments)."
		return d, nil
	}
	f.Labels = labels
	ds, next, err := h.store.ListDeployments(r.Context(), f, store.Page{Limit: deploymentPageSize, Cursor: q.Get("cursor")})
	if model.IsKind(err, model.KindInvalid) {
		d.Error = "That page link is out of date for these filters; showing the first page."
		ds, next, err = h.store.ListDeployments(r.Context(), f, store.Page{Limit: deploymentPageSize})
	}
	if err != nil {
		return nil, err
	}
	d.Rows = ds
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		d.Next = "/deployments?" + nq.Encode()
	}
	return d, nil
}

// appRef turns what a person typed for an application (id, REPO:PATH or
// name) into its id. A name several applications share gives the message
// listing them, and ref itself as the id, so the filter matches nothing
// rather than one of them at random; anything unknown is taken as an id.
func (h *Handler) appRef(r *http.Request, s *session, ref string) (id, problem string) {
	if ref == "" {
		return "", ""
	}
	a, err := store.FindApplication(r.Context(), h.store, s.ProjectID, ref)
	switch {
	case err == nil:
		return a.ID, ""
	case model.IsKind(err, model.KindInvalid):
		return ref, err.Error()
	}
	return ref, ""
}

func (h *Handler) getDeployment(r *http.Request, s *session) (*model.Deployment, error) {
	d, err := h.store.GetDeployment(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if d.ProjectID != s.ProjectID {
		return nil, model.NotFound("deployment", r.PathValue("id"))
	}
	return d, nil
}

// graph lays a deployment's stages out in columns by their requires: a
// stage sits one column right of the last stage it waits for. Rollback
// stages get a row of their own.
type graph struct {
	Columns  [][]*model.Stage
	Rollback []*model.Stage
}

func layout(d *model.Deployment) graph {
	visible := 0
	for _, st := range d.Stages {
		if st.Visible {
			visible++
		}
	}
	byID := map[string]*model.Stage{}
	for _, st := range d.Stages {
		byID[st.ID] = st
	}
	depth := map[string]int{}
	var depthOf func(st *model.Stage, seen map[string]bool) int
	depthOf = func(st *model.Stage, seen map[string]bool) int {
		if v, ok := depth[st.ID]; ok {
			return v
		}
		if seen[st.ID] {
			return 0 // a cycle would be a planner bug; draw it flat
		}
		seen[st.ID] = true
		best := 0
		for _, req := range st.Requires {
			if p, ok := byID[req]; ok && !p.Rollback {
				best = max(best, depthOf(p, seen)+1)
			}
		}
		depth[st.ID] = best
		return best
	}
	var g graph
	for _, st := range d.Stages {
		if visible > 0 && !st.Visible {
			continue
		}
		if st.Rollback {
			g.Rollback = append(g.Rollback, st)
			continue
		}
		c := depthOf(st, map[string]bool{})
		for len(g.Columns) <= c {
			g.Columns = append(g.Columns, nil)
		}
		g.Columns[c] = append(g.Columns[c], st)
	}
	return g
}

type opRow struct {
	model.Operation
	Stage string
}

type deploymentData struct {
	D        *model.Deployment
	Graph    graph
	Ops      []opRow
	Selected *model.Stage
	Log      []*ferryv1.LogBlock
	LogAfter int64
	LogDone  bool
}

func (h *Handler) deploymentData(r *http.Request, s *session, d *model.Deployment) *deploymentData {
	out := &deploymentData{D: d, Graph: layout(d)}
	for _, op := range d.Operations {
		row := opRow{Operation: op}
		if st := d.Stage(op.StageID); st != nil {
			row.Stage = st.Name
		}
		out.Ops = append(out.Ops, row)
	}
	return out
}

// deployment shows a deployment's pipeline, its operations and the log of
// the chosen (or the running) stage.
func (h *Handler) deployment(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.getDeployment(r, s)
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	data := h.deploymentData(r, s, d)
	sel := d.Stage(r.URL.Query().Get("stage"))
	if sel == nil {
		for _, st := range d.Stages {
			if st.Status == model.StageRunning || (sel == nil && st.Status != model.StageNotStartedYet) {
				sel = st
			}
		}
	}
	data.Selected, data.LogAfter = sel, -1
	if sel != nil && h.can(s, "GetStageLog") {
		ctx := auth.WithPrincipal(r.Context(), principalOf(s))
		res, err := h.users.GetStageLog(ctx, connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.ID, StageId: sel.ID, AfterIndex: -1}))
		if err == nil {
			// A log longer than the first page is followed for the rest.
			data.Log, data.LogDone = res.Msg.GetBlocks(), res.Msg.GetCompleted() && !res.Msg.GetHasMore()
			if n := len(data.Log); n > 0 {
				data.LogAfter = data.Log[n-1].GetIndex()
			}
		}
	}
	h.render(w, r, http.StatusOK, "deployment", h.view(r, s, d.ApplicationName+" deployment", "deployments", data))
}

// deploymentLive streams the deployment's status, pipeline and operations
// as they change, ending once the deployment has completed.
func (h *Handler) deploymentLive(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.getDeployment(r, s)
	if err != nil {
		http.Error(w, "deployment not found", http.StatusNotFound)
		return
	}
	f := hub.ChangeFilter{ProjectID: s.ProjectID, DeploymentID: d.ID, What: hub.ChangeDeployment | hub.ChangeStage}
	h.stream(w, r, f, func() ([]event, bool) {
		d, err := h.getDeployment(r, s)
		if err != nil {
			return nil, true
		}
		evs, ok := h.fragments(r, "deployment", h.view(r, s, "", "", h.deploymentData(r, s, d)), "summary", "pipeline", "operations")
		return evs, !ok || d.Status.Completed()
	})
}

// logLine is one log block as the follow script receives it.
type logLine struct {
	Index    int64  `json:"i"`
	Severity string `json:"s"`
	Text     string `json:"t"`
}

// stageLog streams a stage's log blocks after the index the page already
// shows (?after=), until the stage or deployment completes.
func (h *Handler) stageLog(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := h.getDeployment(r, s)
	if err != nil || d.Stage(r.PathValue("stage")) == nil {
		http.Error(w, "stage not found", http.StatusNotFound)
		return
	}
	after := int64(-1)
	if v, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64); err == nil {
		after = v
	}
	if v, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = v
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	// New blocks, and the stage's or the deployment's end, which ends the
	// log.
	f := hub.ChangeFilter{ProjectID: s.ProjectID, DeploymentID: d.ID, What: hub.ChangeLog | hub.ChangeStage | hub.ChangeDeployment}
	h.stream(w, r, f, func() ([]event, bool) {
		var evs []event
		// Every page stored so far, read a page at a time.
		for {
			res, err := h.users.GetStageLog(ctx, connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.ID, StageId: r.PathValue("stage"), AfterIndex: after}))
			if err != nil {
				return []event{{Name: "failed", Data: "The log could not be read; reload the page to try again."}}, true
			}
			for _, b := range res.Msg.GetBlocks() {
				after = b.GetIndex()
				line, _ := json.Marshal(logLine{Index: b.GetIndex(), Severity: enumName(b.GetSeverity().String(), "LOG_SEVERITY_"), Text: b.GetLog()})
				evs = append(evs, event{ID: strconv.FormatInt(after, 10), Name: "log", Data: string(line)})
			}
			if !res.Msg.GetHasMore() || len(res.Msg.GetBlocks()) == 0 {
				return evs, res.Msg.GetCompleted() && len(evs) == 0
			}
		}
	})
}

func (h *Handler) cancelDeployment(w http.ResponseWriter, r *http.Request, s *session) {
	req := &ferryv1.CancelDeploymentRequest{DeploymentId: r.PathValue("id")}
	switch r.PostFormValue("rollback") {
	case "yes":
		req.ForceRollback = true
	case "no":
		req.ForceNoRollback = true
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.CancelDeployment(ctx, connect.NewRequest(req)); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/deployments/"+req.DeploymentId, "Cancel sent to the agent.")
}

func (h *Handler) approveStage(w http.ResponseWriter, r *http.Request, s *session) {
	id, stage := r.PathValue("id"), r.PathValue("stage")
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.ApproveStage(ctx, connect.NewRequest(&ferryv1.ApproveStageRequest{DeploymentId: id, StageId: stage})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/deployments/"+id, "Approval recorded.")
}

func (h *Handler) skipStage(w http.ResponseWriter, r *http.Request, s *session) {
	id, stage := r.PathValue("id"), r.PathValue("stage")
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.SkipStage(ctx, connect.NewRequest(&ferryv1.SkipStageRequest{DeploymentId: id, StageId: stage})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/deployments/"+id, "Skip sent to the agent.")
}
