package gitrepo

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

const token = "s3cr3t-t0ken-7f9a"

// serveHTTP serves r's bare repository over smart HTTP (git http-backend as
// CGI) on loopback, for requests with basic auth x-access-token:token, and
// returns its URL.
func serveHTTP(t *testing.T, r *testRemote) string {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(testGit(t, r.dir, "--exec-path"), "git-http-backend"),
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(r.dir),
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=ferry", // enables receive-pack
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user, pass, ok := req.BasicAuth(); !ok || user != "x-access-token" || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(r.dir)
}

// recordingGit returns a git wrapper that appends its arguments to a log
// file, and that file.
func recordingGit(t *testing.T) (gitPath, argvLog string) {
	t.Helper()
	real := testGit(t, t.TempDir(), "--exec-path") + "/git"
	dir := t.TempDir()
	gitPath, argvLog = filepath.Join(dir, "git"), filepath.Join(dir, "argv.log")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + argvLog + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(gitPath, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return gitPath, argvLog
}

// secretForms are the ways the token could leak.
var secretForms = []string{token, base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))}

// assertNoSecret fails when a file under dir holds the token.
func assertNoSecret(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range secretForms {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds the token", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHTTPSToken(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"app.yaml": "image: v1\n"}, "first")
	url := serveHTTP(t, r)
	hostURL := strings.Replace(url, "http://", "http://x-access-token:"+token+"@", 1)
	tests := []struct {
		name   string
		remote string
		auth   Auth
		kind   model.ErrorKind // of Fetch; zero for success
	}{
		{name: "the right token fetches and pushes", remote: url, auth: Auth{Token: token}},
		{name: "a token in the remote URL is used", remote: hostURL},
		{name: "a wrong token is unauthenticated", remote: url, auth: Auth{Token: "wrong-" + token}, kind: model.KindUnauthenticated},
		{name: "a wrong token in the URL is unauthenticated", remote: strings.Replace(hostURL, token, "wrong-"+token, 1), kind: model.KindUnauthenticated},
		{name: "no token is unauthenticated", remote: url, kind: model.KindUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			gitPath, argvLog := recordingGit(t)
			m, logs := openMirror(t, tt.remote, func(c *Config) { c.Auth, c.GitPath = tt.auth, gitPath })
			if strings.Contains(m.Remote(), token) {
				t.Errorf("Remote() = %q holds the token", m.Remote())
			}
			err := m.Fetch(ctx)
			if tt.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				w := editWorktree(t, m, r, "main", "app.yaml", "image: "+tt.name+"\n")
				if _, err := w.CommitAll(ctx, "bump", bot); err != nil {
					t.Fatal(err)
				}
				if err := w.Push(ctx, "main"); err != nil {
					t.Fatal(err)
				}
				mustFetch(t, m)
				assertNoSecret(t, filepath.Dir(m.dir)) // the mirror and the open worktree
			} else {
				wantKind(t, err, tt.kind)
				t.Logf("error: %v", err)
				if strings.Contains(err.Error(), token) {
					t.Errorf("error %q holds the token", err)
				}
				if strings.Contains(logs.String(), "re-cloning") {
					t.Errorf("an authentication failure re-cloned the mirror")
				}
			}
			for _, s := range secretForms {
				if strings.Contains(logs.String(), s) {
					t.Errorf("logs hold the token")
				}
			}
			assertNoSecret(t, filepath.Dir(argvLog))
		})
	}
}

func TestSSHKeyAndKnownHostsReachSSH(t *testing.T) {
	r := newRemote(t)
	head := r.commit("main", map[string]string{"a": "1"}, "first")

	// A stand-in ssh records its arguments and runs the remote command
	// (git-upload-pack '<path>') locally.
	bin := t.TempDir()
	argvLog := filepath.Join(bin, "ssh.log")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + argvLog + "'\nfor last; do :; done\nexec sh -c \"$last\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	keys := filepath.Join(t.TempDir(), "with space")
	auth := Auth{SSHKeyFile: filepath.Join(keys, "id_ed25519"), KnownHostsFile: filepath.Join(keys, "known'hosts")}
	m, _ := openMirror(t, "ssh://git@git.example.com"+r.dir, func(c *Config) { c.Auth = auth })
	mustFetch(t, m)
	if c, err := m.Head(context.Background(), "main"); err != nil || c.Hash != head {
		t.Fatalf("Head = %v, %v; want %s", c.Hash, err, head)
	}

	b, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatal(err)
	}
	args := "\n" + string(b)
	for _, want := range []string{
		"\n-i\n" + auth.SSHKeyFile + "\n",
		"\nIdentitiesOnly=yes\n",
		"\nStrictHostKeyChecking=accept-new\n",
		"\nUserKnownHostsFile=" + auth.KnownHostsFile + "\n",
		"\nBatchMode=yes\n",
		"\ngit@git.example.com\n",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("ssh arguments lack %q:%s", strings.TrimSpace(want), args)
		}
	}
}

func TestRemoteHostIsWhereCredentialsWouldGo(t *testing.T) {
	for remote, want := range map[string]string{
		"https://GitHub.com/org/repo.git":      "github.com",
		"https://user:tok@git.example:8443/r":  "git.example:8443",
		"ssh://git@git.example:2222/org/r.git": "git.example:2222",
		"git@github.com:org/repo.git":          "github.com",
		"github.com:org/repo.git":              "github.com",
		"file:///srv/git/repo.git":             "",
		"/srv/git/repo.git":                    "",
		"./relative/repo":                      "",
	} {
		if got := RemoteHost(remote); got != want {
			t.Errorf("RemoteHost(%q) = %q, want %q", remote, got, want)
		}
	}
}
