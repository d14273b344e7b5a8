package gitrepo

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// exportAttributes is the mirror's info/attributes: the highest-precedence
// attributes file, so a .gitattributes in the repository cannot make an
// export leave files out (export-ignore) or rewrite them (export-subst).
const exportAttributes = "* -export-ignore -export-subst\n"

// Export writes the files of commit (a full or abbreviated hash the mirror
// holds) into a new directory under the cache and returns it as a
// Worktree whose directory has no .git: the read-only checkout a deployment
// renders from. It costs one git process (git archive, streamed and
// unpacked here) where Worktree costs three and a pack, and like Worktree
// it registers nothing in the mirror. Files are exactly the commit's:
// executable bits and symbolic links are kept, .gitattributes export rules
// are ignored, submodules are left out (as in a Worktree before `git
// submodule update`). The Worktree's CheckoutBranch, CommitAll and Push
// refuse to run; use Worktree to make commits.
//
// Errors: model.KindNotFound when the mirror does not hold the commit
// (fetch first), model.KindInvalid for a malformed hash. Any number may
// run concurrently with each other and with Fetch.
func (m *Mirror) Export(ctx context.Context, commit string) (*Worktree, error) {
	full := commit
	if !fullHashPattern.MatchString(commit) {
		var err error
		if full, err = m.resolveCommit(ctx, commit); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(m.worktrees, "ex-")
	if err != nil {
		return nil, fmt.Errorf("export %s from repo %s: %w", commit, m.id, err)
	}
	if err := m.export(ctx, full, dir); err != nil {
		_ = os.RemoveAll(dir)
		if stderrHas(err, missingObject) {
			return nil, notFound("commit", commit, m.id)
		}
		return nil, fmt.Errorf("export %s from repo %s: %w", commit, m.id, err)
	}
	m.log.DebugContext(ctx, "exported commit", logKeyRepoID, m.id, logKeyCommit, full, "dir", dir)
	return &Worktree{m: m, dir: dir, commit: full, exported: true}, nil
}

// export streams `git archive` of commit into dir.
func (m *Mirror) export(ctx context.Context, commit, dir string) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.ensureExportAttributes(); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	gitDone := make(chan error, 1)
	go func() {
		_, err := m.git.run(ctx, call{args: []string{"archive", "--format=tar", commit}, gitDir: m.dir, stdout: pw})
		_ = pw.CloseWithError(err)
		gitDone <- err
	}()
	xerr := untar(pr, dir)
	if xerr == nil {
		_, xerr = io.Copy(io.Discard, pr) // the archive's end padding
	}
	_ = pr.CloseWithError(xerr) // a failed unpack stops git on its next write
	if gerr := <-gitDone; gerr != nil {
		return gerr // git's own error says more than the cut-off stream
	}
	return xerr
}

// ensureExportAttributes writes the mirror's info/attributes when it is
// missing or differs (a mirror made by an older agent, or re-cloned).
func (m *Mirror) ensureExportAttributes() error {
	p := filepath.Join(m.dir, "info", "attributes")
	if b, err := os.ReadFile(p); err == nil && string(b) == exportAttributes {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "attributes-")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(exportAttributes)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
	}
	return werr
}

// untar unpacks a git archive into dir. Everything is written through an
// os.Root, so no entry, even one following a symbolic link an earlier entry
// made, can write outside dir.
func untar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag == tar.TypeXGlobalHeader || name == "." {
			continue // the commit id header, the root
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, 0o755)
		case tar.TypeReg:
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			err = writeFile(root, name, tr, mode)
		case tar.TypeSymlink:
			if err = root.MkdirAll(path.Dir(name), 0o755); err == nil {
				err = root.Symlink(h.Linkname, name)
			}
		default:
			err = fmt.Errorf("unexpected entry type %q", h.Typeflag)
		}
		if err != nil {
			return fmt.Errorf("unpack %s: %w", h.Name, err)
		}
	}
}

func writeFile(root *os.Root, name string, r io.Reader, mode os.FileMode) error {
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
