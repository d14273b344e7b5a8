package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// push is what every provider's payload comes down to.
type push struct {
	// remotes are the URLs the payload gives for the repository; any one of
	// them matching an agent's remote is enough.
	remotes []string
	branch  string
	commit  string
}

// provider is one kind of webhook.
type provider struct {
	name string
	// authenticate checks the request's credentials against the secret;
	// its error is shown to the caller, so it never quotes the secret.
	authenticate func(h http.Header, body, secret []byte) error
	// parse returns the push, or nil and the reply for a request that
	// carries no push (ignored, ping, malformed).
	parse func(h http.Header, body []byte) (*push, reply)
}

var (
	github  = provider{name: "github", authenticate: checkSignature, parse: parseGitHub}
	gitlab  = provider{name: "gitlab", authenticate: checkGitLabToken, parse: parseGitLab}
	generic = provider{name: "generic", authenticate: checkBearerOrSignature, parse: parseGeneric}
)

const signatureHeader = "X-Hub-Signature-256"

// checkSignature verifies GitHub's "sha256=<hex>" HMAC of the raw body.
func checkSignature(h http.Header, body, secret []byte) error {
	sig := h.Get(signatureHeader)
	if sig == "" {
		return errors.New("missing " + signatureHeader + " header")
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if err != nil || !strings.HasPrefix(sig, "sha256=") {
		return errors.New("malformed " + signatureHeader + ": want sha256=<hex>")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("signature does not match")
	}
	return nil
}

// equalSecret compares a presented token with the secret in constant time,
// whatever their lengths: it compares their hashes.
func equalSecret(token string, secret []byte) bool {
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256(secret)
	return hmac.Equal(a[:], b[:])
}

func checkGitLabToken(h http.Header, _, secret []byte) error {
	tok := h.Get("X-Gitlab-Token")
	if tok == "" {
		return errors.New("missing X-Gitlab-Token header")
	}
	if !equalSecret(tok, secret) {
		return errors.New("token does not match")
	}
	return nil
}

// checkBearerOrSignature accepts "Authorization: Bearer <secret>" or, when
// there is no Authorization header, a GitHub-style signature.
func checkBearerOrSignature(h http.Header, body, secret []byte) error {
	auth := h.Get("Authorization")
	if auth == "" {
		if h.Get(signatureHeader) == "" {
			return errors.New("missing credentials: send Authorization: Bearer <secret> or " + signatureHeader)
		}
		return checkSignature(h, body, secret)
	}
	scheme, tok, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || !equalSecret(strings.TrimSpace(tok), secret) {
		return errors.New("bearer token does not match")
	}
	return nil
}

// zeroCommit is the "after" of a push that deleted the branch.
const zeroCommit = "0000000000000000000000000000000000000000"

// branchOf returns the branch a ref names, or a reason to ignore the push.
func branchOf(ref, after string) (string, string) {
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	switch {
	case !ok:
		return "", fmt.Sprintf("%s is not a branch", ref)
	case after == zeroCommit:
		return "", fmt.Sprintf("branch %s was deleted", branch)
	}
	return branch, ""
}

func parseGitHub(h http.Header, body []byte) (*push, reply) {
	switch ev := h.Get("X-GitHub-Event"); ev {
	case "push":
	case "ping":
		return nil, reply{status: http.StatusOK, result: resultIgnored, body: map[string]any{"pong": true}}
	case "":
		return nil, refuse(http.StatusBadRequest, resultInvalid, "missing X-GitHub-Event header")
	default:
		return nil, ignore(fmt.Sprintf("event %q is not a push", ev))
	}
	// A webhook set to application/x-www-form-urlencoded sends the JSON
	// in the payload field; the signature covers the encoded body.
	if strings.HasPrefix(h.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, resultInvalid, "malformed form body")
		}
		body = []byte(form.Get("payload"))
	}
	var p struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			HTMLURL  string `json:"html_url"`
			GitURL   string `json:"git_url"`
		} `json:"repository"`
	}
	if rep, ok := decode(body, &p); !ok {
		return nil, rep
	}
	r := p.Repository
	return checkPush(p.Ref, p.After, r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL)
}

func parseGitLab(h http.Header, body []byte) (*push, reply) {
	ev := h.Get("X-Gitlab-Event")
	if ev == "" {
		return nil, refuse(http.StatusBadRequest, resultInvalid, "missing X-Gitlab-Event header")
	}
	var p struct {
		ObjectKind string `json:"object_kind"`
		EventName  string `json:"event_name"`
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Project    struct {
			GitHTTPURL string `json:"git_http_url"`
			GitSSHURL  string `json:"git_ssh_url"`
			WebURL     string `json:"web_url"`
		} `json:"project"`
	}
	if ev != "Push Hook" && ev != "System Hook" {
		return nil, ignore(fmt.Sprintf("event %q is not a push", ev))
	}
	if rep, ok := decode(body, &p); !ok {
		return nil, rep
	}
	// A system hook carries every kind of event; only pushes matter.
	if ev == "System Hook" && p.EventName != "push" && p.ObjectKind != "push" {
		return nil, ignore("system hook is not a push")
	}
	r := p.Project
	return checkPush(p.Ref, p.After, r.GitHTTPURL, r.GitSSHURL, r.WebURL)
}

// commitPattern is a full or abbreviated Git object name.
var commitPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

func parseGeneric(_ http.Header, body []byte) (*push, reply) {
	var p struct {
		Repository string `json:"repository"`
		Branch     string `json:"branch"`
		Commit     string `json:"commit"`
	}
	if rep, ok := decode(body, &p); !ok {
		return nil, rep
	}
	if p.Branch == "" {
		return nil, refuse(http.StatusBadRequest, resultInvalid, `"branch" is required`)
	}
	if p.Commit != "" && !commitPattern.MatchString(p.Commit) {
		return nil, refuse(http.StatusBadRequest, resultInvalid, `"commit" must be a hexadecimal commit hash`)
	}
	ref := p.Branch
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	}
	return checkPush(ref, p.Commit, p.Repository)
}

// decode reads a JSON payload into v, or returns the 400 reply.
func decode(body []byte, v any) (reply, bool) {
	if err := json.Unmarshal(body, v); err != nil {
		return refuse(http.StatusBadRequest, resultInvalid, "malformed JSON payload: "+err.Error()), false
	}
	return reply{}, true
}

// checkPush builds the push from a ref, the new commit and the repository's
// URLs, or returns why it is refused or ignored.
func checkPush(ref, after string, remotes ...string) (*push, reply) {
	if ref == "" {
		return nil, refuse(http.StatusBadRequest, resultInvalid, `payload has no "ref"`)
	}
	p := &push{commit: after}
	for _, r := range remotes {
		if remoteKey(r) != "" {
			p.remotes = append(p.remotes, r)
		}
	}
	if len(p.remotes) == 0 {
		return nil, refuse(http.StatusBadRequest, resultInvalid, "payload names no repository URL")
	}
	branch, why := branchOf(ref, after)
	if why != "" {
		return nil, ignore(why)
	}
	p.branch = branch
	return p, reply{}
}
