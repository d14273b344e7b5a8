package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/webhook"
	"github.com/ferrycd/ferry/internal/store/sqlite"
	"github.com/ferrycd/ferry/internal/testenv"
)

const (
	secret = "s3cret-for-tests"
	sha    = "9f1c2a7b3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b"
)

// fixture is a Receiver on a loopback HTTP server over a real SQLite store
// and hub, with every agent of the store subscribed.
type fixture struct {
	url  string
	reg  *prometheus.Registry
	subs map[string]<-chan hub.Item
}

// agent returns an enabled agent following repos, given as remote, branch
// and id triples.
func agent(id, project string, repos ...[3]string) *model.Agent {
	now := time.Now().UTC()
	a := &model.Agent{ID: id, ProjectID: project, Name: id, CreatedAt: now, UpdatedAt: now}
	for _, r := range repos {
		a.Repositories = append(a.Repositories, model.Repository{Remote: r[0], Branch: r[1], ID: r[2]})
	}
	return a
}

func newFixture(t *testing.T, secret string, maxBody int64, agents ...*model.Agent) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := hub.New()
	f := &fixture{reg: prometheus.NewRegistry(), subs: map[string]<-chan hub.Item{}}
	for _, a := range agents {
		if err := st.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		ch, cancel := h.Subscribe(a.ID)
		t.Cleanup(cancel)
		f.subs[a.ID] = ch
	}
	rc := webhook.New(webhook.Options{
		Secret: secret, Agents: st, Hub: hub.NewLocal(h), Registerer: f.reg, MaxBodyBytes: maxBody,
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
	})
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/github", rc.GitHub())
	mux.Handle("POST /webhooks/gitlab", rc.GitLab())
	mux.Handle("POST /webhooks/generic", rc.Generic())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// post sends body with headers and returns the status and decoded answer.
func (f *fixture) post(t *testing.T, path string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", res.StatusCode, data, err)
	}
	return res.StatusCode, out
}

// received returns what agentID's subscription holds now. The hub publishes
// before the webhook answers, so nothing more can arrive for that request.
func (f *fixture) received(agentID string) []hub.Notice {
	var out []hub.Notice
	for {
		select {
		case it := <-f.subs[agentID]:
			out = append(out, *it.Notice)
		default:
			return out
		}
	}
}

// count reads ferry_webhook_pushes_total for provider and result.
func (f *fixture) count(t *testing.T, provider, result string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "ferry_webhook_pushes_total" && labels["provider"] == provider && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func sign(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func githubPush(ref, cloneURL string) string {
	return `{"ref":"` + ref + `","after":"` + sha + `","repository":{"clone_url":"` + cloneURL +
		`","ssh_url":"git@github.com:org/apps.git","html_url":"https://github.com/org/apps"}}`
}

func githubHeaders(event, sig string) map[string]string {
	return map[string]string{"X-GitHub-Event": event, "X-Hub-Signature-256": sig, "Content-Type": "application/json"}
}

func pushed(repoID, branch, commit string) hub.Notice {
	return hub.Notice{Kind: hub.NoticeRepositoryPushed, RepositoryID: repoID, Branch: branch, CommitHash: commit}
}

func TestAGitHubPushNotifiesEveryAgentFollowingTheBranch(t *testing.T) {
	f := newFixture(t, secret, 0,
		agent("ssh-follower", "p1", [3]string{"git@github.com:org/apps.git", "main", "apps"}),
		agent("https-follower", "p2", [3]string{"https://token@github.com/org/apps", "main", "deploy"},
			[3]string{"https://github.com/org/other", "main", "other"}),
		agent("release-follower", "p1", [3]string{"https://github.com/org/apps.git", "release", "apps"}),
		agent("other-repo", "p1", [3]string{"https://github.com/org/apps-infra.git", "main", "infra"}),
	)
	body := githubPush("refs/heads/main", "https://github.com/org/apps.git")
	status, got := f.post(t, "/webhooks/github", githubHeaders("push", sign(secret, body)), body)
	if status != http.StatusOK || got["notified"] != 2.0 || got["matched"] != 2.0 {
		t.Fatalf("push = %d %v, want 200 with 2 notified", status, got)
	}
	for id, want := range map[string][]hub.Notice{
		"ssh-follower":     {pushed("apps", "main", sha)},
		"https-follower":   {pushed("deploy", "main", sha)},
		"release-follower": nil,
		"other-repo":       nil,
	} {
		if diff := cmp.Diff(want, f.received(id)); diff != "" {
			t.Errorf("%s received (-want +got):\n%s", id, diff)
		}
	}
	if got := f.count(t, "github", "matched"); got != 1 {
		t.Errorf("ferry_webhook_pushes_total{provider=github,result=matched} = %v, want 1", got)
	}
}

func TestAGitHubPushSentAsAFormIsRead(t *testing.T) {
	f := newFixture(t, secret, 0, agent("a", "p", [3]string{"https://github.com/org/apps", "main", "apps"}))
	body := "payload=" + strings.ReplaceAll(githubPush("refs/heads/main", "https://github.com/org/apps.git"), "/", "%2F")
	h := githubHeaders("push", sign(secret, body))
	h["Content-Type"] = "application/x-www-form-urlencoded"
	if status, got := f.post(t, "/webhooks/github", h, body); status != http.StatusOK || got["notified"] != 1.0 {
		t.Fatalf("form push = %d %v, want 1 notified", status, got)
	}
}

func TestGitLabAndGenericPushesNotifyTheFollowers(t *testing.T) {
	f := newFixture(t, secret, 0, agent("a", "p", [3]string{"ssh://git@gitlab.example.com:2222/group/apps.git", "main", "apps"}))
	gitlabBody := `{"object_kind":"push","ref":"refs/heads/main","after":"` + sha + `","project":{` +
		`"git_http_url":"https://gitlab.example.com/group/apps.git","git_ssh_url":"git@gitlab.example.com:group/apps.git"}}`
	genericBody := `{"repository":"https://gitlab.example.com/group/apps","branch":"main","commit":"` + sha + `"}`
	for _, tc := range []struct {
		name, path string
		headers    map[string]string
		body       string
	}{
		{"a GitLab push hook with the token", "/webhooks/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}, gitlabBody},
		{"a GitLab system hook for a push", "/webhooks/gitlab", map[string]string{"X-Gitlab-Event": "System Hook", "X-Gitlab-Token": secret}, gitlabBody},
		{"a generic push with a bearer token", "/webhooks/generic", map[string]string{"Authorization": "Bearer " + secret}, genericBody},
		{"a generic push with a signature", "/webhooks/generic", map[string]string{"X-Hub-Signature-256": sign(secret, genericBody)}, genericBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got := f.post(t, tc.path, tc.headers, tc.body)
			if status != http.StatusOK || got["notified"] != 1.0 {
				t.Fatalf("push = %d %v, want 200 with 1 notified", status, got)
			}
			if diff := cmp.Diff([]hub.Notice{pushed("apps", "main", sha)}, f.received("a")); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}
