package server

import (
	"context"
	"fmt"

	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/web"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// setupWeb builds the console served at "/".
func (s *Server) setupWeb(ctx context.Context, users *api.UserService) (*web.Handler, error) {
	providers, roles, err := sso.FromConfig(s.cfg.SSO)
	if err != nil {
		return nil, fmt.Errorf("single sign-on: %w", err)
	}
	// An OpenID Connect issuer is asked for its discovery document when
	// someone first signs in through it; asking now as well only warns
	// early of one that cannot be reached, without holding the start up.
	for _, p := range providers {
		if o, ok := p.(*sso.OIDC); ok {
			go func() {
				if err := o.Discover(ctx); err != nil {
					s.logger.WarnContext(ctx, "single sign-on provider not reachable yet; sign-ins through it will retry", "provider", o.Name(), "error", err)
				}
			}()
		}
	}
	return web.New(web.Options{
		Store:           s.store,
		Users:           users,
		SSO:             providers,
		Roles:           roles,
		InsecureCookies: s.cfg.InsecureCookies,
		Changes:         s.hub,
		PollInterval:    s.cfg.ConsolePollInterval,
		Stopping:        s.stopping,
		Logger:          s.logger,
	})
}
