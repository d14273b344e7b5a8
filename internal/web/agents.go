package web

import (
	"net/http"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

type agentRow struct {
	A      *model.Agent
	Status model.ConnectionStatus
}

type agentsData struct {
	Rows []agentRow
	// NewKey is shown once, right after registering or rotating.
	NewKey, NewKeyAgent, NewKeyAgentID string
	Error                              string
}

func (h *Handler) agentsPage(w http.ResponseWriter, r *http.Request, s *session, d *agentsData) {
	ags, err := h.store.ListAgents(r.Context(), store.AgentFilter{ProjectID: s.ProjectID})
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	now := h.opts.Now()
	for _, a := range ags {
		d.Rows = append(d.Rows, agentRow{A: a, Status: a.Status(now)})
	}
	h.render(w, r, http.StatusOK, "agents", h.view(r, s, "Agents", "agents", d))
}

func (h *Handler) agents(w http.ResponseWriter, r *http.Request, s *session) {
	h.agentsPage(w, r, s, &agentsData{})
}

// registerAgent registers an agent and shows its id and key, once.
func (h *Handler) registerAgent(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: r.PostFormValue("name"), Description: r.PostFormValue("description")}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.agentsPage(w, r, s, &agentsData{NewKey: res.Msg.GetKey(), NewKeyAgent: res.Msg.GetAgent().GetName(), NewKeyAgentID: res.Msg.GetAgent().GetId()})
}

// rotateAgentKey adds a new key to an agent and shows it, once; the old key
// keeps working until dropped, so the agent can be moved over without
// downtime.
func (h *Handler) rotateAgentKey(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.RotateAgentKey(ctx, connect.NewRequest(&ferryv1.RotateAgentKeyRequest{Agent: r.PathValue("id")}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.agentsPage(w, r, s, &agentsData{NewKey: res.Msg.GetKey(), NewKeyAgent: res.Msg.GetAgent().GetName(), NewKeyAgentID: res.Msg.GetAgent().GetId()})
}

// dropOldAgentKeys keeps only an agent's newest key, once the agent runs
// with it.
func (h *Handler) dropOldAgentKeys(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.DeleteOldAgentKeys(ctx, connect.NewRequest(&ferryv1.DeleteOldAgentKeysRequest{Agent: r.PathValue("id")})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/agents", "Old key dropped: only the newest key works now.")
}

func (h *Handler) disableAgent(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.DisableAgent(ctx, connect.NewRequest(&ferryv1.DisableAgentRequest{Agent: r.PathValue("id")})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/agents", "Agent disabled: its key is refused from now on.")
}

func (h *Handler) enableAgent(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.EnableAgent(ctx, connect.NewRequest(&ferryv1.EnableAgentRequest{Agent: r.PathValue("id")})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/agents", "Agent enabled.")
}
