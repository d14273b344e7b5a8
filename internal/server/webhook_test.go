package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/server"
)

// postHook sends a webhook and returns its status and body.
func postHook(t *testing.T, url string, headers map[string]string, body string) (int, string) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(data)
}

func hubSignature(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TestPushWebhooksReachTheAgentsWatchStream sends each provider's push to a
// real control plane and reads the notice from the agent's open stream.
// The hub keeps order per stream, so a refused or unmatched push followed
// by a good one proves the first delivered nothing: the next message is the
// good one's.
func TestPushWebhooksReachTheAgentsWatchStream(t *testing.T) {
	const secret = "hook-secret"
	const commit = "0123456789abcdef0123456789abcdef01234567"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := startServer(t, func(c *server.Config) { c.WebhookSecret = secret })
	_, key := s.registerAgent(t, "dev-cluster")
	agent := s.agent(key)
	if _, err := agent.ReportMeta(ctx, req(&ferryv1.ReportMetaRequest{
		Version:      "v0.1.0",
		Repositories: []*ferryv1.Repository{{Id: "apps", Remote: "git@github.com:org/apps.git", Branch: "main"}},
	})); err != nil {
		t.Fatal(err)
	}
	stream, err := agent.Watch(ctx, req(&ferryv1.WatchRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() || stream.Msg().GetNotice() == nil {
		t.Fatalf("first stream message = %v, %v; want the ready notice", stream.Msg(), stream.Err())
	}
	wantNotice := func(step string) {
		t.Helper()
		if !stream.Receive() {
			t.Fatalf("%s: stream ended: %v", step, stream.Err())
		}
		n := stream.Msg().GetNotice()
		if n.GetKind() != ferryv1.Notice_KIND_REPOSITORY_PUSHED || n.GetRepositoryId() != "apps" || n.GetBranch() != "main" || n.GetCommitHash() != commit {
			t.Fatalf("%s: streamed %v, want REPOSITORY_PUSHED of apps main %s", step, stream.Msg(), commit)
		}
	}
	github := func(sig, body string) (int, string) {
		return postHook(t, s.Addr()+"/webhooks/github", map[string]string{
			"X-GitHub-Event": "push", "X-Hub-Signature-256": sig, "Content-Type": "application/json"}, body)
	}
	push := func(branch string) string {
		return `{"ref":"refs/heads/` + branch + `","after":"` + commit + `","repository":{` +
			`"clone_url":"https://github.com/org/apps.git","ssh_url":"git@github.com:org/apps.git"}}`
	}

	if status, body := github(hubSignature("not-the-secret", push("main")), push("main")); status != http.StatusUnauthorized {
		t.Errorf("push with a wrong signature = %d %s, want 401", status, body)
	}
	if status, body := github(hubSignature(secret, push("dev")), push("dev")); status != http.StatusOK || !strings.Contains(body, `"notified":0`) {
		t.Errorf("push of another branch = %d %s, want 200 notifying nobody", status, body)
	}
	if status, body := github(hubSignature(secret, push("main")), push("main")); status != http.StatusOK || !strings.Contains(body, `"notified":1`) {
		t.Fatalf("signed push = %d %s, want 200 notifying 1", status, body)
	}
	wantNotice("github")

	if status, body := postHook(t, s.Addr()+"/webhooks/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret},
		`{"ref":"refs/heads/main","after":"`+commit+`","project":{"git_ssh_url":"ssh://git@GitHub.com:22/org/apps"}}`); status != http.StatusOK {
		t.Fatalf("gitlab push = %d %s", status, body)
	}
	wantNotice("gitlab")

	if status, body := postHook(t, s.Addr()+"/webhooks/generic", map[string]string{"Authorization": "Bearer " + secret},
		`{"repository":"https://ci-token@github.com/org/apps/","branch":"main","commit":"`+commit+`"}`); status != http.StatusOK {
		t.Fatalf("generic push = %d %s", status, body)
	}
	wantNotice("generic")

	res, err := http.Get(s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	metrics := string(data)
	for _, want := range []string{
		`ferry_webhook_pushes_total{provider="github",result="matched"} 1`,
		`ferry_webhook_pushes_total{provider="github",result="unauthorized"} 1`,
		`ferry_webhook_pushes_total{provider="github",result="unmatched"} 1`,
		`ferry_webhook_pushes_total{provider="generic",result="matched"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestWebhooksAreOffWithoutASecret(t *testing.T) {
	s := startServer(t)
	body := `{"repository":"https://github.com/org/apps","branch":"main"}`
	status, got := postHook(t, s.Addr()+"/webhooks/generic", map[string]string{"Authorization": "Bearer "}, body)
	if status != http.StatusNotFound || !strings.Contains(got, "webhooks are not configured") {
		t.Errorf("webhook without a secret = %d %s, want 404 webhooks are not configured", status, got)
	}
}
