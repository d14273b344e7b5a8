package server

import (
	"context"
	"fmt"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/hub/pgbus"
	"github.com/ferrycd/ferry/internal/hub/redisbus"
	"github.com/ferrycd/ferry/internal/model"
)

// setupFanout chooses how commands and notices reach the agents' streams
// on the other replicas — Redis when configured, else LISTEN/NOTIFY on a
// PostgreSQL datastore, else nowhere (SQLite serves one replica) — and
// starts receiving. It returns once this replica listens, so nothing
// another replica sends after this one starts serving is missed.
func (s *Server) setupFanout(ctx context.Context) error {
	origin := model.NewID()
	var t hub.Transport
	switch {
	case s.cfg.FanoutRedis != "":
		rt, err := redisbus.Open(ctx, s.cfg.FanoutRedis, redisbus.Options{Logger: s.logger})
		if err != nil {
			return err
		}
		t = rt
		s.logger.Info("fan-out between replicas through Redis", "replica", origin, "channel", rt.Channel())
	case isPostgres(s.cfg.Datastore):
		pt, err := pgbus.Open(ctx, s.cfg.Datastore, pgbus.Options{Logger: s.logger})
		if err != nil {
			return err
		}
		t = pt
		s.logger.Info("fan-out between replicas through PostgreSQL LISTEN/NOTIFY", "replica", origin, "channel", pt.Channel())
	}
	if t == nil {
		s.bus = hub.NewLocal(s.hub)
	} else {
		relay := hub.NewRelay(s.hub, origin, t, s.logger)
		relay.Register(s.reg)
		s.bus = relay
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.busStop, s.busDone = cancel, make(chan struct{})
	go func() {
		defer close(s.busDone)
		if err := s.bus.Run(ctx); err != nil {
			s.serveErr <- fmt.Errorf("fan-out between replicas: %w", err)
		}
	}()
	return nil
}

// closeFanout stops receiving from the other replicas and closes the bus.
func (s *Server) closeFanout() error {
	if s.bus == nil {
		return nil
	}
	s.busStop()
	<-s.busDone
	bus := s.bus
	s.bus = nil
	if err := bus.Close(); err != nil {
		return fmt.Errorf("close fan-out: %w", err)
	}
	return nil
}
