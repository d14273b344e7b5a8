package webhook_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRequestsThatCarryNoPushNotifyNobody covers every way a request is
// refused or ignored: none may deliver a notice, none may be a 500.
func TestRequestsThatCarryNoPushNotifyNobody(t *testing.T) {
	f := newFixture(t, secret, 0,
		agent("a", "p", [3]string{"https://github.com/org/apps", "main", "apps"}),
		agent("b", "p", [3]string{"https://gitlab.example.com/group/apps", "main", "apps"}),
	)
	push := githubPush("refs/heads/main", "https://github.com/org/apps.git")
	gitlabPush := `{"ref":"refs/heads/main","after":"` + sha + `","project":{"git_http_url":"https://gitlab.example.com/group/apps.git"}}`
	gitlabHook := func(event, token string) map[string]string {
		return map[string]string{"X-Gitlab-Event": event, "X-Gitlab-Token": token}
	}
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		body       string
		wantStatus int
		wantText   string
	}{
		{"a GitHub push without a signature is unauthorized", "/webhooks/github", githubHeaders("push", ""), push, 401, "missing X-Hub-Signature-256"},
		{"a GitHub push signed with another secret is unauthorized", "/webhooks/github", githubHeaders("push", sign("wrong", push)), push, 401, "signature does not match"},
		{"a GitHub push whose body was changed is unauthorized", "/webhooks/github", githubHeaders("push", sign(secret, push+" ")), push, 401, "signature does not match"},
		{"a GitHub signature that is not hex is unauthorized", "/webhooks/github", githubHeaders("push", "sha256=zz"), push, 401, "malformed"},
		{"a GitHub SHA-1 signature is unauthorized", "/webhooks/github", githubHeaders("push", "sha1=abcd"), push, 401, "malformed"},
		{"a GitHub ping is answered", "/webhooks/github", githubHeaders("ping", sign(secret, `{"zen":"x"}`)), `{"zen":"x"}`, 200, "pong"},
		{"a GitHub issue event is ignored", "/webhooks/github", githubHeaders("issues", sign(secret, `{}`)), `{}`, 202, `event \"issues\" is not a push`},
		{"a GitHub request without an event is malformed", "/webhooks/github", githubHeaders("", sign(secret, push)), push, 400, "missing X-GitHub-Event"},
		{"a GitHub tag push is ignored", "/webhooks/github", githubHeaders("push", sign(secret, githubPush("refs/tags/v1", "https://github.com/org/apps"))),
			githubPush("refs/tags/v1", "https://github.com/org/apps"), 202, "refs/tags/v1 is not a branch"},
		{"a GitHub push that is not JSON is malformed", "/webhooks/github", githubHeaders("push", sign(secret, "{not json")), "{not json", 400, "malformed JSON payload"},
		{"a GitHub push without a repository is malformed", "/webhooks/github", githubHeaders("push", sign(secret, `{"ref":"refs/heads/main"}`)), `{"ref":"refs/heads/main"}`, 400, "names no repository URL"},
		{"a GitHub push without a ref is malformed", "/webhooks/github", githubHeaders("push", sign(secret, `{"repository":{"clone_url":"https://github.com/org/apps"}}`)),
			`{"repository":{"clone_url":"https://github.com/org/apps"}}`, 400, `no \"ref\"`},
		{"a deleted GitHub branch is ignored", "/webhooks/github",
			githubHeaders("push", sign(secret, strings.Replace(push, sha, strings.Repeat("0", 40), 1))), strings.Replace(push, sha, strings.Repeat("0", 40), 1), 202, "was deleted"},
		{"a GitLab push without a token is unauthorized", "/webhooks/gitlab", gitlabHook("Push Hook", ""), gitlabPush, 401, "missing X-Gitlab-Token"},
		{"a GitLab push with the wrong token is unauthorized", "/webhooks/gitlab", gitlabHook("Push Hook", secret+"x"), gitlabPush, 401, "token does not match"},
		{"a GitLab tag push is ignored", "/webhooks/gitlab", gitlabHook("Tag Push Hook", secret), gitlabPush, 202, "is not a push"},
		{"a GitLab system hook for a merge request is ignored", "/webhooks/gitlab", gitlabHook("System Hook", secret), `{"object_kind":"merge_request"}`, 202, "system hook is not a push"},
		{"a GitLab request without an event is malformed", "/webhooks/gitlab", gitlabHook("", secret), gitlabPush, 400, "missing X-Gitlab-Event"},
		{"a generic push without credentials is unauthorized", "/webhooks/generic", nil, `{"repository":"https://github.com/org/apps","branch":"main"}`, 401, "missing credentials"},
		{"a generic push with the wrong bearer token is unauthorized", "/webhooks/generic", map[string]string{"Authorization": "Bearer nope"},
			`{"repository":"https://github.com/org/apps","branch":"main"}`, 401, "bearer token does not match"},
		{"a generic push with basic auth is unauthorized", "/webhooks/generic", map[string]string{"Authorization": "Basic " + secret},
			`{"repository":"https://github.com/org/apps","branch":"main"}`, 401, "bearer token does not match"},
		{"a generic push without a branch is malformed", "/webhooks/generic", bearer, `{"repository":"https://github.com/org/apps"}`, 400, `\"branch\" is required`},
		{"a generic push without a repository is malformed", "/webhooks/generic", bearer, `{"branch":"main"}`, 400, "names no repository URL"},
		{"a generic push with a commit that is not a hash is malformed", "/webhooks/generic", bearer,
			`{"repository":"https://github.com/org/apps","branch":"main","commit":"HEAD; rm -rf"}`, 400, "hexadecimal commit hash"},
		{"a generic push of a JSON array is malformed", "/webhooks/generic", bearer, `[]`, 400, "malformed JSON payload"},
		{"a push for another branch notifies nobody", "/webhooks/generic", bearer, `{"repository":"https://github.com/org/apps","branch":"dev"}`, 200, `"notified":0`},
		{"a push for another repository notifies nobody", "/webhooks/generic", bearer, `{"repository":"https://github.com/org/apps-infra","branch":"main"}`, 200, `"notified":0`},
		{"a push for the same path on another host notifies nobody", "/webhooks/generic", bearer, `{"repository":"https://gitlab.com/org/apps","branch":"main"}`, 200, `"matched":0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got := f.post(t, tc.path, tc.headers, tc.body)
			if text := jsonText(t, got); status != tc.wantStatus || !strings.Contains(text, tc.wantText) {
				t.Errorf("answer = %d %s, want %d containing %s", status, text, tc.wantStatus, tc.wantText)
			}
			for _, id := range []string{"a", "b"} {
				if n := f.received(id); len(n) != 0 {
					t.Errorf("agent %s received %v", id, n)
				}
			}
		})
	}
	if got := f.count(t, "github", "unauthorized"); got != 5 {
		t.Errorf("ferry_webhook_pushes_total{provider=github,result=unauthorized} = %v, want 5", got)
	}
}

func TestWithoutASecretEveryEndpointAnswers404(t *testing.T) {
	f := newFixture(t, "", 0, agent("a", "p", [3]string{"https://github.com/org/apps", "main", "apps"}))
	body := githubPush("refs/heads/main", "https://github.com/org/apps")
	for _, path := range []string{"/webhooks/github", "/webhooks/gitlab", "/webhooks/generic"} {
		// Even a request signed with the empty key is refused.
		status, got := f.post(t, path, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("", body), "Authorization": "Bearer "}, body)
		if status != http.StatusNotFound || got["error"] != "webhooks are not configured" {
			t.Errorf("POST %s = %d %v, want 404 webhooks are not configured", path, status, got)
		}
	}
	if n := f.received("a"); len(n) != 0 {
		t.Errorf("received %v", n)
	}
}

func TestAnOversizedBodyIsRefused(t *testing.T) {
	f := newFixture(t, secret, 1<<10, agent("a", "p", [3]string{"https://github.com/org/apps", "main", "apps"}))
	body := strings.Replace(githubPush("refs/heads/main", "https://github.com/org/apps"), `"after"`, `"pad":"`+strings.Repeat("x", 2<<10)+`","after"`, 1)
	status, got := f.post(t, "/webhooks/github", githubHeaders("push", sign(secret, body)), body)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized push = %d %v, want 413", status, got)
	}
	if n := f.received("a"); len(n) != 0 {
		t.Errorf("received %v", n)
	}
}

// jsonText renders an answer back to JSON, for matching and messages.
func jsonText(t *testing.T, v map[string]any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
