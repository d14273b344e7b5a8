package gitrepo

import (
	"strings"
	"testing"
)

func TestSanitizeRemovesCredentials(t *testing.T) {
	config, secrets := httpAuth("https://git.example.com/org/repo.git", Auth{Token: "tok-123456"})
	if len(config) != 1 || !strings.HasPrefix(config[0][0], "http.https://git.example.com/.") {
		t.Fatalf("httpAuth config = %q, want one header scoped to the host", config)
	}
	r := &runner{secrets: secrets}
	tests := []struct {
		name, in, want string
	}{
		{name: "a password in a URL is redacted",
			in:   "fatal: unable to access 'https://bot:tok-123456@git.example.com/org/repo.git/': 403",
			want: "fatal: unable to access 'https://redacted@git.example.com/org/repo.git/': 403"},
		{name: "a token as URL user is redacted",
			in:   "fatal: repository 'https://ghp_abc@github.com/o/r/' not found",
			want: "fatal: repository 'https://redacted@github.com/o/r/' not found"},
		{name: "a password holding an @ is redacted whole",
			in:   "fatal: unable to access 'https://bot:p@ss@git.example.com/org/repo.git/': 403",
			want: "fatal: unable to access 'https://redacted@git.example.com/org/repo.git/': 403"},
		{name: "an address after a URL is left alone",
			in:   "see https://git.example.com/org/repo.git or mail ops@example.com",
			want: "see https://git.example.com/org/repo.git or mail ops@example.com"},
		{name: "the token on its own is redacted", in: "bad token tok-123456 given", want: "bad token [redacted] given"},
		{name: "the encoded header is redacted", in: "Authorization: Basic " + secrets[0], want: "Authorization: Basic [redacted]"},
		{name: "a message without secrets is unchanged", in: "fatal: not a git repository: '/x'", want: "fatal: not a git repository: '/x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.sanitize(tt.in); got != tt.want {
				t.Errorf("sanitize = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitCredentials(t *testing.T) {
	tests := []struct {
		name, remote, wantRemote string
		auth, want               Auth
	}{
		{name: "user and password move into Auth", remote: "https://bot:tok@h/r.git", wantRemote: "https://h/r.git",
			want: Auth{Username: "bot", Token: "tok"}},
		{name: "a configured token wins over the URL's", remote: "https://bot:tok@h/r.git", wantRemote: "https://h/r.git",
			auth: Auth{Token: "cfg"}, want: Auth{Token: "cfg"}},
		{name: "an ssh URL is left alone", remote: "ssh://git@h/r.git", wantRemote: "ssh://git@h/r.git"},
		{name: "an scp-like address is left alone", remote: "git@h:o/r.git", wantRemote: "git@h:o/r.git"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote, auth := splitCredentials(tt.remote, tt.auth)
			if remote != tt.wantRemote || auth != tt.want {
				t.Errorf("splitCredentials = %q, %+v; want %q, %+v", remote, auth, tt.wantRemote, tt.want)
			}
		})
	}
}
