package gitrepo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
)

// CheckoutBranch puts the Worktree on a local branch named branch at its
// current commit (created, or reset if it exists), keeping the files, so
// that CommitAll builds on it. Errors: model.KindInvalid for a name git
// refuses.
func (w *Worktree) CheckoutBranch(ctx context.Context, branch string) error {
	if err := w.checkBranch(branch); err != nil {
		return err
	}
	if _, err := w.run(ctx, "checkout", "--quiet", "-B", branch); err != nil {
		return fmt.Errorf("check out branch %s in repo %s: %w", branch, w.m.id, err)
	}
	return nil
}

// CommitAll stages every change in the Worktree (additions, modifications,
// deletions) and commits it with message, author as both author and
// committer. It returns the new commit's hash, or ErrNothingToCommit when
// nothing changed. Errors: model.KindInvalid for an empty message or
// author.
func (w *Worktree) CommitAll(ctx context.Context, message string, author Signature) (string, error) {
	if strings.TrimSpace(message) == "" || author.Name == "" || author.Email == "" {
		return "", invalid("commit in repo %s: message, author name and email are required", w.m.id)
	}
	if _, err := w.run(ctx, "add", "--all"); err != nil {
		return "", fmt.Errorf("commit in repo %s: %w", w.m.id, err)
	}
	if _, err := w.run(ctx, "diff", "--cached", "--quiet"); err == nil {
		return "", fmt.Errorf("commit in repo %s: %w", w.m.id, ErrNothingToCommit)
	} else if exitCode(err) != 1 {
		return "", fmt.Errorf("commit in repo %s: %w", w.m.id, err)
	}
	_, err := w.m.git.run(ctx, call{
		args:     []string{"commit", "--quiet", "--no-verify", "--no-gpg-sign", "--file=-"},
		gitDir:   filepath.Join(w.dir, ".git"),
		workTree: w.dir,
		stdin:    strings.NewReader(message),
		env: []string{
			"GIT_AUTHOR_NAME=" + author.Name, "GIT_AUTHOR_EMAIL=" + author.Email,
			"GIT_COMMITTER_NAME=" + author.Name, "GIT_COMMITTER_EMAIL=" + author.Email,
		},
	})
	if err != nil {
		return "", fmt.Errorf("commit in repo %s: %w", w.m.id, err)
	}
	out, err := w.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("commit in repo %s: %w", w.m.id, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Push pushes the Worktree's HEAD to branch on the remote, with the
// mirror's credentials. It never forces: when the branch moved on the
// remote since the Worktree's commit the error has kind model.KindConflict
// (fetch, check out the new head, redo the change and push again). Other
// errors: model.KindUnauthenticated when the remote refuses the
// credentials, model.KindFailedPrecondition when a remote hook or branch
// protection declines, model.KindUnavailable otherwise. The mirror sees the
// pushed commit after its next Fetch.
func (w *Worktree) Push(ctx context.Context, branch string) error {
	if err := w.checkBranch(branch); err != nil {
		return err
	}
	_, err := w.m.git.run(ctx, call{
		args:     []string{"push", "--quiet", "--no-verify", "--", w.m.remote, "HEAD:refs/heads/" + branch},
		gitDir:   filepath.Join(w.dir, ".git"),
		workTree: w.dir,
		network:  true,
	})
	switch kind := kindOf(err); {
	case err == nil:
	case kind == model.KindUnauthenticated:
		return model.Errorf(kind, "push %s to repo %s: authentication failed: %w", branch, w.m.id, err)
	case kind == model.KindConflict:
		return model.Errorf(kind, "push %s to repo %s: the branch moved on the remote: %w", branch, w.m.id, err)
	default:
		return model.Errorf(kind, "push %s to repo %s: %w", branch, w.m.id, err)
	}
	w.m.log.InfoContext(ctx, "pushed commit", logKeyRepoID, w.m.id, "branch", branch)
	return nil
}

// checkBranch rejects a branch name git would not accept.
func (w *Worktree) checkBranch(branch string) error {
	if !validBranch(branch) {
		return invalid("branch %q in repo %s: invalid name", branch, w.m.id)
	}
	return nil
}
