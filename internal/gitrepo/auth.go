package gitrepo

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Auth holds the credentials for a repository's remote. SSH settings apply
// to ssh:// and scp-like (git@host:path) remotes, the token to http(s)://
// remotes; the zero Auth uses none.
//
// Credentials never reach git's argv (visible to every user in ps), the
// remote URL (stored on disk in the mirror) or an error message: the SSH
// key travels as a path in GIT_SSH_COMMAND, the token as an HTTP header in
// the GIT_CONFIG_* environment of network commands only (readable by the
// agent's own user and root through /proc, like the agent's memory, but
// not shown by ps).
type Auth struct {
	// SSHKeyFile is the private key ssh uses (-i, IdentitiesOnly=yes). It
	// must not need a passphrase.
	SSHKeyFile string
	// KnownHostsFile, when set, replaces ssh's user known_hosts file. Unknown
	// hosts are accepted and recorded there on first use; a changed key
	// fails.
	KnownHostsFile string
	// Username is the HTTPS user the token is sent with; empty means
	// "x-access-token", which GitHub, Gitea and GitLab accept with a token.
	Username string
	// Token is the HTTPS password or access token.
	Token string
}

// splitCredentials returns remote without the user and password of an
// http(s) URL, moving them into auth unless auth already has a token, so a
// remote configured as https://user:token@host/repo.git is stored and shown
// without its secret.
func splitCredentials(remote string, auth Auth) (string, Auth) {
	u, err := url.Parse(remote)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return remote, auth
	}
	if auth.Token == "" {
		if p, ok := u.User.Password(); ok {
			auth.Username, auth.Token = u.User.Username(), p
		} else {
			// https://TOKEN@host: the user part is the secret.
			auth.Username, auth.Token = u.User.Username(), ""
		}
	}
	u.User = nil
	return u.String(), auth
}

// isHTTP reports whether remote is fetched over HTTP(S).
func isHTTP(remote string) bool {
	return strings.HasPrefix(remote, "https://") || strings.HasPrefix(remote, "http://")
}

// httpAuth returns the config carrying the token for network commands and
// the secrets to redact. The header is scoped to the remote's scheme, host
// and port so git sends it nowhere else.
func httpAuth(remote string, auth Auth) (config [][2]string, secrets []string) {
	if !isHTTP(remote) || (auth.Token == "" && auth.Username == "") {
		return nil, nil
	}
	user := auth.Username
	if user == "" {
		user = "x-access-token"
	}
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + auth.Token))
	u, _ := url.Parse(remote) // isHTTP and splitCredentials already parsed it
	scope := u.Scheme + "://" + u.Host + "/"
	config = [][2]string{
		{"http." + scope + ".extraHeader", "Authorization: Basic " + basic},
	}
	secrets = []string{basic}
	if auth.Token != "" {
		secrets = append(secrets, auth.Token)
	} else {
		secrets = append(secrets, user)
	}
	return config, secrets
}

// sshCommand returns GIT_SSH_COMMAND for auth. BatchMode keeps ssh from
// prompting on a terminal that the agent does not have; accept-new trusts a
// host on first contact and refuses a changed key.
func sshCommand(auth Auth) string {
	parts := []string{"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"}
	if auth.SSHKeyFile != "" {
		parts = append(parts, "-i", shellQuote(auth.SSHKeyFile), "-o", "IdentitiesOnly=yes")
	}
	if auth.KnownHostsFile != "" {
		parts = append(parts, "-o", "UserKnownHostsFile="+shellQuote(auth.KnownHostsFile))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for sh, which git uses to run GIT_SSH_COMMAND.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RemoteHost returns the host a remote is reached at, lowercase, with its
// port when the URL names one: of an http(s)://, ssh:// or git:// URL, or
// of an scp-like user@host:path. It is "" for local paths and file://
// URLs, which reach no host. Credentials are scoped by it: the agent sends
// its Git credentials only to the hosts they were configured for.
func RemoteHost(remote string) string {
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil || u.Scheme == "file" {
			return ""
		}
		return strings.ToLower(u.Host)
	}
	// scp-like: [user@]host:path, where host has no slash before the colon.
	host, _, ok := strings.Cut(remote, ":")
	if !ok || strings.Contains(host, "/") {
		return ""
	}
	if _, h, ok := strings.Cut(host, "@"); ok {
		host = h
	}
	return strings.ToLower(host)
}
