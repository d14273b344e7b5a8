package sso_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/web/sso"
)

func newGitHub(t *testing.T, f *githubFake, org string) sso.Provider {
	t.Helper()
	p, err := sso.NewGitHub(sso.GitHubConfig{Name: "gh", ClientID: f.clientID, ClientSecret: f.clientSecret, BaseURL: f.URL, Org: org})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gitHubSignIn signs in through the fake as a browser would.
func gitHubSignIn(t *testing.T, p sso.Provider) (sso.Identity, error) {
	t.Helper()
	code := signIn(t, p, "state-abcdef", "")
	return p.Exchange(t.Context(), code, "", callback)
}

func TestGitHubSignsInWithLoginEmailAndTeams(t *testing.T) {
	f := newGitHubFake(t, githubUser{
		ID: 42, Login: "Ann", Email: "ann@example.com",
		Teams: [][2]string{{"Acme", "Platform-Team"}, {"acme", "devs"}},
		Orgs:  map[string]string{"acme": "active"},
	})
	p := newGitHub(t, f, "acme")
	id, err := gitHubSignIn(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := sso.Identity{Provider: "gh", Subject: "42", Name: "Ann", Email: "ann@example.com", Groups: []string{"acme/platform-team", "acme/devs"}}
	if diff := cmp.Diff(want, id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestGitHubAuthCodeURLAsksForTheScopesItNeeds(t *testing.T) {
	p, err := sso.NewGitHub(sso.GitHubConfig{Name: "gh", ClientID: "cid"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := p.AuthCodeURL(t.Context(), "st", "no", "https://ferry.example.com/login/sso/gh/callback")
	for _, want := range []string{"https://github.com/login/oauth/authorize?", "client_id=cid", "state=st", "scope=read%3Auser+user%3Aemail+read%3Aorg", "redirect_uri=https%3A%2F%2Fferry.example.com"} {
		if !strings.Contains(u, want) {
			t.Errorf("AuthCodeURL = %s, want it to contain %s", u, want)
		}
	}
}

func TestGitHubReadsThePrimaryVerifiedEmailWhenThePublicOneIsHidden(t *testing.T) {
	f := newGitHubFake(t, githubUser{ID: 7, Login: "bob", Emails: []map[string]any{
		{"email": "old@example.com", "primary": false, "verified": true},
		{"email": "bob@example.com", "primary": true, "verified": true},
	}})
	id, err := gitHubSignIn(t, newGitHub(t, f, ""))
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "bob@example.com" || id.Groups != nil {
		t.Errorf("identity %+v, want bob@example.com and no groups", id)
	}
}

func TestGitHubReadsEveryPageOfTeams(t *testing.T) {
	var teams [][2]string
	var want []string
	for i := range 230 {
		teams = append(teams, [2]string{"acme", fmt.Sprintf("t%d", i)})
		want = append(want, fmt.Sprintf("acme/t%d", i))
	}
	f := newGitHubFake(t, githubUser{ID: 7, Login: "bob", Email: "b@x.io", Teams: teams})
	id, err := gitHubSignIn(t, newGitHub(t, f, ""))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, id.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestGitHubRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   githubUser
		org    string
		code   string
		errHas string
	}{
		{
			name:   "a person outside the organization",
			user:   githubUser{ID: 1, Login: "eve", Email: "e@x.io", Orgs: map[string]string{"other": "active"}},
			org:    "acme",
			errHas: "eve is not a member of the GitHub organization acme",
		},
		{
			name:   "a person whose invitation is pending",
			user:   githubUser{ID: 1, Login: "eve", Email: "e@x.io", Orgs: map[string]string{"acme": "pending"}},
			org:    "acme",
			errHas: "membership of the GitHub organization acme is pending",
		},
		{
			name:   "a code GitHub did not issue",
			user:   githubUser{ID: 1, Login: "eve"},
			code:   "forged",
			errHas: "the provider refused the code: bad_verification_code",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newGitHubFake(t, tc.user)
			p := newGitHub(t, f, tc.org)
			code := tc.code
			if code == "" {
				code = signIn(t, p, "state-abcdef", "")
			}
			_, err := p.Exchange(t.Context(), code, "", callback)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !model.IsKind(err, model.KindUnauthenticated) {
				t.Fatalf("err = %v, want an unauthenticated error saying %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), f.clientSecret) {
				t.Errorf("the error %q holds the client secret", err)
			}
		})
	}
}

func TestGitHubRefusesACodeTwice(t *testing.T) {
	f := newGitHubFake(t, githubUser{ID: 1, Login: "ann", Email: "a@x.io"})
	p := newGitHub(t, f, "")
	code := signIn(t, p, "state-abcdef", "")
	if _, err := p.Exchange(t.Context(), code, "", callback); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exchange(t.Context(), code, "", callback); err == nil {
		t.Fatal("a used code was accepted again")
	}
}

func TestNewGitHubUsesTheEnterpriseURLsAndChecksThem(t *testing.T) {
	p, err := sso.NewGitHub(sso.GitHubConfig{Name: "gh", ClientID: "cid", BaseURL: "https://ghe.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := p.AuthCodeURL(t.Context(), "s", "n", "https://f/cb"); !strings.HasPrefix(u, "https://ghe.example.com/login/oauth/authorize?") {
		t.Errorf("GitHub Enterprise AuthCodeURL = %s", u)
	}
	if _, err := sso.NewGitHub(sso.GitHubConfig{Name: "gh", ClientID: "cid", APIURL: "ftp://x"}); err == nil || !strings.Contains(err.Error(), "apiURL must be an http(s) URL") {
		t.Errorf("err = %v, want apiURL must be an http(s) URL", err)
	}
}
