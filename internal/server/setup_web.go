package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/web"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// setupWeb builds the console served at "/".
func (s *Server) setupWeb(ctx context.Context, users *api.UserService) (*web.Handler, error) {
	key, err := s.sessionKey(ctx)
	if err != nil {
		return nil, err
	}
	// Reading the OpenID Connect issuers' discovery documents must not
	// hold the start up for ever.
	ssoCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	providers, roles, err := sso.FromConfig(ssoCtx, s.cfg.SSO)
	if err != nil {
		return nil, fmt.Errorf("single sign-on: %w", err)
	}
	return web.New(web.Options{
		Store:           s.store,
		Users:           users,
		SSO:             providers,
		Roles:           roles,
		SessionKey:      key,
		InsecureCookies: s.cfg.InsecureCookies,
		Changes:         s.hub,
		PollInterval:    s.cfg.ConsolePollInterval,
		Stopping:        s.stopping,
		Logger:          s.logger,
	})
}

// sessionKey returns the key that signs console sessions. Every replica
// must derive the same one, so it comes from what they share: the config's
// SessionKey when set, or else a key derived (HKDF-SHA256) from the default
// project's static admin password hash, a secret kept in the datastore and
// never shown by the API. Changing the static admin's password, or the
// SessionKey, therefore signs everyone out, which is what one wants after a
// password leak.
func (s *Server) sessionKey(ctx context.Context) ([]byte, error) {
	if s.cfg.SessionKey != "" {
		sum := sha256.Sum256([]byte(s.cfg.SessionKey))
		return sum[:], nil
	}
	p, err := s.store.GetProject(ctx, model.DefaultProjectID)
	if err != nil {
		return nil, fmt.Errorf("read project for the console's session key: %w", err)
	}
	if p.StaticAdmin.PasswordHash == "" {
		return nil, fmt.Errorf("project %s has no static admin secret to derive the console's session key from: set a session key in the config", p.ID)
	}
	key, err := hkdf.Key(sha256.New, []byte(p.StaticAdmin.PasswordHash), []byte(p.ID), "ferry console session v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the console's session key: %w", err)
	}
	return key, nil
}
