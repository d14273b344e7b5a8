package sso

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/ferrycd/ferry/internal/model"
)

// GitHubConfig configures sign-in with a GitHub OAuth app, on github.com
// or GitHub Enterprise Server.
type GitHubConfig struct {
	// Name is the provider's name in the console's URLs.
	Name string
	// ClientID and ClientSecret are the OAuth app's.
	ClientID     string
	ClientSecret string
	// BaseURL is GitHub's web address, where the OAuth endpoints are;
	// default https://github.com. Set it for GitHub Enterprise Server,
	// such as https://github.example.com.
	BaseURL string
	// APIURL is the REST API's address; default https://api.github.com
	// for github.com, else BaseURL + /api/v3.
	APIURL string
	// Org, when set, lets only the members of this organization sign in.
	Org string
	// HTTPClient, when set, makes every request to GitHub; default
	// http.DefaultClient.
	HTTPClient *http.Client
}

// GitHub signs people in with a GitHub OAuth app: the authorization code
// flow, then the REST API for the person's login, email and teams. It
// asks for the read:user, user:email and read:org scopes. It is safe for
// concurrent use.
type GitHub struct {
	cfg   GitHubConfig
	oauth oauth2.Config
	api   string
}

var _ Provider = (*GitHub)(nil)

// NewGitHub returns a GitHub provider, a *GitHub. It fails when Name or
// ClientID is empty or a URL does not parse; it does not reach GitHub.
func NewGitHub(cfg GitHubConfig) (Provider, error) {
	switch {
	case cfg.Name == "":
		return nil, model.Invalid("sso github: name is required")
	case cfg.ClientID == "":
		return nil, model.Invalid("sso github %s: clientID is required", cfg.Name)
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = "https://github.com"
	}
	api := strings.TrimSuffix(cfg.APIURL, "/")
	switch {
	case api != "":
	case base == "https://github.com":
		api = "https://api.github.com"
	default:
		api = base + "/api/v3"
	}
	for field, raw := range map[string]string{"baseURL": base, "apiURL": api} {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, model.Invalid("sso github %s: %s must be an http(s) URL such as https://github.example.com", cfg.Name, field)
		}
	}
	return &GitHub{
		cfg: cfg,
		api: api,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   base + "/login/oauth/authorize",
				TokenURL:  base + "/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
			Scopes: []string{"read:user", "user:email", "read:org"},
		},
	}, nil
}

// Name implements Provider.
func (g *GitHub) Name() string { return g.cfg.Name }

// AuthCodeURL implements Provider. GitHub issues no ID token, so the nonce
// is not sent; state alone ties the callback to the sign-in.
func (g *GitHub) AuthCodeURL(_ context.Context, state, _, redirectURL string) (string, error) {
	c := g.oauth
	c.RedirectURL = redirectURL
	return c.AuthCodeURL(state, oauth2.SetAuthURLParam("allow_signup", "false")), nil
}

// Exchange implements Provider: it trades the code for an access token and
// reads the person's login, email and teams ("org/team-slug", lowercase)
// from the API. A refused code, or a person outside Org, is a
// KindUnauthenticated error; GitHub failing, KindUnavailable.
func (g *GitHub) Exchange(ctx context.Context, code, _, redirectURL string) (Identity, error) {
	if code == "" {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: GitHub sent no code", g.cfg.Name)
	}
	if g.cfg.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, g.cfg.HTTPClient)
	}
	c := g.oauth
	c.RedirectURL = redirectURL
	tok, err := c.Exchange(ctx, code)
	if err != nil {
		return Identity{}, exchangeError(g.cfg.Name, err)
	}
	client := c.Client(ctx, tok)

	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Email string `json:"email"`
	}
	if _, err := g.get(ctx, client, "/user", &user); err != nil {
		return Identity{}, err
	}
	if user.ID == 0 || user.Login == "" {
		return Identity{}, model.Errorf(model.KindUnavailable, "sso %s: GitHub's /user has no id or login", g.cfg.Name)
	}
	id := Identity{Provider: g.cfg.Name, Subject: strconv.FormatInt(user.ID, 10), Name: user.Login, Email: user.Email}
	if id.Email == "" {
		if id.Email, err = g.primaryEmail(ctx, client); err != nil {
			return Identity{}, err
		}
	}
	if g.cfg.Org != "" {
		if err := g.checkMember(ctx, client, user.Login); err != nil {
			return Identity{}, err
		}
	}
	if id.Groups, err = g.teams(ctx, client); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// primaryEmail returns the person's primary verified email, or "" when
// they have none or hide it.
func (g *GitHub) primaryEmail(ctx context.Context, client *http.Client) (string, error) {
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	status, err := g.get(ctx, client, "/user/emails", &emails)
	if status == http.StatusNotFound || status == http.StatusForbidden {
		return "", nil // the token lacks user:email; the email is optional
	}
	if err != nil {
		return "", err
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			return e.Email, nil
		}
	}
	return "", nil
}

// checkMember fails unless login is an active member of the configured
// organization.
func (g *GitHub) checkMember(ctx context.Context, client *http.Client, login string) error {
	var m struct {
		State string `json:"state"`
	}
	status, err := g.get(ctx, client, "/user/memberships/orgs/"+url.PathEscape(g.cfg.Org), &m)
	if status == http.StatusNotFound || status == http.StatusForbidden {
		return model.Errorf(model.KindUnauthenticated, "sso %s: %s is not a member of the GitHub organization %s (or the OAuth app is not allowed to see it)", g.cfg.Name, login, g.cfg.Org)
	}
	if err != nil {
		return err
	}
	if m.State != "active" {
		return model.Errorf(model.KindUnauthenticated, "sso %s: %s's membership of the GitHub organization %s is %s, not active", g.cfg.Name, login, g.cfg.Org, m.State)
	}
	return nil
}

// maxTeamPages bounds how many pages of teams are read, 100 teams each.
const maxTeamPages = 10

// teams returns the person's teams as "org/team-slug", lowercase.
func (g *GitHub) teams(ctx context.Context, client *http.Client) ([]string, error) {
	var out []string
	for page := 1; page <= maxTeamPages; page++ {
		var teams []struct {
			Slug string `json:"slug"`
			Org  struct {
				Login string `json:"login"`
			} `json:"organization"`
		}
		if _, err := g.get(ctx, client, fmt.Sprintf("/user/teams?per_page=100&page=%d", page), &teams); err != nil {
			return nil, err
		}
		for _, t := range teams {
			out = append(out, strings.ToLower(t.Org.Login+"/"+t.Slug))
		}
		if len(teams) < 100 {
			break
		}
	}
	return out, nil
}

// get reads the API resource at path into out, returning the HTTP status.
// Errors name the path, never the token.
func (g *GitHub) get(ctx context.Context, client *http.Client, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return 0, fmt.Errorf("sso %s: %w", g.cfg.Name, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := client.Do(req)
	if err != nil {
		return 0, model.Errorf(model.KindUnavailable, "sso %s: GitHub API GET %s: %w", g.cfg.Name, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, model.Errorf(model.KindUnavailable, "sso %s: GitHub API GET %s: %w", g.cfg.Name, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		kind := model.KindUnavailable
		if resp.StatusCode == http.StatusUnauthorized {
			kind = model.KindUnauthenticated
		}
		return resp.StatusCode, model.Errorf(kind, "sso %s: GitHub API GET %s: %s", g.cfg.Name, path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return resp.StatusCode, model.Errorf(model.KindUnavailable, "sso %s: GitHub API GET %s: decode: %w", g.cfg.Name, path, err)
	}
	return resp.StatusCode, nil
}
