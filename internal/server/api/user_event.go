package api

import (
	"context"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// RegisterEvent implements UserService. Older unhandled events with the same
// name and labels become OUTDATED: only the newest value matters.
func (s *UserService) RegisterEvent(ctx context.Context, req *connect.Request[ferryv1.RegisterEventRequest]) (*connect.Response[ferryv1.RegisterEventResponse], error) {
	p := PrincipalFrom(ctx)
	if err := required("name", req.Msg.Name); err != nil {
		return nil, err
	}
	if err := required("data", req.Msg.Data); err != nil {
		return nil, err
	}
	now := s.now()
	key := model.EventKey(req.Msg.Name, req.Msg.Labels)
	older, _, err := s.Store.ListEvents(ctx, store.EventFilter{ProjectID: p.ProjectID, Key: key, Statuses: []model.EventStatus{model.EventNotHandled}}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return nil, err
	}
	e := &model.Event{
		ID: newID(), ProjectID: p.ProjectID, Name: req.Msg.Name, Data: req.Msg.Data, Labels: req.Msg.Labels,
		Key: key, Status: model.EventNotHandled, Contexts: req.Msg.Contexts, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateEvent(ctx, e); err != nil {
		return nil, err
	}
	for _, o := range older {
		_, err := s.Store.UpdateEvent(ctx, o.ID, func(o *model.Event) error {
			if o.Status == model.EventNotHandled {
				o.Status, o.StatusDescription = model.EventOutdated, "superseded by event "+e.ID
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res(&ferryv1.RegisterEventResponse{EventId: e.ID})
}

// ListEvents implements UserService.
func (s *UserService) ListEvents(ctx context.Context, req *connect.Request[ferryv1.ListEventsRequest]) (*connect.Response[ferryv1.ListEventsResponse], error) {
	pg, err := page(req.Msg.PageSize, req.Msg.PageToken)
	if err != nil {
		return nil, err
	}
	f := store.EventFilter{ProjectID: PrincipalFrom(ctx).ProjectID, Name: req.Msg.Name}
	for _, st := range req.Msg.Statuses {
		f.Statuses = append(f.Statuses, fromEventStatus(st))
	}
	es, next, err := s.Store.ListEvents(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListEventsResponse{NextPageToken: next}
	for _, e := range es {
		out.Events = append(out.Events, toEvent(e))
	}
	return res(out)
}
