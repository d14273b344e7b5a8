package model

import "testing"

func TestRedactRemote(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a user and token go", "https://bot:ghp_abc@github.com/org/apps.git", "https://github.com/org/apps.git"},
		{"a token as user goes", "https://ghp_abc@github.com/org/apps.git", "https://github.com/org/apps.git"},
		{"a password holding an @ goes whole", "https://bot:p@ss@git.example.com/apps.git", "https://git.example.com/apps.git"},
		{"an ssh URL loses its user too", "ssh://git:pw@git.example.com/apps.git", "ssh://git.example.com/apps.git"},
		{"an scp-like address holds no secret and stays", "git@github.com:org/apps.git", "git@github.com:org/apps.git"},
		{"a plain URL stays", "https://github.com/org/apps.git", "https://github.com/org/apps.git"},
		{"an @ in the path stays", "https://git.example.com/org/a@b.git", "https://git.example.com/org/a@b.git"},
	} {
		if got := RedactRemote(tc.in); got != tc.want {
			t.Errorf("%s: RedactRemote(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestGitPathRef(t *testing.T) {
	for _, tc := range []struct {
		g    GitPath
		want string
	}{
		{GitPath{RepoID: "apps", Path: "kubernetes/simple", ConfigFilename: "app.pipecd.yaml"}, "apps:kubernetes/simple"},
		{GitPath{RepoID: "apps", Path: "web", ConfigFilename: "app.ferry.yaml"}, "apps:web"},
		{GitPath{RepoID: "apps", Path: "web", ConfigFilename: "canary.pipecd.yaml"}, "apps:web/canary.pipecd.yaml"},
		{GitPath{RepoID: "apps", Path: "", ConfigFilename: "app.pipecd.yaml"}, "apps:"},
	} {
		if got := tc.g.Ref(); got != tc.want {
			t.Errorf("Ref(%+v) = %q, want %q", tc.g, got, tc.want)
		}
	}
}
