package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const eventPageSize = 50

var eventStatuses = []model.EventStatus{model.EventNotHandled, model.EventSuccess, model.EventFailure, model.EventOutdated}

type eventsData struct {
	Name, Status string
	Statuses     []model.EventStatus
	Rows         []*model.Event
	Next         string
	Error        string
}

// events lists the events CI raised for the agents' event watchers, newest
// first, with what became of each.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := &eventsData{Name: strings.TrimSpace(q.Get("name")), Status: q.Get("status"), Statuses: eventStatuses}
	f := store.EventFilter{ProjectID: s.ProjectID, Name: d.Name}
	for _, st := range eventStatuses {
		if string(st) == d.Status {
			f.Statuses = []model.EventStatus{st}
		}
	}
	es, next, err := h.store.ListEvents(r.Context(), f, store.Page{Limit: eventPageSize, Cursor: q.Get("cursor")})
	if model.IsKind(err, model.KindInvalid) {
		d.Error = "That page link is out of date for these filters; showing the first page."
		es, next, err = h.store.ListEvents(r.Context(), f, store.Page{Limit: eventPageSize})
	}
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	d.Rows = es
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		d.Next = "/events?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "events", h.view(r, s, "Events", "events", d))
}
