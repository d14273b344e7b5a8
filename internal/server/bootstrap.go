package server

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
)

// bootstrap creates project "default" with its static admin and an initial
// admin API key on a new installation, printing the generated secrets once.
// On later starts it only brings the static admin in line with the config.
// Replicas starting together are safe: one creates, the others find it.
func (s *Server) bootstrap(ctx context.Context) error {
	now := time.Now().UTC()
	cfgAdmin := s.cfg.StaticAdmin
	if _, err := s.store.GetProject(ctx, model.DefaultProjectID); err == nil {
		if cfgAdmin.PasswordHash == "" {
			return nil
		}
		// The file's password wins when it changes; a password changed
		// since through the API (ChangeStaticAdminPassword) otherwise
		// stays.
		_, err := s.store.UpdateProject(ctx, model.DefaultProjectID, func(p *model.Project) error {
			if p.StaticAdmin.ConfigHash == cfgAdmin.PasswordHash && p.StaticAdmin.Username == cfgAdmin.Username {
				return nil
			}
			p.StaticAdmin.Username, p.StaticAdmin.PasswordHash = cfgAdmin.Username, cfgAdmin.PasswordHash
			p.StaticAdmin.ConfigHash = cfgAdmin.PasswordHash
			return nil
		})
		if err != nil {
			return fmt.Errorf("update static admin: %w", err)
		}
		return nil
	} else if !model.IsKind(err, model.KindNotFound) {
		return fmt.Errorf("read project %s: %w", model.DefaultProjectID, err)
	}

	username, hash, password := cfgAdmin.Username, cfgAdmin.PasswordHash, ""
	if hash == "" {
		username, password = "admin", auth.NewPassword()
		h, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		hash = h
	}
	p := &model.Project{
		ID:          model.DefaultProjectID,
		Description: "Created on first start",
		StaticAdmin: model.StaticAdmin{Username: username, PasswordHash: hash, ConfigHash: cfgAdmin.PasswordHash},
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if err := s.store.CreateProject(ctx, p); err != nil {
		if model.IsKind(err, model.KindAlreadyExists) {
			return nil // another replica won the race
		}
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	keyID := model.NewID()
	key, keyHash := auth.NewKey(keyID)
	k := &model.APIKey{
		ID: keyID, ProjectID: p.ID, Name: "bootstrap", KeyHash: keyHash, Role: model.RoleAdmin,
		Creator: "bootstrap", CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return fmt.Errorf("create bootstrap API key: %w", err)
	}
	if s.cfg.BootstrapAPIKeyFile != "" {
		if err := os.WriteFile(s.cfg.BootstrapAPIKeyFile, []byte(key+"\n"), 0o600); err != nil {
			return fmt.Errorf("write bootstrap API key file: %w", err)
		}
	}
	out := s.cfg.BootstrapOut
	fmt.Fprintf(out, "Ferry is initialised: project %q created.\n", p.ID)
	if password != "" {
		fmt.Fprintf(out, "  Static admin:  %s / %s\n", username, password)
	}
	fmt.Fprintf(out, "  Admin API key: %s\n", key)
	fmt.Fprintf(out, "These are shown once. Sign the CLI in with:\n  ferry login --address <this server's URL> --api-key %s\n", key)
	s.logger.Info("installation bootstrapped", "project_id", p.ID, "static_admin", username, "api_key_id", keyID)
	return nil
}
