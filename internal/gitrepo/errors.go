package gitrepo

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
)

// ErrClosed is returned by Fetch after the Mirror was closed.
var ErrClosed = errors.New("mirror closed")

// ErrNothingToCommit is returned by Worktree.CommitAll when the worktree has
// no change to commit.
var ErrNothingToCommit = errors.New("nothing to commit")

// userinfo matches the credentials part of any URL git may print, up to
// the last "@" before the host, so a password holding an "@" goes whole.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s'"]+@`)

// sanitize removes URL credentials and the runner's secrets (the token and
// its encoded forms) from s.
func (r *runner) sanitize(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}redacted@")
	for _, secret := range r.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// Substrings of git's stderr (LC_ALL=C) that identify a failure.
var (
	authFailures = []string{
		"authentication failed",
		"could not read username",
		"could not read password",
		"permission denied (publickey",
		"host key verification failed",
		"returned error: 401",
		"returned error: 403",
		"invalid username or password",
	}
	rejectedPush  = []string{"[rejected]", "non-fast-forward", "fetch first"}
	staleLock     = []string{".lock': file exists", "cannot lock ref"}
	missingObject = []string{"not a valid object name", "does not exist in", "bad file", "invalid object name", "unknown revision", "not a tree object", "bad object", "bad revision"}
)

func stderrHas(err error, needles []string) bool {
	s := strings.ToLower(stderrOf(err))
	for _, n := range needles {
		if strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// kindOf classifies a failed network command for the caller: credentials
// the remote refused are terminal until someone fixes them; everything else
// (timeouts, an unreachable host, a remote error) may pass on retry.
func kindOf(err error) model.ErrorKind {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return model.KindUnavailable
	case stderrHas(err, authFailures):
		return model.KindUnauthenticated
	case stderrHas(err, rejectedPush):
		return model.KindConflict
	case strings.Contains(stderrOf(err), "[remote rejected]"):
		return model.KindFailedPrecondition
	default:
		return model.KindUnavailable
	}
}

// isStaleLock reports whether git failed on a lock file. The Mirror runs
// one writing command at a time, so a lock it meets was left by a git that
// was killed.
func isStaleLock(err error) bool { return stderrHas(err, staleLock) }

// notFound returns the error for an object missing from the mirror.
func notFound(what, id, repo string) error {
	return model.Errorf(model.KindNotFound, "%s %s not found in repo %s", what, id, repo)
}

// invalid returns the error for a malformed argument.
func invalid(format string, args ...any) error {
	return model.Errorf(model.KindInvalid, format, args...)
}
