package webhook

import "testing"

func TestRemoteKey(t *testing.T) {
	for _, tc := range []struct {
		name, remote, want string
	}{
		{"an scp-like SSH remote drops the user and .git", "git@github.com:org/apps.git", "github.com/org/apps"},
		{"an ssh URL drops the user", "ssh://git@github.com/org/apps", "github.com/org/apps"},
		{"an ssh URL drops the port", "ssh://git@gitlab.example.com:2222/group/sub/apps.git", "gitlab.example.com/group/sub/apps"},
		{"an HTTPS URL drops .git", "https://github.com/org/apps.git", "github.com/org/apps"},
		{"an HTTPS URL drops a token", "https://token@github.com/org/apps", "github.com/org/apps"},
		{"an HTTPS URL drops a user and password", "https://user:p%40ss@github.com/org/apps", "github.com/org/apps"},
		{"a trailing slash is dropped", "https://github.com/org/apps/", "github.com/org/apps"},
		{"a trailing slash after .git is dropped", "https://github.com/org/apps.git/", "github.com/org/apps"},
		{"a query and fragment are dropped", "https://github.com/org/apps?x=1#readme", "github.com/org/apps"},
		{"the host is case-insensitive", "https://GitHub.COM/org/apps", "github.com/org/apps"},
		{"the path is case-insensitive too", "https://github.com/Org/Apps", "github.com/org/apps"},
		{"a git URL keeps host and path", "git://github.com/org/apps.git", "github.com/org/apps"},
		{"an IPv6 host loses its brackets and port", "ssh://git@[::1]:22/org/apps", "::1/org/apps"},
		{"surrounding spaces are trimmed", "  https://github.com/org/apps \n", "github.com/org/apps"},
		{"a local path has no host", "/srv/git/apps.git", "/srv/git/apps"},
		{"a file URL equals the local path", "file:///srv/git/apps.git", "/srv/git/apps"},
		{"an empty remote names nothing", "", ""},
		{"a host alone names nothing", "https://github.com/", ""},
		{"a scheme alone names nothing", "://", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := remoteKey(tc.remote); got != tc.want {
				t.Errorf("remoteKey(%q) = %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}

func TestRemoteKeyKeepsRepositoriesApart(t *testing.T) {
	for _, pair := range [][2]string{
		{"https://github.com/org/apps", "https://github.com/org/apps-infra"},
		{"https://github.com/org/apps", "https://gitlab.com/org/apps"},
		{"git@github.com:org/apps.git", "git@github.com:other/apps.git"},
		{"https://gitlab.com/group/apps", "https://gitlab.com/group/sub/apps"},
	} {
		if remoteKey(pair[0]) == remoteKey(pair[1]) {
			t.Errorf("%s and %s normalise to the same key %q", pair[0], pair[1], remoteKey(pair[0]))
		}
	}
}
